package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	colinmarc "github.com/colinmarc/hdfs/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/session"
	"github.com/spindle-yarn/spindle/yarn"
)

// The session and per-job tests run the CLI in-process against a local
// mini cluster with a mini HDFS, exactly as `spindle local up` runs it;
// the AM and the payload run as the real spindle binary, built once.

// spindleBinary builds the spindle command once per test binary
// ($SPINDLE_TEST_BINARY names a prebuilt one instead).
func spindleBinary(t *testing.T) string {
	if p := os.Getenv("SPINDLE_TEST_BINARY"); p != "" {
		return p
	}
	return testutil.Build(t, ".", "spindle")
}

// localCluster is a running mini cluster and the CLI environment that
// reaches it.
type localCluster struct {
	t     *testing.T
	l     *minicluster.Local
	env   map[string]string
	home  string
	words string
}

const testUser = "alice"

func newLocalCluster(t *testing.T, nodes int) *localCluster {
	t.Helper()
	bin := spindleBinary(t)
	dir := t.TempDir()
	ctx := testutil.Context(t, 30*time.Second)
	opts := minicluster.LocalOptions{Dir: filepath.Join(dir, "cluster"), Nodes: nodes, HDFS: true, HDFSUsers: []string{testUser},
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		ExtraConfig: map[string]map[string]string{"yarn-site.xml": {
			"yarn.resourcemanager.connect.max-wait.ms": "5000", "yarn.resourcemanager.connect.retry-interval.ms": "100"}}}
	opts.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1}
	opts.RM.Queues = []minicluster.QueueOptions{{Name: "default", Capacity: 100}, {Name: "closed", Stopped: true}}
	opts.NodeManager.HeartbeatInterval = 100 * time.Millisecond
	opts.NodeManager.SigkillDelay = 200 * time.Millisecond
	l, err := minicluster.StartLocal(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	lc := &localCluster{t: t, l: l, home: filepath.Join(dir, "home"), words: filepath.Join(dir, "words.txt")}
	require.NoError(t, os.MkdirAll(lc.home, 0o755))
	require.NoError(t, os.WriteFile(lc.words, []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\nspindle spins yarn\n", 40)), 0o644))
	lc.env = map[string]string{"HADOOP_CONF_DIR": l.ConfDir, "HADOOP_USER_NAME": testUser, "HOME": lc.home,
		"SPINDLE_BINARY": bin, "SPINDLE_AM_ARGS": "--heartbeat-fast 100ms --heartbeat-idle 300ms"}
	return lc
}

// cli runs spindle with ctx and returns the exit code and outputs.
func (lc *localCluster) cli(ctx context.Context, args ...string) (int, string, string) {
	var out, errb testutil.Buffer
	code := run(ctx, append([]string{"spindle"}, args...), &out, &errb, func(k string) (string, bool) { v, ok := lc.env[k]; return v, ok })
	return code, out.String(), errb.String()
}

func (lc *localCluster) ctx(d time.Duration) context.Context {
	return testutil.Context(lc.t, d)
}

// stagedApps lists the application directories under the user's staging root in the mini HDFS.
func (lc *localCluster) stagedApps() []string {
	lc.t.Helper()
	code, out, errOut := lc.cli(lc.ctx(20*time.Second), "gc", "--dry-run")
	require.Equal(lc.t, 0, code, errOut)
	var apps []string
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "/.spindle/application_"); i >= 0 {
			apps = append(apps, strings.Fields(line[i+len("/.spindle/"):])[0])
		}
	}
	return apps
}

// app reads an application's report through `app status -o json`.
func (lc *localCluster) app(id string) map[string]any {
	lc.t.Helper()
	code, out, errOut := lc.cli(lc.ctx(20*time.Second), "app", "status", "-o", "json", id)
	require.Equal(lc.t, 0, code, errOut)
	var m map[string]any
	require.NoError(lc.t, json.Unmarshal([]byte(out), &m))
	return m
}

// events decodes JSON lines.
func events(t *testing.T, out string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		evs = append(evs, m)
	}
	return evs
}

func names(evs []map[string]any) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprint(e["event"]))
	}
	return out
}

// The acceptance run of issue #7: a detached session with 2 TaskManagers,
// its status, a word count through it, list, stop; then a per-job run.
func TestSessionDetachedAcceptance(t *testing.T) {
	lc := newLocalCluster(t, 2)
	ctx := lc.ctx(2 * time.Minute)

	code, out, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "2", "-jm", "512m", "-tm", "256m", "-s", "2", "-nm", "accept",
		"--payload", "example", "-t", lc.words, "--output", "json")
	require.Equal(t, 0, code, errOut)
	evs := events(t, out)
	require.Equal(t, []string{"submitted", "accepted", "running"}, names(evs), "events in order")
	id := evs[0]["app_id"].(string)
	for _, e := range evs {
		require.Equal(t, id, e["app_id"])
	}
	require.Contains(t, evs[0]["staging_dir"], "/user/"+testUser+"/.spindle/"+id)
	require.Greater(t, evs[0]["uploaded_bytes"], float64(1<<20), "the binary was uploaded")
	require.NotEmpty(t, evs[2]["jobmanager_address"])
	require.Contains(t, evs[2]["tracking_url"], id)

	props := filepath.Join(lc.home, session.PropertiesFileName(testUser))
	fi, err := os.Stat(props)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, _ := os.ReadFile(props)
	require.Contains(t, string(b), "applicationID="+id+"\n")

	// status: both TaskManagers running (they register within a heartbeat or two).
	var st map[string]any
	require.Eventually(t, func() bool {
		code, out, _ := lc.cli(ctx, "session", "status", "--output", "json")
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		return st["taskmanagers_running"] == float64(2)
	}, 30*time.Second, 100*time.Millisecond, "status %v", st)
	for _, k := range []string{"app_id", "state", "final_status", "tracking_url", "jobmanager_address", "taskmanagers_target", "taskmanagers_running"} {
		require.Contains(t, st, k)
	}
	require.Equal(t, id, st["app_id"])
	require.Equal(t, "RUNNING", st["state"])
	require.Equal(t, float64(2), st["taskmanagers_target"], "numbers are numbers")
	require.Equal(t, evs[2]["jobmanager_address"], st["jobmanager_address"])
	rep := lc.app(id)
	require.Equal(t, st["jobmanager_rest_address"], fmt.Sprintf("%s:%v", rep["am_host"], rep["am_rpc_port"]),
		"the report's host:rpc_port is the JobManager's REST endpoint, where Flink's client looks")

	code, out, errOut = lc.cli(ctx, "example", "wordcount", filepath.Base(lc.words))
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "succeeded, 480 words")
	require.Regexp(t, `\s+80 the\n`, out)

	code, out, _ = lc.cli(ctx, "session", "list", "-o", "json")
	require.Equal(t, 0, code)
	require.Contains(t, out, id)

	code, out, errOut = lc.cli(ctx, "session", "stop", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var stop map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &stop))
	require.Equal(t, "graceful", stop["stopped"])
	require.Equal(t, "SUCCEEDED", stop["final_status"])
	require.Equal(t, true, stop["staging_removed"])
	require.NotContains(t, lc.stagedApps(), id, "staging gone")
	_, err = os.Stat(props)
	require.ErrorIs(t, err, os.ErrNotExist, "the properties file is forgotten")

	code, _, errOut = lc.cli(ctx, "session", "status")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "pass an APP_ID or start one with `spindle session start`")
	code, out, _ = lc.cli(ctx, "session", "status", "-o", "json", id)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"state":"FINISHED"`)

	// per-job: exit 0 and the events in order.
	code, out, errOut = lc.cli(ctx, "run", "--payload", "example", "-n", "2", "-jm", "256m", "-tm", "256m", "--output", "json", "wordcount", lc.words)
	require.Equal(t, 0, code, errOut)
	evs = events(t, out)
	require.Equal(t, []string{"submitted", "accepted", "running", "finished"}, names(evs))
	require.Equal(t, "FINISHED", evs[3]["state"])
	require.Equal(t, "SUCCEEDED", evs[3]["final_status"])
	require.Equal(t, float64(0), evs[0]["uploaded_bytes"], "a resubmit uploads nothing: the cache holds the binary")
	require.Empty(t, lc.stagedApps(), "no staging left")
}

// waitFor polls buf until it holds s.
func waitFor(t *testing.T, buf *testutil.Buffer, s string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(buf.String(), s) }, 60*time.Second, 20*time.Millisecond, "waiting for %q in:\n%s", s, buf.String())
}

// cliAsync runs spindle in the background; cancel is its Ctrl-C.
func (lc *localCluster) cliAsync(args ...string) (out *testutil.Buffer, cancel func(), done <-chan int) {
	ctx, cancel := context.WithCancel(lc.ctx(2 * time.Minute))
	out = &testutil.Buffer{}
	ch := make(chan int, 1)
	go func() {
		var errb testutil.Buffer
		code := run(ctx, append([]string{"spindle"}, args...), out, &errb, func(k string) (string, bool) { v, ok := lc.env[k]; return v, ok })
		if code != 0 {
			fmt.Fprintf(out, "\nstderr: %s", errb.String())
		}
		ch <- code
	}()
	return out, cancel, ch
}

func exitOf(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case c := <-done:
		return c
	case <-time.After(90 * time.Second):
		t.Fatal("spindle did not return")
		return -1
	}
}

// Attached: upload, events, then Ctrl-C stops the session gracefully and
// exits 0; nothing is left in the staging area.
func TestSessionAttachedInterrupt(t *testing.T) {
	lc := newLocalCluster(t, 1)
	out, interrupt, done := lc.cliAsync("session", "start", "-n", "1", "-jm", "256m", "-tm", "256m", "--output", "json")
	waitFor(t, out, `"event":"running"`)
	id := events(t, strings.TrimSpace(out.String()))[0]["app_id"].(string)
	interrupt()
	require.Equal(t, 0, exitOf(t, done), out.String())
	evs := events(t, out.String())
	require.Equal(t, []string{"submitted", "accepted", "running", "finished"}, names(evs))
	require.Equal(t, "SUCCEEDED", evs[3]["final_status"], "a graceful stop")
	require.Equal(t, "FINISHED", lc.app(id)["state"])
	require.Empty(t, lc.stagedApps())
}

// attach follows a detached session; a stop whose AM cannot be asked (the
// stop secret is gone) falls back to a YARN kill and still removes the
// staging; the attached client sees KILLED and exits 7.
func TestSessionAttachAndStopFallback(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)
	code, out, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "is running (detached)")
	id := regexpApp.FindString(out)
	require.NotEmpty(t, id)

	att, _, done := lc.cliAsync("session", "attach", "-o", "json", id)
	waitFor(t, att, `"event":"running"`) // attach follows the session

	// Remove the stop secret from the staging directory in the mini HDFS.
	hc, err := colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{lc.l.HDFS.NameNodeAddr()}, User: testUser})
	require.NoError(t, err)
	defer hc.Close()
	require.NoError(t, hc.Remove("/user/"+testUser+"/.spindle/"+id+"/stop-secret"))

	code, out, errOut = lc.cli(ctx, "session", "stop", id)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "session "+id+" killed: KILLED/KILLED, staging removed")
	require.Equal(t, exitKilled, exitOf(t, done), att.String())
	evs := events(t, strings.SplitN(att.String(), "\nstderr:", 2)[0])
	require.Equal(t, "finished", evs[len(evs)-1]["event"])
	require.Equal(t, "KILLED", evs[len(evs)-1]["state"])
	require.Empty(t, lc.stagedApps())

	// Stopping it again is harmless.
	code, out, _ = lc.cli(ctx, "session", "stop", id)
	require.Equal(t, 0, code)
	require.Contains(t, out, "already ended")
}

var regexpApp = regexp.MustCompile(`application_\d+_\d+`)

// Per-job outcomes a scheduler tells apart by exit code: FAILED (6) when
// the application fails (here its AM binary exits 3 on its only attempt),
// timeout (8) when --timeout expires (the job waits for a TaskManager
// that never fits), and each leaves no staging behind.
func TestRunExitCodes(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)

	broken := filepath.Join(t.TempDir(), "spindle-broken")
	require.NoError(t, os.WriteFile(broken, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755))
	code, out, errOut := lc.cli(ctx, "run", "--binary", broken, "--max-attempts", "1", "-jm", "256m", "-tm", "256m", "-o", "json", "wordcount", lc.words)
	require.Equal(t, exitFailed, code, errOut)
	evs := events(t, out)
	last := evs[len(evs)-1]
	require.Equal(t, "finished", last["event"])
	require.Equal(t, "FAILED", last["state"])
	require.Contains(t, last["diagnostics"], "exitCode: 3")
	require.Contains(t, errOut, "FAILED")
	require.Empty(t, lc.stagedApps())

	// 4 TaskManagers of 3 GB on one 8 GB node: the JobManager waits for
	// the fourth forever.
	start := time.Now()
	code, out, errOut = lc.cli(ctx, "run", "-n", "4", "-jm", "256m", "-tm", "3g", "--timeout", "4s", "-o", "json", "wordcount", lc.words)
	require.Equal(t, exitTimeout, code, errOut)
	require.Less(t, time.Since(start), 40*time.Second)
	require.Contains(t, errOut, "timed out after 4s (--timeout); it was killed and its staging removed")
	evs = events(t, out)
	last = evs[len(evs)-1]
	require.Equal(t, "finished", last["event"])
	require.Equal(t, "KILLED", last["state"])
	require.Empty(t, lc.stagedApps())
}

// Every bad input is reported before anything is uploaded, all in one
// report, each line naming the problem and the fix; exit 2.
func TestValidationReport(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(time.Minute)
	noFlink := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"sizes-queue-files-D", []string{"session", "start", "-jm", "9000m", "-tm", "8193m", "--vcores", "5", "-qu", "nope", "-t", "/no/such/file", "-D", "novalue", "-s", "0"},
			[]string{"7 problems found before submitting, nothing was uploaded or submitted",
				"-tm 8193m (8320 MB after YARN rounds it up to a multiple of yarn.scheduler.minimum-allocation-mb=128) is above the cluster's maximum container memory of 8192 MB",
				"-s 0: a TaskManager needs at least one slot: pass -s 1 or more",
				`-D "novalue": want key=value`,
				"-t /no/such/file: no such file or directory: fix the path or drop the -t",
				"-jm 9000m (9088 MB after YARN rounds it up to a multiple of yarn.scheduler.minimum-allocation-mb=128) is above the cluster's maximum container memory of 8192 MB (yarn.scheduler.maximum-allocation-mb): pass at most -jm 8192m",
				"a TaskManager container: 5 vcores is above the cluster's maximum of 4",
				"-qu nope: the ResourceManager knows no such queue"}},
		{"stopped-queue", []string{"session", "start", "-qu", "closed"}, []string{"-qu closed: the queue is STOPPED and accepts no applications: pass another queue"}},
		{"flink-home-missing", []string{"session", "start", "--payload", "flink"}, []string{"--payload flink needs a Flink distribution: pass --flink-home DIR or set FLINK_HOME"}},
		{"flink-home-not-flink", []string{"session", "start", "--payload", "flink", "--flink-home", noFlink}, []string{"--flink-home " + noFlink}},
		{"example-job", []string{"run", "wordcount"}, []string{"wordcount takes exactly one argument, the text file to count (got 0)"}},
		{"unknown-payload", []string{"run", "--payload", "spark", "x"}, []string{`--payload "spark": want example or flink`}},
		{"bad-memory", []string{"session", "start", "-tm", "lots"}, []string{`--taskmanager-memory: memory "lots": want a number with an optional unit`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := lc.cli(ctx, tc.args...)
			require.Equal(t, exitUsage, code, errOut)
			require.Empty(t, out)
			for _, w := range tc.want {
				require.Contains(t, errOut, w)
			}
			if tc.name == "bad-memory" {
				require.Contains(t, errOut, "1 problem found", "one mistake, one problem: %s", errOut)
			}
		})
	}
	code, out, _ := lc.cli(ctx, "app", "list", "--all")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "application_", "nothing was submitted")
	require.Empty(t, lc.stagedApps(), "nothing was uploaded")
}

// An unreachable RM (exit 4) and a Kerberized cluster without a login
// (exit 5) are reported the same way, before any upload.
func TestValidationClusterProblems(t *testing.T) {
	bin := spindleBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()
	home := t.TempDir()
	env := map[string]string{"HADOOP_CONF_DIR": confDir(t, dead), "HOME": home, "SPINDLE_BINARY": bin, "HADOOP_USER_NAME": testUser}
	code, _, errOut := runCLI(t, env, "session", "start", "-d")
	require.Equal(t, exitUnreachable, code, errOut)
	require.Contains(t, errOut, "1 problem found before submitting")
	require.Contains(t, errOut, "cannot reach the ResourceManager")
	require.Contains(t, errOut, "check yarn.resourcemanager.address")

	kdir := confDir(t, dead)
	require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(kdir, "core-site.xml"), map[string]string{
		"hadoop.security.authentication": "kerberos", "fs.defaultFS": "file:///"}))
	require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(kdir, "yarn-site.xml"), map[string]string{
		"yarn.resourcemanager.address": dead, "yarn.resourcemanager.principal": "rm/_HOST@SPINDLE.TEST"}))
	krb5 := filepath.Join(home, "krb5.conf")
	require.NoError(t, os.WriteFile(krb5, []byte("[libdefaults]\n default_realm = SPINDLE.TEST\n[realms]\n SPINDLE.TEST = {\n  kdc = "+dead+"\n }\n"), 0o644))
	env["HADOOP_CONF_DIR"] = kdir
	env["KRB5CCNAME"] = filepath.Join(home, "no-ccache")
	env["KRB5_CONFIG"] = krb5
	code, _, errOut = runCLI(t, env, "run", "wordcount", bin)
	require.Equal(t, exitAuth, code, errOut)
	require.Contains(t, errOut, "kinit")
}

// --dry-run prints the whole submission (AM command, resources, files of
// each side, environment) with the stop secret redacted, and submits and
// uploads nothing.
func TestDryRun(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(time.Minute)
	code, out, errOut := lc.cli(ctx, "session", "start", "--dry-run", "-o", "json", "-n", "3", "-jm", "512m", "-tm", "256m", "--vcores", "2",
		"-s", "2", "-nm", "dry", "--tags", "a,b", "--priority", "3", "--max-attempts", "2", "-t", lc.words, "-D", "example.heartbeat=200ms")
	require.Equal(t, 0, code, errOut)
	var d map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	require.Equal(t, "dry", d["name"])
	require.Equal(t, "SPINDLE", d["type"])
	require.Equal(t, []any{"a", "b"}, d["tags"])
	require.Equal(t, float64(3), d["priority"])
	require.Equal(t, float64(2), d["max_attempts"])
	require.Equal(t, map[string]any{"memory_mb": float64(512), "vcores": float64(1)}, d["am_resource"])
	require.Regexp(t, `^application_\d+_\d+$`, d["app_id"])
	amc := d["am"].(map[string]any)
	require.Equal(t, []any{"./spindle --log-level info am --heartbeat-fast 100ms --heartbeat-idle 300ms 1><LOG_DIR>/am.stdout 2><LOG_DIR>/am.stderr"}, amc["commands"])
	require.Equal(t, map[string]any{"HADOOP_CONF_DIR": "hadoop-conf"}, amc["environment"])
	res := amc["local_resources"].(map[string]any)
	for _, n := range []string{"spindle", "words.txt", "hadoop-conf/yarn-site.xml", "hadoop-conf/core-site.xml", "hadoop-conf/hdfs-site.xml", "spindle-am.json", "stop-secret"} {
		require.Contains(t, res, n)
	}
	require.Contains(t, res["stop-secret"].(map[string]any)["source"], "<redacted>")
	tm := d["taskmanagers"].(map[string]any)
	require.Equal(t, float64(3), tm["count"])
	require.Equal(t, map[string]any{"memory_mb": float64(256), "vcores": float64(2)}, tm["resource"])
	require.Equal(t, "./spindle --log-level info example taskmanager --heartbeat 200ms", tm["command"])
	require.NotContains(t, tm["local_resources"], "stop-secret", "the secret never reaches the TaskManagers")
	require.Contains(t, tm["local_resources"], "words.txt")
	require.Equal(t, []any{"${SPINDLE_BIN}", "example", "jobmanager"}, d["jobmanager"].(map[string]any)["command"])

	require.NotContains(t, out, `\u003c`, "JSON without HTML escapes")
	require.Contains(t, out, ` 1><LOG_DIR>/am.stdout 2><LOG_DIR>/am.stderr"`)

	// Text (issue #18 item 10): a summary people read, not JSON.
	code, out, errOut = lc.cli(ctx, "session", "start", "--dry-run", "-n", "3", "-jm", "512m", "-tm", "256m", "--vcores", "2",
		"-nm", "dry", "--max-attempts", "1", "-t", lc.words)
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.HasPrefix(out, "dry run: nothing uploaded or submitted (-o json prints all of it). The submission would be:\n"), out)
	require.NotContains(t, out, `{"`)
	require.NotRegexp(t, ` \n`, out, "no trailing blanks")
	require.Regexp(t, `\napplication +application_\d+_\d+ "dry", session, type SPINDLE\n +queue default, priority 0, at most 1 AM attempt\n`, out)
	require.Regexp(t, `\ntokens +none \(simple authentication\)\n\nAM container`, out)
	require.Regexp(t, `\nAM container +512 MB, 1 vcore \(cluster maximum 8192 MB, 4 vcores\): the AM, with the JobManager as its child\n`, out)
	require.Regexp(t, `\n  command +\./spindle --log-level info am --heartbeat-fast 100ms --heartbeat-idle 300ms 1><LOG_DIR>/am.stdout 2><LOG_DIR>/am.stderr\n`, out)
	require.Regexp(t, `  files +hadoop-conf/ \(3 files, [\d.]+ KB\), spindle \([\d.]+ MB\), spindle-am.json \(generated at submit\), stop-secret \(<redacted> \(generated at submit\)\), words.txt \(2.5 KB\)\n  JobManager +\$\{SPINDLE_BIN\} example jobmanager\n`, out)
	require.Regexp(t, `\n\nTaskManagers +3 × 256 MB, 2 vcores\n  command +\./spindle --log-level info example taskmanager\n`, out)

	code, out, _ = lc.cli(ctx, "app", "list", "--all")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "application_", "nothing was submitted")
	require.Empty(t, lc.stagedApps())
}

// TestSessionSingleAttemptWarning: on a cluster that allows the AM one
// attempt the session cannot survive an AM failure, and session start
// says so: one line on stderr, and a warnings field in the JSON event.
func TestSessionSingleAttemptWarning(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)
	dir := t.TempDir()
	entries, err := os.ReadDir(lc.env["HADOOP_CONF_DIR"])
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(lc.env["HADOOP_CONF_DIR"], e.Name()))
		require.NoError(t, err)
		if e.Name() == "yarn-site.xml" {
			b = []byte(strings.Replace(string(b), "</configuration>",
				"<property><name>yarn.resourcemanager.am.max-attempts</name><value>1</value></property>\n</configuration>", 1))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	lc.env["HADOOP_CONF_DIR"] = dir

	code, out, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "-o", "json")
	require.Equal(t, 0, code, errOut)
	evs := events(t, out)
	require.Equal(t, "submitted", evs[0]["event"])
	require.Len(t, evs[0]["warnings"], 1)
	require.Contains(t, evs[0]["warnings"].([]any)[0], "yarn.resourcemanager.am.max-attempts=1")
	code, _, errOut = lc.cli(ctx, "session", "stop")
	require.Equal(t, 0, code, errOut)

	// --max-attempts 1 on a cluster that allows more: the text output warns.
	lc.env["HADOOP_CONF_DIR"] = lc.l.ConfDir
	code, _, errOut = lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "--max-attempts", "1")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, strings.Count(errOut, "warning: --max-attempts 1: the session gets one AM attempt"), errOut)
	code, _, errOut = lc.cli(ctx, "session", "stop")
	require.Equal(t, 0, code, errOut)

	// The default (two attempts here): no warning.
	code, out, errOut = lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out+errOut, "warning")
	code, _, errOut = lc.cli(ctx, "session", "stop")
	require.Equal(t, 0, code, errOut)
}

// TestWordCountTimeout: a word count through a session whose JobManager
// has no TaskManager to give the job to gives up after --timeout with
// exit 8, saying what it waited for; the session keeps running.
func TestWordCountTimeout(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)
	code, _, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "0", "-jm", "256m", "-t", lc.words)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = lc.cli(ctx, "example", "wordcount", "--timeout", "1s", filepath.Base(lc.words))
	require.Equal(t, exitTimeout, code, errOut)
	require.Contains(t, errOut, "gave up after --timeout 1s waiting for word count job")
	require.Contains(t, errOut, "(0 of 1 splits counted)")
	require.Contains(t, errOut, "the session keeps running")
	code, _, errOut = lc.cli(ctx, "example", "wordcount", "--timeout", "0s", filepath.Base(lc.words))
	require.Equal(t, exitUsage, code, errOut)
	code, out, errOut := lc.cli(ctx, "session", "status", "-o", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"state":"RUNNING"`)
	code, _, errOut = lc.cli(ctx, "session", "stop")
	require.Equal(t, 0, code, errOut)
}
