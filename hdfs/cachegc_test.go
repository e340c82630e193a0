package hdfs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// CollectCache removes the cache entries last used longer ago than
// OlderThan, keeps those used since, those a staged application uses
// whatever their age, and those no use record names (recording them now);
// a dry run lists and removes nothing.
func TestCollectCache(t *testing.T) {
	home := t.TempDir()
	ctx := testutil.Context(t, 60*time.Second)
	s, err := hdfs.New(ctx, hdfs.Options{FS: "file:///", Home: home})
	require.NoError(t, err)
	local := t.TempDir()
	writeTree(t, local, map[string]int{"running.jar": 10, "old.jar": 20, "recent.jar": 30})
	stage := func(app, file string) string {
		f, err := s.Stage(ctx, app, []hdfs.Source{{Path: filepath.Join(local, file)}}, nil)
		require.NoError(t, err)
		return f[0].Path
	}
	running, old, recent := stage("application_1_0001", "running.jar"), stage("application_1_0002", "old.jar"), stage("application_1_0003", "recent.jar")
	for _, a := range []string{"application_1_0002", "application_1_0003"} {
		require.NoError(t, s.Delete(ctx, a)) // ended
	}
	unrecorded := filepath.Join(s.CacheDir(), "0123456789abcdef")
	require.NoError(t, os.WriteFile(unrecorded, []byte("from an earlier spindle"), 0o600))
	// Every use of running.jar and old.jar was two days ago.
	records, err := filepath.Glob(filepath.Join(home, ".spindle", hdfs.UsedDir, "*"))
	require.NoError(t, err)
	require.Len(t, records, 3)
	then := time.Now().Add(-48 * time.Hour)
	for _, r := range records {
		if base := filepath.Base(r); base[:len("application_1_0003")] != "application_1_0003" {
			require.NoError(t, os.Chtimes(r, then, then))
		}
	}

	res, err := s.CollectCache(ctx, hdfs.CacheGCOptions{OlderThan: 24 * time.Hour, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, []string{old}, res.Removed)
	require.FileExists(t, old, "a dry run removes nothing")

	res, err = s.CollectCache(ctx, hdfs.CacheGCOptions{OlderThan: 24 * time.Hour})
	require.NoError(t, err)
	require.Equal(t, []string{old}, res.Removed)
	require.Equal(t, hdfs.CacheGC{Removed: []string{old}, Kept: 3, Adopted: 1}, res)
	require.NoFileExists(t, old)
	require.FileExists(t, running, "application_1_0001 is still staged")
	require.FileExists(t, recent, "used a moment ago")
	require.FileExists(t, unrecorded, "no record: kept, recorded now")

	// The unrecorded entry expires OlderThan after it was recorded.
	res, err = s.CollectCache(ctx, hdfs.CacheGCOptions{OlderThan: 24 * time.Hour, Now: time.Now().Add(25 * time.Hour)})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{unrecorded, recent}, res.Removed)
	require.FileExists(t, running)

	_, err = s.CollectCache(ctx, hdfs.CacheGCOptions{})
	require.ErrorIs(t, err, hdfs.ErrInvalid)
}
