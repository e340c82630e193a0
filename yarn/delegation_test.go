package yarn_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

func secureConf(nnPort, realm, qop string) *conf.Configuration {
	c := conf.New(conf.Options{})
	for k, v := range map[string]string{
		"fs.defaultFS":                    "hdfs://localhost:" + nnPort,
		"hadoop.security.authentication":  "kerberos",
		"hadoop.rpc.protection":           qop,
		"dfs.namenode.kerberos.principal": "nn/_HOST@" + realm,
		"yarn.resourcemanager.principal":  "rm/_HOST@" + realm,
		"yarn.resourcemanager.address":    "localhost:8032",
	} {
		c.Set(k, v, conf.Source{})
	}
	return c
}

// ObtainDelegationTokens gets an HDFS delegation token from a secure
// NameNode over Kerberos (from a kinit ticket cache) in each QOP, shaped
// like the one `hdfs fetchdt` got from Hadoop 3.3.6
// (kerberos/nn-fetchdt-auth/fetchdt-token.bin): one HDFS_DELEGATION_TOKEN
// under alias = service = <NameNode ip>:<port>, owner the full principal,
// renewer the RM principal's short name. The token then authenticates to
// the NameNode over TOKEN, the RM principal renews it, the owner cancels
// it, and no key, ticket or token byte reaches the logs.
func TestObtainDelegationTokens(t *testing.T) {
	kdc := krbtest.Start(t)
	aliceKT, rmKT, nnKT := kdc.AddPrincipal(t, "alice"), kdc.AddPrincipal(t, "rm/localhost"), kdc.AddPrincipal(t, "nn/localhost")
	fixture := fetchdtFixture(t)
	for _, p := range []struct{ name, sasl string }{{"authentication", ipc.QOPAuth}, {"integrity", ipc.QOPAuthInt}, {"privacy", ipc.QOPAuthConf}} {
		t.Run(p.name, func(t *testing.T) {
			logs := &testutil.Buffer{}
			lg := zerolog.New(logs).Level(zerolog.DebugLevel)
			nn, err := minihdfs.Start(testutil.Context(t, 30*time.Second), minihdfs.Options{Dir: t.TempDir(), Superuser: "root", Users: []string{"alice"}, Logger: lg,
				Security: &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, nnKT), Principal: kdc.Principal("nn/localhost"), QOPs: []string{p.sasl}}})
			require.NoError(t, err)
			t.Cleanup(func() { nn.Close() })
			_, port, _ := net.SplitHostPort(nn.NameNodeAddr())
			c := secureConf(port, kdc.Realm, p.name)

			opts, err := yarn.DelegationTokenOptionsFromConf(c, "")
			require.NoError(t, err)
			require.Equal(t, "rm/localhost@"+kdc.Realm, opts.Renewer)
			require.Equal(t, []string{"localhost:" + port}, opts.NameNodes)
			ccache := kdc.Kinit(t, "alice", aliceKT, "1h")
			opts.Kerberos.Client = kdc.CCacheClient(t, ccache)
			opts.Logger = lg
			ctx := testutil.Context(t, 30*time.Second)
			creds, err := yarn.ObtainDelegationTokens(ctx, opts)
			require.NoError(t, err)

			service := "127.0.0.1:" + port
			require.Equal(t, []string{service}, creds.Aliases())
			tok := creds.Token(service)
			require.Equal(t, ipc.KindHDFSDelegation, tok.Kind)
			require.Equal(t, service, tok.Service)
			id, err := ipc.ParseDelegationTokenIdentifier(tok.Identifier)
			require.NoError(t, err)
			require.Equal(t, "alice@"+kdc.Realm, id.Owner)
			require.Equal(t, "rm", id.Renewer)
			require.Empty(t, id.RealUser)

			// Same shape as the Java fetchdt file, byte layout included.
			blob := creds.Marshal()
			require.Equal(t, fixture.raw[:5], blob[:5], "HDTS, format 0")
			back, err := ipc.ParseCredentials(blob)
			require.NoError(t, err)
			require.Equal(t, creds.Aliases(), back.Aliases())
			ft := fixture.creds.Tokens()[0]
			require.Equal(t, ft.Kind, tok.Kind)
			require.Equal(t, fixture.creds.Aliases()[0], ft.Service, "alias = service in the fixture too")
			fid, err := ipc.ParseDelegationTokenIdentifier(ft.Identifier)
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(fid.Owner, "@EXAMPLE.COM") && strings.HasSuffix(id.Owner, "@"+kdc.Realm), "owners are full principals")
			require.NotContains(t, fid.Renewer+id.Renewer, "@", "renewers are short names")
			require.Len(t, tok.Password, len(ft.Password), "HMAC-SHA1 passwords")

			tc, err := ipc.Dial(ctx, ipc.Options{Addr: opts.NameNodes[0], Protocol: yarn.ProtocolNameNode, Mechanisms: []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok}}})
			require.NoError(t, err)
			require.Equal(t, ipc.MethodToken, tc.AuthMethod())
			tc.Close()

			asRM := opts
			asRM.Kerberos = &yarn.Kerberos{Client: kdc.KeytabClient(t, "rm/localhost", rmKT, kdc.Config(t)), ServerPrincipal: opts.Kerberos.ServerPrincipal, QOPs: opts.Kerberos.QOPs}
			exp, err := yarn.RenewDelegationToken(ctx, asRM, tok)
			require.NoError(t, err)
			require.WithinDuration(t, time.Now().Add(24*time.Hour), exp, time.Minute)
			_, err = yarn.RenewDelegationToken(ctx, opts, tok)
			require.ErrorIs(t, err, yarn.ErrAccessDenied, "only the renewer renews")
			require.NoError(t, yarn.CancelDelegationToken(ctx, opts, tok))
			require.Equal(t, 0, nn.DelegationTokens())

			secrets := append(krbtest.KeytabSecrets(t, aliceKT, rmKT, nnKT), krbtest.CCacheSecrets(t, ccache)...)
			secrets = append(secrets, tok.Password)
			require.Contains(t, logs.String(), "HDFS delegation token obtained")
			krbtest.AssertNoSecrets(t, logs.String(), secrets...)
			krbtest.AssertNotEncoded(t, logs.String(), tok.Identifier)
		})
	}
}

// Without Kerberos there is nothing to obtain; an HA filesystem's token
// service is ha-hdfs:<nameservice>.
func TestDelegationTokenOptionsFromConf(t *testing.T) {
	c := conf.New(conf.Options{})
	c.Set("fs.defaultFS", "hdfs://nn:8020", conf.Source{})
	o, err := yarn.DelegationTokenOptionsFromConf(c, "")
	require.NoError(t, err)
	require.Nil(t, o.Kerberos)
	creds, err := yarn.ObtainDelegationTokens(testutil.Context(t, 30*time.Second), o)
	require.NoError(t, err)
	require.Equal(t, 0, creds.Len())

	c = secureConf("8020", "EXAMPLE.COM", "privacy")
	for k, v := range map[string]string{
		"fs.defaultFS": "hdfs://ns1", "dfs.nameservices": "ns1", "dfs.ha.namenodes.ns1": "a,b",
		"dfs.namenode.rpc-address.ns1.a": "nn1:8020", "dfs.namenode.rpc-address.ns1.b": "nn2:8020",
	} {
		c.Set(k, v, conf.Source{})
	}
	o, err = yarn.DelegationTokenOptionsFromConf(c, "")
	require.NoError(t, err)
	require.Equal(t, "ha-hdfs:ns1", o.Service)
	require.Equal(t, []string{"nn1:8020", "nn2:8020"}, o.NameNodes)
	require.Equal(t, []string{ipc.QOPAuthConf}, o.Kerberos.QOPs)
	require.Equal(t, "nn/_HOST@EXAMPLE.COM", o.Kerberos.ServerPrincipal)

	c.Set("yarn.resourcemanager.principal", "", conf.Source{})
	_, err = yarn.DelegationTokenOptionsFromConf(c, "")
	require.ErrorIs(t, err, conf.ErrMissingKey)
	require.ErrorContains(t, err, "yarn.resourcemanager.principal")
}

type fetchdt struct {
	raw   []byte
	creds *ipc.Credentials
}

func fetchdtFixture(t *testing.T) fetchdt {
	t.Helper()
	d, err := capture.Dir()
	require.NoError(t, err)
	raw, err := os.ReadFile(filepath.Join(d, "kerberos", "nn-fetchdt-auth", "fetchdt-token.bin"))
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(raw)
	require.NoError(t, err)
	require.Equal(t, 1, creds.Len())
	return fetchdt{raw: raw, creds: creds}
}

// The real NameNode's token (hdfs fetchdt on the 3.3.6 secure cluster)
// carries its issue and maximum dates: 7 days apart, Hadoop's default
// dfs.namenode.delegation.token.max-lifetime. The AM schedules its
// refreshes from them.
func TestDelegationTokenDatesFromCapture(t *testing.T) {
	tok := fetchdtFixture(t).creds.Tokens()[0]
	issue, maxDate, err := yarn.DelegationTokenDates(tok)
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, maxDate.Sub(issue))
	require.Greater(t, issue.Year(), 2020)
	_, _, err = yarn.DelegationTokenDates(&yarn.Token{Kind: ipc.KindAMRMToken, Identifier: tok.Identifier})
	require.ErrorIs(t, err, yarn.ErrBadTokenIdentifier)
}
