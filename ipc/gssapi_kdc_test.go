package ipc

import (
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

type kdcFixture struct {
	kdc          *krbtest.KDC
	rmKT, aliceK string
	rmKeytab     *keytab.Keytab
}

func newKDCFixture(t *testing.T) *kdcFixture {
	k := krbtest.Start(t)
	f := &kdcFixture{kdc: k, rmKT: k.AddPrincipal(t, "rm/localhost"), aliceK: k.AddPrincipal(t, "alice")}
	f.rmKeytab = krbtest.LoadKeytab(t, f.rmKT)
	return f
}

func (f *kdcFixture) server(qops ...string) *KerberosServerMechanism {
	return &KerberosServerMechanism{Keytab: f.rmKeytab, Principal: "rm/localhost@" + f.kdc.Realm, QOPs: qops}
}

func (f *kdcFixture) mech(cl *client.Client) *KerberosMechanism {
	return &KerberosMechanism{Client: cl, ServerPrincipal: "rm/_HOST@" + f.kdc.Realm, Host: "localhost"}
}

// TestKerberosMITKDC: a gokrb5 client logged in from alice's keytab (and,
// separately, from a kinit ticket cache) authenticates to our ipc.Server
// with the rm/localhost keytab, once per QOP, with concurrent calls
// including payloads larger than one wrap chunk.
func TestKerberosMITKDC(t *testing.T) {
	f := newKDCFixture(t)
	cfg := f.kdc.Config(t)
	cl := f.kdc.KeytabClient(t, "alice", f.aliceK, cfg)
	require.NoError(t, cl.Login())
	for _, qop := range []string{QOPAuth, QOPAuthInt, QOPAuthConf} {
		t.Run(qop, func(t *testing.T) {
			addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{f.server(qop)}})
			ctx := testutil.Context(t, 10*time.Second)
			c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "alice@" + fakeRealm, Mechanisms: []ClientMechanism{f.mech(cl)}})
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, MethodKerberos, c.AuthMethod())
			require.Equal(t, qop == QOPAuth, c.layer == nil)
			runCalls(t, ctx, c, "alice@"+fakeRealm)
		})
	}
	t.Run("ticket cache", func(t *testing.T) {
		cc := f.kdc.KinitClient(t, "alice", f.aliceK, "1h")
		addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{f.server(QOPAuthConf)}})
		ctx := testutil.Context(t, 10*time.Second)
		c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, Mechanisms: []ClientMechanism{f.mech(cc)}})
		require.NoError(t, err)
		defer c.Close()
		runCalls(t, ctx, c, "alice@"+fakeRealm)
	})
}

// TestKerberosMITKDCBadInputs checks each failure names its cause and fix.
func TestKerberosMITKDCBadInputs(t *testing.T) {
	f := newKDCFixture(t)
	cfg := f.kdc.Config(t)
	dial := func(t *testing.T, srv *KerberosServerMechanism, mech *KerberosMechanism) error {
		t.Helper()
		addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{srv}})
		ctx := testutil.Context(t, 20*time.Second)
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
		require.ErrorIs(t, err, ErrNoKerberosCredentials)
		require.ErrorContains(t, err, "no Kerberos credentials (no ticket and no keytab)")
		requireNoFlags(t, err)
	})
	t.Run("expired ticket cache", func(t *testing.T) {
		cl := f.kdc.KinitClient(t, "alice", f.aliceK, "1s")
		time.Sleep(1100 * time.Millisecond)
		err := dial(t, f.server(), f.mech(cl))
		require.ErrorIs(t, err, ErrTicketExpired)
		require.ErrorContains(t, err, "the Kerberos ticket has expired")
		requireNoFlags(t, err)
	})
	t.Run("unknown client principal", func(t *testing.T) {
		err := dial(t, f.server(), f.mech(f.kdc.KeytabClient(t, "bob", f.aliceK, cfg)))
		require.ErrorIs(t, err, ErrClientPrincipalUnknown)
		require.ErrorContains(t, err, "the KDC does not know the client principal")
		requireNoFlags(t, err)
	})
	t.Run("keytab without the key", func(t *testing.T) {
		err := dial(t, f.server(), f.mech(f.kdc.KeytabClient(t, "alice", f.rmKT, cfg)))
		require.ErrorContains(t, err, "the keytab has no valid key for the principal")
		require.ErrorIs(t, err, ErrKeytabNoKey)
		requireNoFlags(t, err)
	})
	t.Run("server principal mismatch", func(t *testing.T) {
		mech := f.mech(f.kdc.KeytabClient(t, "alice", f.aliceK, cfg))
		mech.ServerPrincipal = "nn/_HOST@" + fakeRealm
		err := dial(t, f.server(), mech)
		require.ErrorIs(t, err, ErrServerPrincipal)
		require.ErrorContains(t, err, "server has Kerberos principal rm/localhost@SPINDLE.TEST, expecting nn/localhost@SPINDLE.TEST")
	})
	t.Run("server principal unknown to the KDC", func(t *testing.T) {
		srv := &KerberosServerMechanism{Keytab: fakeKeytab(t, "rm/elsewhere", "x", 2), Principal: "rm/elsewhere@" + fakeRealm}
		mech := f.mech(f.kdc.KeytabClient(t, "alice", f.aliceK, cfg))
		mech.Host = "elsewhere"
		err := dial(t, srv, mech)
		require.ErrorContains(t, err, "the KDC does not know this service principal")
		require.ErrorIs(t, err, ErrServicePrincipalUnknown)
	})
	t.Run("clock skew", func(t *testing.T) {
		srv := f.server()
		srv.now = func() time.Time { return time.Now().Add(-time.Hour) }
		err := dial(t, srv, f.mech(f.kdc.KeytabClient(t, "alice", f.aliceK, cfg)))
		require.ErrorContains(t, err, "clock skew too great")
	})
	t.Run("KDC unreachable", func(t *testing.T) {
		dcfg := krbtest.LoadConfig(t, f.kdc.DeadKDCConf(t))
		err := dial(t, f.server(), f.mech(f.kdc.KeytabClient(t, "alice", f.aliceK, dcfg)))
		require.ErrorContains(t, err, "cannot reach the KDC (check the kdc entries of the realm in krb5.conf)")
		require.ErrorIs(t, err, ErrKDCUnreachable)
	})
}
