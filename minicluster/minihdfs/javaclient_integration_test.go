//go:build integration

package minihdfs_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// The stock Java client against the mini HDFS. They need HADOOP_HOME (a
// complete distribution: bin/hdfs with the hadoop-hdfs-client jar) and
// JAVA_HOME, and skip without them.

func hdfsCmd(t *testing.T, c *minihdfs.Cluster, args ...string) (string, error) {
	t.Helper()
	home := os.Getenv("HADOOP_HOME")
	if home == "" || os.Getenv("JAVA_HOME") == "" {
		t.Skip("needs HADOOP_HOME and JAVA_HOME")
	}
	full := append([]string{"dfs", "-D", "fs.defaultFS=" + c.URI()}, args...)
	cmd := exec.Command(filepath.Join(home, "bin", "hdfs"), full...)
	// A conf dir without core-site.xml makes Hadoop 3.1.3's Configuration
	// throw "core-site.xml not found" before -D is read; without
	// log4j.properties its warnings go to stdout, mixed with -checksum's.
	conf := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(conf, "core-site.xml"), []byte(`<configuration>
<property><name>fs.defaultFS</name><value>`+c.URI()+`</value></property>
</configuration>`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(conf, "log4j.properties"), []byte(`log4j.rootLogger=WARN,err
log4j.appender.err=org.apache.log4j.ConsoleAppender
log4j.appender.err.Target=System.err
log4j.appender.err.layout=org.apache.log4j.PatternLayout
log4j.appender.err.layout.ConversionPattern=%d %p %c: %m%n
`), 0o644))
	cmd.Env = append(os.Environ(), "HADOOP_USER_NAME=root", "HADOOP_CONF_DIR="+conf)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		t.Logf("hdfs %v: %s", args, errb.String())
	}
	return out.String(), err
}

// TestChecksumJavaClient: `hdfs dfs -checksum` prints the fixture values,
// in both combine modes.
func TestChecksumJavaClient(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.DataNodes, o.Replication = 2, 2 })
	dir := t.TempDir()
	for _, tc := range checksumCases(t) {
		local := filepath.Join(dir, tc.name)
		path := "/user/root/" + tc.name
		if _, err := os.Stat(local); err != nil {
			require.NoError(t, os.WriteFile(local, fixtureBytes(tc.size, tc.seed), 0o644))
			_, err := hdfsCmd(t, c, "-D", "dfs.blocksize="+itoa(tc.blockSize), "-put", local, path)
			require.NoError(t, err)
		}
		out, err := hdfsCmd(t, c, "-D", "dfs.checksum.combine.mode="+tc.mode, "-checksum", path)
		require.NoError(t, err)
		require.Equal(t, path+"\t"+tc.algorithm+"\t"+tc.hex, strings.TrimSpace(out), tc.name+" "+tc.mode)
	}
}

// TestJavaClientPipelineRecovery: the Java client's own DataStreamer puts
// 64 MiB with replication 2 on 3 DataNodes while one of them dies; the
// put succeeds and the file reads back.
func TestJavaClientPipelineRecovery(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.DataNodes, o.Replication = 3, 2 })
	data := randomBytes(t, 64<<20)
	local := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(local, data, 0o644))
	c.DataNode(0).StopAfter(20 << 20)
	_, err := hdfsCmd(t, c, "-D", "dfs.replication=2", "-D", "dfs.blocksize=33554432", "-put", local, "/user/root/big")
	require.NoError(t, err)
	require.False(t, c.DataNode(0).Alive())
	got, err := client(t, c, "root").ReadFile("/user/root/big")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}
