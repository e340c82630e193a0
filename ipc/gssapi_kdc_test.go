package ipc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/stretchr/testify/require"
)

// mitKDC is a real MIT Kerberos KDC (Debian packages krb5-kdc,
// krb5-admin-server for kdb5_util/kadmin.local, krb5-user for kinit) in a
// temporary directory, listening on a free loopback port.
type mitKDC struct {
	dir, realm string
	krb5conf   string
	env        []string
	port       int
}

// krbTool finds an MIT binary on PATH or in /usr/sbin (where Debian puts
// the KDC tools, often outside a non-root PATH).
func krbTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// freeLoopbackPort returns a port free for both TCP and UDP on 127.0.0.1.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// startMITKDC creates realm SPINDLE.TEST and runs krb5kdc in the foreground
// until the test ends. It skips the test only when krb5kdc is not installed.
func startMITKDC(t *testing.T) *mitKDC {
	t.Helper()
	kdcBin := krbTool("krb5kdc")
	if kdcBin == "" {
		t.Skip("krb5kdc not installed (apt-get install krb5-kdc krb5-admin-server krb5-user)")
	}
	for _, tool := range []string{"kdb5_util", "kadmin.local"} {
		require.NotEmpty(t, krbTool(tool), "%s missing: install krb5-kdc and krb5-admin-server", tool)
	}
	dir := t.TempDir()
	k := &mitKDC{dir: dir, realm: fakeRealm, port: freeLoopbackPort(t)}
	kdcConf := filepath.Join(dir, "kdc.conf")
	k.krb5conf = filepath.Join(dir, "krb5.conf")
	require.NoError(t, os.WriteFile(kdcConf, []byte(fmt.Sprintf(`[kdcdefaults]
    kdc_listen = 127.0.0.1:%[2]d
    kdc_tcp_listen = 127.0.0.1:%[2]d
[realms]
    %[3]s = {
        database_name = %[1]s/principal
        key_stash_file = %[1]s/stash
        acl_file = %[1]s/kadm5.acl
        kdc_listen = 127.0.0.1:%[2]d
        kdc_tcp_listen = 127.0.0.1:%[2]d
        max_life = 10h
        max_renewable_life = 1d
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        default_principal_flags = +preauth
    }
[logging]
    kdc = FILE:%[1]s/kdc.log
`, dir, k.port, k.realm)), 0o600))
	require.NoError(t, os.WriteFile(k.krb5conf, []byte(k.clientConf(k.port)), 0o600))
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.krb5conf, "KRB5_KDC_PROFILE="+kdcConf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "default.ccache"))
	k.run(t, "kdb5_util", "-r", k.realm, "create", "-s", "-P", "master-"+k.realm)

	cmd := exec.Command(kdcBin, "-n", "-r", k.realm)
	cmd.Env = k.env
	out, err := os.Create(filepath.Join(dir, "krb5kdc.out"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", k.port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "krb5kdc.out"))
			t.Fatalf("krb5kdc did not listen on %d: %v\n%s", k.port, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return k
}

// clientConf is a krb5.conf for the realm with its KDC at port.
func (k *mitKDC) clientConf(port int) string {
	return fmt.Sprintf(`[libdefaults]
    default_realm = %[1]s
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    udp_preference_limit = 1
    default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
    default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
[realms]
    %[1]s = {
        kdc = 127.0.0.1:%[2]d
    }
[domain_realm]
    localhost = %[1]s
`, k.realm, port)
}

func (k *mitKDC) run(t *testing.T, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(krbTool(tool), args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", tool, strings.Join(args, " "), out)
}

// principal adds name with a random key and exports it to a new keytab.
func (k *mitKDC) principal(t *testing.T, name string) string {
	t.Helper()
	kt := filepath.Join(k.dir, strings.ReplaceAll(name, "/", "_")+".keytab")
	k.run(t, "kadmin.local", "-r", k.realm, "-q", "addprinc -randkey "+name)
	k.run(t, "kadmin.local", "-r", k.realm, "-q", "ktadd -k "+kt+" "+name)
	return kt
}

func (k *mitKDC) config(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(k.krb5conf)
	require.NoError(t, err)
	return cfg
}

func loadKeytab(t *testing.T, path string) *keytab.Keytab {
	t.Helper()
	kt, err := keytab.Load(path)
	require.NoError(t, err)
	return kt
}

// keytabClient is a gokrb5 client for user with the keytab at path, not yet
// logged in (the first service-ticket request logs in).
func (k *mitKDC) keytabClient(t *testing.T, user, path string, cfg *config.Config) *client.Client {
	t.Helper()
	cl := client.NewWithKeytab(user, k.realm, loadKeytab(t, path), cfg, client.DisablePAFXFAST(true))
	t.Cleanup(cl.Destroy)
	return cl
}

// kinit makes a ticket cache the way a user would and loads it.
func (k *mitKDC) kinit(t *testing.T, user, ktPath string, lifetime string) *client.Client {
	t.Helper()
	require.NotEmpty(t, krbTool("kinit"), "kinit missing: install krb5-user")
	cc := filepath.Join(k.dir, user+"-"+lifetime+".ccache")
	k.run(t, "kinit", "-k", "-t", ktPath, "-l", lifetime, "-c", "FILE:"+cc, user+"@"+k.realm)
	ccache, err := credentials.LoadCCache(cc)
	require.NoError(t, err)
	cl, err := client.NewFromCCache(ccache, k.config(t), client.DisablePAFXFAST(true))
	require.NoError(t, err)
	t.Cleanup(cl.Destroy)
	return cl
}

type kdcFixture struct {
	kdc          *mitKDC
	rmKT, aliceK string
	rmKeytab     *keytab.Keytab
}

func newKDCFixture(t *testing.T) *kdcFixture {
	k := startMITKDC(t)
	f := &kdcFixture{kdc: k, rmKT: k.principal(t, "rm/localhost"), aliceK: k.principal(t, "alice")}
	f.rmKeytab = loadKeytab(t, f.rmKT)
	return f
}

func (f *kdcFixture) server(qops ...string) *KerberosServerMechanism {
	return &KerberosServerMechanism{Keytab: f.rmKeytab, Principal: "rm/localhost@" + f.kdc.realm, QOPs: qops}
}

func (f *kdcFixture) mech(cl *client.Client) *KerberosMechanism {
	return &KerberosMechanism{Client: cl, ServerPrincipal: "rm/_HOST@" + f.kdc.realm, Host: "localhost"}
}

// TestKerberosMITKDC: a gokrb5 client logged in from alice's keytab (and,
// separately, from a kinit ticket cache) authenticates to our ipc.Server
// with the rm/localhost keytab, once per QOP, with concurrent calls
// including payloads larger than one wrap chunk.
func TestKerberosMITKDC(t *testing.T) {
	f := newKDCFixture(t)
	cfg := f.kdc.config(t)
	cl := f.kdc.keytabClient(t, "alice", f.aliceK, cfg)
	require.NoError(t, cl.Login())
	for _, qop := range []string{QOPAuth, QOPAuthInt, QOPAuthConf} {
		t.Run(qop, func(t *testing.T) {
			addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{f.server(qop)}})
			ctx := testCtx(t)
			c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "alice@" + fakeRealm, Mechanisms: []ClientMechanism{f.mech(cl)}})
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, MethodKerberos, c.AuthMethod())
			require.Equal(t, qop == QOPAuth, c.layer == nil)
			runCalls(t, ctx, c, "alice@"+fakeRealm)
		})
	}
	t.Run("ticket cache", func(t *testing.T) {
		cc := f.kdc.kinit(t, "alice", f.aliceK, "1h")
		addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{f.server(QOPAuthConf)}})
		ctx := testCtx(t)
		c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, Mechanisms: []ClientMechanism{f.mech(cc)}})
		require.NoError(t, err)
		defer c.Close()
		runCalls(t, ctx, c, "alice@"+fakeRealm)
	})
}

// TestKerberosMITKDCBadInputs checks each failure names its cause and fix.
func TestKerberosMITKDCBadInputs(t *testing.T) {
	f := newKDCFixture(t)
	cfg := f.kdc.config(t)
	dial := func(t *testing.T, srv *KerberosServerMechanism, mech *KerberosMechanism) error {
		t.Helper()
		addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{srv}})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, Mechanisms: []ClientMechanism{mech}})
		if err == nil {
			c.Close()
		}
		require.Error(t, err)
		t.Logf("error: %v", err)
		return err
	}
	t.Run("no ticket and no keytab", func(t *testing.T) {
		cl := client.NewWithPassword("alice", fakeRealm, "", cfg, client.DisablePAFXFAST(true))
		t.Cleanup(cl.Destroy)
		err := dial(t, f.server(), f.mech(cl))
		require.ErrorContains(t, err, "no Kerberos ticket and no keytab (run kinit, or pass --keytab and --principal)")
	})
	t.Run("expired ticket cache", func(t *testing.T) {
		cl := f.kdc.kinit(t, "alice", f.aliceK, "1s")
		time.Sleep(1100 * time.Millisecond)
		err := dial(t, f.server(), f.mech(cl))
		require.ErrorContains(t, err, "the Kerberos ticket has expired (run kinit")
	})
	t.Run("unknown client principal", func(t *testing.T) {
		err := dial(t, f.server(), f.mech(f.kdc.keytabClient(t, "bob", f.aliceK, cfg)))
		require.ErrorContains(t, err, "the KDC does not know the client principal (check --principal)")
	})
	t.Run("keytab without the key", func(t *testing.T) {
		err := dial(t, f.server(), f.mech(f.kdc.keytabClient(t, "alice", f.rmKT, cfg)))
		require.ErrorContains(t, err, "the keytab has no valid key for the principal")
	})
	t.Run("server principal mismatch", func(t *testing.T) {
		mech := f.mech(f.kdc.keytabClient(t, "alice", f.aliceK, cfg))
		mech.ServerPrincipal = "nn/_HOST@" + fakeRealm
		err := dial(t, f.server(), mech)
		require.ErrorIs(t, err, ErrServerPrincipal)
		require.ErrorContains(t, err, "server has Kerberos principal rm/localhost@SPINDLE.TEST, expecting nn/localhost@SPINDLE.TEST")
	})
	t.Run("server principal unknown to the KDC", func(t *testing.T) {
		srv := &KerberosServerMechanism{Keytab: fakeKeytab(t, "rm/elsewhere", "x", 2), Principal: "rm/elsewhere@" + fakeRealm}
		mech := f.mech(f.kdc.keytabClient(t, "alice", f.aliceK, cfg))
		mech.Host = "elsewhere"
		err := dial(t, srv, mech)
		require.ErrorContains(t, err, "the KDC does not know this service principal")
	})
	t.Run("clock skew", func(t *testing.T) {
		srv := f.server()
		srv.now = func() time.Time { return time.Now().Add(-time.Hour) }
		err := dial(t, srv, f.mech(f.kdc.keytabClient(t, "alice", f.aliceK, cfg)))
		require.ErrorContains(t, err, "clock skew too great")
	})
	t.Run("KDC unreachable", func(t *testing.T) {
		dead := filepath.Join(f.kdc.dir, "dead-krb5.conf")
		require.NoError(t, os.WriteFile(dead, []byte(f.kdc.clientConf(freeLoopbackPort(t))), 0o600))
		dcfg, err := config.Load(dead)
		require.NoError(t, err)
		err = dial(t, f.server(), f.mech(f.kdc.keytabClient(t, "alice", f.aliceK, dcfg)))
		require.ErrorContains(t, err, "cannot reach the KDC (check the kdc entries of the realm in krb5.conf)")
	})
}
