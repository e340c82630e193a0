package conf

import "time"

// IPC holds the Hadoop IPC client settings, with Hadoop 3.3 defaults.
type IPC struct {
	// ConnectTimeout is ipc.client.connect.timeout (20s).
	ConnectTimeout time.Duration
	// MaxIdleTime is ipc.client.connection.maxidletime (10s): close a
	// connection with no calls in flight after this long.
	MaxIdleTime time.Duration
	// Ping is ipc.client.ping (true): send a ping after PingInterval of
	// read inactivity while calls are outstanding.
	Ping bool
	// PingInterval is ipc.ping.interval (60s).
	PingInterval time.Duration
	// RPCTimeout is ipc.client.rpc-timeout.ms (120s); 0 means none. A
	// negative setting reads as 0, as in Hadoop's Client.getRpcTimeout.
	RPCTimeout time.Duration
	// MaxDataLength is ipc.maximum.data.length (128 MiB), the largest
	// request a server accepts.
	MaxDataLength int
	// MaxResponseLength is ipc.maximum.response.length (128 MiB), the
	// largest response a client accepts; 0 means no limit in Hadoop.
	MaxResponseLength int
}

// IPC reads the IPC client settings. The millisecond keys are Java ints, as
// Hadoop reads them with getInt; negative lengths and intervals are errors.
func (c *Configuration) IPC() (IPC, error) {
	var s IPC
	ms := func(key string, def int, dst *time.Duration, allowNegative bool) error {
		v, err := c.GetInt(key, def)
		if err != nil {
			return err
		}
		if v < 0 {
			if !allowNegative {
				src, _ := c.SourceOf(key)
				return invalid(key, src, "%d: must not be negative", v)
			}
			v = 0
		}
		*dst = time.Duration(v) * time.Millisecond
		return nil
	}
	size := func(key string, def int, dst *int) error {
		v, err := c.GetInt(key, def)
		if err != nil {
			return err
		}
		if v < 0 {
			src, _ := c.SourceOf(key)
			return invalid(key, src, "%d: must not be negative", v)
		}
		*dst = v
		return nil
	}
	if err := ms(KeyIPCConnectTimeout, DefaultIPCConnectTimeoutMS, &s.ConnectTimeout, false); err != nil {
		return s, err
	}
	if err := ms(KeyIPCConnectionMaxIdleTime, DefaultIPCConnectionMaxIdleTimeMS, &s.MaxIdleTime, false); err != nil {
		return s, err
	}
	if err := ms(KeyIPCPingInterval, DefaultIPCPingIntervalMS, &s.PingInterval, false); err != nil {
		return s, err
	}
	if err := ms(KeyIPCRPCTimeout, DefaultIPCRPCTimeoutMS, &s.RPCTimeout, true); err != nil {
		return s, err
	}
	ping, err := c.GetBool(KeyIPCPing, true)
	if err != nil {
		return s, err
	}
	s.Ping = ping
	if err := size(KeyIPCMaxDataLength, DefaultIPCMaxDataLength, &s.MaxDataLength); err != nil {
		return s, err
	}
	if err := size(KeyIPCMaxResponseLength, DefaultIPCMaxResponseLength, &s.MaxResponseLength); err != nil {
		return s, err
	}
	return s, nil
}
