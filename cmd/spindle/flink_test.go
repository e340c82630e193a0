package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/flink/flinktest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// The fake Flink distributions and the stand-in java of package flink's
// tests (flink/testdata/README.md).
const (
	flinkHome117 = "../../flink/testdata/flink-1.17.2"
	flinkHome200 = "../../flink/testdata/flink-2.0.0"
)

// fakeJavaHome builds flink/testdata/fakejava once per test binary as
// <home>/bin/java.
func fakeJavaHome(t *testing.T) string {
	t.Helper()
	return filepath.Dir(filepath.Dir(testutil.Build(t, "../../flink/testdata/fakejava", "bin/java")))
}

func flinkPlan(t *testing.T, home string, mode amapi.Mode, job string) amapi.PayloadPlan {
	t.Helper()
	pl, err := flink.New(flink.Options{Home: home})
	require.NoError(t, err)
	plan, err := pl.Plan(amapi.PayloadRequest{Mode: mode, JobManagerMemoryMB: 1024, TaskManagerMemoryMB: 1024, TaskManagerVCores: 1, Slots: 2,
		TaskManagers: 1, Job: job})
	require.NoError(t, err)
	return plan
}

// runFlinkCommand runs `spindle flink …` in-process with env.
func runFlinkCommand(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ctx := testutil.Context(t, 20*time.Second)
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"spindle"}, args...), &out, &errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return code, out.String(), errb.String()
}

// printed is `spindle flink … --print`'s output.
type printed struct {
	Java     string   `json:"java"`
	Args     []string `json:"args"`
	EnvNames []string `json:"env_names"`
	Dir      string   `json:"dir"`
	ConfFile string   `json:"conf_file"`
}

// A TaskManager container: the AM's SPINDLE_* variables and the
// NodeManager's; the log goes to the first of $LOG_DIRS.
func TestFlinkTaskManagerCommand(t *testing.T) {
	plan := flinkPlan(t, flinkHome117, amapi.ModeSession, "")
	work := flinktest.Container(t, plan.SharedFiles, plan.TaskManagerFiles)
	flinktest.Private(t, work, plan.PrivateFiles)
	logs := t.TempDir()
	javaHome := t.TempDir() // Flink 1.17 never runs java before the process itself
	env := map[string]string{"PWD": work, "LOG_DIRS": logs + "," + t.TempDir(), "NM_HOST": "node7", "JAVA_HOME": javaHome,
		amapi.EnvAppID: "application_1700000000000_0003", amapi.EnvJMAddress: "node1:40001", amapi.EnvResourceID: "container_1700000000000_0003_01_000002",
		"LOCAL_DIRS": "/data/1/yarn,/data/2/yarn", "HADOOP_CONF_DIR": "hadoop-conf", "SECRET_ENV": "do-not-print"}
	for k, v := range plan.TaskManagerEnv {
		env[k] = v
	}
	code, out, errOut := runFlinkCommand(t, env, "flink", "taskmanager", "--print")
	require.Equal(t, 0, code, errOut)
	var p printed
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	require.Equal(t, javaHome+"/bin/java", p.Java)
	require.Equal(t, work, p.Dir)
	args := strings.Join(p.Args, " ")
	require.Contains(t, args, " -Dlog.file="+logs+"/taskmanager.log ")
	require.Contains(t, args, " org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "+work+"/flink-conf -D ")
	require.Contains(t, p.EnvNames, "FLINK_CONF_DIR")
	require.NotContains(t, out, "do-not-print", "--print names the environment's variables without their values")
	for _, n := range p.EnvNames {
		require.NotContains(t, n, "SPINDLE_FLINK_SPEC", "the -D values travel in a private file, not the environment")
	}
	conf, err := os.ReadFile(p.ConfFile)
	require.NoError(t, err)
	for _, line := range []string{"jobmanager.rpc.address: node1", "jobmanager.rpc.port: 40001", "taskmanager.host: node7",
		"taskmanager.resource-id: container_1700000000000_0003_01_000002", "high-availability.cluster-id: application_1700000000000_0003",
		"io.tmp.dirs: /data/1/yarn,/data/2/yarn", "taskmanager.memory.process.size: 1024m", "taskmanager.numberOfTaskSlots: 2"} {
		require.Contains(t, string(conf), "\n"+line+"\n")
	}
}

// The JobManager execs java (here: a stand-in for syscall.Exec) with the
// AM's ports, and says what it starts on stderr, which the AM keeps in
// the container's jobmanager.err.
func TestFlinkJobManagerExecs(t *testing.T) {
	plan := flinkPlan(t, flinkHome200, amapi.ModePerJob, "examples/streaming/WordCount.jar")
	work := flinktest.Container(t, plan.SharedFiles, plan.JobManagerFiles)
	flinktest.Private(t, work, plan.PrivateFiles)
	env := map[string]string{"PWD": work, "LOG_DIRS": t.TempDir(), "JAVA_HOME": fakeJavaHome(t), "FAKE_JAVA_SPEC_VERSION": "21",
		amapi.EnvJMHost: "node1", amapi.EnvJMRPCPort: "40001", amapi.EnvJMRESTPort: "40002", amapi.EnvAppID: "application_1700000000000_0003"}
	for k, v := range plan.JobManager.Env {
		env[k] = v
	}
	t.Setenv("FAKE_JAVA_SPEC_VERSION", "21") // java's own environment, not one the CLI reads
	var got struct {
		path string
		args []string
		env  []string
	}
	old := execJava
	t.Cleanup(func() { execJava = old })
	execJava = func(path string, args, env []string) error {
		got.path, got.args, got.env = path, args, env
		return nil
	}
	code, _, errOut := runFlinkCommand(t, env, "flink", "jobmanager")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, fakeJavaHome(t)+"/bin/java", got.path)
	require.Equal(t, got.path, got.args[0])
	args := strings.Join(got.args, " ")
	require.Contains(t, args, " @"+work+"/flink-conf/jvm-options ", "JDK 9+: the JVM options in a 0600 argument file")
	opts, err := os.ReadFile(filepath.Join(work, "flink-conf", "jvm-options"))
	require.NoError(t, err)
	require.Contains(t, string(opts), "\"-Djava.security.manager=allow\"\n", "the stand-in says JDK 21 (config.sh's -XshowSettings:properties)")
	require.Contains(t, args, " org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint --configDir "+work+"/flink-conf -D ")
	require.Contains(t, got.env, "FLINK_LIB_DIR="+work+"/lib")
	require.Contains(t, errOut, "spindle flink jobmanager: starting "+got.path+" org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint with "+work+"/flink-conf/config.yaml")
	conf, err := os.ReadFile(filepath.Join(work, "flink-conf", "config.yaml"))
	require.NoError(t, err)
	require.Contains(t, string(conf), "\nrest.port: \"40002\"\n")

	execJava = func(string, []string, []string) error { return errors.New("exec format error") }
	code, _, errOut = runFlinkCommand(t, env, "flink", "jobmanager")
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "starting "+got.path+": exec format error")
}

func TestFlinkCommandErrors(t *testing.T) {
	code, _, errOut := runFlinkCommand(t, map[string]string{"PWD": t.TempDir()}, "flink", "taskmanager")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "no "+flink.SpecFile+" in the working directory: `spindle flink taskmanager` runs inside a container of a --payload flink cluster")

	plan := flinkPlan(t, flinkHome117, amapi.ModeSession, "")
	dir := t.TempDir()
	flinktest.Private(t, dir, plan.PrivateFiles)
	env := map[string]string{"PWD": dir}
	code, _, errOut = runFlinkCommand(t, env, "flink", "jobmanager")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "$SPINDLE_JM_RPC_PORT is not set")

	require.NoError(t, os.WriteFile(filepath.Join(dir, flink.SpecFile), []byte("{}"), 0o600))
	code, _, errOut = runFlinkCommand(t, env, "flink", "jobmanager")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, flink.SpecFile+": version")

	// An empty working directory: nothing was shipped.
	empty := t.TempDir()
	flinktest.Private(t, empty, plan.PrivateFiles)
	env = map[string]string{"PWD": empty, amapi.EnvJMAddress: "a:1",
		amapi.EnvResourceID: "c", "NM_HOST": "h", "LOG_DIRS": t.TempDir()}
	code, _, errOut = runFlinkCommand(t, env, "flink", "taskmanager")
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "the submitter ships the distribution's conf/ to every container")
}

// Flink's .yarn-properties-<user> (FlinkYarnSessionCli) for the Flink
// payload only, replaced by a later session and removed only while it
// still names the session being stopped.
func TestFlinkYarnPropertiesFile(t *testing.T) {
	home := t.TempDir()
	require.NoError(t, os.CopyFS(home, os.DirFS(flinkHome200)))
	loc := t.TempDir()
	f, err := os.OpenFile(filepath.Join(home, "conf", "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "yarn.properties-file.location: %s\n", loc)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	pl, err := flink.New(flink.Options{Home: home})
	require.NoError(t, err)
	id1, _ := yarn.ParseApplicationID("application_1700000000000_0001")
	id2, _ := yarn.ParseApplicationID("application_1700000000000_0002")

	path, err := writeFlinkYarnProperties(pl, id1)
	require.NoError(t, err)
	require.Equal(t, loc, filepath.Dir(path))
	require.True(t, strings.HasPrefix(filepath.Base(path), ".yarn-properties-"))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "#Generated YARN properties file\napplicationID=application_1700000000000_0001\n", string(b))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	_, err = writeFlinkYarnProperties(pl, id2)
	require.NoError(t, err)
	require.NoError(t, removeFlinkYarnProperties(pl, id1))
	require.FileExists(t, path, "it names the newer session")
	require.NoError(t, removeFlinkYarnProperties(pl, id2))
	require.NoFileExists(t, path)
	require.NoError(t, removeFlinkYarnProperties(pl, id2))
	entries, _ := os.ReadDir(loc)
	require.Empty(t, entries, "no temporary files left")

	path, err = writeFlinkYarnProperties(examplePayload{}, id1)
	require.NoError(t, err)
	require.Empty(t, path)
}

type flinkTM struct {
	ID    string `json:"id"`
	Slots int    `json:"slotsNumber"`
}

// b64Token matches base64 text long enough to hide a secret.
var b64Token = regexp.MustCompile(`[A-Za-z0-9+/]{24,}={0,2}`)

func flinkTaskManagers(t *testing.T, rest string) []flinkTM {
	var body struct{ TaskManagers []flinkTM }
	resp, err := http.Get("http://" + rest + "/taskmanagers")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	sort.Slice(body.TaskManagers, func(i, j int) bool { return body.TaskManagers[i].ID < body.TaskManagers[j].ID })
	return body.TaskManagers
}

// flinkRecords reads the stand-in java's records of one role.
func flinkRecords(t *testing.T, dir, role string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, role+"-*.json"))
	require.NoError(t, err)
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		out = append(out, m)
	}
	return out
}

// End to end on the mini cluster, through the CLI: a Flink 2.0 session
// (the stand-in java plays the JobManager in the AM container and two
// TaskManagers in theirs), one TaskManager told to exit and replaced by
// the AM, Flink's .yarn-properties file, a stop; then Flink 1.17 per-job
// runs that succeed and fail with the job.
func TestFlinkOnMiniCluster(t *testing.T) {
	lc := newLocalCluster(t, 2)
	ctx := lc.ctx(3 * time.Minute)
	java := fakeJavaHome(t)
	rec := t.TempDir()
	home117, _ := filepath.Abs(flinkHome117)
	// A copy of the 2.0 distribution whose Flink client looks for
	// .yarn-properties-<user> in a directory of this test, not in /tmp.
	home200, props := t.TempDir(), t.TempDir()
	require.NoError(t, os.CopyFS(home200, os.DirFS(flinkHome200)))
	f, err := os.OpenFile(filepath.Join(home200, "conf", "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "yarn:\n  properties-file:\n    location: %s\n", props)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	common := []string{"-D", "containerized.master.env.JAVA_HOME=" + java, "-D", "containerized.taskmanager.env.JAVA_HOME=" + java,
		"-D", "containerized.master.env.FAKE_JAVA_RECORD_DIR=" + rec, "-D", "containerized.taskmanager.env.FAKE_JAVA_RECORD_DIR=" + rec}

	// Secrets in -D values and JVM options: they must reach no launch
	// script, environment or command line.
	const keySecret, optSecret = "hunter2-in-a-launch-script", "hunter3-on-a-command-line"
	args := append([]string{"session", "start", "-d", "-n", "2", "-jm", "1024m", "-tm", "1024m", "-s", "3", "--payload", "flink",
		"--flink-home", home200, "--output", "json", "-D", "fs.s3a.secret.key=" + keySecret,
		"-D", "env.java.opts.taskmanager=-Djavax.net.ssl.keyStorePassword=" + optSecret}, common...)

	// A dry run shows the plan but not the -D values: they travel in
	// $SPINDLE_FLINK_SPEC_PRIVATE, which descriptions redact.
	code, out, errOut := lc.cli(ctx, append(args, "--dry-run", "-D", "s3.secret-key=hunter2-do-not-print")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"`+flink.SpecFile+`":{"source":"<redacted> (private: written at submit, mode 0600)"`) // no HTML escapes
	require.NotContains(t, out+errOut, "hunter2")
	require.Contains(t, out, `"lib/flink-dist-2.0.0.jar"`)
	var d launch.Description
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	require.Len(t, d.Processes, 2)
	require.Equal(t, flink.SessionEntrypoint, d.Processes[0].EntryClass)
	require.Equal(t, flink.TaskManagerEntrypoint, d.Processes[1].EntryClass)

	// Text (issue #18 item 10): the JVMs as they will run, with
	// placeholders for what the container decides, secrets redacted.
	textArgs := append(slices.Clone(args[:len(args)-len(common)]), common...)
	textArgs = slices.DeleteFunc(textArgs, func(a string) bool { return a == "--output" || a == "json" })
	code, out, errOut = lc.cli(ctx, append(textArgs, "--dry-run", "-D", "s3.secret-key=hunter2-do-not-print")...)
	require.Equal(t, 0, code, errOut)
	require.NotContains(t, out+errOut, "hunter2")
	require.NotContains(t, out, optSecret)
	require.NotContains(t, out, `\u003c`)
	require.Contains(t, out, "\nthe JobManager runs "+flink.SessionEntrypoint+" (<…> is what the container decides):\n  "+java+"/bin/java \\\n")
	require.Contains(t, out, "\neach TaskManager runs "+flink.TaskManagerEntrypoint+" (<…> is what the container decides):\n")
	require.Contains(t, out, "      -Dlog.file=<LOG_DIR>/jobmanager.log \\\n")
	require.Contains(t, out, "      -Dlog.file=<LOG_DIR>/taskmanager.log \\\n")
	require.Contains(t, out, "      @<WORK_DIR>/flink-conf/jvm-options \\\n")
	require.Regexp(t, `      -classpath <WORK_DIR>/lib/flink-cep-2.0.0.jar:\S*:<WORK_DIR>/lib/flink-dist-2.0.0.jar:::<HADOOP_CONF_DIR>: \\\n`, out)
	require.Contains(t, out, "  configuration (<WORK_DIR>/flink-conf/config.yaml):\n")
	for _, kv := range []string{"jobmanager.rpc.address: <JM_HOST>", "jobmanager.rpc.port: <JM_RPC_PORT>", "rest.bind-port: <JM_REST_PORT>",
		"taskmanager.host: <NM_HOST>", "taskmanager.resource-id: <CONTAINER_ID>", "high-availability.cluster-id: <APP_ID>",
		"io.tmp.dirs: <LOCAL_DIRS>", "taskmanager.numberOfTaskSlots: 3", "fs.s3a.secret.key: <redacted>", "s3.secret-key: <redacted>",
		"env.java.opts.taskmanager: -Djavax.net.ssl.keyStorePassword=<redacted>"} {
		require.Contains(t, out, "\n    "+kv+"\n")
	}

	code, out, errOut = lc.cli(ctx, args...)
	require.Equal(t, 0, code, errOut)
	evs := events(t, out)
	require.Equal(t, []string{"submitted", "accepted", "running"}, names(evs))
	id := evs[0]["app_id"].(string)
	rest := evs[2]["jobmanager_rest_address"].(string)
	jmAddr := evs[2]["jobmanager_address"].(string)
	u, err := user.Current()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(props, ".yarn-properties-"+u.Username))
	require.NoError(t, err, "Flink's client finds the session (FlinkYarnSessionCli)")
	require.Contains(t, string(b), "\napplicationID="+id+"\n")

	var tms []flinkTM
	testutil.Eventually(t, func() bool { tms = flinkTaskManagers(t, rest); return len(tms) == 2 }, time.Minute, 50*time.Millisecond,
		"two TaskManagers register with the JobManager")
	for _, tm := range tms {
		require.True(t, strings.HasPrefix(tm.ID, "container_"+strings.TrimPrefix(id, "application_")+"_01_"), tm.ID)
		require.Equal(t, 3, tm.Slots)
	}
	jms := flinkRecords(t, rec, "jobmanager")
	require.Len(t, jms, 1)
	jmConf := jms[0]["config"].(map[string]any)
	require.Equal(t, flink.SessionEntrypoint, jms[0]["main_class"])
	require.Equal(t, jmAddr, jmConf["jobmanager.rpc.address"].(string)+":"+jmConf["jobmanager.rpc.port"].(string))
	require.Equal(t, id, jmConf["high-availability.cluster-id"])
	require.Equal(t, "960m", jmConf["jobmanager.memory.process.size"], "-jm minus the AM's 64 MB")
	require.Contains(t, strings.Join(toStrings(jms[0]["args"]), " "), "/jobmanager.log ")

	// Every file of the cluster (launch scripts and their copies in the
	// log directories, tokens, logs) holds neither secret, raw or base64,
	// except the private files meant to (0600): the spec, the generated
	// configuration, the JVM options, and the staged spec's HDFS blocks.
	// No process's command line has them either.
	secretsAt := map[string]bool{}
	forms := []string{keySecret, optSecret, base64.StdEncoding.EncodeToString([]byte(keySecret)), base64.StdEncoding.EncodeToString([]byte(optSecret))}
	require.NoError(t, filepath.WalkDir(filepath.Dir(lc.l.ConfDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasSuffix(p, ".jar") || strings.Contains(p, "/hdfs/") {
			return nil // racing containers' files come and go; jars and HDFS blocks hold what was shipped
		}
		if fi, err := d.Info(); err != nil || fi.Size() > 1<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		text := string(b)
		for _, tok := range b64Token.FindAllString(text, -1) { // base64 of a larger text hides the plain form
			if d, err := base64.StdEncoding.DecodeString(tok); err == nil {
				text += "\n" + string(d)
			}
		}
		for _, f := range forms {
			if strings.Contains(text, f) {
				secretsAt[p] = true
			}
		}
		return nil
	}))
	for p := range secretsAt {
		base := filepath.Base(p)
		allowed := base == flink.SpecFile || base == "config.yaml" || base == flink.JVMOptionsFile || strings.Contains(p, "/hdfs/")
		require.True(t, allowed, "a secret in %s", p)
		if !strings.Contains(p, "/hdfs/") {
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.Zero(t, fi.Mode().Perm()&0o077, "%s is %s: only its owner may read it", p, fi.Mode().Perm())
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		for _, f := range forms {
			require.NotContains(t, string(b), f, "a secret on the command line of %s", p)
		}
	}

	// A TaskManager that exits is replaced by a new container.
	old := tms[0].ID
	resp, err := http.Post("http://"+rest+"/taskmanagers/"+old+"/exit?code=1", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	testutil.Eventually(t, func() bool {
		tms = flinkTaskManagers(t, rest)
		return len(tms) == 2 && tms[0].ID != old && tms[1].ID != old
	}, time.Minute, 50*time.Millisecond, "the AM replaces the TaskManager")
	require.Len(t, flinkRecords(t, rec, "taskmanager"), 3)

	code, out, errOut = lc.cli(ctx, "session", "stop", id)
	require.Equal(t, 0, code, errOut+out)
	testutil.Eventually(t, func() bool { return lc.app(id)["state"] == "FINISHED" }, time.Minute, 100*time.Millisecond)

	// Per-job: Flink 1.17's application mode; the job's outcome is the
	// application's and the exit code's, and the result (issue #18 item
	// 6) says the job's state by Flink's exit codes and where the
	// JobManager's log is.
	for _, tc := range []struct {
		jobArgs []string
		code    int
		result  string
	}{{[]string{"--input", "words"}, 0, "result: SUCCEEDED or CANCELED: the JobManager exited with code 0\n"},
		{[]string{"--fail"}, exitFailed, "result: FAILED: the JobManager exited with code 163\n"}} {
		args := append([]string{"run", "-n", "1", "-jm", "1024m", "-tm", "1024m", "--payload", "flink", "--flink-home", home117}, common...)
		args = append(append(args, "examples/streaming/WordCount.jar"), tc.jobArgs...)
		code, out, errOut := lc.cli(ctx, args...)
		require.Equal(t, tc.code, code, "%s\n%s", out, errOut)
		require.Contains(t, out, tc.result)
		require.Regexp(t, `  log: /\S+/jobmanager.log on \S+ \(yarn logs -applicationId application_\d+_\d+ -containerId container_\S+ -log_files jobmanager.log\)\n`, out)
	}
	apps := flinkRecords(t, rec, "jobmanager")
	require.Len(t, apps, 3)
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
