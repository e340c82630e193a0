package conf

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRMAddresses(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		svc  RMService
		want []Addr
		err  string
		kind error
	}{
		{
			name: "nothing configured",
			svc:  RMClient,
			want: []Addr{{Address: "0.0.0.0:8032", Key: KeyRMAddress, Default: true}},
		},
		{
			name: "nothing configured scheduler",
			svc:  RMScheduler,
			want: []Addr{{Address: "0.0.0.0:8030", Key: KeyRMSchedulerAddress, Default: true}},
		},
		{
			name: "hostname gives every default port",
			kv:   []string{KeyRMHostname, "rm.example.com"},
			svc:  RMAdmin,
			want: []Addr{{Address: "rm.example.com:8033", Key: KeyRMHostname, Source: Source{"test.xml", 3}}},
		},
		{
			name: "hostname webapp",
			kv:   []string{KeyRMHostname, "rm.example.com"},
			svc:  RMWebApp,
			want: []Addr{{Address: "rm.example.com:8088", Key: KeyRMHostname, Source: Source{"test.xml", 3}}},
		},
		{
			name: "hostname resource tracker",
			kv:   []string{KeyRMHostname, "rm.example.com"},
			svc:  RMResourceTracker,
			want: []Addr{{Address: "rm.example.com:8031", Key: KeyRMHostname, Source: Source{"test.xml", 3}}},
		},
		{
			name: "hostname webapp https",
			kv:   []string{KeyRMHostname, "rm.example.com"},
			svc:  RMWebAppHTTPS,
			want: []Addr{{Address: "rm.example.com:8090", Key: KeyRMHostname, Source: Source{"test.xml", 3}}},
		},
		{
			name: "explicit address wins over hostname",
			kv:   []string{KeyRMHostname, "rm.example.com", KeyRMAddress, "other:1234"},
			svc:  RMClient,
			want: []Addr{{Address: "other:1234", Key: KeyRMAddress, Source: Source{"test.xml", 4}}},
		},
		{
			name: "explicit address without port",
			kv:   []string{KeyRMSchedulerAddress, " sched.example.com "},
			svc:  RMScheduler,
			want: []Addr{{Address: "sched.example.com:8030", Key: KeyRMSchedulerAddress, Source: Source{"test.xml", 3}}},
		},
		{
			name: "address with variable",
			kv:   []string{"rm.host", "rmx", KeyRMAddress, "${rm.host}:9000"},
			svc:  RMClient,
			want: []Addr{{Address: "rmx:9000", Key: KeyRMAddress, Source: Source{"test.xml", 4}}},
		},
		{
			name: "ipv6 address",
			kv:   []string{KeyRMAddress, "[::1]:9000"},
			svc:  RMClient,
			want: []Addr{{Address: "[::1]:9000", Key: KeyRMAddress, Source: Source{"test.xml", 3}}},
		},
		{
			name: "HA off ignores per-id keys",
			kv:   []string{KeyRMHAEnabled, "false", KeyRMHAIDs, "rm1", KeyRMAddress + ".rm1", "a:1", KeyRMAddress, "b:2"},
			svc:  RMClient,
			want: []Addr{{Address: "b:2", Key: KeyRMAddress, Source: Source{"test.xml", 6}}},
		},
		{
			name: "HA per-id address and hostname fallback",
			kv: []string{
				KeyRMHAEnabled, "true",
				KeyRMHAIDs, "rm1, rm2",
				KeyRMAddress + ".rm1", "rm1.example.com:8032",
				KeyRMHostname + ".rm2", "rm2.example.com",
				KeyRMAddress, "ignored:1",
				KeyRMHostname, "ignored",
			},
			svc: RMClient,
			want: []Addr{
				{RMID: "rm1", Address: "rm1.example.com:8032", Key: "yarn.resourcemanager.address.rm1", Source: Source{"test.xml", 5}},
				{RMID: "rm2", Address: "rm2.example.com:8032", Key: "yarn.resourcemanager.hostname.rm2", Source: Source{"test.xml", 6}},
			},
		},
		{
			name: "HA scheduler from hostnames",
			kv: []string{
				KeyRMHAEnabled, "true",
				KeyRMHAIDs, "rm1,rm2",
				KeyRMHostname + ".rm1", "h1",
				KeyRMHostname + ".rm2", "h2",
				KeyRMSchedulerAddress + ".rm2", "s2:7030",
			},
			svc: RMScheduler,
			want: []Addr{
				{RMID: "rm1", Address: "h1:8030", Key: "yarn.resourcemanager.hostname.rm1", Source: Source{"test.xml", 5}},
				{RMID: "rm2", Address: "s2:7030", Key: "yarn.resourcemanager.scheduler.address.rm2", Source: Source{"test.xml", 7}},
			},
		},
		{
			name: "HA three ids keep order",
			kv: []string{
				KeyRMHAEnabled, "TRUE",
				KeyRMHAIDs, "c,a,b",
				KeyRMHostname + ".a", "ha", KeyRMHostname + ".b", "hb", KeyRMHostname + ".c", "hc",
			},
			svc: RMWebApp,
			want: []Addr{
				{RMID: "c", Address: "hc:8088", Key: "yarn.resourcemanager.hostname.c", Source: Source{"test.xml", 7}},
				{RMID: "a", Address: "ha:8088", Key: "yarn.resourcemanager.hostname.a", Source: Source{"test.xml", 5}},
				{RMID: "b", Address: "hb:8088", Key: "yarn.resourcemanager.hostname.b", Source: Source{"test.xml", 6}},
			},
		},
		{
			name: "HA id without address or hostname",
			kv:   []string{KeyRMHAEnabled, "true", KeyRMHAIDs, "rm1,rm2", KeyRMHostname + ".rm1", "h1"},
			svc:  RMClient,
			err:  `conf: test.xml:4: yarn.resourcemanager.hostname.rm2: yarn.resourcemanager.hostname.rm2 or yarn.resourcemanager.address.rm2 must be set for rm-id "rm2" listed in yarn.resourcemanager.ha.rm-ids`,
			kind: ErrMissingKey,
		},
		{
			name: "HA without rm-ids",
			kv:   []string{KeyRMHAEnabled, "true"},
			svc:  RMClient,
			err:  "conf: test.xml:3: yarn.resourcemanager.ha.rm-ids: must list at least one rm-id when yarn.resourcemanager.ha.enabled is true",
			kind: ErrMissingKey,
		},
		{
			name: "HA rm-id starting with dot",
			kv:   []string{KeyRMHAEnabled, "true", KeyRMHAIDs, ".rm1"},
			svc:  RMClient,
			err:  `conf: test.xml:4: yarn.resourcemanager.ha.rm-ids: rm-id ".rm1" must not start with '.'`,
			kind: ErrInvalidValue,
		},
		{
			name: "HA hostname with port",
			kv:   []string{KeyRMHAEnabled, "true", KeyRMHAIDs, "rm1", KeyRMHostname + ".rm1", "h1:8032"},
			svc:  RMClient,
			err:  `conf: test.xml:5: yarn.resourcemanager.hostname.rm1: "h1:8032" is not a host name (a port belongs in yarn.resourcemanager.address.rm1)`,
			kind: ErrInvalidValue,
		},
		{
			name: "bad ha.enabled",
			kv:   []string{KeyRMHAEnabled, "yes"},
			svc:  RMClient,
			err:  `conf: test.xml:3: yarn.resourcemanager.ha.enabled: invalid boolean "yes" (want true or false)`,
			kind: ErrInvalidValue,
		},
		{
			name: "bad port",
			kv:   []string{KeyRMAddress, "rm:99999"},
			svc:  RMClient,
			err:  `conf: test.xml:3: yarn.resourcemanager.address: "rm:99999": invalid port "99999"`,
			kind: ErrInvalidValue,
		},
		{
			name: "address with path",
			kv:   []string{KeyRMAddress, "rm:8032/x"},
			svc:  RMClient,
			err:  `conf: test.xml:3: yarn.resourcemanager.address: "rm:8032/x" is not a host:port authority`,
			kind: ErrInvalidValue,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newConf(t, Options{}, tc.kv...)
			got, err := c.RMAddresses(tc.svc)
			if tc.err != "" {
				require.ErrorIs(t, err, tc.kind)
				require.Equal(t, tc.err, err.Error())
				var ve *ValueError
				require.True(t, errors.As(err, &ve))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRMService(t *testing.T) {
	cases := []struct {
		svc  RMService
		key  string
		port int
	}{
		{RMClient, "yarn.resourcemanager.address", 8032},
		{RMScheduler, "yarn.resourcemanager.scheduler.address", 8030},
		{RMResourceTracker, "yarn.resourcemanager.resource-tracker.address", 8031},
		{RMAdmin, "yarn.resourcemanager.admin.address", 8033},
		{RMWebApp, "yarn.resourcemanager.webapp.address", 8088},
		{RMWebAppHTTPS, "yarn.resourcemanager.webapp.https.address", 8090},
		{RMService(99), "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.svc.String(), func(t *testing.T) {
			require.Equal(t, tc.key, tc.svc.Key())
			require.Equal(t, tc.port, tc.svc.DefaultPort())
		})
	}
	require.Equal(t, "RMService(99)", RMService(99).String())
	_, err := New(Options{}).RMAddresses(RMService(-1))
	require.ErrorIs(t, err, ErrInvalidValue)
	require.Equal(t, "conf: unknown RM service -1", err.Error())
}

func TestHostPort(t *testing.T) {
	cases := []struct {
		in   string
		want string
		err  bool
	}{
		{"h", "h:8032", false},
		{"h:1", "h:1", false},
		{"h:", "h:8032", false},
		{"10.0.0.1:80", "10.0.0.1:80", false},
		{"[fe80::1]", "[fe80::1]:8032", false},
		{"[fe80::1]:9", "[fe80::1]:9", false},
		{"hdfs://nn:8020/path", "nn:8020", false},
		{"http://u@h:1", "h:1", false},
		{"my_host:1", "my_host:1", false},
		{"", "", true},
		{"fe80::1", "", true},
		{"[fe80::1", "", true},
		{"[fe80::1]x", "", true},
		{"[nothost]:1", "", true},
		{"h:-1", "", true},
		{"h:+1", "", true},
		{"h:x", "", true},
		{"h:65536", "", true},
		{"h/p", "", true},
		{"h p:1", "", true},
		{":1", "", true},
		{"http://[::1", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := hostPort(tc.in, 8032)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRMRetry(t *testing.T) {
	cases := []struct {
		name string
		kv   []string
		want RMRetry
		err  string
	}{
		{
			name: "defaults",
			want: RMRetry{MaxWait: 15 * time.Minute, RetryInterval: 30 * time.Second,
				FailoverSleepBase: 30 * time.Second, FailoverSleepMax: 30 * time.Second, FailoverMaxAttempts: 30},
		},
		{
			name: "wait forever",
			kv:   []string{KeyRMConnectMaxWaitMS, "-1", KeyRMConnectRetryIntervalMS, "1000"},
			want: RMRetry{WaitForever: true, RetryInterval: time.Second,
				FailoverSleepBase: time.Second, FailoverSleepMax: time.Second, FailoverMaxAttempts: math.MaxInt32},
		},
		{
			name: "wait shorter than interval tries once",
			kv:   []string{KeyRMConnectMaxWaitMS, "500", KeyRMConnectRetryIntervalMS, "1000"},
			want: RMRetry{RetryInterval: time.Second, FailoverSleepBase: time.Second, FailoverSleepMax: time.Second},
		},
		{
			name: "explicit failover settings",
			kv: []string{
				KeyRMConnectMaxWaitMS, "60000",
				KeyClientFailoverSleepBaseMS, "100",
				KeyClientFailoverSleepMaxMS, "2000",
				KeyClientFailoverMaxAttempts, "7",
			},
			want: RMRetry{MaxWait: time.Minute, RetryInterval: 30 * time.Second,
				FailoverSleepBase: 100 * time.Millisecond, FailoverSleepMax: 2 * time.Second, FailoverSleepSet: true, FailoverMaxAttempts: 7},
		},
		{
			name: "derived attempts from base",
			kv:   []string{KeyRMConnectMaxWaitMS, "60000", KeyClientFailoverSleepBaseMS, "100"},
			want: RMRetry{MaxWait: time.Minute, RetryInterval: 30 * time.Second,
				FailoverSleepBase: 100 * time.Millisecond, FailoverSleepMax: 30 * time.Second, FailoverSleepSet: true, FailoverMaxAttempts: 600},
		},
		{
			name: "negative max wait",
			kv:   []string{KeyRMConnectMaxWaitMS, "-2"},
			err:  "conf: test.xml:3: yarn.resourcemanager.connect.max-wait.ms: -2: may be -1 but no other negative number",
		},
		{
			name: "negative interval",
			kv:   []string{KeyRMConnectRetryIntervalMS, "-1"},
			err:  "conf: test.xml:3: yarn.resourcemanager.connect.retry-interval.ms: -1: must be between 0 and 9223372036854",
		},
		{
			name: "suffix not accepted",
			kv:   []string{KeyRMConnectRetryIntervalMS, "30s"},
			err:  `conf: test.xml:3: yarn.resourcemanager.connect.retry-interval.ms: invalid integer "30s"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newConf(t, Options{}, tc.kv...).RMRetry()
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
