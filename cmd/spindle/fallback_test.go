package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/ipc"
)

// A Kerberos-configured spindle refuses an RM that skips authentication
// (answers the SASL negotiation with SUCCESS, as a SIMPLE-only server or a
// man-in-the-middle does): exit 5, naming the key that would allow it.
func TestKerberosFallbackToSimpleRefused(t *testing.T) {
	s := newSecureRealm(t)
	srv := ipc.NewServer(ipc.ServerOptions{AllowSimple: true}) // SIMPLE only
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	dir := s.confDir(t, "localhost:"+port, "privacy", "rm/_HOST@"+s.kdc.Realm)
	env := map[string]string{"HADOOP_CONF_DIR": dir, "KRB5_CONFIG": s.kdc.Krb5Conf,
		"KRB5CCNAME": "FILE:" + filepath.Join(t.TempDir(), "no-ccache")}
	login := []string{"--keytab", s.aliceKT, "--principal", "alice@" + s.kdc.Realm}
	requireBadLogin(t, env, login, exitAuth, "ipc.client.fallback-to-simple-auth-allowed")

	// With the key set, the client carries on (and this RM, serving no
	// protocol, fails the call otherwise).
	core, err := os.ReadFile(filepath.Join(dir, "core-site.xml"))
	require.NoError(t, err)
	core = []byte(strings.Replace(string(core), "</configuration>",
		"<property><name>ipc.client.fallback-to-simple-auth-allowed</name><value>true</value></property>\n</configuration>", 1))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "core-site.xml"), core, 0o644))
	code, _, stderr := runCLI(t, env, append(login, "app", "list")...)
	require.NotEqual(t, exitAuth, code, stderr)
	require.NotContains(t, stderr, "fall back to SIMPLE")
}
