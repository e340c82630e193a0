package hdfs_test

import (
	"archive/zip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// symlinkTree is a shipped directory with a file, a link to it, a
// subdirectory and a link to that, all inside the tree.
func symlinkTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tree")
	writeTree(t, dir, map[string]int{"a": 10, "sub/x": 20})
	require.NoError(t, os.Symlink("a", filepath.Join(dir, "alink")))
	require.NoError(t, os.Symlink("sub", filepath.Join(dir, "sublink")))
	return dir
}

// Links inside a shipped directory are staged as their targets, the same
// files in the staged directory, its archive and WalkTree (which the dry
// run lists).
func TestStageSymlinksInsideTree(t *testing.T) {
	home := t.TempDir()
	s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{FS: "file:///", Home: home})
	require.NoError(t, err)
	dir := symlinkTree(t)
	want := []string{"a", "alink", "sub/x", "sublink/x"}

	ents, err := hdfs.WalkTree(dir, true)
	require.NoError(t, err)
	var walked []string
	for _, e := range ents {
		if e.Info.Mode().IsRegular() {
			walked = append(walked, e.Rel)
		}
	}
	require.Equal(t, want, walked)

	ctx := testutil.Context(t, 60*time.Second)
	staged, err := s.Stage(ctx, "application_1_0001", []hdfs.Source{{Path: dir, ConfineLinks: true}, {Path: dir, Name: "tz", Archive: true, ConfineLinks: true}}, nil)
	require.NoError(t, err)
	var names []string
	for _, f := range staged[:len(staged)-1] {
		names = append(names, strings.TrimPrefix(f.Name, "tree/"))
	}
	require.Equal(t, want, names)
	zr, err := zip.OpenReader(staged[len(staged)-1].Path)
	require.NoError(t, err)
	defer zr.Close()
	var zipped []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			zipped = append(zipped, f.Name)
		}
	}
	sort.Strings(zipped)
	require.Equal(t, want, zipped)
}

// Links out of the tree are refused unless followed; dangling links and
// links to a directory containing them are refused always.
func TestStageSymlinksRefused(t *testing.T) {
	home := t.TempDir()
	s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{FS: "file:///", Home: home})
	require.NoError(t, err)
	outside := t.TempDir()
	writeTree(t, outside, map[string]int{"f": 3, "d/g": 4})
	for _, tc := range []struct {
		name, target string
		followOK     bool
		files        []string // shipped when followed
		errText      string
	}{
		{"outfile", filepath.Join(outside, "f"), true, []string{"outfile"}, "points outside the shipped directory"},
		{"outdir", filepath.Join(outside, "d"), true, []string{"outdir/g"}, "points outside the shipped directory"},
		{"dangling", filepath.Join(outside, "nothing"), false, nil, "is dangling"},
		{"loop", ".", false, nil, "loops back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := symlinkTree(t)
			link := filepath.Join(dir, tc.name)
			require.NoError(t, os.Symlink(tc.target, link))
			ctx := testutil.Context(t, 60*time.Second)
			for _, archive := range []bool{false, true} {
				_, err := s.Stage(ctx, "application_1_0002", []hdfs.Source{{Path: dir, Archive: archive, ConfineLinks: true}}, nil)
				require.ErrorIs(t, err, hdfs.ErrInvalid)
				require.ErrorContains(t, err, link)
				require.ErrorContains(t, err, tc.errText)
				_, err = os.Stat(s.StagingDir("application_1_0002"))
				require.ErrorIs(t, err, os.ErrNotExist)
			}
			staged, err := s.Stage(ctx, "application_1_0003", []hdfs.Source{{Path: dir}}, nil)
			if !tc.followOK {
				var le *hdfs.LinkError
				require.ErrorAs(t, err, &le)
				require.Equal(t, link, le.Link)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, f := range staged {
				names = append(names, strings.TrimPrefix(f.Name, "tree/"))
			}
			require.Subset(t, names, tc.files)
		})
	}
}
