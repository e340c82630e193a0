package conf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSecurity(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		want Security
		err  string
	}{
		{
			name: "defaults",
			want: Security{Authentication: AuthSimple, Protection: []QOP{QOPAuthentication}},
		},
		{
			name: "kerberos with principals",
			kv: []string{
				KeySecurityAuthentication, "Kerberos",
				KeyRPCProtection, "privacy, INTEGRITY,authentication",
				KeyRMPrincipal, " rm/_HOST@EXAMPLE.COM ",
				KeyNameNodePrincipal, "nn/_HOST@EXAMPLE.COM",
			},
			want: Security{
				Authentication:    AuthKerberos,
				Protection:        []QOP{QOPPrivacy, QOPIntegrity, QOPAuthentication},
				RMPrincipal:       "rm/_HOST@EXAMPLE.COM",
				NameNodePrincipal: "nn/_HOST@EXAMPLE.COM",
			},
		},
		{
			name: "unknown authentication",
			kv:   []string{KeySecurityAuthentication, "token"},
			err:  `conf: test.xml:3: hadoop.security.authentication: invalid authentication method "token" (want simple or kerberos)`,
		},
		{
			name: "unknown protection",
			kv:   []string{KeyRPCProtection, "authentication,secret"},
			err:  `conf: test.xml:3: hadoop.rpc.protection: invalid protection "secret" (want authentication, integrity or privacy)`,
		},
		{
			name: "blank protection",
			kv:   []string{KeyRPCProtection, " , "},
			err:  `conf: test.xml:3: hadoop.rpc.protection: empty (want a list of authentication, integrity, privacy)`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newConf(t, Options{}, tc.kv...).Security()
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Equal(t, tc.err, err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestQOPSASL(t *testing.T) {
	for q, want := range map[QOP]string{
		QOPAuthentication: "auth",
		QOPIntegrity:      "auth-int",
		QOPPrivacy:        "auth-conf",
		QOP("other"):      "",
	} {
		t.Run(string(q), func(t *testing.T) {
			require.Equal(t, want, q.SASL())
		})
	}
}

func TestIPC(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		want IPC
		err  string
	}{
		{
			name: "defaults",
			want: IPC{
				ConnectTimeout: 20 * time.Second, MaxIdleTime: 10 * time.Second, Ping: true,
				PingInterval: time.Minute, RPCTimeout: 2 * time.Minute,
				MaxDataLength: 128 << 20, MaxResponseLength: 128 << 20,
			},
		},
		{
			name: "configured",
			kv: []string{
				KeyIPCConnectTimeout, "5000",
				KeyIPCConnectionMaxIdleTime, "1000",
				KeyIPCPing, "false",
				KeyIPCPingInterval, "0x3e8",
				KeyIPCRPCTimeout, "-5",
				KeyIPCMaxDataLength, "1024",
				KeyIPCMaxResponseLength, "0",
			},
			want: IPC{
				ConnectTimeout: 5 * time.Second, MaxIdleTime: time.Second, Ping: false,
				PingInterval: time.Second, RPCTimeout: 0, MaxDataLength: 1024, MaxResponseLength: 0,
			},
		},
		{
			name: "malformed ping interval",
			kv:   []string{KeyIPCPingInterval, "60s"},
			err:  `conf: test.xml:3: ipc.ping.interval: invalid integer "60s"`,
		},
		{
			name: "negative idle time",
			kv:   []string{KeyIPCConnectionMaxIdleTime, "-1"},
			err:  `conf: test.xml:3: ipc.client.connection.maxidletime: -1: must not be negative`,
		},
		{
			name: "negative data length",
			kv:   []string{KeyIPCMaxDataLength, "-1"},
			err:  `conf: test.xml:3: ipc.maximum.data.length: -1: must not be negative`,
		},
		{
			name: "bad ping flag",
			kv:   []string{KeyIPCPing, "on"},
			err:  `conf: test.xml:3: ipc.client.ping: invalid boolean "on" (want true or false)`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newConf(t, Options{}, tc.kv...).IPC()
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Equal(t, tc.err, err.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
