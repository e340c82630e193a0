//go:build integration

package minicluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestDistributedShellFidelity runs the stock DistributedShell of a real
// Hadoop distribution (its Java client and Java ApplicationMaster,
// unmodified) against local mode, then reads the cluster with the real
// `yarn application` and `yarn node` commands. It needs HADOOP_HOME (with
// share/hadoop/yarn/hadoop-yarn-applications-distributedshell-*.jar) and
// JAVA_HOME, and skips without them. Checked with Hadoop 3.1.3 on Java 17.
func TestDistributedShellFidelity(t *testing.T) {
	home := os.Getenv("HADOOP_HOME")
	jars, _ := filepath.Glob(filepath.Join(home, "share/hadoop/yarn/hadoop-yarn-applications-distributedshell-*.jar"))
	if home == "" || len(jars) == 0 || os.Getenv("JAVA_HOME") == "" {
		t.Skip("needs HADOOP_HOME with the DistributedShell jar, and JAVA_HOME")
	}
	// A real NodeManager host has these in its environment and passes them
	// to containers (yarn.nodemanager.env-whitelist); DistributedShell's AM
	// classpath is built from them.
	for _, k := range []string{"HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_YARN_HOME", "HADOOP_MAPRED_HOME"} {
		if os.Getenv(k) == "" {
			t.Setenv(k, home)
		}
	}
	ctx := testutil.Context(t, 5*time.Minute)
	dir := filepath.Join(t.TempDir(), "local")
	l, err := StartLocal(ctx, LocalOptions{Dir: dir, Nodes: 2, Logger: testLogger(t),
		RM: RMOptions{MinAllocation: yarn.Resource{MemoryMB: 256, VCores: 1}}})
	require.NoError(t, err)
	defer l.Close()
	// DistributedShell stages its files under ~/DistributedShell/<app> on
	// the default file system (file:///) and leaves them there.
	if h, err := os.UserHomeDir(); err == nil {
		t.Cleanup(func() {
			old, _ := filepath.Glob(filepath.Join(h, "DistributedShell", fmt.Sprintf("application_%d_*", l.Cluster.RM().ClusterTimestamp())))
			for _, d := range old {
				os.RemoveAll(d)
			}
		})
	}

	yarnCmd := func(args ...string) string {
		cmd := hadoopCommand(ctx, home, l.ConfDir, "yarn", args...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "yarn %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	out := yarnCmd("jar", jars[0], "-jar", jars[0], "-shell_command", "env", "-num_containers", "2",
		"-container_memory", "256", "-master_memory", "512")
	require.Contains(t, out, "Application completed successfully")
	out = yarnCmd("application", "-list", "-appStates", "ALL")
	require.Regexp(t, `DistributedShell\s+YARN\s+\S+\s+default\s+FINISHED\s+SUCCEEDED\s+100%`, out)
	out = yarnCmd("node", "-list", "-all")
	require.Contains(t, out, "Total Nodes:2")
}

// TestDistributedShellAcrossRMFailover runs the stock DistributedShell
// (Hadoop's Java client and Java AM) on local mode's RM HA pair and kills
// the active RM while its containers run: the Java client fails over
// (EOF from the dying RM, connection refused from the standby, as on a
// real pair), the Java AM is told it is out of sync by the new active RM,
// registers again and finishes SUCCEEDED. The Java clients' failover
// sleeps are shortened (Hadoop's default is 30 s) to keep the test short.
// Needs HADOOP_HOME and JAVA_HOME like TestDistributedShellFidelity.
func TestDistributedShellAcrossRMFailover(t *testing.T) {
	home := os.Getenv("HADOOP_HOME")
	jars, _ := filepath.Glob(filepath.Join(home, "share/hadoop/yarn/hadoop-yarn-applications-distributedshell-*.jar"))
	if home == "" || len(jars) == 0 || os.Getenv("JAVA_HOME") == "" {
		t.Skip("needs HADOOP_HOME with the DistributedShell jar, and JAVA_HOME")
	}
	ctx := testutil.Context(t, 5*time.Minute)
	dir := filepath.Join(t.TempDir(), "local")
	l, err := StartLocal(ctx, LocalOptions{Dir: dir, Nodes: 2, Logger: testLogger(t),
		RM:          RMOptions{MinAllocation: yarn.Resource{MemoryMB: 256, VCores: 1}, HA: &HAOptions{ElectionDelay: 2 * time.Second}},
		ExtraConfig: map[string]map[string]string{"yarn-site.xml": {"yarn.client.failover-sleep-base-ms": "500", "yarn.client.failover-sleep-max-ms": "2000"}}})
	require.NoError(t, err)
	defer l.Close()
	if h, err := os.UserHomeDir(); err == nil {
		t.Cleanup(func() {
			old, _ := filepath.Glob(filepath.Join(h, "DistributedShell", fmt.Sprintf("application_%d_*", l.Cluster.RM().ClusterTimestamp())))
			for _, d := range old {
				os.RemoveAll(d)
			}
		})
	}
	rm := l.Cluster.RM()
	cmd := hadoopCommand(ctx, home, l.ConfDir, "yarn", "jar", jars[0], "-jar", jars[0], "-shell_command", "sleep 8",
		"-num_containers", "2", "-container_memory", "256", "-master_memory", "512")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	// Kill the active RM once the AM has registered and asked for its
	// containers (two of them running).
	var app yarn.ApplicationID
	testutil.Eventually(t, func() bool {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		for _, a := range rm.appOrder {
			n := 0
			for _, c := range rm.containers {
				if c.id.Attempt.App == a.id && c.id.Seq() > 1 {
					n++
				}
			}
			if n == 2 {
				app = a.id
				return true
			}
		}
		return false
	}, 2*time.Minute, 20*time.Millisecond, "DistributedShell's two containers allocated")
	killed, err := rm.KillActive()
	require.NoError(t, err)
	require.Equal(t, "rm1", killed)
	require.NoError(t, cmd.Wait(), out.String())
	require.Contains(t, out.String(), "Failing over to rm2")
	require.Contains(t, out.String(), "Application completed successfully")
	active, _ := rm.ActiveID()
	require.Equal(t, "rm2", active)
	amLog, err := os.ReadFile(filepath.Join(dir, "nm-0", "logs", app.String(), fmt.Sprintf("container_%d_%04d_01_000001", app.ClusterTimestamp, app.ID), "AppMaster.stderr"))
	if os.IsNotExist(err) {
		amLog, err = os.ReadFile(filepath.Join(dir, "nm-1", "logs", app.String(), fmt.Sprintf("container_%d_%04d_01_000001", app.ClusterTimestamp, app.ID), "AppMaster.stderr"))
	}
	require.NoError(t, err)
	require.Contains(t, string(amLog), "ApplicationMaster is out of sync with ResourceManager, hence resyncing.")
}

// hadoopCommand runs bin/NAME of the Hadoop installation home with the
// configuration in confDir, whatever HADOOP_CONF_DIR or YARN_CONF_DIR the
// test runs with.
func hadoopCommand(ctx context.Context, home, confDir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(home, "bin", name), args...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "YARN_CONF_DIR=") && !strings.HasPrefix(kv, "HADOOP_CONF_DIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HADOOP_CONF_DIR="+confDir)
	return cmd
}
