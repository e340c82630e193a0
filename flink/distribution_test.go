package flink_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/flink"
)

const (
	home117 = "testdata/flink-1.17.2"
	home200 = "testdata/flink-2.0.0"
)

// copyDist copies a fake distribution to a temporary directory, to be
// broken by a test.
func copyDist(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fi, _ := d.Info()
		return os.WriteFile(to, b, fi.Mode().Perm())
	}))
	return dst
}

func TestDetectFakeDistributions(t *testing.T) {
	d, err := flink.Detect(home117)
	require.NoError(t, err)
	abs, _ := filepath.Abs(home117)
	require.Equal(t, flink.Distribution{Home: abs, Version: flink.Version{Major: 1, Minor: 17, Patch: 2, Raw: "1.17.2"},
		DistJar: "flink-dist-1.17.2.jar", ConfFile: "flink-conf.yaml"}, d)

	d, err = flink.Detect(home200)
	require.NoError(t, err)
	require.Equal(t, flink.Version{Major: 2, Raw: "2.0.0"}, d.Version)
	require.Equal(t, "config.yaml", d.ConfFile)
	require.Equal(t, "flink-dist-2.0.0.jar", d.DistJar)
}

// The rules come from flink-dist/src/main/flink-bin/bin/config.sh
// (constructFlinkClassPath: exactly one lib/flink-dist*.jar, found by
// find) and flink-core .../configuration/GlobalConfiguration.java (1.x
// reads conf/flink-conf.yaml; 1.19 and 1.20 prefer it to conf/config.yaml;
// 2.x reads only conf/config.yaml).
func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		src    string
		mutate func(t *testing.T, home string)
		want   string // the conf file, when it is recognised
		errs   []string
	}{
		{name: "no flink-dist jar", src: home117, mutate: func(t *testing.T, h string) {
			require.NoError(t, os.Remove(filepath.Join(h, "lib/flink-dist-1.17.2.jar")))
		}, errs: []string{"no lib/flink-dist*.jar: point --flink-home (or FLINK_HOME) at an unpacked Flink distribution"}},
		{name: "two flink-dist jars", src: home117, mutate: func(t *testing.T, h string) {
			write(t, filepath.Join(h, "lib/sub/flink-dist-1.18.0.jar"), "x")
		}, errs: []string{"several flink-dist jars in lib/ (flink-dist-1.17.2.jar, sub/flink-dist-1.18.0.jar): keep one"}},
		{name: "unknown version", src: home117, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "lib/flink-dist-1.17.2.jar"), filepath.Join(h, "lib/flink-dist-latest.jar"))
		}, errs: []string{"lib/flink-dist-latest.jar: cannot read a Flink version from flink-dist-latest.jar: want flink-dist-<major>.<minor>[.<patch>].jar"}},
		{name: "too old", src: home117, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "lib/flink-dist-1.17.2.jar"), filepath.Join(h, "lib/flink-dist_2.11-1.9.3.jar"))
		}, errs: []string{"unsupported Flink version 1.9.3: Spindle runs Flink 1.11 to 2.x"}},
		{name: "too new", src: home200, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "lib/flink-dist-2.0.0.jar"), filepath.Join(h, "lib/flink-dist-3.0-SNAPSHOT.jar"))
		}, errs: []string{"unsupported Flink version 3.0-SNAPSHOT"}},
		{name: "scala-suffixed 1.14", src: home117, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "lib/flink-dist-1.17.2.jar"), filepath.Join(h, "lib/flink-dist_2.12-1.14.6.jar"))
		}, want: "flink-conf.yaml"},
		{name: "1.17 with only config.yaml", src: home117, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "conf/flink-conf.yaml"), filepath.Join(h, "conf/config.yaml"))
		}, errs: []string{"no conf/flink-conf.yaml: Flink 1.17.2 reads its configuration from conf/flink-conf.yaml (conf/config.yaml is read from Flink 1.19 on)"}},
		{name: "1.19 prefers flink-conf.yaml", src: home117, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "lib/flink-dist-1.17.2.jar"), filepath.Join(h, "lib/flink-dist-1.19.1.jar"))
			write(t, filepath.Join(h, "conf/config.yaml"), "a: b\n")
		}, want: "flink-conf.yaml"},
		{name: "1.19 with config.yaml", src: home200, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "lib/flink-dist-2.0.0.jar"), filepath.Join(h, "lib/flink-dist-1.19.1.jar"))
		}, want: "config.yaml"},
		{name: "2.0 with only flink-conf.yaml", src: home200, mutate: func(t *testing.T, h string) {
			rename(t, filepath.Join(h, "conf/config.yaml"), filepath.Join(h, "conf/flink-conf.yaml"))
		}, errs: []string{"no conf/config.yaml: Flink 2.0.0 reads only conf/config.yaml, not conf/flink-conf.yaml: convert it with the distribution's bin/migrate-config-file.sh"}},
		{name: "2.0 ignores flink-conf.yaml", src: home200, mutate: func(t *testing.T, h string) {
			write(t, filepath.Join(h, "conf/flink-conf.yaml"), "a: b\n")
		}, want: "config.yaml"},
		{name: "not a distribution", src: home117, mutate: func(t *testing.T, h string) {
			for _, d := range []string{"bin", "plugins", "opt"} {
				require.NoError(t, os.RemoveAll(filepath.Join(h, d)))
			}
		}, errs: []string{"no bin/ directory", "no plugins/ directory", "no opt/ directory: point --flink-home"}},
		{name: "no lib", src: home117, mutate: func(t *testing.T, h string) {
			require.NoError(t, os.RemoveAll(filepath.Join(h, "lib")))
		}, errs: []string{"no lib/ directory"}},
		{name: "usrlib not a directory", src: home117, mutate: func(t *testing.T, h string) {
			write(t, filepath.Join(h, "usrlib"), "x")
		}, errs: []string{"usrlib is not a directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := copyDist(t, tc.src)
			tc.mutate(t, h)
			d, err := flink.Detect(h)
			if tc.want != "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, d.ConfFile)
				return
			}
			require.Error(t, err)
			for _, e := range tc.errs {
				require.Contains(t, err.Error(), "--flink-home "+h+": ")
				require.Contains(t, err.Error(), e)
			}
			require.Len(t, strings.Split(err.Error(), "\n"), len(tc.errs), "one line per problem: %v", err)
		})
	}
	for _, home := range []string{"", filepath.Join(t.TempDir(), "nope"), "testdata/flink-1.17.2/conf/flink-conf.yaml"} {
		_, err := flink.Detect(home)
		require.ErrorContains(t, err, "point --flink-home (or FLINK_HOME) at an unpacked Flink distribution", home)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.Rename(from, to))
}
