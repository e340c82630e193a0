package hdfs_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// BenchmarkStage100MB stages a 100 MB file set (ten 10 MB files) into the
// mini HDFS (128 MiB blocks, on the local disk) and reports throughput:
//
//   - nocache: every file uploaded into the staging directory each time;
//   - cache-cold: through the cache with an empty cache (hash, upload to a
//     temporary name, rename into the cache);
//   - cache-warm: a resubmission of unchanged files: hashing and one
//     getFileInfo per file, 0 bytes uploaded.
func BenchmarkStage100MB(b *testing.B) {
	const files, size = 10, 10 << 20
	local := b.TempDir()
	sizes := map[string]int{}
	for i := 0; i < files; i++ {
		sizes[fmt.Sprintf("lib-%d.jar", i)] = size
	}
	writeTree(b, local, sizes)
	srcs := make([]hdfs.Source, 0, files)
	for name := range sizes {
		srcs = append(srcs, hdfs.Source{Path: filepath.Join(local, name)})
	}
	for _, mode := range []string{"nocache", "cache-cold", "cache-warm"} {
		b.Run(mode, func(b *testing.B) {
			ctx := testutil.Context(b, 10*time.Minute)
			c, err := minihdfs.Start(ctx, minihdfs.Options{Dir: b.TempDir(), Superuser: "root", Users: []string{"alice"}})
			require.NoError(b, err)
			defer c.Close()
			s, err := hdfs.New(ctx, hdfs.Options{FS: c.URI(), User: "alice", NoCache: mode == "nocache"})
			require.NoError(b, err)
			if mode == "cache-warm" {
				_, err := s.Stage(ctx, "application_0_0000", srcs, nil)
				require.NoError(b, err)
			}
			cl := inspect(b, c)
			b.SetBytes(files * size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				app := fmt.Sprintf("application_1_%04d", i)
				before := c.DataNodeBytesReceived()
				_, err := s.Stage(ctx, app, srcs, nil)
				require.NoError(b, err)
				b.StopTimer()
				uploaded := c.DataNodeBytesReceived() - before
				require.NoError(b, s.Delete(ctx, app))
				if mode == "cache-cold" {
					require.NoError(b, cl.RemoveAll(s.CacheDir()))
				}
				b.ReportMetric(float64(uploaded)/(1<<20), "MB-uploaded/op")
				b.StartTimer()
			}
		})
	}
}
