package conf

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// RMService names one ResourceManager endpoint. Its address key and default
// port are those of YarnConfiguration.getRMDefaultPortNumber.
type RMService int

// The ResourceManager endpoints.
const (
	// RMClient is the ApplicationClientProtocol endpoint
	// (yarn.resourcemanager.address, port 8032).
	RMClient RMService = iota
	// RMScheduler is the ApplicationMasterProtocol endpoint
	// (yarn.resourcemanager.scheduler.address, port 8030).
	RMScheduler
	// RMResourceTracker is the NodeManager endpoint
	// (yarn.resourcemanager.resource-tracker.address, port 8031).
	RMResourceTracker
	// RMAdmin is the admin endpoint (yarn.resourcemanager.admin.address,
	// port 8033).
	RMAdmin
	// RMWebApp is the HTTP UI and REST endpoint
	// (yarn.resourcemanager.webapp.address, port 8088).
	RMWebApp
	// RMWebAppHTTPS is the HTTPS UI and REST endpoint
	// (yarn.resourcemanager.webapp.https.address, port 8090).
	RMWebAppHTTPS
)

var rmServices = [...]struct {
	key  string
	port int
}{
	RMClient:          {KeyRMAddress, DefaultRMPort},
	RMScheduler:       {KeyRMSchedulerAddress, DefaultRMSchedulerPort},
	RMResourceTracker: {KeyRMResourceTrackerAddress, DefaultRMResourceTrackerPort},
	RMAdmin:           {KeyRMAdminAddress, DefaultRMAdminPort},
	RMWebApp:          {KeyRMWebAppAddress, DefaultRMWebAppPort},
	RMWebAppHTTPS:     {KeyRMWebAppHTTPSAddress, DefaultRMWebAppHTTPSPort},
}

func (s RMService) valid() bool { return s >= 0 && int(s) < len(rmServices) }

// Key returns the address key of s, e.g. "yarn.resourcemanager.address".
func (s RMService) Key() string {
	if !s.valid() {
		return ""
	}
	return rmServices[s].key
}

// DefaultPort returns the port s uses when its address names none.
func (s RMService) DefaultPort() int {
	if !s.valid() {
		return 0
	}
	return rmServices[s].port
}

// String returns the address key of s, or "RMService(n)" if s is unknown.
func (s RMService) String() string {
	if !s.valid() {
		return "RMService(" + strconv.Itoa(int(s)) + ")"
	}
	return rmServices[s].key
}

// Addr is the address of one ResourceManager endpoint.
type Addr struct {
	// RMID is the rm-id in HA mode, "" otherwise.
	RMID string
	// Address is host:port.
	Address string
	// Key is the configuration key Address came from: the address key
	// (suffixed with ".<rm-id>" in HA mode), or the hostname key when the
	// address was derived from a host name and the default port. Errors
	// about this address should name Key.
	Key string
	// Source is where the value of Key was defined; zero if Default.
	Source Source
	// Default is true when nothing was configured and Address is Hadoop's
	// default, 0.0.0.0 with the default port.
	Default bool
}

// RMAddresses returns the addresses of endpoint svc of every
// ResourceManager, in the order a Java client tries them.
//
// Without HA (yarn.resourcemanager.ha.enabled unset or false) the result
// has one element: the address key if set, else
// yarn.resourcemanager.hostname (default 0.0.0.0) with svc's default port,
// which is what yarn-default.xml's "${yarn.resourcemanager.hostname}:port"
// defaults produce.
//
// With HA, it has one element per id in yarn.resourcemanager.ha.rm-ids:
// "<address key>.<id>" if set, else "yarn.resourcemanager.hostname.<id>"
// with the default port (HAUtil.getConfValueForRMInstance and
// checkAndSetRMRPCAddress). The unsuffixed keys are ignored in HA mode, as
// in Hadoop. An id with neither key is a *ValueError wrapping ErrMissingKey.
func (c *Configuration) RMAddresses(svc RMService) ([]Addr, error) {
	if !svc.valid() {
		return nil, &ValueError{Msg: fmt.Sprintf("unknown RM service %d", int(svc)), Err: ErrInvalidValue}
	}
	ha, err := c.GetBool(KeyRMHAEnabled, false)
	if err != nil {
		return nil, err
	}
	if !ha {
		a, err := c.rmAddr(svc, "")
		if err != nil {
			return nil, err
		}
		return []Addr{a}, nil
	}
	ids, err := c.GetStrings(KeyRMHAIDs, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		src, _ := c.SourceOf(KeyRMHAEnabled)
		return nil, &ValueError{Key: KeyRMHAIDs, Source: src,
			Msg: "must list at least one rm-id when " + KeyRMHAEnabled + " is true", Err: ErrMissingKey}
	}
	addrs := make([]Addr, 0, len(ids))
	for _, id := range ids {
		if strings.HasPrefix(id, ".") {
			src, _ := c.SourceOf(KeyRMHAIDs)
			return nil, invalid(KeyRMHAIDs, src, "rm-id %s must not start with '.'", quote(id))
		}
		a, err := c.rmAddr(svc, id)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

func suffixed(key, id string) string {
	if id == "" {
		return key
	}
	return key + "." + id
}

// rmAddr resolves svc for one rm-id ("" without HA).
func (c *Configuration) rmAddr(svc RMService, id string) (Addr, error) {
	port := svc.DefaultPort()
	key := suffixed(svc.Key(), id)
	v, src, ok, err := c.lookupTrimmed(key)
	if err != nil {
		return Addr{}, err
	}
	if ok && v != "" {
		hp, err := hostPort(v, port)
		if err != nil {
			return Addr{}, invalid(key, src, "%v", err)
		}
		return Addr{RMID: id, Address: hp, Key: key, Source: src}, nil
	}
	hkey := suffixed(KeyRMHostname, id)
	h, hsrc, ok, err := c.lookupTrimmed(hkey)
	if err != nil {
		return Addr{}, err
	}
	if !ok || h == "" {
		if id != "" {
			src, _ := c.SourceOf(KeyRMHAIDs)
			return Addr{}, &ValueError{Key: hkey, Source: src,
				Msg: fmt.Sprintf("%s or %s must be set for rm-id %s listed in %s", hkey, key, quote(id), KeyRMHAIDs),
				Err: ErrMissingKey}
		}
		return Addr{Address: net.JoinHostPort(DefaultRMHostname, strconv.Itoa(port)), Key: key, Default: true}, nil
	}
	if !validHost(h) {
		return Addr{}, invalid(hkey, hsrc, "%s is not a host name (a port belongs in %s)", quote(h), key)
	}
	return Addr{RMID: id, Address: net.JoinHostPort(h, strconv.Itoa(port)), Key: hkey, Source: hsrc}, nil
}

// RMRetry is the ResourceManager connection retry policy of Hadoop's
// RMProxy.createRetryPolicy, read from configuration.
type RMRetry struct {
	// WaitForever is true when yarn.resourcemanager.connect.max-wait.ms is -1.
	WaitForever bool
	// MaxWait bounds the total time spent retrying one RM (without HA).
	// Like Hadoop, it is 0 ("try once") when the configured wait is shorter
	// than RetryInterval. It is meaningless when WaitForever is set.
	MaxWait time.Duration
	// RetryInterval is the fixed sleep between attempts without HA.
	RetryInterval time.Duration
	// FailoverSleepBase and FailoverSleepMax bound the exponential sleep
	// between failovers in HA mode. Both default to RetryInterval.
	FailoverSleepBase, FailoverSleepMax time.Duration
	// FailoverSleepSet is true when the configuration sets
	// yarn.client.failover-sleep-base-ms or -max-ms itself (rather than
	// both following RetryInterval): the caller should then follow that
	// schedule as set, with no faster probing of its own.
	FailoverSleepSet bool
	// FailoverMaxAttempts is the number of failovers in HA mode:
	// yarn.client.failover-max-attempts if set, else math.MaxInt32 when
	// WaitForever, else MaxWait / FailoverSleepBase.
	FailoverMaxAttempts int
}

// RMRetry reads the ResourceManager retry settings and validates them as
// Hadoop does: max-wait may be -1 but no other negative number, and the
// retry interval must not be negative. The *.ms keys are integers in
// milliseconds (Hadoop reads them with getLong, so unit suffixes are not
// accepted).
func (c *Configuration) RMRetry() (RMRetry, error) {
	var r RMRetry
	maxWait, err := c.GetInt64(KeyRMConnectMaxWaitMS, DefaultRMConnectMaxWaitMS)
	if err != nil {
		return r, err
	}
	interval, err := c.GetInt64(KeyRMConnectRetryIntervalMS, DefaultRMConnectRetryIntervalMS)
	if err != nil {
		return r, err
	}
	if err := c.checkMS(KeyRMConnectMaxWaitMS, maxWait, -1); err != nil {
		return r, err
	}
	if err := c.checkMS(KeyRMConnectRetryIntervalMS, interval, 0); err != nil {
		return r, err
	}
	r.WaitForever = maxWait == -1
	if !r.WaitForever && maxWait < interval {
		maxWait = 0
	}
	if !r.WaitForever {
		r.MaxWait = time.Duration(maxWait) * time.Millisecond
	}
	r.RetryInterval = time.Duration(interval) * time.Millisecond

	base, err := c.GetInt64(KeyClientFailoverSleepBaseMS, interval)
	if err != nil {
		return r, err
	}
	maxSleep, err := c.GetInt64(KeyClientFailoverSleepMaxMS, interval)
	if err != nil {
		return r, err
	}
	if err := c.checkMS(KeyClientFailoverSleepBaseMS, base, 0); err != nil {
		return r, err
	}
	if err := c.checkMS(KeyClientFailoverSleepMaxMS, maxSleep, 0); err != nil {
		return r, err
	}
	r.FailoverSleepBase = time.Duration(base) * time.Millisecond
	_, baseSet := c.SourceOf(KeyClientFailoverSleepBaseMS)
	_, maxSet := c.SourceOf(KeyClientFailoverSleepMaxMS)
	r.FailoverSleepSet = baseSet || maxSet
	r.FailoverSleepMax = time.Duration(maxSleep) * time.Millisecond

	attempts, err := c.GetInt(KeyClientFailoverMaxAttempts, -1)
	if err != nil {
		return r, err
	}
	switch {
	case attempts != -1:
		r.FailoverMaxAttempts = attempts
	case r.WaitForever:
		r.FailoverMaxAttempts = math.MaxInt32
	case base > 0:
		r.FailoverMaxAttempts = int(min(maxWait/base, math.MaxInt32))
	}
	return r, nil
}

// checkMS rejects a millisecond value below minimum or too large for a
// time.Duration.
func (c *Configuration) checkMS(key string, v, minimum int64) error {
	if v >= minimum && v <= int64(math.MaxInt64/time.Millisecond) {
		return nil
	}
	src, _ := c.SourceOf(key)
	if minimum == -1 {
		return invalid(key, src, "%d: may be -1 but no other negative number", v)
	}
	return invalid(key, src, "%d: must be between %d and %d", v, minimum, int64(math.MaxInt64/time.Millisecond))
}
