package minihdfs_test

import (
	"net"
	"os"
	"testing"
	"time"

	colinmarc "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// TestCloseReleasesEverything: after Close no port stays bound and no file
// descriptor stays open (goroutines are checked by goleak in TestMain), and
// Close is idempotent; the block files stay in the caller's directory.
func TestCloseReleasesEverything(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	dir := t.TempDir()
	before := fds()
	ctx := testutil.Context(t, 20*time.Second)
	c, err := minihdfs.Start(ctx, minihdfs.Options{Dir: dir, Superuser: "root", Users: []string{"root"}})
	require.NoError(t, err)
	cl, err := colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: "root"})
	require.NoError(t, err)
	require.NoError(t, writeFile(cl, "/user/root/f", randomBytes(t, 100000), 0o644))
	got, err := cl.ReadFile("/user/root/f")
	require.NoError(t, err)
	require.Len(t, got, 100000)
	// A connection left open by a client does not keep Close waiting.
	hang, err := net.Dial("tcp", c.DataNodeAddr())
	require.NoError(t, err)
	defer hang.Close()
	require.NoError(t, cl.Close())
	nnAddr, dnAddr := c.NameNodeAddr(), c.DataNodeAddr()
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	hang.Close()
	for _, addr := range []string{nnAddr, dnAddr} {
		l, err := net.Listen("tcp", addr)
		require.NoError(t, err, "%s still bound", addr)
		l.Close()
	}
	require.Eventually(t, func() bool { return fds() <= before }, 5*time.Second, 10*time.Millisecond, "file descriptors left open")
	ents, err := os.ReadDir(dir + "/datanode/" + c.BlockPoolID() + "/finalized")
	require.NoError(t, err)
	require.Len(t, ents, 1, "block files stay with the caller")
}

func TestStartValidates(t *testing.T) {
	ctx := testutil.Context(t, 5*time.Second)
	_, err := minihdfs.Start(ctx, minihdfs.Options{})
	require.ErrorContains(t, err, "Dir is required")
	_, err = minihdfs.Start(ctx, minihdfs.Options{Dir: t.TempDir(), Replication: 1000})
	require.Error(t, err)
}
