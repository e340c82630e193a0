package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
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
			ctx := testutil.Context(t, 2*time.Minute)
			sc := s.cluster(t, ctx, protection, nnKT, nmKT, nil)
			dir, nnPort := sc.confDir, sc.nnPort
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
				var out, errb testutil.Buffer
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

// secureCluster is a secure mini cluster: a Kerberized NameNode and RM
// (client port in one QOP; it renews and cancels the applications' HDFS
// tokens) and one NodeManager that localizes with the application's HDFS
// delegation token, with a client configuration directory for it.
type secureCluster struct {
	c       *minicluster.Cluster
	nn      *minihdfs.Cluster
	confDir string
	nnPort  string
}

func (s *secureRealm) cluster(t *testing.T, ctx context.Context, protection, nnKT, nmKT string, nnSec func(*minihdfs.Security)) *secureCluster {
	t.Helper()
	qop := map[string]string{"authentication": ipc.QOPAuth, "integrity": ipc.QOPAuthInt, "privacy": ipc.QOPAuthConf}[protection]
	lg := zerolog.New(zerolog.MultiLevelWriter(s.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	sec := &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, nnKT), Principal: s.kdc.Principal("nn/localhost")}
	if nnSec != nil {
		nnSec(sec)
	}
	nn, err := minihdfs.Start(ctx, minihdfs.Options{Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"},
		Groups: map[string][]string{"nm": {"supergroup"}}, Logger: lg, Security: sec})
	require.NoError(t, err)
	t.Cleanup(func() { nn.Close() })
	nmLogin := s.kdc.KeytabClient(t, "nm/localhost", nmKT, s.kdc.Config(t))
	opts := minicluster.Options{Nodes: 1, Dir: t.TempDir(), Logger: lg}
	opts.RM.QOPs = []string{qop}
	opts.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1}
	opts.RM.Security = &minicluster.RMSecurity{Keytab: krbtest.LoadKeytab(t, s.rmKT), Principal: s.kdc.Principal("rm/localhost"),
		// The RM renews and cancels the applications' HDFS tokens, as YARN's DelegationTokenRenewer.
		HDFSLogin: s.kdc.KeytabClient(t, "rm/localhost", s.rmKT, s.kdc.Config(t)), NameNodePrincipal: "nn/_HOST@" + s.kdc.Realm}
	opts.NodeManager.HeartbeatInterval = 100 * time.Millisecond
	if s.nmWeb != nil {
		opts.NodeManager.Web, opts.NodeManager.WebSecurity = true, s.nmWeb
	}
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
	return &secureCluster{c: c, nn: nn, confDir: dir, nnPort: nnPort}
}

// secureCLI is the environment of a CLI run as alice against sc from a
// fresh home, with words.txt of n copies of line in it, and a runner of
// the CLI with alice's keytab login (extra global flags first); every
// output also goes to all, if not nil.
func (s *secureRealm) secureCLI(t *testing.T, ctx context.Context, sc *secureCluster, bin, line string, n int, all *strings.Builder,
	extra ...string) (words string, cli func(args ...string) (int, string, string)) {
	home := t.TempDir()
	words = filepath.Join(home, "words.txt")
	require.NoError(t, os.WriteFile(words, []byte(strings.Repeat(line, n)), 0o644))
	env := map[string]string{"HADOOP_CONF_DIR": sc.confDir, "KRB5_CONFIG": s.kdc.Krb5Conf, "KRB5CCNAME": "FILE:" + filepath.Join(home, "none"),
		"HOME": home, "SPINDLE_BINARY": bin, "SPINDLE_AM_ARGS": "--heartbeat-fast 100ms --heartbeat-idle 300ms"}
	return words, func(args ...string) (int, string, string) {
		var out, errb testutil.Buffer
		argv := append(append(append([]string{"spindle"}, extra...), "--keytab", s.aliceKT, "--principal", "alice@"+s.kdc.Realm), args...)
		code := run(ctx, argv, &out, &errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if all != nil {
			all.WriteString(out.String() + errb.String())
		}
		return code, out.String(), errb.String()
	}
}

// tokenWorks reports whether the HDFS delegation token in a container's
// token file still authenticates to the NameNode (over TOKEN, as a
// localizer or a task uses it).
func tokenWorks(ctx context.Context, t *testing.T, tokenFile, nnAddr string) error {
	t.Helper()
	b, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	tok := creds.TokenOfKind(ipc.KindHDFSDelegation)
	require.NotNil(t, tok, "no HDFS token in %s", tokenFile)
	return minicluster.StatWithToken(ctx, nnAddr, tok, "/")
}

// A session that outlives its delegation tokens. The NameNode's tokens
// die 4 s after their last renewal and 8 s after issue at the latest; the
// RM renews the submitter's token, but no renewal passes that maximum.
// With --ship-keytab the AM logs in from alice's keytab and replaces the
// tokens every 3 s, so long after the submitter's token is dead:
//   - the running TaskManager's token file holds a token the NameNode
//     accepts (the TaskManager followed the AM);
//   - a replacement TaskManager localizes from HDFS with a fresh token;
//   - a word count runs through the session;
//   - the stop is graceful and the AM removes the staging directory with
//     its own login.
//
// Without --ship-keytab (the control) the running TaskManager's token is
// refused and the replacement cannot localize: its token has expired.
// The keytab, every token and the tickets stay out of every log.
func TestKerberosLongSession(t *testing.T) {
	bin := spindleBinary(t)
	s := newSecureRealm(t)
	nnKT, nmKT := s.kdc.AddPrincipal(t, "nn/localhost"), s.kdc.AddPrincipal(t, "nm/localhost")
	var all strings.Builder
	var secrets [][]byte
	for _, ship := range []bool{true, false} {
		t.Run(map[bool]string{true: "ship-keytab", false: "control"}[ship], func(t *testing.T) {
			ctx := testutil.Context(t, 2*time.Minute)
			sc := s.cluster(t, ctx, "privacy", nnKT, nmKT, func(sec *minihdfs.Security) {
				sec.TokenRenewInterval, sec.TokenMaxLifetime = 4*time.Second, 8*time.Second
			})
			words, cli := s.secureCLI(t, ctx, sc, bin, "tokens expire sessions do not\n", 50, &all, "--log-level", "debug")
			start := []string{"session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "-t", words, "-o", "json"}
			if ship {
				start = append(start, "--ship-keytab")
			}
			submitted := time.Now()
			code, out, errOut := cli(start...)
			require.Equal(t, 0, code, errOut)
			require.Equal(t, []string{"submitted", "accepted", "running"}, names(events(t, out)))
			nm := sc.c.NodeManager(0)
			status := func() map[string]any {
				code, out, errOut := cli("session", "status", "-o", "json")
				require.Equal(t, 0, code, errOut)
				var st map[string]any
				require.NoError(t, json.Unmarshal([]byte(out), &st))
				return st
			}
			var st map[string]any
			testutil.Eventually(t, func() bool { st = status(); return st["taskmanagers_running"] == float64(1) }, time.Minute, 100*time.Millisecond)
			first, err := yarn.ParseContainerID(st["taskmanagers"].([]any)[0].(string))
			require.NoError(t, err)
			info, ok := nm.Container(first)
			require.True(t, ok)
			secrets = append(secrets, tokenSecrets(t, filepath.Join(info.WorkDir, "container_tokens"))...)

			// Past the submitter's token's maximum lifetime.
			time.Sleep(time.Until(submitted.Add(9 * time.Second)))
			secrets = append(secrets, tokenSecrets(t, filepath.Join(info.WorkDir, "container_tokens"))...)
			err = tokenWorks(ctx, t, filepath.Join(info.WorkDir, "container_tokens"), sc.nn.NameNodeAddr())
			if !ship {
				require.ErrorContains(t, err, "is expired", "the control's token must be dead by now")
			} else {
				require.NoError(t, err, "the running TaskManager followed the AM's fresh tokens")
			}

			// A replacement TaskManager starts with the current tokens.
			require.NoError(t, nm.KillContainerProcess(first, syscall.SIGKILL))
			testutil.Eventually(t, func() bool {
				st = status()
				tms, _ := st["taskmanagers"].([]any)
				return st["taskmanagers_running"] == float64(1) && len(tms) == 1 && tms[0] != first.String()
			}, time.Minute, 100*time.Millisecond)
			second, err := yarn.ParseContainerID(st["taskmanagers"].([]any)[0].(string))
			require.NoError(t, err)
			info2, _ := nm.Container(second)
			secrets = append(secrets, tokenSecrets(t, filepath.Join(info2.WorkDir, "container_tokens"))...)
			err = tokenWorks(ctx, t, filepath.Join(info2.WorkDir, "container_tokens"), sc.nn.NameNodeAddr())
			if !ship {
				require.ErrorContains(t, err, "is expired", "the control's replacement starts with the dead token")
				code, _, errOut = cli("session", "stop")
				require.Equal(t, 0, code, errOut)
				return
			}
			require.NoError(t, err, "the replacement started with a fresh token")
			code, out, errOut = cli("example", "wordcount", "words.txt")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "succeeded, 250 words")

			amID := yarn.ContainerID{Attempt: yarn.AttemptID{App: second.Attempt.App, Attempt: 1}, ID: 1}
			amInfo, ok := nm.Container(amID)
			require.True(t, ok)
			secrets = append(secrets, tokenSecrets(t, filepath.Join(amInfo.WorkDir, "container_tokens"), filepath.Join(info2.WorkDir, "container_tokens"))...)
			code, out, errOut = cli("session", "stop")
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "graceful: FINISHED/SUCCEEDED, staging removed")
			amLog, err := os.ReadFile(filepath.Join(amInfo.LogDir, "am.stderr"))
			require.NoError(t, err)
			all.Write(amLog)
			require.Contains(t, string(amLog), "delegation tokens refreshed")
			require.Contains(t, string(amLog), "staging directory deleted", "the AM removed the staging directory with its own login")
			tmLog, err := os.ReadFile(filepath.Join(info.LogDir, "taskmanager.err"))
			require.NoError(t, err)
			all.Write(tmLog)
			require.Contains(t, string(tmLog), "fresh credentials written to the container's token file")
		})
	}
	secrets = append(secrets, krbtest.KeytabSecrets(t, s.aliceKT, s.rmKT, nnKT, nmKT)...)
	text := all.String() + s.logs.String()
	require.Contains(t, text, "DBG", "debug logging was on")
	krbtest.AssertNoSecrets(t, text, secrets...)
}

// tokenSecrets are the token passwords and secret keys in token files.
func tokenSecrets(t *testing.T, files ...string) [][]byte {
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		creds, err := ipc.ParseCredentials(b)
		require.NoError(t, err)
		for _, tok := range creds.Tokens() {
			out = append(out, tok.Password)
		}
		for _, a := range creds.SecretAliases() {
			out = append(out, creds.Secret(a))
		}
	}
	return out
}

// --ship-keytab needs a keytab login and a Kerberized cluster; each
// misuse is one line of the validation report (exit 2) that says what
// to pass, and nothing is submitted.
func TestShipKeytabMisuse(t *testing.T) {
	bin := spindleBinary(t)
	kt := filepath.Join(t.TempDir(), "alice.keytab")
	require.NoError(t, os.WriteFile(kt, []byte{5, 2}, 0o600))
	env := map[string]string{"HADOOP_CONF_DIR": confDir(t, "127.0.0.1:1"), "HOME": t.TempDir(), "SPINDLE_BINARY": bin}
	code, _, stderr := runCLI(t, env, "session", "start", "-d", "--ship-keytab")
	require.Equal(t, exitUsage, code, stderr)
	require.Contains(t, stderr, "--ship-keytab needs --keytab and --principal: the AM logs in from that keytab (a ticket cache cannot be shipped)")
	code, _, stderr = runCLI(t, env, "--keytab", kt, "--principal", "alice@EXAMPLE.COM", "session", "start", "-d", "--ship-keytab")
	require.Equal(t, exitUsage, code, stderr)
	require.Contains(t, stderr, "--ship-keytab: hadoop.security.authentication is simple, so there are no delegation tokens to replace: drop --ship-keytab")
	require.NotContains(t, stderr, kt, "the keytab's path is not printed")
}
