package minicluster

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

// secureRM starts a KDC (alice, rm/localhost) and an RM whose client port
// is Kerberized with the given QOP.
func secureRM(t *testing.T, qop string) (*krbtest.KDC, *ResourceManager, string) {
	t.Helper()
	kdc := krbtest.Start(t)
	aliceKT := kdc.AddPrincipal(t, "alice")
	rmKT := kdc.AddPrincipal(t, "rm/localhost")
	rm, err := NewResourceManager(testutil.Context(t, 10*time.Second), RMOptions{QOPs: []string{qop}, Logger: testLogger(t),
		Security: &RMSecurity{Keytab: krbtest.LoadKeytab(t, rmKT), Principal: kdc.Principal("rm/localhost")}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, rm.Close()) })
	return kdc, rm, aliceKT
}

// localhostAddr is rm's client address with its host written as
// localhost, the name its principal carries.
func localhostAddr(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return net.JoinHostPort("localhost", port)
}

func secureRMClient(t *testing.T, addr string, mod func(*yarn.RMOptions)) *yarn.RMClient {
	t.Helper()
	o := yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: addr}}, Retry: yarn.RetryPolicy{MaxWait: time.Second, BaseDelay: 10 * time.Millisecond}, Logger: testLogger(t)}
	mod(&o)
	c, err := yarn.NewRMClient(o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// The secure RM's client port takes Kerberos in each QOP and its own RM
// delegation tokens, refuses SIMPLE, and issues tokens only to Kerberos
// callers; applications run as the caller's short name.
func TestSecureResourceManager(t *testing.T) {
	for _, qop := range []string{ipc.QOPAuth, ipc.QOPAuthInt, ipc.QOPAuthConf} {
		t.Run(qop, func(t *testing.T) {
			kdc, rm, aliceKT := secureRM(t, qop)
			ctx := testutil.Context(t, 20*time.Second)
			addr := localhostAddr(rm.ClientAddr())
			cl := kdc.KeytabClient(t, "alice", aliceKT, kdc.Config(t))
			krb := &yarn.Kerberos{Client: cl, ServerPrincipal: "rm/_HOST@" + kdc.Realm, QOPs: []string{qop}}
			c := secureRMClient(t, addr, func(o *yarn.RMOptions) { o.Kerberos, o.User = krb, krb.UserPrincipal() })
			id, _, err := c.GetNewApplication(ctx)
			require.NoError(t, err)
			require.NoError(t, c.SubmitApplication(ctx, yarn.AppSpec{ID: id, Name: "k", Queue: "default", AMResource: yarn.Resource{MemoryMB: 1024, VCores: 1},
				AM: yarn.ContainerLaunchContext{Commands: []string{"true"}}}))
			r, err := c.GetApplicationReport(ctx, id)
			require.NoError(t, err)
			require.Equal(t, "alice", r.User, "the application runs as the principal's short name")

			tok, err := c.GetDelegationToken(ctx, "rm/localhost@"+kdc.Realm)
			require.NoError(t, err)
			require.Equal(t, ipc.KindRMDelegation, tok.Kind)
			id2, err := yarn.ParseRMDelegationTokenIdentifier(tok.Identifier)
			require.NoError(t, err)
			require.Equal(t, "alice@"+kdc.Realm, id2.Owner)
			require.Equal(t, "rm", id2.Renewer)

			tc := secureRMClient(t, addr, func(o *yarn.RMOptions) { o.Mechanisms = []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok}} })
			apps, err := tc.GetApplications(ctx, yarn.AppFilter{})
			require.NoError(t, err)
			require.Len(t, apps, 1)
			_, err = tc.GetDelegationToken(ctx, "rm")
			require.ErrorContains(t, err, "Delegation Token can be issued only with kerberos authentication")

			sc := secureRMClient(t, addr, func(o *yarn.RMOptions) { o.User = "alice" })
			_, err = sc.GetApplications(ctx, yarn.AppFilter{})
			require.ErrorIs(t, err, yarn.ErrAuthentication)
			require.ErrorContains(t, err, "the server requires Kerberos (set hadoop.security.authentication=kerberos")
		})
	}
}
