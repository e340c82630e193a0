//go:build integration

package minicluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/logs"
)

// TestYarnLogsReadsAggregated: the real `yarn logs -applicationId` (its
// Java LogsCLI and AggregatedLogFormat reader, unmodified) reads the logs
// the mini cluster aggregated, byte for byte what the container wrote. It
// needs HADOOP_HOME and JAVA_HOME and skips without them. Checked with
// Hadoop 3.1.3 on Java 17 (the NodeManagers write the layout Hadoop up
// to 3.2 reads: <remote dir>/<user>/logs-tfile/<app id>; Hadoop 3.3 also
// reads it).
func TestYarnLogsReadsAggregated(t *testing.T) {
	home := os.Getenv("HADOOP_HOME")
	if home == "" || os.Getenv("JAVA_HOME") == "" {
		t.Skip("needs HADOOP_HOME (bin/yarn) and JAVA_HOME")
	}
	if _, err := os.Stat(filepath.Join(home, "bin/yarn")); err != nil {
		t.Skipf("needs HADOOP_HOME/bin/yarn: %v", err)
	}
	ctx := testutil.Context(t, 3*time.Minute)
	dir := filepath.Join(t.TempDir(), "local")
	remote := filepath.Join(t.TempDir(), "app-logs")
	opts := LocalOptions{Dir: dir, Logger: testLogger(t), RM: RMOptions{MinAllocation: yarn.Resource{MemoryMB: 256, VCores: 1}}}
	opts.NodeManager.HeartbeatInterval = 100 * time.Millisecond
	opts.NodeManager.LogAggregation = &LogAggregationOptions{RemoteDir: remote, OlderLayout: true}
	l, err := StartLocal(ctx, opts)
	require.NoError(t, err)
	defer l.Close()

	rmc := rmClient(t, l.Cluster)
	// Bytes a log holds: several lines, a non-ASCII one, no final newline.
	const out = "first line\nzweite Zeile: grüße\nthird, no newline"
	id := submit(t, ctx, rmc, yarn.AppSpec{MaxAttempts: 1, AM: yarn.ContainerLaunchContext{
		Commands: []string{"{ printf '" + strings.ReplaceAll(out, "\n", `\n`) + "'; echo to stderr 1>&2; } 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"}}})
	waitState(t, ctx, rmc, id, yarn.StateFailed)
	nm := l.Cluster.NodeManager(0)
	file := filepath.Join(remote, testUser, "logs-tfile", id.String(), logs.NodeFileName(nm.ID().String()))
	eventually(t, ctx, "the aggregated file", func() bool { _, err := os.Stat(file); return err == nil })

	cmd := hadoopCommand(ctx, home, l.ConfDir, "yarn", "logs", "-applicationId", id.String(), "-log_files", "stdout")
	cmd.Env = append(cmd.Env, "HADOOP_USER_NAME="+testUser) // the last one wins
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "yarn logs:\n%s\n%s", stdout.String(), stderr.String())
	got := stdout.String()
	am := yarn.ContainerID{Attempt: yarn.AttemptID{App: id, Attempt: 1}, ID: 1}
	require.Contains(t, got, "Container: "+am.String()+" on "+logs.NodeFileName(nm.ID().String()))
	require.Contains(t, got, "LogType:stdout\n")
	// AggregatedLogFormat.LogReader.readContainerLogs: the header, then the
	// file's bytes, then "\nEnd of LogType:stdout".
	require.Contains(t, got, "LogLength:"+strconv.Itoa(len(out))+"\nLogContents:\n"+out+"\nEnd of LogType:stdout", "the bytes the container wrote")
	require.NotContains(t, got, "to stderr", "-log_files stdout only")
	t.Logf("yarn logs printed:\n%s", got)
}
