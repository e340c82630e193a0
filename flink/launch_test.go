package flink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/flink/flinktest"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// container lays out a container's working directory from the plan's
// files as a NodeManager localizes them (flinktest.Container), plus the
// Hadoop configuration the submitter ships. It returns the working and
// log directories.
func container(t *testing.T, files ...[]hdfs.Source) (work, logs string) {
	t.Helper()
	work, logs = flinktest.Container(t, files...), t.TempDir()
	write(t, filepath.Join(work, "hadoop-conf", "core-site.xml"), "<configuration/>\n")
	return work, logs
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

const appID = "application_1700000000000_0007"

// environ is a container's environment: the plan's, the NodeManager's
// and the AM's variables.
func environ(t *testing.T, planEnv map[string]string, extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HADOOP_CONF_DIR=hadoop-conf", "JAVA_HOME=" + fakeJavaHome(t)}
	for k, v := range planEnv {
		env = append(env, k+"="+v)
	}
	return append(env, extra...)
}

type launch struct {
	plan       amapi.PayloadPlan
	spec       flink.Spec
	work, logs string
	javaHome   string
	opts       flink.LaunchOptions
}

func jobManager(t *testing.T, plan amapi.PayloadPlan, extraEnv ...string) *launch {
	t.Helper()
	work, logs := container(t, plan.SharedFiles, plan.JobManagerFiles)
	spec := specOf(t, plan)
	return &launch{plan: plan, spec: spec, work: work, logs: logs, javaHome: fakeJavaHome(t), opts: flink.LaunchOptions{Role: flink.RoleJobManager, Spec: spec,
		WorkDir: work, LogDir: logs, AppID: appID, Host: "127.0.0.1", RPCPort: freePort(t), RESTPort: freePort(t),
		LocalDirs: work + "/tmp1," + work + "/tmp2", Environ: environ(t, plan.JobManager.Env, extraEnv...)}}
}

func taskManager(t *testing.T, plan amapi.PayloadPlan, jm *launch, id string, extraEnv ...string) *launch {
	t.Helper()
	work, logs := container(t, plan.SharedFiles, plan.TaskManagerFiles)
	spec := specOf(t, plan)
	return &launch{plan: plan, spec: spec, work: work, logs: logs, javaHome: fakeJavaHome(t), opts: flink.LaunchOptions{Role: flink.RoleTaskManager, Spec: spec,
		WorkDir: work, LogDir: logs, AppID: appID, Host: "127.0.0.1", ResourceID: id,
		JobManagerAddress: net.JoinHostPort(jm.opts.Host, strconv.Itoa(jm.opts.RPCPort)), LocalDirs: work + "/tmp",
		Environ: environ(t, plan.TaskManagerEnv, extraEnv...)}}
}

// expand replaces W (working directory), L (log directory), J (java)
// and the ports in an expected command line.
func (l *launch) expand(s string) string {
	return strings.NewReplacer("W/", l.work+"/", "L/", l.logs+"/", "J/", l.javaHome+"/",
		"RPC", strconv.Itoa(l.opts.RPCPort), "REST", strconv.Itoa(l.opts.RESTPort)).Replace(s)
}

// hadoopTail is INTERNAL_HADOOP_CLASSPATHS after the SQL gateway's
// empty entry: $HADOOP_CLASSPATH (empty) : $HADOOP_CONF_DIR : $YARN_CONF_DIR
// (empty), and /etc/hbase/conf when this machine has one (config.sh).
func hadoopTail() string {
	s := ":::hadoop-conf:"
	if fi, err := os.Stat("/etc/hbase/conf"); err == nil && fi.IsDir() {
		s += ":/etc/hbase/conf"
	}
	return s
}

// The classpath of flink-1.17.2's lib/ is in the order `ps` showed for a
// real 1.17.2 cluster (see memory_test.go): config.sh's
// constructFlinkClassPath sorts lib/ and puts flink-dist last.
const cp117 = "W/lib/flink-cep-1.17.2.jar:W/lib/flink-connector-files-1.17.2.jar:W/lib/flink-csv-1.17.2.jar:W/lib/flink-json-1.17.2.jar:" +
	"W/lib/flink-scala_2.12-1.17.2.jar:W/lib/flink-table-api-java-uber-1.17.2.jar:W/lib/flink-table-planner-loader-1.17.2.jar:" +
	"W/lib/flink-table-runtime-1.17.2.jar:W/lib/log4j-1.2-api-2.17.1.jar:W/lib/log4j-api-2.17.1.jar:W/lib/log4j-core-2.17.1.jar:" +
	"W/lib/log4j-slf4j-impl-2.17.1.jar:W/lib/flink-dist-1.17.2.jar"

const cp200 = "W/lib/flink-cep-2.0.0.jar:W/lib/flink-connector-files-2.0.0.jar:W/lib/flink-csv-2.0.0.jar:W/lib/flink-json-2.0.0.jar:" +
	"W/lib/flink-scala_2.12-2.0.0.jar:W/lib/flink-table-api-java-uber-2.0.0.jar:W/lib/flink-table-planner-loader-2.0.0.jar:" +
	"W/lib/flink-table-runtime-2.0.0.jar:W/lib/log4j-1.2-api-2.24.1.jar:W/lib/log4j-api-2.24.1.jar:W/lib/log4j-core-2.24.1.jar:" +
	"W/lib/log4j-slf4j-impl-2.24.1.jar:W/lib/flink-dist-2.0.0.jar"

// logs are the log settings of flink-daemon.sh (-Dlog.file, the log4j
// and logback configurations), with the log in the container's log dir.
func logs(role string) string {
	return "-Dlog.file=L/" + role + ".log -Dlog4j.configuration=file:W/flink-conf/log4j.properties " +
		"-Dlog4j.configurationFile=file:W/flink-conf/log4j.properties -Dlogback.configurationFile=file:W/flink-conf/logback.xml"
}

func prepare(t *testing.T, l *launch) *flink.Process {
	t.Helper()
	p, err := flink.Prepare(l.opts)
	require.NoError(t, err)
	require.Equal(t, l.work, p.Dir)
	require.Equal(t, p.Java, p.Args[0])
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// Flink 1.17: jobmanager.sh, taskmanager.sh and flink-daemon.sh of
// release 1.17 (flink-dist/src/main/flink-bin/bin/): the JobManager gets
// the memory flags of GET_JM_RESOURCE_PARAMS, no direct-memory limit
// (jobmanager.memory.enable-jvm-direct-memory-limit defaults to false),
// its dynamic properties before --configDir and --executionMode cluster;
// the TaskManager gets -XX:+UseG1GC (no env.java.opts configured), its
// flags, --configDir then its dynamic properties. 1.17 knows no
// -XX:+IgnoreUnrecognizedVMOptions (added in 1.18, FLINK-32290).
func TestPrepareFlink117Session(t *testing.T) {
	plan, err := newPayload(t, home117, "").Plan(request(amapi.ModeSession))
	require.NoError(t, err)
	jm := jobManager(t, plan)
	p := prepare(t, jm)
	require.Equal(t, jm.expand("J/bin/java -Xmx402653184 -Xms402653184 -XX:MaxMetaspaceSize=268435456 "+logs("jobmanager")+
		" -classpath "+cp117+hadoopTail()+" org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"+
		" -D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b"+
		" -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=402653184b -D jobmanager.memory.jvm-overhead.max=201326592b"+
		" --configDir W/flink-conf --executionMode cluster"), strings.Join(p.Args, " "))
	// The user's flink-conf.yaml in its order, with what the cluster
	// decides: the addresses and ports (JobManagerOptions, RestOptions),
	// the sizes, high-availability.cluster-id = the application and
	// io.tmp.dirs = $LOCAL_DIRS unless set (YarnClusterDescriptor,
	// BootstrapTools.updateTmpDirectoriesInConfiguration), blob.server.port
	// 0 (BlobServerOptions.PORT's default, made explicit), and the
	// "localhost" bind hosts of the default configuration dropped
	// (YarnClusterDescriptor.removeLocalhostBindHostSetting).
	require.Equal(t, jm.expand(`# Written by `+"`spindle flink jobmanager`"+` from conf/flink-conf.yaml, the -D overrides and what the cluster decides.
# Flink 1.17.2 reads this file; edits are lost when the process restarts.
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: RPC
jobmanager.memory.process.size: 960m
taskmanager.memory.process.size: 1728m
taskmanager.numberOfTaskSlots: 2
parallelism.default: 1
jobmanager.execution.failover-strategy: region
rest.address: 127.0.0.1
high-availability.cluster-id: application_1700000000000_0007
io.tmp.dirs: W/tmp1,W/tmp2
internal.io.tmpdirs.use-local-default: true
rest.port: REST
rest.bind-port: REST
rest.bind-address: 127.0.0.1
blob.server.port: 0
`), readFile(t, p.ConfFile))
	require.Equal(t, jm.work+"/flink-conf/flink-conf.yaml", p.ConfFile)
	// The other conf/ files come along (log configurations).
	require.Equal(t, readFile(t, home117+"/conf/log4j.properties"), readFile(t, jm.work+"/flink-conf/log4j.properties"))
	require.NoFileExists(t, jm.work+"/flink-conf/config.yaml")

	tm := taskManager(t, plan, jm, "container_1700000000000_0007_01_000002")
	p = prepare(t, tm)
	require.Equal(t, tm.expand("J/bin/java -XX:+UseG1GC -Xmx536870902 -Xms536870902 -XX:MaxDirectMemorySize=268435458 -XX:MaxMetaspaceSize=268435456 "+
		logs("taskmanager")+" -classpath "+cp117+hadoopTail()+" org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir W/flink-conf"+
		" -D taskmanager.memory.network.min=134217730b -D taskmanager.cpu.cores=2.0 -D taskmanager.memory.task.off-heap.size=0b"+
		" -D taskmanager.memory.jvm-metaspace.size=268435456b -D external-resources=none -D taskmanager.memory.jvm-overhead.min=201326592b"+
		" -D taskmanager.memory.framework.off-heap.size=134217728b -D taskmanager.memory.network.max=134217730b"+
		" -D taskmanager.memory.framework.heap.size=134217728b -D taskmanager.memory.managed.size=536870920b"+
		" -D taskmanager.memory.task.heap.size=402653174b -D taskmanager.numberOfTaskSlots=2 -D taskmanager.memory.jvm-overhead.max=201326592b"),
		strings.Join(p.Args, " "))
	require.Equal(t, tm.expand(`# Written by `+"`spindle flink taskmanager`"+` from conf/flink-conf.yaml, the -D overrides and what the cluster decides.
# Flink 1.17.2 reads this file; edits are lost when the process restarts.
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: `+strconv.Itoa(jm.opts.RPCPort)+`
jobmanager.memory.process.size: 960m
taskmanager.host: 127.0.0.1
taskmanager.memory.process.size: 1728m
taskmanager.numberOfTaskSlots: 2
parallelism.default: 1
jobmanager.execution.failover-strategy: region
rest.address: localhost
rest.bind-address: localhost
high-availability.cluster-id: application_1700000000000_0007
io.tmp.dirs: W/tmp
internal.io.tmpdirs.use-local-default: true
taskmanager.resource-id: container_1700000000000_0007_01_000002
`), readFile(t, p.ConfFile))
	env := strings.Join(p.Env, "\n") + "\n"
	for _, kv := range []string{"FLINK_CONF_DIR=" + tm.work + "/flink-conf", "FLINK_LIB_DIR=" + tm.work + "/lib",
		"FLINK_PLUGINS_DIR=" + tm.work + "/plugins", "MAX_LOG_FILE_NUMBER=10", "JAVA_HOME=" + fakeJavaHome(t), "HADOOP_CONF_DIR=hadoop-conf"} {
		require.Contains(t, env, kv+"\n")
	}
	require.NotContains(t, env, "SPINDLE_FLINK_SPEC", "the -D values do not reach the JVM's environment")
	require.NotContains(t, env, "ROOT_LOG_LEVEL", "env.log.level arrived in 1.19")
}

// Flink 2.x: config.sh of 2.x adds -XX:+IgnoreUnrecognizedVMOptions,
// env.java.default-opts.* before env.java.opts.*, and
// -Djava.security.manager=allow on a JDK newer than 17; there is no
// --executionMode any more (FLINK-36355) and no -XX:+UseG1GC (the JVM
// options are never empty). The configuration is standard YAML.
func TestPrepareFlink2Session(t *testing.T) {
	plan, err := newPayload(t, home200, "").Plan(request(amapi.ModeSession,
		`env.java.opts.jobmanager=-Dspindle.app=${SPINDLE_APP_ID} -Dquoted='a b'`, "env.java.default-opts.all=-XX:+UseZGC",
		"env.log.level=DEBUG", "high-availability.cluster-id=/my-cluster", "jobmanager.memory.enable-jvm-direct-memory-limit=true"))
	require.NoError(t, err)
	jm := jobManager(t, plan, "SPINDLE_APP_ID="+appID)
	jm.opts.JavaSpecVersion = func(java string, _ []string) (int, error) {
		require.Equal(t, fakeJavaHome(t)+"/bin/java", java)
		return 21, nil
	}
	p := prepare(t, jm)
	// flink-console.sh's `eval echo` expands the variable and removes the
	// quotes, and the words are split at blanks.
	require.Equal(t, jm.expand("J/bin/java -Xmx402653184 -Xms402653184 -XX:MaxDirectMemorySize=134217728 -XX:MaxMetaspaceSize=268435456"+
		" -XX:+IgnoreUnrecognizedVMOptions -XX:+UseZGC --add-exports=java.base/sun.net.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED"+
		" --add-opens=java.base/java.util=ALL-UNNAMED -Djava.security.manager=allow -Dspindle.app="+appID+" -Dquoted=a b "+
		logs("jobmanager")+" -classpath "+cp200+hadoopTail()+" org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"+
		" -D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b"+
		" -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=402653184b -D jobmanager.memory.jvm-overhead.max=201326592b"+
		" --configDir W/flink-conf"), strings.Join(jvmArgs(t, p), " "))
	// The JVM options (env.java.opts*: they may hold secrets) are in a
	// 0600 argument file, not on the command line.
	require.Contains(t, p.Args, "@"+jm.work+"/flink-conf/"+flink.JVMOptionsFile)
	require.NotContains(t, strings.Join(p.Args, " "), "-Dspindle.app=")
	require.Equal(t, jm.expand(`# Written by `+"`spindle flink jobmanager`"+` from conf/config.yaml, the -D overrides and what the cluster decides.
# Flink 2.0.0 reads this file; edits are lost when the process restarts.
env.java.opts.all: --add-exports=java.base/sun.net.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
jobmanager.rpc.address: "127.0.0.1"
jobmanager.rpc.port: "RPC"
jobmanager.memory.process.size: "960m"
jobmanager.execution.failover-strategy: region
taskmanager.numberOfTaskSlots: "2"
taskmanager.memory.process.size: "1728m"
parallelism.default: 1
rest.address: "127.0.0.1"
env.java.opts.jobmanager: "-Dspindle.app=${SPINDLE_APP_ID} -Dquoted='a b'"
env.java.default-opts.all: "-XX:+UseZGC"
env.log.level: "DEBUG"
high-availability.cluster-id: "/my-cluster"
jobmanager.memory.enable-jvm-direct-memory-limit: "true"
io.tmp.dirs: "W/tmp1,W/tmp2"
internal.io.tmpdirs.use-local-default: "true"
rest.port: "REST"
rest.bind-port: "REST"
rest.bind-address: "127.0.0.1"
blob.server.port: "0"
`), readFile(t, p.ConfFile))
	require.Contains(t, p.Env, "ROOT_LOG_LEVEL=DEBUG")

	tm := taskManager(t, plan, jm, "container_1700000000000_0007_01_000003")
	tm.opts.JavaSpecVersion = func(string, []string) (int, error) { return 17, nil }
	p = prepare(t, tm)
	require.Equal(t, tm.expand("J/bin/java -Xmx536870902 -Xms536870902 -XX:MaxDirectMemorySize=268435458 -XX:MaxMetaspaceSize=268435456"+
		" -XX:+IgnoreUnrecognizedVMOptions -XX:+UseZGC --add-exports=java.base/sun.net.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED"+
		" --add-opens=java.base/java.util=ALL-UNNAMED "+logs("taskmanager")+" -classpath "+cp200+hadoopTail()+
		" org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir W/flink-conf"+
		" -D taskmanager.memory.network.min=134217730b -D taskmanager.cpu.cores=2.0 -D taskmanager.memory.task.off-heap.size=0b"+
		" -D taskmanager.memory.jvm-metaspace.size=268435456b -D external-resources=none -D taskmanager.memory.jvm-overhead.min=201326592b"+
		" -D taskmanager.memory.framework.off-heap.size=134217728b -D taskmanager.memory.network.max=134217730b"+
		" -D taskmanager.memory.framework.heap.size=134217728b -D taskmanager.memory.managed.size=536870920b"+
		" -D taskmanager.memory.task.heap.size=402653174b -D taskmanager.numberOfTaskSlots=2 -D taskmanager.memory.jvm-overhead.max=201326592b"),
		strings.Join(jvmArgs(t, p), " "))
	conf := readFile(t, p.ConfFile)
	require.Contains(t, conf, "\ntaskmanager.host: \"127.0.0.1\"\n")
	require.Contains(t, conf, "\ntaskmanager.resource-id: \"container_1700000000000_0007_01_000003\"\n")
	require.Contains(t, conf, "\njobmanager.rpc.port: \""+strconv.Itoa(jm.opts.RPCPort)+"\"\n")
	require.NotContains(t, conf, "bind-host", "the default configuration's localhost bind hosts are dropped")
}

// Per-job runs Flink's application mode (standalone-job.sh): --configDir,
// the dynamic properties, --job-classname and the job's arguments after
// "--", which ends the entry point's option parsing
// (StandaloneApplicationClusterConfigurationParserFactory, commons-cli's
// DefaultParser), so that a job argument such as -D is the job's.
func TestPreparePerJob(t *testing.T) {
	for _, tc := range []struct {
		home, class string
		args        []string
		tail        string
	}{
		{home117, "org.example.Job", []string{"--input", "in.txt", "-D", "x=y"}, " --job-classname org.example.Job -- --input in.txt -D x=y"},
		{home200, "", nil, ""},
	} {
		t.Run(filepath.Base(tc.home), func(t *testing.T) {
			r := request(amapi.ModePerJob)
			r.Job, r.Args = "examples/streaming/WordCount.jar", tc.args
			plan, err := newPayload(t, tc.home, tc.class).Plan(r)
			require.NoError(t, err)
			jm := jobManager(t, plan)
			jm.opts.JavaSpecVersion = func(string, []string) (int, error) { return 17, nil }
			p := prepare(t, jm)
			got := strings.Join(p.Args, " ")
			require.True(t, strings.HasSuffix(got, jm.expand(" org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint --configDir W/flink-conf"+
				" -D jobmanager.memory.off-heap.size=134217728b -D jobmanager.memory.jvm-overhead.min=201326592b"+
				" -D jobmanager.memory.jvm-metaspace.size=268435456b -D jobmanager.memory.heap.size=402653184b -D jobmanager.memory.jvm-overhead.max=201326592b"+
				tc.tail)), got)
			require.FileExists(t, filepath.Join(jm.work, "usrlib", "WordCount.jar"))
		})
	}
}

func TestPrepareErrors(t *testing.T) {
	plan, err := newPayload(t, home200, "").Plan(request(amapi.ModeSession))
	require.NoError(t, err)
	jm := jobManager(t, plan)
	jm.opts.JavaSpecVersion = func(string, []string) (int, error) { return 17, nil }

	o := jm.opts
	o.Role, o.WorkDir, o.LogDir = "historyserver", "relative", ""
	_, err = flink.Prepare(o)
	require.ErrorContains(t, err, `role "historyserver": want jobmanager or taskmanager`)
	require.ErrorContains(t, err, `working directory "relative" is not absolute`)
	require.ErrorContains(t, err, "no log directory")

	o = jm.opts
	o.RPCPort = 0
	_, err = flink.Prepare(o)
	require.ErrorContains(t, err, "$SPINDLE_JM_RPC_PORT")

	tm := taskManager(t, plan, jm, "")
	tm.opts.JobManagerAddress = "nohost"
	_, err = flink.Prepare(tm.opts)
	require.ErrorContains(t, err, "$SPINDLE_JM_ADDRESS")
	require.ErrorContains(t, err, "$SPINDLE_RESOURCE_ID")

	o = jm.opts
	o.Environ = []string{"PATH=" + t.TempDir(), "JAVA_HOME=" + filepath.Join(t.TempDir(), "none")}
	_, err = flink.Prepare(o)
	require.ErrorContains(t, err, "no Java: ")
	require.ErrorContains(t, err, "containerized.master.env.JAVA_HOME")

	// Java on the PATH when JAVA_HOME is unset (config.sh's setJavaRun).
	o.Environ = []string{"PATH=" + fakeJavaHome(t) + "/bin"}
	p, err := flink.Prepare(o)
	require.NoError(t, err)
	require.Equal(t, fakeJavaHome(t)+"/bin/java", p.Java)

	o = jm.opts
	o.Spec.TaskManagerMB = 500 // what Plan refuses, the launcher refuses too
	o.Role = flink.RoleTaskManager
	o.JobManagerAddress, o.ResourceID = "127.0.0.1:1", "c"
	_, err = flink.Prepare(o)
	require.ErrorContains(t, err, "TaskManager memory configuration failed")

	require.NoError(t, os.Remove(filepath.Join(jm.work, "lib", "flink-dist-2.0.0.jar")))
	_, err = flink.Prepare(jm.opts)
	require.ErrorContains(t, err, "flink distribution jar not found in "+jm.work+"/lib")
	require.NoError(t, os.Remove(filepath.Join(jm.work, "conf", "config.yaml")))
	_, err = flink.Prepare(jm.opts)
	require.ErrorContains(t, err, "the submitter ships the distribution's conf/")

	_, err = flink.DecodeSpec([]byte("not JSON!"))
	require.ErrorContains(t, err, flink.SpecFile)
	s := jm.spec
	s.ConfFile = "flink.properties"
	enc, err := s.Marshal()
	require.NoError(t, err)
	_, err = flink.DecodeSpec(enc)
	require.ErrorContains(t, err, `conf_file "flink.properties"`)
}

// proc is a started process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	code int
}

// start runs a prepared process as the container would (the launcher
// execs it; here it is a child).
func start(t *testing.T, ctx context.Context, p *flink.Process, logs string) *proc {
	t.Helper()
	cmd := exec.CommandContext(ctx, p.Java, p.Args[1:]...)
	cmd.Env, cmd.Dir = p.Env, p.Dir
	out, err := os.Create(filepath.Join(logs, "out"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		pr.code = cmd.ProcessState.ExitCode()
		close(pr.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-pr.done
	})
	return pr
}

type tmInfo struct {
	ID    string `json:"id"`
	Slots int    `json:"slotsNumber"`
	Host  string `json:"host"`
}

func waitTMs(t *testing.T, ctx context.Context, rest string, n int) []tmInfo {
	t.Helper()
	for {
		var body struct{ TaskManagers []tmInfo }
		if resp, err := http.Get("http://" + rest + "/taskmanagers"); err == nil {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			resp.Body.Close()
		}
		if len(body.TaskManagers) == n {
			return body.TaskManagers
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d TaskManagers at %s: %v", n, rest, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func exitCode(t *testing.T, ctx context.Context, p *proc, what string) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-ctx.Done():
		t.Fatalf("%s did not exit: %v", what, ctx.Err())
	}
	return -1
}

// record reads the stand-in java's record of one process.
func record(t *testing.T, dir, role string) map[string]any {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, role+"-*.json"))
	require.NoError(t, err)
	require.Len(t, m, 1, "one %s record", role)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(readFile(t, m[0])), &rec))
	return rec
}

// A session runs: the JobManager listens on the ports the AM chose, two
// TaskManagers register with their container ids and slots, a
// TaskManager told to exit leaves with that code, and SIGTERM ends the
// JobManager as it ends a JVM. The java stand-in finds every classpath
// entry and reads the generated configuration as Flink would.
func TestRunSession(t *testing.T) {
	ctx := testutil.Context(t, 20*time.Second)
	rec := t.TempDir()
	plan, err := newPayload(t, home200, "").Plan(request(amapi.ModeSession))
	require.NoError(t, err)
	jm := jobManager(t, plan, "FAKE_JAVA_RECORD_DIR="+rec, "FAKE_JAVA_SPEC_VERSION=21")
	jp := prepare(t, jm) // asks the stand-in for its version (config.sh's -XshowSettings:properties)
	require.Contains(t, jvmArgs(t, jp), "-Djava.security.manager=allow")
	jmProc := start(t, ctx, jp, jm.logs)
	var tmProcs []*proc
	for _, id := range []string{"container_1700000000000_0007_01_000002", "container_1700000000000_0007_01_000003"} {
		tm := taskManager(t, plan, jm, id, "FAKE_JAVA_RECORD_DIR="+rec)
		tmProcs = append(tmProcs, start(t, ctx, prepare(t, tm), tm.logs))
	}
	rest := net.JoinHostPort("127.0.0.1", strconv.Itoa(jm.opts.RESTPort))
	tms := waitTMs(t, ctx, rest, 2)
	require.Equal(t, []tmInfo{{"container_1700000000000_0007_01_000002", 2, "127.0.0.1"}, {"container_1700000000000_0007_01_000003", 2, "127.0.0.1"}}, tms)

	r := record(t, rec, "jobmanager")
	require.Equal(t, jm.work, r["dir"])
	require.Equal(t, flink.SessionEntrypoint, r["main_class"])
	conf := r["config"].(map[string]any)
	require.Equal(t, strconv.Itoa(jm.opts.RPCPort), conf["jobmanager.rpc.port"])
	require.Equal(t, "402653184b", conf["jobmanager.memory.heap.size"], "the -D dynamic properties reach Flink")

	resp, err := http.Post("http://"+rest+"/taskmanagers/container_1700000000000_0007_01_000002/exit?code=3", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 3, exitCode(t, ctx, tmProcs[0], "the TaskManager"))
	waitTMs(t, ctx, rest, 1)

	require.NoError(t, jmProc.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 143, exitCode(t, ctx, jmProc, "the JobManager"))
	select {
	case <-tmProcs[1].done:
		t.Fatalf("the other TaskManager exited with %d", tmProcs[1].code)
	default: // it waits for a JobManager, as Flink's does
	}
}

// A per-job cluster's JobManager waits for its TaskManagers, finds the job
// jar in usrlib/ next to $FLINK_LIB_DIR, runs the job and exits with its
// outcome, which the AM makes the application's.
func TestRunPerJob(t *testing.T) {
	for _, tc := range []struct {
		home string
		args []string
		code int
	}{{home117, []string{"--input", "x"}, 0}, {home200, []string{"--fail"}, 1443 % 256}} {
		t.Run(filepath.Base(tc.home)+fmt.Sprint(tc.code), func(t *testing.T) {
			ctx := testutil.Context(t, 20*time.Second)
			r := request(amapi.ModePerJob)
			r.Job, r.Args, r.TaskManagers = "examples/streaming/WordCount.jar", tc.args, 1
			plan, err := newPayload(t, tc.home, "").Plan(r)
			require.NoError(t, err)
			jm := jobManager(t, plan, "SPINDLE_TASKMANAGERS=1")
			jp := prepare(t, jm)
			jmProc := start(t, ctx, jp, jm.logs)
			tm := taskManager(t, plan, jm, "container_1700000000000_0007_01_000002")
			tmProc := start(t, ctx, prepare(t, tm), tm.logs)
			require.Equal(t, tc.code, exitCode(t, ctx, jmProc, "the per-job JobManager"), readFile(t, filepath.Join(jm.logs, "out")))
			out := readFile(t, filepath.Join(jm.logs, "out"))
			if tc.code == 0 {
				require.Contains(t, out, `job finished with arguments ["--input" "x"] on 1 TaskManagers, user jars [`+jm.work+"/usrlib/WordCount.jar]")
			} else {
				require.Contains(t, out, "job failed (--fail)")
			}
			// The TaskManager loses its JobManager and keeps trying, as
			// Flink's does; the AM stops it when the application ends. It
			// says so when it notices the loss, which an exit would follow.
			exited := func() bool {
				select {
				case <-tmProc.done:
					return true
				default:
					return false
				}
			}
			require.Eventually(t, func() bool {
				out, _ := os.ReadFile(filepath.Join(tm.logs, "out"))
				return exited() || strings.Contains(string(out), "lost JobManager")
			}, 10*time.Second, 10*time.Millisecond)
			if exited() {
				t.Fatalf("the TaskManager exited with %d", tmProc.code)
			}
		})
	}
}

// A shipped keytab becomes the JobManager's Flink login, replacing a
// client-side path from the user's configuration (YarnEntrypointUtils
// loadConfiguration); TaskManagers get no keytab: Flink's delegation token
// manager sends them tokens.
func TestPrepareShippedKeytab(t *testing.T) {
	plan, err := newPayload(t, home200, "").Plan(request(amapi.ModeSession, "security.kerberos.login.keytab=/home/alice/alice.keytab"))
	require.NoError(t, err)
	jm := jobManager(t, plan)
	jm.opts.JavaSpecVersion = func(string, []string) (int, error) { return 17, nil }
	jm.opts.KerberosPrincipal, jm.opts.KerberosKeytab = "alice@EXAMPLE.COM", jm.work+"/krb5.keytab"
	conf := readFile(t, prepare(t, jm).ConfFile)
	require.Contains(t, conf, "\nsecurity.kerberos.login.keytab: \""+jm.work+"/krb5.keytab\"\n")
	require.Contains(t, conf, "\nsecurity.kerberos.login.principal: \"alice@EXAMPLE.COM\"\n")
	require.NotContains(t, conf, "/home/alice/alice.keytab")

	tm := taskManager(t, plan, jm, "container_1700000000000_0007_01_000002")
	tm.opts.JavaSpecVersion = jm.opts.JavaSpecVersion
	tm.opts.KerberosPrincipal, tm.opts.KerberosKeytab = "alice@EXAMPLE.COM", tm.work+"/krb5.keytab"
	require.NotContains(t, readFile(t, prepare(t, tm).ConfFile), "krb5.keytab")
}

// jvmArgs are p's arguments as the JVM sees them: each @file (a JDK 9+
// argument file, which must be mode 0600) replaced by its arguments, as
// Prepare writes them (one double-quoted argument a line).
func jvmArgs(t *testing.T, p *flink.Process) []string {
	t.Helper()
	var out []string
	for _, a := range p.Args {
		f, ok := strings.CutPrefix(a, "@")
		if !ok {
			out = append(out, a)
			continue
		}
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the JVM options file is private")
		for _, line := range strings.Split(strings.TrimSpace(readFile(t, f)), "\n") {
			v, err := strconv.Unquote(line)
			require.NoError(t, err, line)
			out = append(out, v)
		}
	}
	return out
}
