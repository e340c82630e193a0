package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// A session with the example payload on a secure mini cluster (Kerberized
// RM client port in each QOP, Kerberized NameNode, NodeManagers that
// localize with the application's HDFS delegation token), through the
// CLI: alice logs in from her keytab (and, for privacy, from a kinit
// ticket cache), stages over Kerberos, obtains the delegation token,
// starts a detached session, runs a word count through it and stops it.
// Nothing secret reaches the CLI's output or the cluster's debug logs.
func TestKerberosSession(t *testing.T) {
	bin := spindleBinary(t)
	s := newSecureRealm(t)
	nnKT, nmKT := s.kdc.AddPrincipal(t, "nn/localhost"), s.kdc.AddPrincipal(t, "nm/localhost")
	var all strings.Builder
	var ccaches []string
	for _, protection := range []string{"authentication", "integrity", "privacy"} {
		t.Run(protection, func(t *testing.T) {
			qop := map[string]string{"authentication": ipc.QOPAuth, "integrity": ipc.QOPAuthInt, "privacy": ipc.QOPAuthConf}[protection]
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			lg := zerolog.New(zerolog.MultiLevelWriter(s.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
			nn, err := minihdfs.Start(ctx, minihdfs.Options{Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"},
				Groups: map[string][]string{"nm": {"supergroup"}}, Logger: lg,
				Security: &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, nnKT), Principal: s.kdc.Principal("nn/localhost")}})
			require.NoError(t, err)
			t.Cleanup(func() { nn.Close() })
			nmLogin := s.kdc.KeytabClient(t, "nm/localhost", nmKT, s.kdc.Config(t))
			opts := minicluster.Options{Nodes: 1, Dir: t.TempDir(), Logger: lg}
			opts.RM.QOPs = []string{qop}
			opts.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1}
			opts.RM.Security = &minicluster.RMSecurity{Keytab: krbtest.LoadKeytab(t, s.rmKT), Principal: s.kdc.Principal("rm/localhost")}
			opts.NodeManager.HeartbeatInterval = 100 * time.Millisecond
			opts.NodeManager.FileSystems = map[string]minicluster.FileSystem{"hdfs": minicluster.HDFS{KerberosClient: nmLogin, KerberosServicePrincipal: "nn/_HOST"}}
			c, err := minicluster.New(ctx, opts)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, c.Close()) })

			dir := t.TempDir()
			_, nnPort, _ := net.SplitHostPort(nn.NameNodeAddr())
			_, rmPort, _ := net.SplitHostPort(c.RM().ClientAddr())
			yarnSite := c.ClientConfig()
			yarnSite["yarn.resourcemanager.address"] = "localhost:" + rmPort
			yarnSite["yarn.resourcemanager.principal"] = "rm/_HOST@" + s.kdc.Realm
			yarnSite["yarn.resourcemanager.connect.max-wait.ms"] = "5000"
			require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(dir, "yarn-site.xml"), yarnSite))
			require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(dir, "core-site.xml"), map[string]string{
				"fs.defaultFS": "hdfs://localhost:" + nnPort, "hadoop.security.authentication": "kerberos",
				"hadoop.rpc.protection": protection + ",authentication"}))
			require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(dir, "hdfs-site.xml"), map[string]string{
				"dfs.namenode.kerberos.principal": "nn/_HOST@" + s.kdc.Realm}))
			home := t.TempDir()
			words := filepath.Join(home, "words.txt")
			require.NoError(t, os.WriteFile(words, []byte(strings.Repeat("kerberos guards the yarn\n", 100)), 0o644))
			env := map[string]string{"HADOOP_CONF_DIR": dir, "KRB5_CONFIG": s.kdc.Krb5Conf, "KRB5CCNAME": "FILE:" + filepath.Join(home, "none"),
				"HOME": home, "SPINDLE_BINARY": bin, "SPINDLE_AM_ARGS": "--heartbeat-fast 100ms --heartbeat-idle 300ms"}
			login := []string{"--log-level", "debug", "--keytab", s.aliceKT, "--principal", "alice@" + s.kdc.Realm}
			if protection == "privacy" {
				cc := s.kdc.Kinit(t, "alice", s.aliceKT, "1h")
				ccaches = append(ccaches, cc)
				env["KRB5CCNAME"] = "FILE:" + cc
				login = []string{"--log-level", "debug"}
			}
			cli := func(args ...string) (int, string, string) {
				var out, errb syncBuffer
				code := run(ctx, append(append([]string{"spindle"}, login...), args...), &out, &errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
				all.WriteString(out.String() + errb.String())
				return code, out.String(), errb.String()
			}

			code, out, errOut := cli("session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "-t", words, "-o", "json")
			require.Equal(t, 0, code, errOut)
			evs := events(t, out)
			require.Equal(t, []string{"submitted", "accepted", "running"}, names(evs))
			require.Contains(t, evs[0]["staging_dir"], "hdfs://localhost:"+nnPort+"/user/alice/.spindle/")
			var st map[string]any
			require.Eventually(t, func() bool {
				code, out, _ := cli("session", "status", "-o", "json")
				return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st["taskmanagers_running"] == float64(1)
			}, time.Minute, 100*time.Millisecond)
			code, out, errOut = cli("example", "wordcount", "words.txt")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "succeeded, 400 words")
			code, out, errOut = cli("session", "stop")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "graceful: FINISHED/SUCCEEDED, staging removed")
		})
	}
	secrets := append(krbtest.KeytabSecrets(t, s.aliceKT, s.rmKT, nnKT, nmKT), krbtest.CCacheSecrets(t, ccaches...)...)
	text := all.String() + s.logs.String()
	require.Contains(t, text, "DBG", "debug logging was on")
	krbtest.AssertNoSecrets(t, text, secrets...)
}
