package minicluster

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestStagedInHDFSLocalizedIntoContainer: local mode with the mini HDFS;
// files staged by package hdfs (one plain file, one directory as a zip
// ARCHIVE) are localized by a NodeManager from hdfs:// into a container
// that reads them; the container's output proves the bytes arrived.
func TestStagedInHDFSLocalizedIntoContainer(t *testing.T) {
	ctx := testutil.Context(t, 90*time.Second)
	l, err := StartLocal(ctx, LocalOptions{Dir: t.TempDir(), HDFS: true, HDFSUsers: []string{"alice"},
		NodeManager: NMOptions{HeartbeatInterval: 20 * time.Millisecond, SigkillDelay: 100 * time.Millisecond},
		Logger:      testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	require.Equal(t, l.HDFS.URI(), l.Config["fs.defaultFS"])
	require.FileExists(t, filepath.Join(l.ConfDir, "hdfs-site.xml"))

	local := t.TempDir()
	data := []byte(strings.Repeat("spindle staged this\n", 50000)) // ~1 MB
	require.NoError(t, os.WriteFile(filepath.Join(local, "words.txt"), data, 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(local, "conf"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(local, "conf", "app.properties"), []byte("answer=42\n"), 0o644))

	st, err := hdfs.New(ctx, hdfs.Options{FS: l.HDFS.URI(), User: "alice"})
	require.NoError(t, err)
	staged, err := st.Stage(ctx, "application_1_0001", []hdfs.Source{
		{Path: filepath.Join(local, "words.txt")},
		{Path: filepath.Join(local, "conf"), Archive: true},
	}, nil)
	require.NoError(t, err)
	nn, err := yarn.ParseNodeID(l.HDFS.NameNodeAddr()) // host:port
	require.NoError(t, err)
	res := map[string]yarn.LocalResource{}
	for _, f := range staged {
		lr := yarn.LocalResource{URL: yarn.URL{Scheme: "hdfs", Host: nn.Host, Port: nn.Port, File: f.Path},
			Size: f.Size, Timestamp: f.ModTime, Type: yarn.File, Visibility: yarn.Application}
		if f.Type == hdfs.TypeArchive {
			lr.Type = yarn.Archive
		}
		res[f.Name] = lr
	}
	require.Contains(t, res, "words.txt")
	require.Contains(t, res, "conf")

	_, amrm, nmc := registered(t, ctx, l.Cluster, nil)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	ct := acc.Allocated[0]
	r, err := nmc.StartContainers(ctx, []yarn.StartRequest{{Container: ct, Launch: yarn.ContainerLaunchContext{
		Commands:       []string{"sha256sum words.txt | cut -d' ' -f1 1><LOG_DIR>/stdout; cat conf/app.properties 1>><LOG_DIR>/stdout"},
		LocalResources: res,
	}}})
	require.NoError(t, err)
	require.NoError(t, r.Err())
	done := allocateUntil(t, ctx, amrm, "completion", func(a *yarn.AllocateResult) bool { return completedOf(a, acc.Allocated) == 1 })
	require.Equal(t, yarn.ExitSuccess, completedByID(done)[ct.ID].ExitStatus, completedByID(done)[ct.ID].Diagnostics)

	var nm *NodeManager
	for _, n := range l.Cluster.NodeManagers() {
		if n.ID() == ct.Node {
			nm = n
		}
	}
	require.NotNil(t, nm)
	out, err := os.ReadFile(filepath.Join(nm.LogDir(), ct.ID.Attempt.App.String(), ct.ID.String(), "stdout"))
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, hex.EncodeToString(sum[:])+"\nanswer=42\n", string(out))
}
