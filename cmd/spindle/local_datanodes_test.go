package main

import (
	"bytes"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	colinmarc "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// `local up --datanodes 3`: the mini HDFS runs three DataNodes (its
// capacity is three nodes'), hdfs-site.xml says dfs.replication 3, and a
// file written with three replicas reads back. Out-of-range counts and
// --datanodes without the mini HDFS are usage errors.
func TestLocalUpDataNodes(t *testing.T) {
	for _, args := range [][]string{{"--datanodes", "0"}, {"--datanodes", "65"}, {"--datanodes", "2", "--no-hdfs"}} {
		code, _, errOut := runCLI(t, map[string]string{}, append([]string{"local", "up", "--dir", t.TempDir()}, args...)...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errOut)
		require.Contains(t, errOut, "--datanodes", args)
	}

	dir := filepath.Join(t.TempDir(), "local")
	out, errb, stop := localUp(t, map[string]string{"HADOOP_USER_NAME": testUser}, "--dir", dir, "--web-port", "0", "--datanodes", "3")
	testutil.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 60*time.Second, 20*time.Millisecond,
		"no ready line; stderr: %s", errb.String())
	cf, err := conf.Load(filepath.Join(dir, "conf"), conf.Options{})
	require.NoError(t, err)
	repl, err := cf.Get("dfs.replication")
	require.NoError(t, err)
	require.Equal(t, "3", repl)
	fs, err := cf.Get("fs.defaultFS")
	require.NoError(t, err)

	cl, err := colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{strings.TrimPrefix(fs, "hdfs://")}, User: testUser})
	require.NoError(t, err)
	defer cl.Close()
	st, err := cl.StatFs()
	require.NoError(t, err)
	require.Equal(t, uint64(3*64<<30), st.Capacity, "three DataNodes of 64 GiB")
	data := make([]byte, 3<<20)
	_, err = rand.Read(data)
	require.NoError(t, err)
	w, err := cl.CreateFile("/user/"+testUser+"/r3", 3, 1<<20, 0o644)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err := cl.ReadFile("/user/" + testUser + "/r3")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
	require.Equal(t, 0, stop(), errb.String())
}
