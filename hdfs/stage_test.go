package hdfs_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	colinmarc "github.com/colinmarc/hdfs/v2"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

func startHDFS(t testing.TB) *minihdfs.Cluster {
	t.Helper()
	c, err := minihdfs.Start(testutil.Context(t, 60*time.Second), minihdfs.Options{
		Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"},
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func newStager(t testing.TB, c *minihdfs.Cluster, mod func(*hdfs.Options)) *hdfs.Stager {
	t.Helper()
	o := hdfs.Options{FS: c.URI(), User: "alice", Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)}
	if mod != nil {
		mod(&o)
	}
	s, err := hdfs.New(testutil.Context(t, 60*time.Second), o)
	require.NoError(t, err)
	return s
}

// inspect is an unmodified colinmarc client for checking what staging left.
func inspect(t testing.TB, c *minihdfs.Cluster) *colinmarc.Client {
	t.Helper()
	cl, err := colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: "root"})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// writeTree creates files under dir (name → size) with random content and
// returns their contents.
func writeTree(t testing.TB, dir string, files map[string]int) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, size := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		b := make([]byte, size)
		_, err := rand.Read(b)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		out[name] = b
	}
	return out
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// progressLog records progress reports, checking they never overlap. The
// callbacks run on the stager's goroutines, so they assert, not require.
type progressLog struct {
	mu       sync.Mutex
	finished map[string]hdfs.Progress
	last     hdfs.Progress
}

func (l *progressLog) fn(t *testing.T) func(hdfs.Progress) {
	return func(p hdfs.Progress) {
		if !l.mu.TryLock() {
			t.Error("progress callbacks overlap")
			l.mu.Lock()
		}
		defer l.mu.Unlock()
		if l.finished == nil {
			l.finished = map[string]hdfs.Progress{}
		}
		if p.Finished {
			_, dup := l.finished[p.Name]
			assert.False(t, dup, "%s finished twice", p.Name)
			l.finished[p.Name] = p
		}
		assert.LessOrEqual(t, p.Bytes, p.Size)
		assert.LessOrEqual(t, p.TotalBytes, p.TotalSize)
		l.last = p
	}
}

func TestStageFilesDirectoriesArchives(t *testing.T) {
	c := startHDFS(t)
	s := newStager(t, c, nil)
	cl := inspect(t, c)
	local := t.TempDir()
	content := writeTree(t, local, map[string]int{
		"app.jar":          3<<20 + 17, // three blocks and a bit
		"conf/core.xml":    1000,
		"conf/sub/log.cfg": 10,
		"lib/a.so":         70000,
		"lib/b.so":         0,
	})
	var plog progressLog
	ctx := testutil.Context(t, 60*time.Second)
	staged, err := s.Stage(ctx, "application_1700000000000_0001", []hdfs.Source{
		{Path: filepath.Join(local, "app.jar")},
		{Path: filepath.Join(local, "conf"), Name: "etc"},
		{Path: filepath.Join(local, "lib"), Archive: true},
	}, plog.fn(t))
	require.NoError(t, err)

	names := make([]string, len(staged))
	for i, f := range staged {
		names[i] = f.Name
	}
	require.Equal(t, []string{"app.jar", "etc/core.xml", "etc/sub/log.cfg", "lib"}, names)
	require.Len(t, plog.finished, 4)
	require.Equal(t, plog.last.TotalSize, plog.last.TotalBytes, "everything was uploaded")

	for _, f := range staged {
		fi, err := cl.Stat(f.Path)
		require.NoError(t, err, f.Name)
		require.Equal(t, fi.Size(), f.Size, f.Name)
		require.Equal(t, fi.ModTime().UnixMilli(), f.ModTime, "%s: ModTime is what the NameNode reports", f.Name)
		require.Equal(t, hdfs.CacheModTime, f.ModTime)
		require.Equal(t, os.FileMode(0o600), fi.Mode(), f.Name)
		require.Equal(t, hdfs.VisibilityPrivate, f.Visibility)
		require.Equal(t, "/user/alice/.spindle/cache/"+f.SHA256+map[bool]string{true: ".zip"}[f.Type == hdfs.TypeArchive], f.Path)
		require.Equal(t, "hdfs://"+c.NameNodeAddr()+f.Path, f.URL)
		require.Equal(t, f.Size, f.Uploaded)
		if f.Type == hdfs.TypeFile {
			got, err := cl.ReadFile(f.Path)
			require.NoError(t, err)
			rel := map[string]string{"app.jar": "app.jar", "etc/core.xml": "conf/core.xml", "etc/sub/log.cfg": "conf/sub/log.cfg"}[f.Name]
			require.Equal(t, content[rel], got, f.Name)
			require.Equal(t, sum(got), f.SHA256)
		}
	}
	// The directory archive unpacks to the directory.
	arch := staged[3]
	require.Equal(t, hdfs.TypeArchive, arch.Type)
	raw, err := cl.ReadFile(arch.Path)
	require.NoError(t, err)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)
	got := map[string]int{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		rc.Close()
		got[zf.Name] = len(b)
		if !zf.FileInfo().IsDir() {
			require.Equal(t, content["lib/"+zf.Name], b)
		}
	}
	require.Equal(t, map[string]int{"a.so": 70000, "b.so": 0}, got)

	// The staging directory exists, private, and holds no leftovers.
	fi, err := cl.Stat(s.StagingDir("application_1700000000000_0001"))
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|0o700, fi.Mode())
	left, err := cl.ReadDir(s.StagingDir("application_1700000000000_0001"))
	require.NoError(t, err)
	require.Empty(t, left)

	require.NoError(t, s.Delete(ctx, "application_1700000000000_0001"))
	_, err = cl.Stat(s.StagingDir("application_1700000000000_0001"))
	require.True(t, errors.Is(err, os.ErrNotExist))
	require.NoError(t, s.Delete(ctx, "application_1700000000000_0001"), "deleting twice is fine")
}

func TestStageSecondSubmissionUploadsNothing(t *testing.T) {
	c := startHDFS(t)
	s := newStager(t, c, nil)
	local := t.TempDir()
	writeTree(t, local, map[string]int{"a.jar": 2<<20 + 5, "b.jar": 300000, "conf/x.xml": 1234})
	srcs := []hdfs.Source{{Path: filepath.Join(local, "a.jar")}, {Path: filepath.Join(local, "b.jar")}, {Path: filepath.Join(local, "conf")}}
	ctx := testutil.Context(t, 60*time.Second)
	total := int64(2<<20 + 5 + 300000 + 1234)

	before := c.DataNodeBytesReceived()
	first, err := s.Stage(ctx, "application_1_0001", srcs, nil)
	require.NoError(t, err)
	require.Equal(t, total, c.DataNodeBytesReceived()-before, "first submission uploads everything")

	before = c.DataNodeBytesReceived()
	var plog progressLog
	second, err := s.Stage(ctx, "application_1_0002", srcs, plog.fn(t))
	require.NoError(t, err)
	require.Zero(t, c.DataNodeBytesReceived()-before, "second submission uploads 0 bytes")
	require.Len(t, second, len(first))
	for i := range first {
		require.Equal(t, first[i].Path, second[i].Path)
		require.Equal(t, first[i].ModTime, second[i].ModTime)
		require.Zero(t, second[i].Uploaded)
		require.True(t, plog.finished[second[i].Name].Cached)
	}
	require.Zero(t, plog.last.TotalBytes)

	// Change one file: only it goes up again.
	b := make([]byte, 300000)
	_, _ = rand.Read(b)
	require.NoError(t, os.WriteFile(filepath.Join(local, "b.jar"), b, 0o644))
	before = c.DataNodeBytesReceived()
	third, err := s.Stage(ctx, "application_1_0003", srcs, nil)
	require.NoError(t, err)
	require.Equal(t, int64(len(b)), c.DataNodeBytesReceived()-before, "only the changed file is uploaded")
	require.Equal(t, sum(b), third[1].SHA256)
	require.NotEqual(t, first[1].Path, third[1].Path)
	require.Equal(t, first[0].Path, third[0].Path)
}

func TestStageDuplicateContentUploadedOnce(t *testing.T) {
	c := startHDFS(t)
	s := newStager(t, c, nil)
	local := t.TempDir()
	data := writeTree(t, local, map[string]int{"one": 500000})
	require.NoError(t, os.WriteFile(filepath.Join(local, "two"), data["one"], 0o644))
	before := c.DataNodeBytesReceived()
	staged, err := s.Stage(testutil.Context(t, 60*time.Second), "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "one")}, {Path: filepath.Join(local, "two")}}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(500000), c.DataNodeBytesReceived()-before)
	require.Equal(t, staged[0].Path, staged[1].Path)
	require.Equal(t, []string{"one", "two"}, []string{staged[0].Name, staged[1].Name})
}

func TestStageWithoutCache(t *testing.T) {
	c := startHDFS(t)
	s := newStager(t, c, func(o *hdfs.Options) { o.NoCache = true; o.Replication = 1 })
	cl := inspect(t, c)
	local := t.TempDir()
	content := writeTree(t, local, map[string]int{"a.jar": 1500000, "d/x": 10})
	ctx := testutil.Context(t, 60*time.Second)
	staged, err := s.Stage(ctx, "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "a.jar")}, {Path: filepath.Join(local, "d")}}, nil)
	require.NoError(t, err)
	require.Len(t, staged, 2)
	require.Equal(t, "/user/alice/.spindle/application_1_0001/a.jar", staged[0].Path)
	require.Equal(t, "/user/alice/.spindle/application_1_0001/d/x", staged[1].Path)
	for _, f := range staged {
		require.Equal(t, hdfs.VisibilityApplication, f.Visibility)
		require.Empty(t, f.SHA256)
		fi, err := cl.Stat(f.Path)
		require.NoError(t, err)
		require.Equal(t, fi.ModTime().UnixMilli(), f.ModTime, "exact ms from getFileInfo")
		require.Equal(t, os.FileMode(0o600), fi.Mode())
	}
	got, err := cl.ReadFile(staged[0].Path)
	require.NoError(t, err)
	require.Equal(t, content["a.jar"], got)
	// A resubmission uploads again.
	before := c.DataNodeBytesReceived()
	_, err = s.Stage(ctx, "application_1_0002", []hdfs.Source{{Path: filepath.Join(local, "a.jar")}}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1500000), c.DataNodeBytesReceived()-before)
}

// requireNoLeftovers checks that a failed Stage left no staging directory
// and nothing but complete entries in the cache.
func requireNoLeftovers(t *testing.T, cl *colinmarc.Client, s *hdfs.Stager, appID string, complete map[string]int64) {
	t.Helper()
	_, err := cl.Stat(s.StagingDir(appID))
	require.True(t, errors.Is(err, os.ErrNotExist), "staging directory left behind: %v", err)
	entries, err := cl.ReadDir(s.CacheDir())
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	for _, e := range entries {
		size, ok := complete[e.Name()]
		require.True(t, ok, "unexpected cache entry %s", e.Name())
		require.Equal(t, size, e.Size())
	}
}

func TestStageInterruptedDataNodeDies(t *testing.T) {
	for _, noCache := range []bool{false, true} {
		t.Run(map[bool]string{false: "cache", true: "nocache"}[noCache], func(t *testing.T) {
			c := startHDFS(t)
			s := newStager(t, c, func(o *hdfs.Options) { o.NoCache = noCache; o.Parallelism = 2 })
			cl := inspect(t, c)
			local := t.TempDir()
			writeTree(t, local, map[string]int{"small": 1000, "big1": 3 << 20, "big2": 3 << 20})
			ctx := testutil.Context(t, 60*time.Second)
			// The small file goes up first on its own; then the DataNode dies
			// 1.5 MiB into the big ones.
			done, err := s.Stage(ctx, "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "small")}}, nil)
			require.NoError(t, err)
			c.StopDataNodeAfter(c.DataNodeBytesReceived() + 1536<<10)
			_, err = s.Stage(ctx, "application_1_0002", []hdfs.Source{
				{Path: filepath.Join(local, "small")}, {Path: filepath.Join(local, "big1")}, {Path: filepath.Join(local, "big2")},
			}, nil)
			require.Error(t, err)
			t.Logf("stage failed as expected: %v", err)
			require.False(t, c.DataNodeAlive())
			complete := map[string]int64{}
			if !noCache {
				complete[filepath.Base(done[0].Path)] = 1000
			}
			requireNoLeftovers(t, cl, s, "application_1_0002", complete)
		})
	}
}

func TestStageCancelled(t *testing.T) {
	c := startHDFS(t)
	s := newStager(t, c, nil)
	cl := inspect(t, c)
	local := t.TempDir()
	writeTree(t, local, map[string]int{"big1": 4 << 20, "big2": 4 << 20})
	ctx, cancel := context.WithCancel(testutil.Context(t, 60*time.Second))
	defer cancel()
	var once sync.Once
	_, err := s.Stage(ctx, "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "big1")}, {Path: filepath.Join(local, "big2")}},
		func(p hdfs.Progress) {
			if p.TotalBytes > 2<<20 {
				once.Do(cancel)
			}
		})
	require.ErrorIs(t, err, context.Canceled)
	t.Logf("stage failed as expected: %v", err)
	require.True(t, c.DataNodeAlive())
	requireNoLeftovers(t, cl, s, "application_1_0001", nil)

	// The cluster is fine afterwards and the same files stage normally.
	staged, err := s.Stage(testutil.Context(t, 60*time.Second), "application_1_0002", []hdfs.Source{{Path: filepath.Join(local, "big1")}}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(4<<20), staged[0].Size)
}

func TestPublicCache(t *testing.T) {
	c := startHDFS(t)
	local := t.TempDir()
	content := writeTree(t, local, map[string]int{"flink-dist.jar": 1 << 20, "private.jar": 1000})
	ctx := testutil.Context(t, 60*time.Second)

	admin := newStager(t, c, func(o *hdfs.Options) { o.User = "root"; o.PublicCacheDir = "/public/spindle" })
	pub, err := admin.Publish(ctx, filepath.Join(local, "flink-dist.jar"), false)
	require.NoError(t, err)
	require.Equal(t, "/public/spindle/"+sum(content["flink-dist.jar"]), pub.Path)
	require.Equal(t, hdfs.VisibilityPublic, pub.Visibility)
	fi, err := inspect(t, c).Stat(pub.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode())
	again, err := admin.Publish(ctx, filepath.Join(local, "flink-dist.jar"), false)
	require.NoError(t, err)
	require.Zero(t, again.Uploaded)

	s := newStager(t, c, func(o *hdfs.Options) { o.PublicCacheDir = "/public/spindle" })
	before := c.DataNodeBytesReceived()
	staged, err := s.Stage(ctx, "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "flink-dist.jar")}, {Path: filepath.Join(local, "private.jar")}}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1000), c.DataNodeBytesReceived()-before, "the public jar is not uploaded")
	require.Equal(t, hdfs.VisibilityPublic, staged[0].Visibility)
	require.Equal(t, pub.Path, staged[0].Path)
	require.Equal(t, pub.ModTime, staged[0].ModTime)
	require.Equal(t, hdfs.VisibilityPrivate, staged[1].Visibility)

	// A public cache that others cannot enter is not used.
	require.NoError(t, inspect(t, c).Chmod("/public", 0o700))
	staged, err = s.Stage(ctx, "application_1_0002", []hdfs.Source{{Path: filepath.Join(local, "flink-dist.jar")}}, nil)
	require.NoError(t, err)
	require.Equal(t, hdfs.VisibilityPrivate, staged[0].Visibility)
}

func TestStageHANameservice(t *testing.T) {
	c := startHDFS(t)
	cfg := conf.New(conf.Options{})
	src := conf.Source{File: "hdfs-site.xml"}
	cfg.Set("fs.defaultFS", "hdfs://ns1", src)
	cfg.Set("dfs.nameservices", "ns1", src)
	cfg.Set("dfs.ha.namenodes.ns1", "nn1,nn2", src)
	cfg.Set("dfs.namenode.rpc-address.ns1.nn1", "127.0.0.1:1", src) // down
	cfg.Set("dfs.namenode.rpc-address.ns1.nn2", c.NameNodeAddr(), src)
	s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{Conf: cfg, User: "alice"})
	require.NoError(t, err)
	local := t.TempDir()
	writeTree(t, local, map[string]int{"x": 100})
	staged, err := s.Stage(testutil.Context(t, 60*time.Second), "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "x")}}, nil)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(staged[0].URL, "hdfs://ns1/user/alice/.spindle/cache/"), staged[0].URL)
	st, err := s.Stat(testutil.Context(t, 60*time.Second), staged[0].Path)
	require.NoError(t, err)
	require.Equal(t, staged[0].ModTime, st.ModTime)
	require.Equal(t, int64(100), st.Size)
}

func TestFileStaging(t *testing.T) {
	home := t.TempDir()
	s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{FS: "file:///", Home: home, PublicCacheDir: filepath.Join(home, "public")})
	require.NoError(t, err)
	local := t.TempDir()
	content := writeTree(t, local, map[string]int{"a.jar": 100000, "d/y": 5})
	ctx := testutil.Context(t, 60*time.Second)
	srcs := []hdfs.Source{{Path: filepath.Join(local, "a.jar")}, {Path: filepath.Join(local, "d")}, {Path: filepath.Join(local, "d"), Name: "dz", Archive: true}}
	staged, err := s.Stage(ctx, "application_1_0001", srcs, nil)
	require.NoError(t, err)
	require.Len(t, staged, 3)
	for _, f := range staged {
		fi, err := os.Stat(f.Path)
		require.NoError(t, err)
		require.Equal(t, fi.ModTime().UnixMilli(), f.ModTime)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		require.Equal(t, "file://"+f.Path, f.URL)
		require.True(t, strings.HasPrefix(f.Path, filepath.Join(home, ".spindle", "cache")+"/"))
	}
	got, err := os.ReadFile(staged[0].Path)
	require.NoError(t, err)
	require.Equal(t, content["a.jar"], got)
	fi, err := os.Stat(s.StagingDir("application_1_0001"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	again, err := s.Stage(ctx, "application_1_0002", srcs, nil)
	require.NoError(t, err)
	for i := range again {
		require.Zero(t, again[i].Uploaded)
		require.Equal(t, staged[i].Path, again[i].Path, "the zip of an unchanged directory is the same")
	}
	require.NoError(t, s.Delete(ctx, "application_1_0001"))
	_, err = os.Stat(s.StagingDir("application_1_0001"))
	require.True(t, errors.Is(err, os.ErrNotExist))

	// Cancelled: nothing left behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Stage(cctx, "application_1_0003", []hdfs.Source{{Path: filepath.Join(local, "a.jar"), NoCache: true}}, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(s.StagingDir("application_1_0003"))
	require.True(t, errors.Is(err, os.ErrNotExist))
	names, err := os.ReadDir(filepath.Join(home, ".spindle", "cache"))
	require.NoError(t, err)
	var list []string
	for _, n := range names {
		list = append(list, n.Name())
	}
	sort.Strings(list)
	require.Len(t, list, 3)
}

func TestOptionsAndArguments(t *testing.T) {
	ctx := testutil.Context(t, 60*time.Second)
	for name, o := range map[string]hdfs.Options{
		"no fs":         {},
		"bad scheme":    {FS: "s3a://bucket"},
		"no user":       {FS: "hdfs://127.0.0.1:1"},
		"relative home": {FS: "file:///", Home: "rel"},
		"public rel":    {FS: "file:///", Home: "/tmp", PublicCacheDir: "x"},
	} {
		_, err := hdfs.New(ctx, o)
		require.ErrorIs(t, err, hdfs.ErrInvalid, name)
	}
	cfg := conf.New(conf.Options{})
	cfg.Set("hadoop.security.authentication", "kerberos", conf.Source{})
	_, err := hdfs.New(ctx, hdfs.Options{FS: "hdfs://127.0.0.1:1", User: "a", Conf: cfg})
	require.ErrorIs(t, err, hdfs.ErrAuthentication)
	require.ErrorIs(t, err, hdfs.ErrNoKerberosCredentials)
	require.ErrorContains(t, err, "no Kerberos credentials: hadoop.security.authentication is kerberos but there is no Kerberos login")
	require.NotContains(t, err.Error(), "--keytab", "flags are cmd's advice")

	s, err := hdfs.New(ctx, hdfs.Options{FS: "file:///", Home: t.TempDir()})
	require.NoError(t, err)
	local := t.TempDir()
	writeTree(t, local, map[string]int{"a": 1, "b": 1})
	for _, app := range []string{"", "cache", "..", "a/b"} {
		_, err := s.Stage(ctx, app, nil, nil)
		require.ErrorIs(t, err, hdfs.ErrInvalid, app)
	}
	for _, srcs := range [][]hdfs.Source{
		{{Path: filepath.Join(local, "a"), Name: "../x"}},
		{{Path: filepath.Join(local, "a"), Name: "x"}, {Path: filepath.Join(local, "b"), Name: "x"}},
		{{Path: filepath.Join(local, "a"), Archive: true}},
	} {
		_, err := s.Stage(ctx, "application_1_0001", srcs, nil)
		require.ErrorIs(t, err, hdfs.ErrInvalid)
	}
}

// StagedApps lists what `spindle gc` must check; the cache is not an app.
func TestStagedApps(t *testing.T) {
	c := startHDFS(t)
	s := newStager(t, c, nil)
	ctx := testutil.Context(t, 60*time.Second)
	apps, err := s.StagedApps(ctx)
	require.NoError(t, err)
	require.Empty(t, apps, "no .spindle directory yet")
	local := t.TempDir()
	writeTree(t, local, map[string]int{"a.jar": 1000})
	for _, id := range []string{"application_1_0002", "application_1_0001"} {
		_, err := s.Stage(ctx, id, []hdfs.Source{{Path: filepath.Join(local, "a.jar")}}, nil)
		require.NoError(t, err)
	}
	apps, err = s.StagedApps(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"application_1_0001", "application_1_0002"}, apps)
	require.NoError(t, s.Delete(ctx, "application_1_0001"))
	apps, err = s.StagedApps(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"application_1_0002"}, apps)
}

// ReadFile returns what Stage put into the staging directory, on HDFS and
// on file://, and says os.ErrNotExist once the directory is deleted.
func TestReadFile(t *testing.T) {
	c := startHDFS(t)
	fileStager, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{FS: "file:///", Home: t.TempDir()})
	require.NoError(t, err)
	for name, s := range map[string]*hdfs.Stager{"hdfs": newStager(t, c, nil), "file": fileStager} {
		t.Run(name, func(t *testing.T) {
			ctx := testutil.Context(t, 60*time.Second)
			local := t.TempDir()
			content := writeTree(t, local, map[string]int{"stop-secret": 64, "big": 1<<20 + 1})
			_, err := s.Stage(ctx, "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "stop-secret"), NoCache: true}, {Path: filepath.Join(local, "big"), NoCache: true}}, nil)
			require.NoError(t, err)
			b, err := s.ReadFile(ctx, "application_1_0001", "stop-secret")
			require.NoError(t, err)
			require.Equal(t, content["stop-secret"], b)
			_, err = s.ReadFile(ctx, "application_1_0001", "big")
			require.ErrorIs(t, err, hdfs.ErrInvalid, "a file past the limit is refused")
			_, err = s.ReadFile(ctx, "application_1_0001", "../x")
			require.ErrorIs(t, err, hdfs.ErrInvalid)
			require.NoError(t, s.Delete(ctx, "application_1_0001"))
			_, err = s.ReadFile(ctx, "application_1_0001", "stop-secret")
			require.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}
