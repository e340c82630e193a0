package minihdfs_test

import (
	"crypto/rand"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// start runs a mini HDFS for the test with superuser "root", home
// directories for root and alice, and 1 MiB blocks.
func start(t testing.TB, mod func(*minihdfs.Options)) *minihdfs.Cluster {
	t.Helper()
	opts := minihdfs.Options{
		Dir:       t.TempDir(),
		BlockSize: 1 << 20,
		Superuser: "root",
		Users:     []string{"root", "alice"},
		Groups:    map[string][]string{"alice": {"alice", "staff"}, "bob": {"bob", "staff"}},
		Logger:    zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
	}
	if mod != nil {
		mod(&opts)
	}
	ctx := testutil.Context(t, 10*time.Second)
	c, err := minihdfs.Start(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

// client returns an unmodified colinmarc/hdfs client acting as user.
func client(t testing.TB, c *minihdfs.Cluster, user string) *hdfs.Client {
	t.Helper()
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: user})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}
