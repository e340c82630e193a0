package minicluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// renewSetup configures startRenewEnv.
type renewSetup struct {
	renew, maxLife time.Duration // the NameNode's token renew interval and maximum lifetime
	login          bool          // give the RM RMSecurity.HDFSLogin
	removalDelay   time.Duration // RMSecurity.TokenRemovalDelay
}

// renewEnv is a KDC, a secure mini HDFS with short delegation token
// lifetimes, a one-node secure cluster, and alice: her Kerberos login and
// her RM client.
type renewEnv struct {
	kdc     *krbtest.KDC
	c       *Cluster
	nnAddr  string // localhost:<port>
	alice   *krb.Client
	rmc     *yarn.RMClient
	logs    *testutil.Buffer
	secrets [][]byte
}

func startRenewEnv(t *testing.T, s renewSetup) *renewEnv {
	t.Helper()
	ctx := testutil.Context(t, 30*time.Second)
	e := &renewEnv{kdc: krbtest.Start(t), logs: &testutil.Buffer{}}
	lg := zerolog.New(zerolog.MultiLevelWriter(e.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	aliceKT, rmKT, nnKT := e.kdc.AddPrincipal(t, "alice"), e.kdc.AddPrincipal(t, "rm/localhost"), e.kdc.AddPrincipal(t, "nn/localhost")
	e.secrets = krbtest.KeytabSecrets(t, aliceKT, rmKT, nnKT)

	nn, err := minihdfs.Start(ctx, minihdfs.Options{Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"}, Logger: lg,
		Security: &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, nnKT), Principal: e.kdc.Principal("nn/localhost"),
			TokenRenewInterval: s.renew, TokenMaxLifetime: s.maxLife}})
	require.NoError(t, err)
	t.Cleanup(func() { nn.Close() })
	_, nnPort, _ := net.SplitHostPort(nn.NameNodeAddr())
	e.nnAddr = "localhost:" + nnPort

	sec := &RMSecurity{Keytab: krbtest.LoadKeytab(t, rmKT), Principal: e.kdc.Principal("rm/localhost"), TokenRemovalDelay: s.removalDelay}
	if s.login {
		sec.HDFSLogin = e.kdc.KeytabClient(t, "rm/localhost", rmKT, e.kdc.Config(t))
		sec.NameNodePrincipal = "nn/_HOST@" + e.kdc.Realm
	}
	e.c = newTestCluster(t, 1, func(o *Options) {
		o.Logger = lg
		o.RM.Security = sec
	})

	e.alice = e.kdc.KeytabClient(t, "alice", aliceKT, e.kdc.Config(t))
	_, rmPort, _ := net.SplitHostPort(e.c.RM().ClientAddr())
	e.rmc, err = yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: "localhost:" + rmPort}}, User: "alice@" + e.kdc.Realm,
		Kerberos: &yarn.Kerberos{Client: e.alice, ServerPrincipal: "rm/_HOST@" + e.kdc.Realm}, PollInterval: 20 * time.Millisecond, Logger: lg})
	require.NoError(t, err)
	t.Cleanup(func() { e.rmc.Close() })
	return e
}

// token obtains an HDFS delegation token for alice, renewable by renewer,
// as a submitter does (service 127.0.0.1:<port>).
func (e *renewEnv) token(t *testing.T, ctx context.Context, renewer string) *ipc.Token {
	t.Helper()
	creds, err := yarn.ObtainDelegationTokens(ctx, yarn.DelegationTokenOptions{NameNodes: []string{e.nnAddr}, Renewer: renewer,
		Kerberos: &yarn.Kerberos{Client: e.alice, ServerPrincipal: "nn/_HOST@" + e.kdc.Realm}})
	require.NoError(t, err)
	tok := creds.TokenOfKind(ipc.KindHDFSDelegation)
	require.NotNil(t, tok)
	e.secrets = append(e.secrets, tok.Password)
	return tok
}

func (e *renewEnv) rmRenewer() string { return "rm/localhost@" + e.kdc.Realm }

// spec is a long-running application whose AM launch context carries toks.
func (e *renewEnv) spec(toks ...*ipc.Token) yarn.AppSpec {
	creds := &ipc.Credentials{}
	for i, tok := range toks {
		creds.AddToken(fmt.Sprintf("%s#%d", tok.Service, i), tok)
	}
	return yarn.AppSpec{Name: "tokens", MaxAttempts: 1, AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"sleep 60"}, Tokens: creds}}
}

// useToken authenticates to the NameNode with tok over TOKEN and stats /,
// as the NodeManager's localizer does (checkDelegationToken).
func useToken(ctx context.Context, tok *ipc.Token) error {
	return StatWithToken(ctx, tok.Service, tok, "/")
}

// tokenRefused waits until the NameNode refuses tok with a message
// containing want.
func tokenRefused(t *testing.T, ctx context.Context, tok *ipc.Token, want string, within time.Duration) {
	t.Helper()
	var last error
	require.Eventually(t, func() bool {
		last = useToken(ctx, tok)
		return last != nil && strings.Contains(last.Error(), want)
	}, within, 25*time.Millisecond, "want the NameNode to refuse the token with %q; last error: %v", want, last)
}

// keepsWorking checks every 200 ms until the deadline that every token
// still authenticates.
func keepsWorking(t *testing.T, ctx context.Context, until time.Time, toks ...*ipc.Token) {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, tok := range toks {
			require.NoError(t, useToken(ctx, tok), "token %d at %s", i, time.Now().Format(time.StampMilli))
		}
		if time.Now().After(until) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-tick.C:
		}
	}
}

// trackedTokens is the number of tokens the RM's renewer tracks.
func trackedTokens(r *ResourceManager) int {
	r.renewer.mu.Lock()
	defer r.renewer.mu.Unlock()
	return len(r.renewer.all)
}

func (e *renewEnv) assertNoSecretsLogged(t *testing.T, toks ...*ipc.Token) {
	t.Helper()
	all := e.logs.String()
	krbtest.AssertNoSecrets(t, all, e.secrets...)
	for _, tok := range toks {
		krbtest.AssertNotEncoded(t, all, tok.Identifier)
	}
}

// The RM renews the HDFS delegation tokens of the applications it runs,
// as YARN's DelegationTokenRenewer does: at submission and then before
// each expiry, so a token outlives many NameNode renew intervals, up to
// its maximum lifetime. When an application ends its token is cancelled,
// unless the submission asked to keep it (cancel_tokens_when_complete).
func TestRMRenewsAndCancelsHDFSDelegationTokens(t *testing.T) {
	t.Parallel()
	const renew, maxLife = 2 * time.Second, 7 * time.Second
	e := startRenewEnv(t, renewSetup{renew: renew, maxLife: maxLife, login: true})
	ctx := testutil.Context(t, time.Minute)
	issued := time.Now() // the tokens are issued after this: unrenewed, they die after issued+renew
	tokA, tokK, tokM := e.token(t, ctx, e.rmRenewer()), e.token(t, ctx, e.rmRenewer()), e.token(t, ctx, e.rmRenewer())
	appA := submit(t, ctx, e.rmc, e.spec(tokA))
	specK := e.spec(tokK)
	specK.KeepTokensAfterFinish = true
	appK := submit(t, ctx, e.rmc, specK)
	appM := submit(t, ctx, e.rmc, e.spec(tokM))
	require.Equal(t, 3, trackedTokens(e.c.RM()))

	// Past three renew intervals, all three still authenticate.
	keepsWorking(t, ctx, issued.Add(3*renew+300*time.Millisecond), tokA, tokK, tokM)

	require.NoError(t, e.rmc.KillApplication(ctx, appA, "done"))
	require.NoError(t, e.rmc.KillApplication(ctx, appK, "done"))
	// A's token is cancelled: the NameNode no longer knows it.
	tokenRefused(t, ctx, tokA, "can't be found in cache", 5*time.Second)
	// K's is kept (no longer renewed, not cancelled).
	require.NoError(t, useToken(ctx, tokK))
	require.Equal(t, 1, trackedTokens(e.c.RM()))

	// M's token is renewed up to its maximum lifetime, and no further.
	require.NoError(t, useToken(ctx, tokM))
	tokenRefused(t, ctx, tokM, "is expired", time.Until(issued.Add(maxLife+3*time.Second)))
	require.True(t, time.Since(issued) >= maxLife, "M's token died at %s, before its maximum lifetime", time.Since(issued))
	// K's token expired on its own: never cancelled.
	tokenRefused(t, ctx, tokK, "is expired", time.Second)

	require.NoError(t, e.rmc.KillApplication(ctx, appM, "done"))
	all := e.logs.String()
	require.Contains(t, all, `"message":"delegation token renewed"`)
	// Renewing at 90% of the time left converges on the maximum date in a
	// few steps, without spinning.
	require.Less(t, strings.Count(all, `"message":"delegation token renewed"`), 40)
	require.Contains(t, all, "cancel_tokens_when_complete=false")
	e.assertNoSecretsLogged(t, tokA, tokK, tokM)
}

// A token the RM cannot renew (its renewer is someone else) rejects the
// application as YARN does: submitApplication is accepted, then the app is
// FAILED with the renewer's "Failed to renew token: …" diagnostics (the
// Java YarnClient, like ours, reports that as a failed submission); no
// attempt starts and none of the application's tokens is tracked.
func TestRMRejectsApplicationWhoseTokenDoesNotRenew(t *testing.T) {
	t.Parallel()
	e := startRenewEnv(t, renewSetup{login: true})
	ctx := testutil.Context(t, time.Minute)
	good, bad := e.token(t, ctx, e.rmRenewer()), e.token(t, ctx, "bob")
	id, err := ipc.ParseDelegationTokenIdentifier(bad.Identifier)
	require.NoError(t, err)
	want := fmt.Sprintf("Failed to renew token: Kind: HDFS_DELEGATION_TOKEN, Service: %s, Ident: (token for alice: HDFS_DELEGATION_TOKEN owner=alice@%s, "+
		"renewer=bob, realUser=, issueDate=%d, maxDate=%d, sequenceNumber=%d, masterKeyId=%d)",
		bad.Service, e.kdc.Realm, id.IssueDate, id.MaxDate, id.SequenceNumber, id.MasterKeyID)

	appID, _, err := e.rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	spec := e.spec(good, bad)
	spec.ID = appID
	err = e.rmc.SubmitApplication(ctx, spec)
	require.ErrorContains(t, err, want)

	apps, err := e.rmc.GetApplications(ctx, yarn.AppFilter{})
	require.NoError(t, err)
	require.Len(t, apps, 1)
	rep := apps[0]
	require.Equal(t, appID, rep.ID)
	require.Equal(t, yarn.StateFailed, rep.State)
	require.Equal(t, yarn.FinalFailed, rep.FinalStatus)
	require.Equal(t, want, rep.Diagnostics)
	require.True(t, rep.CurrentAttempt.App.IsZero(), "no attempt was started")
	require.Zero(t, trackedTokens(e.c.RM()))
	require.Contains(t, e.logs.String(), "with non-matching renewer bob", "the NameNode's reason is logged")
	require.NoError(t, useToken(ctx, good), "a rejected application's tokens are not cancelled")

	// The RM's own token alone is fine.
	submit(t, ctx, e.rmc, e.spec(good))
	require.Equal(t, 1, trackedTokens(e.c.RM()))
	e.assertNoSecretsLogged(t, good, bad)
}

// The control: without RMSecurity.HDFSLogin the RM renews nothing, and an
// application's token dies one NameNode renew interval after its issue.
func TestRMWithoutHDFSLoginLetsTokensExpire(t *testing.T) {
	t.Parallel()
	const renew = time.Second
	e := startRenewEnv(t, renewSetup{renew: renew, maxLife: time.Hour})
	ctx := testutil.Context(t, time.Minute)
	issued := time.Now()
	tok := e.token(t, ctx, e.rmRenewer())
	submit(t, ctx, e.rmc, e.spec(tok))
	require.Nil(t, e.c.RM().renewer)
	tokenRefused(t, ctx, tok, "is expired", 3*renew)
	require.True(t, time.Since(issued) >= renew)
}

// A restarted RM has lost its renewer's state; it renews the tokens of
// the applications it recovers and keeps renewing them. With
// TokenRemovalDelay a finished application's token is cancelled only
// after the delay.
func TestRMRenewsTokensAfterRestartAndCancelsAfterDelay(t *testing.T) {
	t.Parallel()
	const renew, delay = 2 * time.Second, time.Second
	e := startRenewEnv(t, renewSetup{renew: renew, maxLife: time.Hour, login: true, removalDelay: delay})
	ctx := testutil.Context(t, time.Minute)
	issued := time.Now()
	tok := e.token(t, ctx, e.rmRenewer())
	app := submit(t, ctx, e.rmc, e.spec(tok))
	waitState(t, ctx, e.rmc, app, yarn.StateAccepted)
	require.NoError(t, e.c.RM().Restart(ctx, 0))
	require.Equal(t, 1, trackedTokens(e.c.RM()))
	keepsWorking(t, ctx, issued.Add(2*renew+500*time.Millisecond), tok)

	require.NoError(t, e.rmc.KillApplication(ctx, app, "done"))
	killed := time.Now()
	require.NoError(t, useToken(ctx, tok), "cancelled before TokenRemovalDelay")
	require.Equal(t, 1, trackedTokens(e.c.RM()), "renewed until the delay ends")
	tokenRefused(t, ctx, tok, "can't be found in cache", delay+3*time.Second)
	require.True(t, time.Since(killed) >= delay, "cancelled %s after the kill", time.Since(killed))
	require.Zero(t, trackedTokens(e.c.RM()))
	e.assertNoSecretsLogged(t, tok)
}
