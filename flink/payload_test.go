package flink_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/hdfs"
)

func newPayload(t *testing.T, home, class string) *flink.Payload {
	t.Helper()
	p, err := flink.New(flink.Options{Home: home, JobClass: class})
	require.NoError(t, err)
	require.Equal(t, "flink", p.Name())
	return p
}

func request(mode amapi.Mode, props ...string) amapi.PayloadRequest {
	r := amapi.PayloadRequest{Mode: mode, JobManagerMemoryMB: 1024, TaskManagerMemoryMB: 1728, TaskManagerVCores: 1, Slots: 2, TaskManagers: 2}
	for _, p := range props {
		pr, err := amapi.ParseProperty(p)
		if err != nil {
			panic(err)
		}
		r.Properties = append(r.Properties, pr)
	}
	return r
}

// specOf is the Spec a plan ships to both sides in its private SpecFile.
func specOf(t *testing.T, plan amapi.PayloadPlan) flink.Spec {
	t.Helper()
	require.Len(t, plan.PrivateFiles, 1, "the spec is the plan's one private file")
	s, err := flink.DecodeSpec(plan.PrivateFiles[flink.SpecFile])
	require.NoError(t, err)
	return s
}

func TestPlanSession(t *testing.T) {
	for _, tc := range []struct {
		home, distJar, confFile string
	}{{home117, "flink-dist-1.17.2.jar", "flink-conf.yaml"}, {home200, "flink-dist-2.0.0.jar", "config.yaml"}} {
		t.Run(filepath.Base(tc.home), func(t *testing.T) {
			p := newPayload(t, tc.home, "")
			home, _ := filepath.Abs(tc.home)
			plan, err := p.Plan(request(amapi.ModeSession, "containerized.master.env.HADOOP_CLASSPATH=/opt/hadoop/*",
				"containerized.taskmanager.env.TZ=UTC", "env.java.home=/usr/lib/jvm/17", "state.backend.type=rocksdb"))
			require.NoError(t, err)
			require.Equal(t, []string{"${SPINDLE_BIN}", "flink", "jobmanager"}, plan.JobManager.Command)
			require.Equal(t, []string{"lib/" + tc.distJar, "conf/" + tc.confFile, flink.SpecFile}, plan.JobManager.Files)
			require.Equal(t, "./spindle --log-level info flink taskmanager --log-dir <LOG_DIR> 1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.err", plan.TaskManagerCommand)
			// ResourceManagerOptions.CONTAINERIZED_MASTER_ENV_PREFIX /
			// CONTAINERIZED_TASK_MANAGER_ENV_PREFIX, and env.java.home as
			// JAVA_HOME (YarnClusterDescriptor.generateApplicationMasterEnv,
			// ContaineredTaskManagerParameters.create).
			jmEnv, tmEnv := plan.JobManager.Env, plan.TaskManagerEnv
			require.Equal(t, "/opt/hadoop/*", jmEnv["HADOOP_CLASSPATH"])
			require.Equal(t, "/usr/lib/jvm/17", jmEnv["JAVA_HOME"])
			require.Len(t, jmEnv, 2, "no -D value in the environment")
			require.Equal(t, "UTC", tmEnv["TZ"])
			require.Equal(t, "/usr/lib/jvm/17", tmEnv["JAVA_HOME"])
			require.Len(t, tmEnv, 2, "no -D value in the environment")
			want := flink.Spec{Version: p.Distribution().Version.Raw, ConfFile: tc.confFile, Mode: amapi.ModeSession,
				JobManagerMB: 1024 - amapi.AMOverheadMB, TaskManagerMB: 1728, Slots: 2,
				Properties: []flink.Property{{Key: "containerized.master.env.HADOOP_CLASSPATH", Value: "/opt/hadoop/*"},
					{Key: "containerized.taskmanager.env.TZ", Value: "UTC"}, {Key: "env.java.home", Value: "/usr/lib/jvm/17"},
					{Key: "state.backend.type", Value: "rocksdb"}},
				PrometheusReporter: true} // the distributions have plugins/metrics-prometheus
			require.Equal(t, want, specOf(t, plan))
			require.True(t, plan.JobManager.Metrics)
			// lib/ and plugins/ through the upload cache, as directories
			// staged file by file; conf/ too. No usrlib/ in these.
			require.Equal(t, []hdfs.Source{
				{Path: filepath.Join(home, "lib"), Name: "lib"},
				{Path: filepath.Join(home, "plugins"), Name: "plugins"},
				{Path: filepath.Join(home, "conf"), Name: "conf"},
			}, plan.SharedFiles)
			require.Empty(t, plan.JobManagerFiles)
			require.Empty(t, plan.TaskManagerFiles)
		})
	}
}

func TestPlanPerJob(t *testing.T) {
	p := newPayload(t, home117, "org.apache.flink.streaming.examples.wordcount.WordCount")
	home, _ := filepath.Abs(home117)
	r := request(amapi.ModePerJob)
	r.Job, r.Args = "examples/streaming/WordCount.jar", []string{"--input", "hdfs:///words.txt", "-D", "x=y"} // found in --flink-home
	plan, err := p.Plan(r)
	require.NoError(t, err)
	s := specOf(t, plan)
	require.Equal(t, "usrlib/WordCount.jar", s.JobJar)
	require.Equal(t, "org.apache.flink.streaming.examples.wordcount.WordCount", s.JobClass)
	require.Equal(t, r.Args, s.JobArgs)
	require.Equal(t, []string{"lib/flink-dist-1.17.2.jar", "conf/flink-conf.yaml", flink.SpecFile, "usrlib/WordCount.jar"}, plan.JobManager.Files)
	// The job jar goes to usrlib/ on both sides: Flink's application
	// mode puts usrlib/*.jar on the user classpath relative to the working
	// directory (DefaultPackagedProgramRetriever), which TaskManagers
	// resolve in theirs.
	require.Equal(t, hdfs.Source{Path: filepath.Join(home, "examples/streaming/WordCount.jar"), Name: "usrlib/WordCount.jar"}, plan.SharedFiles[len(plan.SharedFiles)-1])

	// A distribution's own usrlib/ is shipped as is.
	h := copyDist(t, home200)
	write(t, filepath.Join(h, "usrlib/udfs.jar"), "x")
	job := filepath.Join(t.TempDir(), "job.jar")
	write(t, job, "x")
	p = newPayload(t, h, "")
	r.Job, r.Args = job, nil
	plan, err = p.Plan(r)
	require.NoError(t, err)
	require.Equal(t, []hdfs.Source{
		{Path: filepath.Join(h, "lib"), Name: "lib"}, {Path: filepath.Join(h, "plugins"), Name: "plugins"},
		{Path: filepath.Join(h, "conf"), Name: "conf"}, {Path: filepath.Join(h, "usrlib"), Name: "usrlib"},
		{Path: job, Name: "usrlib/job.jar"},
	}, plan.SharedFiles)
	require.Empty(t, specOf(t, plan).JobClass)
}

// New refuses what Detect refuses, with every problem.
func TestNewRefusesABrokenDistribution(t *testing.T) {
	h := copyDist(t, home117)
	require.NoError(t, os.Remove(filepath.Join(h, "lib/flink-dist-1.17.2.jar")))
	require.NoError(t, os.RemoveAll(filepath.Join(h, "plugins")))
	_, err := flink.New(flink.Options{Home: h})
	require.ErrorContains(t, err, "--flink-home "+h+": no plugins/ directory")
	require.ErrorContains(t, err, "--flink-home "+h+": no lib/flink-dist*.jar: point --flink-home (or FLINK_HOME) at an unpacked Flink distribution")
}

// Every problem comes back at once, one error each, naming the fix.
func TestPlanValidation(t *testing.T) {
	p := newPayload(t, home117, "")
	r := request(amapi.ModePerJob, "jobmanager.rpc.port=7000", "taskmanager.memory.process.size=4g", "taskmanager.numberOfTaskSlots=3",
		"s3.secret-key=ab#cd", "empty=", "state.backend.type=hashmap")
	r.Slots = 0
	r.TaskManagerMemoryMB = 512
	r.JobManagerMemoryMB = 600
	r.Job = "no-such.jar"
	_, err := p.Plan(r)
	require.Error(t, err)
	var lines []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		lines = append(lines, e.Error())
	}
	want := []string{
		"-s 0: a TaskManager needs at least one slot: pass -s 1 or more",
		"-D jobmanager.rpc.port: Spindle sets this key (the AM chooses the JobManager's ports): drop the -D",
		"-D taskmanager.memory.process.size: Spindle sets this key (Spindle sizes it from the TaskManager container: pass -tm): drop the -D",
		"-D taskmanager.numberOfTaskSlots: Spindle sets this key (pass -s): drop the -D",
		"-D s3.secret-key: the value cannot be written to flink-conf.yaml: Flink 1.x's parser cuts a line at '#' and reads one line per key (Flink 1.17.2 reads conf/flink-conf.yaml)",
		"-D empty: flink-conf.yaml cannot hold an empty value: Flink 1.x's parser skips it (leave the key out instead) (Flink 1.17.2 reads conf/flink-conf.yaml)",
		"job no-such.jar: no such file (nor in --flink-home " + p.Distribution().Home + "): pass the path of the job's jar",
	}
	require.Equal(t, want, lines[:len(want)])
	require.Len(t, lines, len(want)+2)
	// Flink's minimum for its memory model with the default options, found
	// by computing it (TaskExecutorFlinkMemoryUtils: the framework heap and
	// off-heap, managed and network memory must fit the Total Flink Memory).
	require.True(t, strings.HasPrefix(lines[len(want)], "-tm 512m is too small for Flink's TaskManager memory model (TaskManager memory configuration failed: sum of configured Framework Heap Memory"), lines[len(want)])
	require.Contains(t, lines[len(want)], "): pass at least -tm 982m, or lower the taskmanager.memory.* sizes in conf/flink-conf.yaml and -D")
	// JobManagerFlinkMemoryUtils: the Total Flink Memory must exceed the
	// 128m off-heap; with 256m metaspace and 192m overhead that is 577m,
	// plus the AM's 64 MB.
	require.True(t, strings.HasPrefix(lines[len(want)+1], "-jm 600m is too small for Flink's JobManager memory model once the AM keeps its 64 MB (JobManager memory configuration failed: the configured Total Flink Memory"), lines[len(want)+1])
	require.Contains(t, lines[len(want)+1], "pass at least -jm 641m")

	// Both limits are exact: one MB more is accepted.
	r = request(amapi.ModeSession)
	r.TaskManagerMemoryMB, r.JobManagerMemoryMB = 982, 641
	_, err = p.Plan(r)
	require.NoError(t, err)
	r.TaskManagerMemoryMB--
	_, err = p.Plan(r)
	require.ErrorContains(t, err, "pass at least -tm 982m")

	// Options in the user's configuration count: with a fixed 2g of
	// managed memory the Total Flink Memory F must hold 128m + 128m + 2g
	// plus 10% of F for the network, so F >= 2560m; the process P adds
	// 256m of metaspace and 10% of P of overhead: P >= 2816m / 0.9 = 3129m.
	h := copyDist(t, home200)
	f, err := os.OpenFile(filepath.Join(h, "conf/config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("taskmanager.memory.managed.size: 2g\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, err = newPayload(t, h, "").Plan(request(amapi.ModeSession, "s3.secret-key=ab#cd")) // '#' is fine in YAML
	require.ErrorContains(t, err, "-tm 1728m is too small")
	require.ErrorContains(t, err, "pass at least -tm 3129m")

	// A job that is not a jar.
	txt := filepath.Join(t.TempDir(), "job.py")
	write(t, txt, "print(1)")
	r = request(amapi.ModePerJob)
	r.Job = txt
	_, err = p.Plan(r)
	require.EqualError(t, err, "job "+txt+": not a .jar: Flink loads only usrlib/*.jar, so pass the job's jar")
	r.Job = ""
	_, err = p.Plan(r)
	require.ErrorContains(t, err, "no job jar")

	// A configuration file that is not YAML.
	h = copyDist(t, home200)
	write(t, filepath.Join(h, "conf/config.yaml"), "a: [\n")
	_, err = newPayload(t, h, "").Plan(request(amapi.ModeSession))
	require.ErrorContains(t, err, "conf/config.yaml: yaml: line")
}
