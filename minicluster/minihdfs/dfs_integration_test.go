//go:build integration

package minihdfs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// TestHDFSShellAppendTruncateXAttrsSnapshots runs the stock `hdfs dfs` and
// `hdfs dfsadmin` (the Java client, unmodified) against a mini HDFS for
// append, truncate, extended attributes and snapshots, and checks each
// result through the Go client. It needs HADOOP_HOME with bin/hdfs and
// the HDFS client jar (share/hadoop/hdfs/hadoop-hdfs-client-*.jar) and
// skips without them.
func TestHDFSShellAppendTruncateXAttrsSnapshots(t *testing.T) {
	home := os.Getenv("HADOOP_HOME")
	jars, _ := filepath.Glob(filepath.Join(home, "share/hadoop/hdfs/hadoop-hdfs-client-*.jar"))
	if home == "" || len(jars) == 0 {
		t.Skip("needs HADOOP_HOME with bin/hdfs and the HDFS client jar")
	}
	user := "root"
	if u := os.Getenv("USER"); u != "" {
		user = u
	}
	c := start(t, func(o *minihdfs.Options) {
		o.Superuser = user
		o.Users = []string{user}
		o.LeaseCheckInterval = 100 * time.Millisecond
	})
	// dfs.replication 1 (in hdfs-site.xml: hdfs-default.xml is loaded after
	// core-site.xml), as on any single-DataNode HDFS: with the client's
	// default 3 the second -appendToFile fails on a real 3.1.3 NameNode
	// too, since DataStreamer.handleDatanodeReplacement
	// (ReplaceDatanodeOnFailure DEFAULT: replication >= 3, fewer nodes,
	// isAppend) asks getAdditionalDatanode for a node that does not exist
	// ("Failed to replace a bad datanode on the existing pipeline").
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "core-site.xml"), []byte(`<configuration>
<property><name>fs.defaultFS</name><value>`+c.URI()+`</value></property>
</configuration>`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(conf, "hdfs-site.xml"), []byte(`<configuration>
<property><name>dfs.replication</name><value>1</value></property>
</configuration>`), 0o644))
	ctx := testutil.Context(t, 3*time.Minute)
	hdfsCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(home, "bin/hdfs"), args...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HADOOP_CONF_DIR=") && !strings.HasPrefix(kv, "HADOOP_USER_NAME=") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "HADOOP_CONF_DIR="+conf, "HADOOP_USER_NAME="+user)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "hdfs %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	cl := client(t, c, user)
	dir := "/user/" + user
	local := filepath.Join(t.TempDir(), "part")
	part := randomBytes(t, 3<<20+77)
	require.NoError(t, os.WriteFile(local, part, 0o644))

	// append: to a new file, then twice more (partial last block each time).
	hdfsCmd("dfs", "-appendToFile", local, dir+"/a")
	hdfsCmd("dfs", "-appendToFile", local, dir+"/a")
	hdfsCmd("dfs", "-appendToFile", local, dir+"/a")
	got, err := cl.ReadFile(dir + "/a")
	require.NoError(t, err)
	require.Equal(t, append(append(append([]byte{}, part...), part...), part...), got)

	// truncate: mid-block, waiting for the recovery.
	hdfsCmd("dfs", "-truncate", "-w", "1234567", dir+"/a")
	got, err = cl.ReadFile(dir + "/a")
	require.NoError(t, err)
	require.Equal(t, part[:1234567], got)

	// xattrs.
	hdfsCmd("dfs", "-setfattr", "-n", "user.k", "-v", "v1", dir+"/a")
	hdfsCmd("dfs", "-setfattr", "-n", "trusted.t", "-v", "tv", dir+"/a")
	out := hdfsCmd("dfs", "-getfattr", "-d", dir+"/a")
	require.Contains(t, out, `user.k="v1"`)
	require.Contains(t, out, `trusted.t="tv"`)
	xs, err := cl.ListXAttrs(dir + "/a")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.k": "v1", "trusted.t": "tv"}, xs)
	hdfsCmd("dfs", "-setfattr", "-x", "user.k", dir+"/a")
	xs, err = cl.ListXAttrs(dir + "/a")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"trusted.t": "tv"}, xs)

	// snapshots.
	hdfsCmd("dfsadmin", "-allowSnapshot", dir)
	hdfsCmd("dfs", "-createSnapshot", dir, "s1")
	hdfsCmd("dfs", "-rm", "-skipTrash", dir+"/a")
	copied := filepath.Join(t.TempDir(), "copied")
	hdfsCmd("dfs", "-copyToLocal", dir+"/.snapshot/s1/a", copied)
	got, err = os.ReadFile(copied)
	require.NoError(t, err)
	require.Equal(t, part[:1234567], got)
	out = hdfsCmd("lsSnapshottableDir")
	require.Contains(t, out, dir)
	hdfsCmd("dfs", "-renameSnapshot", dir, "s1", "s2")
	hdfsCmd("dfs", "-deleteSnapshot", dir, "s2")
	hdfsCmd("dfsadmin", "-disallowSnapshot", dir)
	_, err = cl.Stat(dir + "/.snapshot")
	require.Error(t, err)
}
