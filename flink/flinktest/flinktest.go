// Package flinktest helps tests of the Flink payload: it lays out a
// container's working directory as a NodeManager localizes a plan's files.
package flinktest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/hdfs"
)

// Container links every file of the groups under its resource name in a
// new working directory (a directory staged file by file becomes
// <name>/<path inside it>), as a NodeManager localizes them, and returns
// the directory.
func Container(t testing.TB, groups ...[]hdfs.Source) string {
	t.Helper()
	work := t.TempDir()
	link := func(target, name string) {
		p := filepath.Join(work, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.Symlink(target, p))
	}
	for _, g := range groups {
		for _, s := range g {
			fi, err := os.Stat(s.Path)
			require.NoError(t, err)
			if !fi.IsDir() {
				link(s.Path, s.Name)
				continue
			}
			require.NoError(t, filepath.WalkDir(s.Path, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(s.Path, p)
				link(p, s.Name+"/"+filepath.ToSlash(rel))
				return nil
			}))
		}
	}
	return work
}

// Private writes a plan's private files (PayloadPlan.PrivateFiles) into
// the working directory work, mode 0600, as the NodeManager localizes
// them.
func Private(t testing.TB, work string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(work, name), b, 0o600))
	}
}
