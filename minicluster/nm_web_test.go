package minicluster

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/logs"
)

// logApp submits an AM that writes a line to stdout, waits for the file
// "go" in its working directory, writes more and exits. It returns the
// AM container, its node and working directory.
func logApp(t *testing.T, ctx context.Context, c *Cluster) (yarn.ApplicationID, yarn.ContainerID, *NodeManager, string) {
	t.Helper()
	rmc := rmClient(t, c)
	// No quotes: the NodeManager puts the command inside bash -c "…" as it is.
	script := "{ echo first line; while [ ! -e go ]; do sleep 0.02; done; echo second line; echo oops 1>&2; }"
	id := submit(t, ctx, rmc, yarn.AppSpec{MaxAttempts: 1, AM: yarn.ContainerLaunchContext{
		Commands: []string{script + " 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"}}})
	am := yarn.ContainerID{Attempt: yarn.AttemptID{App: id, Attempt: 1}, ID: 1}
	nm, info := waitRunning(t, ctx, c, am)
	return id, am, nm, info.WorkDir
}

// TestNodeManagerLogWebServicesAndAggregation: a running container's
// logs through the NodeManager web services (listing, whole file, the
// last bytes, the running flag), then, once the application has ended,
// the node's aggregated file holds exactly what the container wrote and
// the local logs are gone.
func TestNodeManagerLogWebServicesAndAggregation(t *testing.T) {
	remote := filepath.Join(t.TempDir(), "app-logs")
	c := newTestCluster(t, 1, func(o *Options) {
		o.NodeManager.Web = true
		o.NodeManager.LogAggregation = &LogAggregationOptions{RemoteDir: remote}
	})
	ctx := testutil.Context(t, 30*time.Second)
	app, am, nm, work := logApp(t, ctx, c)
	web := &logs.NMWebClient{}
	addr := nm.HTTPAddress()
	require.NotEqual(t, "localhost:8042", addr, "a served port, not the 8042 placeholder")

	var chunk logs.Chunk
	eventually(t, ctx, "stdout with its first line", func() bool {
		var err error
		chunk, err = web.ReadLog(ctx, addr, am.String(), "stdout", 0)
		if errors.Is(err, logs.ErrContainerNotFound) {
			return false // the shell has not opened it yet
		}
		require.NoError(t, err)
		return string(chunk.Data) == "first line\n"
	})
	require.True(t, chunk.Running)
	files, err := web.ListLogs(ctx, addr, am.String())
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		require.Equal(t, logs.LogAggregationLocal, f.AggregationType)
	}
	require.Subset(t, names, []string{"stdout", "stderr", "launch_container.sh"})
	tail, err := web.ReadLog(ctx, addr, am.String(), "stdout", -5)
	require.NoError(t, err)
	require.Equal(t, "line\n", string(tail.Data))
	require.Equal(t, int64(6), tail.Start)
	require.Equal(t, int64(11), tail.Length)
	_, err = web.ReadLog(ctx, addr, am.String(), "nope", 0)
	require.ErrorIs(t, err, logs.ErrContainerNotFound)

	want := map[string][]byte{}
	require.NoError(t, os.WriteFile(filepath.Join(work, "go"), nil, 0o644))
	waitState(t, ctx, rmClient(t, c), app, yarn.StateFailed) // the AM never registered
	dir := LogAggregationOptions{RemoteDir: remote}.AppDir(testUser, app)
	file := filepath.Join(dir, logs.NodeFileName(nm.ID().String()))
	eventually(t, ctx, "the aggregated file", func() bool { _, err := os.Stat(file); return err == nil })
	require.Contains(t, dir, "bucket-logs-tfile/0001/"+app.String(), "Hadoop 3.3's bucketed layout")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	agg, err := logs.ReadAggregated(bytes.NewReader(b), int64(len(b)), 1<<20)
	require.NoError(t, err)
	require.Equal(t, testUser, agg.Owner)
	cl := agg.Container(am.String())
	require.NotNil(t, cl)
	for _, f := range cl.Files {
		want[f.Name] = f.Data
	}
	require.Equal(t, "first line\nsecond line\n", string(want["stdout"]))
	require.Equal(t, "oops\n", string(want["stderr"]))
	// The local logs go once uploaded (AppLogAggregatorImpl hands them to
	// the DeletionService after the upload): soon after the file appears.
	eventually(t, ctx, "local logs removed after aggregation", func() bool {
		_, err := os.Stat(filepath.Join(nm.LogDir(), app.String()))
		return errors.Is(err, os.ErrNotExist)
	})
	_, err = web.ReadLog(ctx, addr, am.String(), "stdout", 0)
	require.ErrorIs(t, err, logs.ErrContainerNotFound)
	// The web UI page the AM links to.
	resp, err := http.Get(logs.WebUILogURL("", addr, am.String(), testUser))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestNodeManagerLogWebSPNEGO: with WebSecurity the node's log web
// services refuse a request without SPNEGO (ErrUnauthorized) and serve one
// authenticated by a real MIT KDC's ticket; a keytab without the HTTP
// key is refused too.
func TestNodeManagerLogWebSPNEGO(t *testing.T) {
	kdc := krbtest.Start(t)
	httpKT, aliceKT := kdc.AddPrincipal(t, "HTTP/127.0.0.1"), kdc.AddPrincipal(t, "alice")
	c := newTestCluster(t, 1, func(o *Options) {
		o.NodeHosts = []string{"127.0.0.1"}
		o.NodeManager.Web = true
		o.NodeManager.WebSecurity = &NMWebSecurity{Keytab: krbtest.LoadKeytab(t, httpKT), Principal: "HTTP/127.0.0.1"}
	})
	ctx := testutil.Context(t, 30*time.Second)
	_, am, nm, _ := logApp(t, ctx, c)
	addr := nm.HTTPAddress()

	_, err := (&logs.NMWebClient{}).ListLogs(ctx, addr, am.String())
	require.ErrorIs(t, err, logs.ErrUnauthorized)
	require.Contains(t, err.Error(), "it needs a Kerberos (SPNEGO) login")

	alice := kdc.KeytabClient(t, "alice", aliceKT, kdc.Config(t))
	web := &logs.NMWebClient{Kerberos: alice}
	eventually(t, ctx, "stdout through SPNEGO", func() bool {
		ch, err := web.ReadLog(ctx, addr, am.String(), "stdout", 0)
		if errors.Is(err, logs.ErrContainerNotFound) {
			return false
		}
		require.NoError(t, err)
		return string(ch.Data) == "first line\n"
	})
	files, err := web.ListLogs(ctx, addr, am.String())
	require.NoError(t, err)
	require.NotEmpty(t, files)

	// A ticket for another service than the node's HTTP principal.
	other := &logs.NMWebClient{Kerberos: alice, SPN: "alice"}
	_, err = other.ListLogs(ctx, addr, am.String())
	require.ErrorIs(t, err, logs.ErrUnauthorized)
}

// TestNodeManagerLogWebEndedContainer: the logs of a container that no
// longer runs stay readable while its log dir is on the node, without
// the running marker, and ?size reads only the bytes asked for.
func TestNodeManagerLogWebEndedContainer(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) { o.NodeManager.Web = true })
	ctx := testutil.Context(t, 30*time.Second)
	nm := c.NodeManager(0)
	id := yarn.ContainerID{Attempt: yarn.AttemptID{App: yarn.ApplicationID{ClusterTimestamp: 1, ID: 7}, Attempt: 1}, ID: 2}
	dir := filepath.Join(nm.LogDir(), id.Attempt.App.String(), id.String())
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stdout"), []byte("first line\nsecond line\n"), 0o644))
	web := &logs.NMWebClient{}
	files, err := web.ListLogs(ctx, nm.HTTPAddress(), id.String())
	require.NoError(t, err)
	require.Len(t, files, 1)
	require.Equal(t, "stdout", files[0].Name)
	ch, err := web.ReadLog(ctx, nm.HTTPAddress(), id.String(), "stdout", 0)
	require.NoError(t, err)
	require.Equal(t, "first line\nsecond line\n", string(ch.Data))
	require.False(t, ch.Running)
	tail, err := web.ReadLog(ctx, nm.HTTPAddress(), id.String(), "stdout", -5)
	require.NoError(t, err)
	require.Equal(t, "line\n", string(tail.Data))
	require.Equal(t, int64(18), tail.Start)
	require.Equal(t, int64(23), tail.Length)
	head, err := web.ReadLog(ctx, nm.HTTPAddress(), id.String(), "stdout", 5)
	require.NoError(t, err)
	require.Equal(t, "first", string(head.Data))
	require.Equal(t, int64(0), head.Start)
}
