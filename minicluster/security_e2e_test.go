package minicluster

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
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestSecureClusterEndToEnd: a secure mini cluster (Kerberized RM client
// port, Kerberized NameNode, a NodeManager whose localizer needs the
// application's HDFS delegation token). As a submitter does, alice (from a
// kinit ticket cache) stages a file over Kerberos, obtains an HDFS
// delegation token renewable by the RM and submits an application whose
// AM launch context carries it; the NodeManager localizes the file with
// that token and the AM container reads it. An application without the
// token fails to localize with Hadoop's message. Each QOP on the RM; the
// NameNode speaks authentication (colinmarc/hdfs, which stages, wraps no
// requests). No key, ticket, token or SASL byte reaches the logs.
func TestSecureClusterEndToEnd(t *testing.T) {
	for _, qop := range []string{ipc.QOPAuth, ipc.QOPAuthInt, ipc.QOPAuthConf} {
		t.Run(qop, func(t *testing.T) { secureEndToEnd(t, qop) })
	}
}

func secureEndToEnd(t *testing.T, qop string) {
	ctx := testutil.Context(t, 60*time.Second)
	logs := &testutil.Buffer{}
	lg := zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	kdc := krbtest.Start(t)
	aliceKT, rmKT, nnKT, nmKT := kdc.AddPrincipal(t, "alice"), kdc.AddPrincipal(t, "rm/localhost"), kdc.AddPrincipal(t, "nn/localhost"), kdc.AddPrincipal(t, "nm/localhost")

	nn, err := minihdfs.Start(ctx, minihdfs.Options{Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"},
		Groups: map[string][]string{"nm": {"supergroup"}}, Logger: lg,
		Security: &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, nnKT), Principal: kdc.Principal("nn/localhost")}})
	require.NoError(t, err)
	t.Cleanup(func() { nn.Close() })
	nmLogin := kdc.KeytabClient(t, "nm/localhost", nmKT, kdc.Config(t))
	c := newTestCluster(t, 1, func(o *Options) {
		o.Logger = lg
		o.RM.QOPs = []string{qop}
		o.RM.Security = &RMSecurity{Keytab: krbtest.LoadKeytab(t, rmKT), Principal: kdc.Principal("rm/localhost")}
		o.NodeManager.FileSystems = map[string]FileSystem{"hdfs": HDFS{KerberosClient: nmLogin, KerberosServicePrincipal: "nn/_HOST"}}
	})

	_, nnPort, _ := net.SplitHostPort(nn.NameNodeAddr())
	_, rmPort, _ := net.SplitHostPort(c.RM().ClientAddr())
	cfg := conf.New(conf.Options{})
	for k, v := range map[string]string{
		"fs.defaultFS":                   "hdfs://localhost:" + nnPort,
		"hadoop.security.authentication": "kerberos",
		// The client accepts the RM's QOP and the NameNode's authentication.
		"hadoop.rpc.protection":           map[string]string{ipc.QOPAuth: "authentication", ipc.QOPAuthInt: "integrity,authentication", ipc.QOPAuthConf: "privacy,authentication"}[qop],
		"dfs.namenode.kerberos.principal": "nn/_HOST@" + kdc.Realm,
		"yarn.resourcemanager.principal":  "rm/_HOST@" + kdc.Realm,
		"yarn.resourcemanager.address":    "localhost:" + rmPort,
	} {
		cfg.Set(k, v, conf.Source{})
	}
	ccache := kdc.Kinit(t, "alice", aliceKT, "1h")
	alice := kdc.CCacheClient(t, ccache)

	// The submitter: RM client, staging, delegation token, submit.
	ro, err := yarn.RMOptionsFromConf(cfg)
	require.NoError(t, err)
	ro.Kerberos.Client, ro.User, ro.Logger, ro.PollInterval = alice, "alice@"+kdc.Realm, lg, 20*time.Millisecond
	rmc, err := yarn.NewRMClient(ro)
	require.NoError(t, err)
	t.Cleanup(func() { rmc.Close() })
	id, _, err := rmc.GetNewApplication(ctx)
	require.NoError(t, err)

	st, err := hdfs.New(ctx, hdfs.Options{Conf: cfg, KerberosClient: alice, Logger: lg})
	require.NoError(t, err)
	local := filepath.Join(t.TempDir(), "words.txt")
	data := strings.Repeat("staged over kerberos\n", 1000)
	require.NoError(t, os.WriteFile(local, []byte(data), 0o644))
	staged, err := st.Stage(ctx, id.String(), []hdfs.Source{{Path: local}}, nil)
	require.NoError(t, err)
	f := staged[0]
	res := map[string]yarn.LocalResource{"words.txt": {URL: yarn.URL{Scheme: "hdfs", Host: "localhost", Port: atoi32(t, nnPort), File: f.Path},
		Size: f.Size, Timestamp: f.ModTime, Type: yarn.File, Visibility: yarn.Application}}

	dto, err := yarn.DelegationTokenOptionsFromConf(cfg, "")
	require.NoError(t, err)
	dto.Kerberos.Client, dto.Logger = alice, lg
	creds, err := yarn.ObtainDelegationTokens(ctx, dto)
	require.NoError(t, err)
	tok := creds.Token("127.0.0.1:" + nnPort)
	require.NotNil(t, tok)

	require.NoError(t, rmc.SubmitApplication(ctx, yarn.AppSpec{ID: id, Name: "secure", MaxAttempts: 1, AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"cat words.txt 1><LOG_DIR>/stdout; sleep 30"}, LocalResources: res, Tokens: creds}}))
	am := yarn.ContainerID{Attempt: yarn.AttemptID{App: id, Attempt: 1}, ID: 1}
	stdout := filepath.Join(c.NodeManager(0).LogDir(), id.String(), am.String(), "stdout")
	eventually(t, ctx, "the AM container's output", func() bool {
		b, _ := os.ReadFile(stdout)
		return string(b) == data
	})
	// The AM's container_tokens hold the HDFS token and the AMRMToken.
	info, ok := c.NodeManager(0).Container(am)
	require.True(t, ok)
	ctf, err := os.ReadFile(filepath.Join(info.WorkDir, "container_tokens"))
	require.NoError(t, err)
	amCreds, err := ipc.ParseCredentials(ctf)
	require.NoError(t, err)
	require.NotNil(t, amCreds.Token("127.0.0.1:"+nnPort))
	require.NotNil(t, amCreds.TokenOfKind(ipc.KindAMRMToken))
	require.NoError(t, rmc.KillApplication(ctx, id, "done"))

	// Without the token the localizer cannot authenticate.
	id2, _, err := rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	require.NoError(t, rmc.SubmitApplication(ctx, yarn.AppSpec{ID: id2, Name: "no-token", MaxAttempts: 1, AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"cat words.txt"}, LocalResources: res}}))
	r := waitState(t, ctx, rmc, id2, yarn.StateFailed)
	require.Contains(t, r.Diagnostics, "org.apache.hadoop.security.AccessControlException: Client cannot authenticate via:[TOKEN, KERBEROS]")

	secrets := append(krbtest.KeytabSecrets(t, aliceKT, rmKT, nnKT, nmKT), krbtest.CCacheSecrets(t, ccache)...)
	secrets = append(secrets, tok.Password)
	for _, t2 := range amCreds.Tokens() {
		secrets = append(secrets, t2.Password)
	}
	all := logs.String()
	require.Contains(t, all, `"level":"debug"`)
	krbtest.AssertNoSecrets(t, all, secrets...)
	for _, t2 := range amCreds.Tokens() {
		krbtest.AssertNotEncoded(t, all, t2.Identifier)
	}
}

func atoi32(t *testing.T, s string) int32 {
	var n int32
	for _, c := range s {
		require.True(t, c >= '0' && c <= '9')
		n = n*10 + int32(c-'0')
	}
	return n
}
