package minicluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// fakeHadoopHome makes a directory shaped like a Hadoop installation:
// bin/hadoop and the share/hadoop/<parts> directories.
func fakeHadoopHome(t *testing.T, parts ...string) string {
	home := filepath.Join(t.TempDir(), "hadoop-3.3.6")
	for _, p := range parts {
		require.NoError(t, os.MkdirAll(filepath.Join(home, "share", "hadoop", p), 0o755))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(home, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(home, "bin", "hadoop"), []byte("#!/bin/sh\n"), 0o755))
	return home
}

// HadoopDaemonEnv derives what hadoop_basic_init derives, and only that:
// homes whose share/hadoop directory is missing stay unset, homes already
// set are kept, and HADOOP_HOME comes from the hadoop command on PATH.
func TestHadoopDaemonEnv(t *testing.T) {
	home := fakeHadoopHome(t, "common", "hdfs", "yarn") // no mapreduce
	env := map[string]string{"HADOOP_HOME": home, "HADOOP_YARN_HOME": "/opt/yarn", "PATH": "/nonexistent"}
	set := HadoopDaemonEnv(env)
	require.Equal(t, home, env["HADOOP_COMMON_HOME"])
	require.Equal(t, home, env["HADOOP_HDFS_HOME"])
	require.Equal(t, "/opt/yarn", env["HADOOP_YARN_HOME"], "a home already set is kept")
	require.NotContains(t, env, "HADOOP_MAPRED_HOME", "no share/hadoop/mapreduce: not derived")
	require.Equal(t, []string{"HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME"}, set)

	// No HADOOP_HOME: the installation of the hadoop command on PATH,
	// through a symbolic link as /usr/bin/hadoop often is.
	links := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(home, "bin", "hadoop"), filepath.Join(links, "hadoop")))
	env = map[string]string{"PATH": "relative/bin:" + links}
	HadoopDaemonEnv(env)
	require.Equal(t, home, env["HADOOP_HOME"])
	require.Equal(t, home, env["HADOOP_COMMON_HOME"])

	// JAVA_HOME from the java command on PATH.
	jdk := filepath.Join(t.TempDir(), "jdk-17")
	require.NoError(t, os.MkdirAll(filepath.Join(jdk, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(jdk, "bin", "java"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(jdk, "bin", "java"), filepath.Join(links, "java")))
	env = map[string]string{"PATH": links}
	HadoopDaemonEnv(env)
	require.Equal(t, jdk, env["JAVA_HOME"])

	env = map[string]string{"PATH": "/nonexistent"}
	require.Empty(t, HadoopDaemonEnv(env), "nothing to derive from")
	require.NotContains(t, env, "HADOOP_HOME")
}

var whitelistLine = regexp.MustCompile(`^export ([A-Z_]+)=\$\{([A-Z_]+):-"(.*)"\}$`)

// whitelistLines are the whitelisted-variable lines of a launch script,
// in order, as name → default.
func whitelistLines(t *testing.T, script string) ([]string, map[string]string) {
	var order []string
	vals := map[string]string{}
	for _, line := range strings.Split(script, "\n") {
		if m := whitelistLine.FindStringSubmatch(line); m != nil {
			require.Equal(t, m[1], m[2], "line %q", line)
			order = append(order, m[1])
			vals[m[1]] = m[3]
		}
	}
	return order, vals
}

// A local-mode container gets the Hadoop homes a real NodeManager host
// passes on: derived from HADOOP_HOME as Hadoop's scripts derive them,
// through yarn.nodemanager.env-whitelist, in the launch script lines a
// Hadoop 3.3.6 NodeManager writes (${VAR:-"default"}: the container's own
// value wins), in the order of the real script.
func TestLocalContainerEnvLikeNodeManagerHost(t *testing.T) {
	home := fakeHadoopHome(t, "common", "hdfs", "yarn", "mapreduce")
	t.Setenv("HADOOP_HOME", home)
	for _, k := range []string{"HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_YARN_HOME", "HADOOP_MAPRED_HOME", "JAVA_HOME"} {
		t.Setenv(k, "")
	}
	ctx := testutil.Context(t, 60*time.Second)
	dir := t.TempDir()
	opts := LocalOptions{Dir: filepath.Join(dir, "local"), Logger: testLogger(t)}
	opts.NodeManager.HeartbeatInterval = 20 * time.Millisecond
	opts.NodeManager.SigkillDelay = 100 * time.Millisecond
	l, err := StartLocal(ctx, opts)
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	require.Subset(t, l.DerivedEnv, []string{"HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_YARN_HOME", "HADOOP_MAPRED_HOME"})
	require.Equal(t, strings.Join(LocalEnvWhitelist, ","), l.Config["yarn.nodemanager.env-whitelist"])

	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o755))
	rmc := rmClient(t, l.Cluster)
	submit(t, ctx, rmc, yarn.AppSpec{AM: yarn.ContainerLaunchContext{
		Commands: []string{"env > " + out + "/env.tmp; cp launch_container.sh " + out + "/launch.sh; mv " + out + "/env.tmp " + out + "/env.txt; sleep 600"},
		// The container's own value wins over the NodeManager's.
		Environment: map[string]string{"HADOOP_YARN_HOME": "/custom/yarn"},
	}})
	var envTxt []byte
	testutil.Eventually(t, func() bool {
		envTxt, err = os.ReadFile(filepath.Join(out, "env.txt"))
		return err == nil
	}, 30*time.Second, 20*time.Millisecond, "the container's env.txt")
	seen := map[string]string{}
	for _, line := range strings.Split(string(envTxt), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			seen[k] = v
		}
	}
	for _, k := range []string{"HADOOP_HOME", "HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_MAPRED_HOME"} {
		require.Equal(t, home, seen[k], k)
	}
	require.Equal(t, "/custom/yarn", seen["HADOOP_YARN_HOME"])
	require.Equal(t, l.ConfDir, seen["HADOOP_CONF_DIR"])
	if java, err := exec.LookPath("java"); err == nil {
		real, err := filepath.EvalSymlinks(java)
		require.NoError(t, err)
		require.Equal(t, filepath.Dir(filepath.Dir(real)), seen["JAVA_HOME"], "JAVA_HOME from the java on PATH")
		_, err = os.Stat(filepath.Join(seen["JAVA_HOME"], "bin", "java"))
		require.NoError(t, err, "$JAVA_HOME/bin/java runs")
	}

	// The launch script, against the real one.
	ours, err := os.ReadFile(filepath.Join(out, "launch.sh"))
	require.NoError(t, err)
	fx, err := capture.Dir()
	require.NoError(t, err)
	real, err := os.ReadFile(filepath.Join(fx, "distshell-run", "am-launch_container.sh"))
	require.NoError(t, err)
	realOrder, _ := whitelistLines(t, string(real))
	require.Equal(t, []string{"JAVA_HOME", "HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_CONF_DIR", "HADOOP_YARN_HOME", "HADOOP_HOME", "PATH", "LANG"},
		realOrder, "the real NodeManager's whitelisted lines")
	ourOrder, ourVals := whitelistLines(t, string(ours))
	require.NotContains(t, ourOrder, "HADOOP_YARN_HOME", "set by the container: no NodeManager default")
	require.Equal(t, home, ourVals["HADOOP_COMMON_HOME"])
	// Same relative order as the real script (variables unset on either
	// host are missing from its script).
	pos := map[string]int{}
	for i, k := range LocalEnvWhitelist {
		pos[k] = i
	}
	for _, order := range [][]string{realOrder, ourOrder} {
		for i := 1; i < len(order); i++ {
			require.Less(t, pos[order[i-1]], pos[order[i]], "%v follows the whitelist's order", order)
		}
	}
	// The lines sit where the real NodeManager writes them: first of the
	// environment, before the NodeManager's own variables.
	for _, s := range []string{string(real), string(ours)} {
		setup := strings.Index(s, "echo \"Setting up env variables\"\n")
		first := strings.Index(s, "export JAVA_HOME=${JAVA_HOME:-")
		if first < 0 {
			first = strings.Index(s, "export HADOOP_COMMON_HOME=${HADOOP_COMMON_HOME:-")
		}
		tokens := strings.Index(s, "export HADOOP_TOKEN_FILE_LOCATION=")
		require.True(t, setup >= 0 && setup < first && first < tokens, "whitelisted lines between the env echo and HADOOP_TOKEN_FILE_LOCATION")
	}
}

// Close removes what local mode wrote, the mini HDFS's block files
// included, and the directories it created; a directory that holds
// someone else's files stays with them.
func TestLocalCloseRemovesWhatItWrote(t *testing.T) {
	ctx := testutil.Context(t, 60*time.Second)
	parent := t.TempDir()
	dir := filepath.Join(parent, "local")
	l, err := StartLocal(ctx, LocalOptions{Dir: dir, HDFS: true, HDFSUsers: []string{testUser}, Logger: testLogger(t)})
	require.NoError(t, err)
	// A block file, as an upload leaves one.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "hdfs", "datanode", "BP-1", "finalized"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hdfs", "datanode", "BP-1", "finalized", "blk_1"), []byte("x"), 0o644))
	for _, p := range []string{"conf/yarn-site.xml", "conf/core-site.xml", "conf/hdfs-site.xml", "nm-0", "hdfs"} {
		_, err := os.Stat(filepath.Join(dir, p))
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "DIR was created by local mode and is empty: removed")

	// A directory of the user's, with a file of theirs: kept, with it.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "hdfs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
	l, err = StartLocal(ctx, LocalOptions{Dir: dir, HDFS: true, Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"hdfs", "notes.txt"}, names, "only the user's files stay (hdfs existed before, now empty)")
}
