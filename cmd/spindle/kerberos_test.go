package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// secureRealm is a KDC with alice and rm/localhost.
type secureRealm struct {
	kdc           *krbtest.KDC
	aliceKT, rmKT string
	logs          *testutil.Buffer // the RMs' logs, scanned for secrets
	// nmWeb, if set, makes cluster's NodeManager serve its log pages
	// behind SPNEGO with this key.
	nmWeb *minicluster.NMWebSecurity
}

func newSecureRealm(t *testing.T) *secureRealm {
	return newSecureRealmWith(t, krbtest.Options{})
}

// newSecureRealmWith is newSecureRealm with a KDC started with opts.
func newSecureRealmWith(t *testing.T, opts krbtest.Options) *secureRealm {
	kdc := krbtest.StartWith(t, opts)
	return &secureRealm{kdc: kdc, aliceKT: kdc.AddPrincipal(t, "alice"), rmKT: kdc.AddPrincipal(t, "rm/localhost"), logs: &testutil.Buffer{}}
}

// rm starts a mini RM whose client port is Kerberized with protection
// (hadoop.rpc.protection) and returns its address as localhost:<port>.
func (s *secureRealm) rm(t *testing.T, protection string) string {
	t.Helper()
	qop := map[string]string{"authentication": "auth", "integrity": "auth-int", "privacy": "auth-conf"}[protection]
	ctx := testutil.Context(t, 10*time.Second)
	rm, err := minicluster.NewResourceManager(ctx, minicluster.RMOptions{QOPs: []string{qop},
		Logger:   zerolog.New(zerolog.MultiLevelWriter(s.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel),
		Security: &minicluster.RMSecurity{Keytab: krbtest.LoadKeytab(t, s.rmKT), Principal: s.kdc.Principal("rm/localhost")}})
	require.NoError(t, err)
	t.Cleanup(func() { rm.Close() })
	_, port, _ := net.SplitHostPort(rm.ClientAddr())
	return "localhost:" + port
}

// confDir writes core-site.xml and yarn-site.xml for a secure RM.
func (s *secureRealm) confDir(t *testing.T, rmAddr, protection, rmPrincipal string) string {
	t.Helper()
	d := t.TempDir()
	site := func(name string, kv ...string) {
		var b strings.Builder
		b.WriteString("<configuration>\n")
		for i := 0; i < len(kv); i += 2 {
			fmt.Fprintf(&b, "<property><name>%s</name><value>%s</value></property>\n", kv[i], kv[i+1])
		}
		b.WriteString("</configuration>\n")
		require.NoError(t, os.WriteFile(filepath.Join(d, name), []byte(b.String()), 0o644))
	}
	site("core-site.xml", "hadoop.security.authentication", "kerberos", "hadoop.rpc.protection", protection)
	site("yarn-site.xml", "yarn.resourcemanager.address", rmAddr, "yarn.resourcemanager.principal", rmPrincipal,
		"yarn.resourcemanager.connect.max-wait.ms", "300", "yarn.resourcemanager.connect.retry-interval.ms", "50")
	return d
}

// submit puts one application on the RM, as alice from her keytab.
func (s *secureRealm) submit(t *testing.T, rmAddr, protection string) yarn.ApplicationID {
	t.Helper()
	ctx := testutil.Context(t, 10*time.Second)
	qop := map[string]string{"authentication": "auth", "integrity": "auth-int", "privacy": "auth-conf"}[protection]
	krb := &yarn.Kerberos{Client: s.kdc.KeytabClient(t, "alice", s.aliceKT, s.kdc.Config(t)), ServerPrincipal: "rm/_HOST@" + s.kdc.Realm, QOPs: []string{qop}}
	c, err := yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: rmAddr}}, Kerberos: krb, User: krb.UserPrincipal()})
	require.NoError(t, err)
	defer c.Close()
	id, _, err := c.GetNewApplication(ctx)
	require.NoError(t, err)
	require.NoError(t, c.SubmitApplication(ctx, yarn.AppSpec{ID: id, Name: "secure-app", AMResource: yarn.Resource{MemoryMB: 1024, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"sleep 60"}}}))
	return id
}

// `spindle app list/status/kill` against a Kerberized ResourceManager, in
// each QOP, logged in from a keytab and from a kinit ticket cache. With
// --log-level debug, no key, ticket or SASL byte reaches the output.
func TestKerberosAppCommands(t *testing.T) {
	s := newSecureRealm(t)
	var ccaches []string
	var out strings.Builder
	for _, protection := range []string{"authentication", "integrity", "privacy"} {
		t.Run(protection, func(t *testing.T) {
			rmAddr := s.rm(t, protection)
			id := s.submit(t, rmAddr, protection)
			dir := s.confDir(t, rmAddr, protection, "rm/_HOST@"+s.kdc.Realm)
			env := map[string]string{"HADOOP_CONF_DIR": dir, "KRB5_CONFIG": s.kdc.Krb5Conf, "KRB5CCNAME": "FILE:" + filepath.Join(t.TempDir(), "none")}
			keytab := []string{"--log-level", "debug", "--keytab", s.aliceKT, "--principal", "alice@" + s.kdc.Realm}

			code, stdout, stderr := runCLI(t, env, append(keytab, "app", "list")...)
			out.WriteString(stdout + stderr)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, id.String())
			require.Contains(t, stdout, "alice", "the application's user is the principal's short name")

			cc := s.kdc.Kinit(t, "alice", s.aliceKT, "1h")
			ccaches = append(ccaches, cc)
			ccEnv := map[string]string{"HADOOP_CONF_DIR": dir, "KRB5_CONFIG": s.kdc.Krb5Conf, "KRB5CCNAME": "FILE:" + cc}
			code, stdout, stderr = runCLI(t, ccEnv, "--log-level", "debug", "app", "list")
			out.WriteString(stdout + stderr)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, id.String())

			code, stdout, stderr = runCLI(t, ccEnv, "--log-level", "debug", "app", "status", "-o", "json", id.String())
			out.WriteString(stdout + stderr)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, `"user":"alice"`)

			code, stdout, stderr = runCLI(t, ccEnv, "--log-level", "debug", "app", "kill", id.String())
			out.WriteString(stdout + stderr)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "killed "+id.String())
		})
	}
	secrets := append(krbtest.KeytabSecrets(t, s.aliceKT, s.rmKT), krbtest.CCacheSecrets(t, ccaches...)...)
	all := out.String() + s.logs.String()
	require.Contains(t, all, "DBG", "debug logging was on")
	krbtest.AssertNoSecrets(t, all, secrets...)
}

// Each bad login gives one error naming the cause and what to run, and
// exit code 5 (2 for a wrong invocation).
func TestKerberosBadInput(t *testing.T) {
	s := newSecureRealm(t)
	rmAddr := s.rm(t, "privacy")
	dir := s.confDir(t, rmAddr, "privacy", "rm/_HOST@"+s.kdc.Realm)
	noCC := "FILE:" + filepath.Join(t.TempDir(), "no-ccache")
	env := func(kv ...string) map[string]string {
		m := map[string]string{"HADOOP_CONF_DIR": dir, "KRB5_CONFIG": s.kdc.Krb5Conf, "KRB5CCNAME": noCC}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	alice := "alice@" + s.kdc.Realm
	expired := s.kdc.Kinit(t, "alice", s.aliceKT, "1s")
	time.Sleep(1100 * time.Millisecond)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"no ticket and no keytab", env(), nil, exitAuth,
			"kerberos login: no Kerberos ticket and no keytab (run kinit, or pass --keytab and --principal): no ticket cache at "},
		{"expired ticket", env("KRB5CCNAME", "FILE:"+expired), nil, exitAuth,
			"the Kerberos ticket has expired (run kinit, or pass --keytab and --principal)"},
		{"wrong principal", env(), []string{"--keytab", s.aliceKT, "--principal", "bob@" + s.kdc.Realm}, exitAuth,
			"the KDC does not know the client principal (check --principal)"},
		{"keytab without the key", env(), []string{"--keytab", s.rmKT, "--principal", alice}, exitAuth,
			"the keytab has no valid key for the principal (re-export it, check --principal and --keytab)"},
		{"KDC unreachable", env("KRB5_CONFIG", s.kdc.DeadKDCConf(t)), []string{"--keytab", s.aliceKT, "--principal", alice}, exitAuth,
			"cannot reach the KDC (check the kdc entries of the realm in krb5.conf)"},
		{"server principal mismatch", env("HADOOP_CONF_DIR", s.confDir(t, rmAddr, "privacy", "nn/_HOST@"+s.kdc.Realm)),
			[]string{"--keytab", s.aliceKT, "--principal", alice}, exitAuth,
			"server has Kerberos principal rm/localhost@SPINDLE.TEST, expecting nn/localhost@SPINDLE.TEST (check the configured server principal and the host name used to reach the server)"},
		{"insecure client", env("HADOOP_CONF_DIR", confDir(t, rmAddr)), nil, exitAuth,
			"the server requires Kerberos (set hadoop.security.authentication=kerberos in core-site.xml, then kinit or pass --keytab and --principal)"},
		{"keytab without principal", env(), []string{"--keytab", s.aliceKT}, exitUsage, "--keytab needs --principal"},
		{"principal without keytab", env(), []string{"--principal", alice}, exitUsage, "--principal needs --keytab"},
		{"unreadable keytab", env(), []string{"--keytab", filepath.Join(t.TempDir(), "nope"), "--principal", alice}, exitUsage, "--keytab "},
		{"no krb5.conf", env("KRB5_CONFIG", filepath.Join(t.TempDir(), "krb5.conf")), nil, exitUsage, "no krb5.conf at "},
		{"unsupported ccache type", env("KRB5CCNAME", "KEYRING:persistent:0"), nil, exitUsage, "only FILE: ticket caches are supported"},
	} {
		t.Run(tc.name, func(t *testing.T) { requireBadLogin(t, tc.env, tc.args, tc.code, tc.msg) })
	}
}

// requireBadLogin runs `spindle args... app list` and requires exit code
// code, one error line containing msg, and no retries.
func requireBadLogin(t *testing.T, env map[string]string, args []string, code int, msg string) {
	t.Helper()
	start := time.Now()
	got, _, stderr := runCLI(t, env, append(args, "app", "list")...)
	t.Logf("%s", stderr)
	require.Equal(t, code, got, stderr)
	require.Contains(t, stderr, msg)
	require.Equal(t, 1, strings.Count(stderr, "spindle: "), "one error")
	require.Less(t, time.Since(start), 5*time.Second, "authentication failures are not retried")
}

// skewHint is the error for a clock that differs from the KDC's.
const skewHint = "clock skew too great between this host and the KDC (synchronise this host's clock with the KDC's, e.g. with NTP: they must agree within krb5.conf's clockskew, 5 minutes by default)"

// The clock-skew bad input of TestKerberosBadInput, with a KDC of its own
// whose clock runs 15 minutes ahead of this host's (libfaketime; Go does
// not read the clock through libc, so only the KDC, a C program, can be
// offset). The test is skipped without libfaketime (apt-get install
// faketime).
//
//   - keytab: the AS exchange's PA-ENC-TIMESTAMP carries this host's time
//     and the KDC refuses it with KRB_AP_ERR_SKEW.
//   - ticket cache: MIT kinit, on this host's clock too, still gets a TGT
//     (it corrects for the KDC's time after the KDC's first refusal,
//     kdc_timesync, and keeps the correction in the cache), but gokrb5
//     ignores the correction, so the TGS exchange's authenticator is
//     refused with KRB_AP_ERR_SKEW.
//   - KDC tolerant: a KDC allowing an hour of skew issues the TGT and
//     gokrb5 refuses the AS-REP, whose times are 15 minutes off ("clock
//     skew with KDC too large").
func TestKerberosClockSkew(t *testing.T) {
	const offset = 15 * time.Minute
	for _, tc := range []struct {
		name     string
		tolerant bool // the KDC allows more skew than the offset
		ccache   bool // log in from a kinit ticket cache, not a keytab
	}{
		{"keytab", false, false},
		{"ticket cache", false, true},
		{"KDC tolerant", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := krbtest.Options{ClockOffset: offset}
			if tc.tolerant {
				opts.MaxSkew = time.Hour
			}
			s := newSecureRealmWith(t, opts)
			rmAddr := s.rm(t, "privacy")
			env := map[string]string{"HADOOP_CONF_DIR": s.confDir(t, rmAddr, "privacy", "rm/_HOST@"+s.kdc.Realm), "KRB5_CONFIG": s.kdc.Krb5Conf,
				"KRB5CCNAME": "FILE:" + filepath.Join(t.TempDir(), "no-ccache")}
			args := []string{"--keytab", s.aliceKT, "--principal", "alice@" + s.kdc.Realm}
			if tc.ccache {
				env["KRB5CCNAME"] = "FILE:" + s.kdc.Kinit(t, "alice", s.aliceKT, "1h")
				args = nil
			}
			requireBadLogin(t, env, args, exitAuth, skewHint)
		})
	}
}
