package conf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLoadOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, HDFSSite, siteXML("k", "hdfs"))
	writeFile(t, dir, YARNSite, siteXML("k", "yarn", "locked", "yarn"))
	writeFile(t, dir, CoreSite, "<configuration>\n"+
		"<property><name>k</name><value>core</value></property>\n"+
		"<property><name>core.only</name><value>1</value></property>\n"+
		"<property><name>locked</name><value>core</value><final>true</final></property>\n"+
		"</configuration>\n")

	c, err := Load(dir, Options{})
	require.NoError(t, err)
	require.Equal(t, "yarn", mustGet(t, c, "k"))
	require.Equal(t, "1", mustGet(t, c, "core.only"))
	require.Equal(t, "core", mustGet(t, c, "locked"))
	src, _ := c.SourceOf("k")
	require.Equal(t, Source{File: filepath.Join(dir, YARNSite), Line: 3}, src)
}

func TestLoadSkipsMissingOptionalFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, YARNSite, siteXML(KeyRMAddress, "rm:8032"))
	c, err := Load(dir, Options{})
	require.NoError(t, err)
	require.Equal(t, []string{KeyRMAddress}, c.Keys())

	empty := t.TempDir()
	c, err = Load(empty, Options{})
	require.NoError(t, err)
	require.Zero(t, c.Len())
}

func TestLoadDirsSearchPath(t *testing.T) {
	hadoopDir, yarnDir := t.TempDir(), t.TempDir()
	writeFile(t, hadoopDir, CoreSite, siteXML("from", "hadoop-core"))
	writeFile(t, hadoopDir, YARNSite, siteXML("y", "hadoop-yarn"))
	writeFile(t, yarnDir, YARNSite, siteXML("y", "yarn-yarn", "only.in.yarn.dir", "1"))
	writeFile(t, yarnDir, HDFSSite, siteXML("h", "yarn-hdfs"))

	cases := []struct {
		name string
		dirs []string
		want map[string]string
	}{
		{
			name: "HADOOP_CONF_DIR first",
			dirs: []string{hadoopDir, yarnDir},
			// Each file comes from the first directory holding it, so
			// yarnDir's yarn-site.xml is never read.
			want: map[string]string{"from": "hadoop-core", "y": "hadoop-yarn", "h": "yarn-hdfs", "only.in.yarn.dir": ""},
		},
		{
			name: "YARN_CONF_DIR first",
			dirs: []string{yarnDir, hadoopDir},
			want: map[string]string{"from": "hadoop-core", "y": "yarn-yarn", "h": "yarn-hdfs", "only.in.yarn.dir": "1"},
		},
		{
			name: "unset entries ignored",
			dirs: []string{"", hadoopDir, ""},
			want: map[string]string{"from": "hadoop-core", "y": "hadoop-yarn", "h": "", "only.in.yarn.dir": ""},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadDirs(tc.dirs, Options{})
			require.NoError(t, err)
			for k, v := range tc.want {
				require.Equal(t, v, mustGet(t, c, k), k)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, YARNSite, "<configuration>\n<property>\n<name>a</name>\n")
	file := writeFile(t, t.TempDir(), "plain", "x")
	missingDir := filepath.Join(dir, "nope")

	cases := []struct {
		name string
		load func() (*Configuration, error)
		want string
		kind error
	}{
		{
			name: "bad yarn-site names file and line",
			load: func() (*Configuration, error) { return Load(dir, Options{}) },
			want: "conf: " + bad + ":4: unexpected EOF in <property>",
			kind: ErrSyntax,
		},
		{
			name: "missing directory",
			load: func() (*Configuration, error) { return LoadDirs([]string{missingDir}, Options{}) },
			want: "conf: " + missingDir + ": no such file or directory",
			kind: ErrNotFound,
		},
		{
			name: "directory is a file",
			load: func() (*Configuration, error) { return Load(file, Options{}) },
			want: "conf: " + file + ": not a directory",
			kind: ErrNotFound,
		},
		{
			name: "explicit missing file",
			load: func() (*Configuration, error) {
				ok := writeFile(t, t.TempDir(), "ok.xml", siteXML("a", "1"))
				return LoadFiles([]string{ok, filepath.Join(dir, "missing-site.xml")}, Options{})
			},
			want: "conf: " + filepath.Join(dir, "missing-site.xml") + ": no such file or directory",
			kind: ErrNotFound,
		},
		{
			name: "explicit file is a directory",
			load: func() (*Configuration, error) { return LoadFiles([]string{dir}, Options{}) },
			want: "conf: " + dir + ": is a directory",
			kind: ErrNotFound,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.load()
			require.Nil(t, c)
			require.ErrorIs(t, err, tc.kind)
			require.Equal(t, tc.want, err.Error())
			var pe *ParseError
			require.True(t, errors.As(err, &pe))
		})
	}
}

func TestLoadFilesOrderAndEnv(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.xml", siteXML("k", "a", "home", "${env.HOME}"))
	b := writeFile(t, dir, "b.xml", siteXML("k", "b"))
	c, err := LoadFiles([]string{a, b}, Options{Env: fakeEnv(map[string]string{"HOME": "/h"})})
	require.NoError(t, err)
	require.Equal(t, "b", mustGet(t, c, "k"))
	require.Equal(t, "/h", mustGet(t, c, "home"))
}
