package flink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The configuration file names of GlobalConfiguration: Flink 1.x reads
// conf/flink-conf.yaml (flat "key: value" lines); 1.19 added
// conf/config.yaml (standard YAML), which 1.19 and 1.20 read only when
// there is no flink-conf.yaml, and which is the only one 2.x reads.
const (
	LegacyConfFile   = "flink-conf.yaml"
	StandardConfFile = "config.yaml"
)

// Directories of a distribution (ConfigConstants DEFAULT_FLINK_*_DIR and
// flink-dist's assembly); a container's working directory mirrors them.
const (
	libDir     = "lib"
	pluginsDir = "plugins"
	confDir    = "conf"
	usrlibDir  = "usrlib"
)

// Distribution is an unpacked Flink distribution that Detect recognised.
type Distribution struct {
	// Home is its absolute path.
	Home string
	// Version is the release, from the flink-dist jar's name.
	Version Version
	// DistJar is the flink-dist jar's path inside lib/, slash-separated
	// (e.g. "flink-dist-1.17.2.jar").
	DistJar string
	// ConfFile is the configuration file this release reads, in conf/:
	// LegacyConfFile or StandardConfFile.
	ConfFile string
	// Usrlib reports a usrlib/ directory (user jars, shipped as is).
	Usrlib bool
}

// standard reports whether the configuration is standard YAML.
func (d Distribution) standard() bool { return d.ConfFile == StandardConfFile }

// fixHome is the advice every layout error ends with.
const fixHome = "point --flink-home (or FLINK_HOME) at an unpacked Flink distribution (the directory holding bin/, conf/ and lib/)"

// Detect recognises the Flink distribution at home: bin/, conf/, lib/
// with exactly one flink-dist*.jar, plugins/ and opt/ must be there
// (usrlib/ may be), the flink-dist jar's name must carry a supported
// release, and conf/ must hold the configuration file that release reads.
// It returns every problem it finds, joined, each naming the fix.
func Detect(home string) (Distribution, error) {
	if home == "" {
		return Distribution{}, errors.New("no Flink distribution: " + fixHome)
	}
	abs, err := filepath.Abs(home)
	if err != nil {
		return Distribution{}, fmt.Errorf("--flink-home %s: %w", home, err)
	}
	d := Distribution{Home: abs}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d, fmt.Errorf("--flink-home %s: no such directory: %s", home, fixHome)
	case err != nil:
		return d, fmt.Errorf("--flink-home %s: %w", home, err)
	case !fi.IsDir():
		return d, fmt.Errorf("--flink-home %s: not a directory: %s", home, fixHome)
	}
	var errs []error
	problem := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("--flink-home %s: %s", home, fmt.Sprintf(format, args...)))
	}
	for _, dir := range []string{"bin", confDir, libDir, pluginsDir, "opt"} {
		if fi, err := os.Stat(filepath.Join(abs, dir)); err != nil || !fi.IsDir() {
			problem("no %s/ directory: %s", dir, fixHome)
		}
	}
	if fi, err := os.Stat(filepath.Join(abs, usrlibDir)); err == nil {
		if !fi.IsDir() {
			problem("usrlib is not a directory: remove it, or make it the directory of jars every job loads")
		}
		d.Usrlib = fi.IsDir()
	}
	jars, err := distJars(filepath.Join(abs, libDir))
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		problem("reading lib/: %v", err)
	case len(jars) == 0:
		if err == nil { // a missing lib/ is reported above
			problem("no lib/flink-dist*.jar: %s", fixHome)
		}
	case len(jars) > 1:
		problem("several flink-dist jars in lib/ (%s): keep one (Flink's own scripts refuse this too)", strings.Join(jars, ", "))
	default:
		d.DistJar = jars[0]
		v, err := versionFromDistJar(filepath.Base(jars[0]))
		if err == nil {
			err = v.supported()
		}
		if err != nil {
			problem("lib/%s: %v", jars[0], err)
			break
		}
		d.Version = v
		conf, err := confFileFor(abs, v)
		if err != nil {
			problem("%v", err)
		}
		d.ConfFile = conf
	}
	return d, errors.Join(errs...)
}

// distJars lists lib's flink-dist jars, recursively (config.sh's
// constructFlinkClassPath runs find on lib/), slash-separated and sorted.
func distJars(lib string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(lib, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if isDistJar(e.Name()) {
			rel, _ := filepath.Rel(lib, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// confFileFor picks the configuration file release v reads from conf/, as
// GlobalConfiguration.loadConfiguration does.
func confFileFor(home string, v Version) (string, error) {
	exists := func(name string) bool {
		fi, err := os.Stat(filepath.Join(home, confDir, name))
		return err == nil && fi.Mode().IsRegular()
	}
	legacy, standard := exists(LegacyConfFile), exists(StandardConfFile)
	switch {
	case v.legacyYAML() && legacy: // 1.x: flink-conf.yaml first (1.19 and 1.20 prefer it too)
		return LegacyConfFile, nil
	case v.standardYAML() && standard:
		return StandardConfFile, nil
	case !v.standardYAML():
		hint := ""
		if standard {
			hint = " (conf/config.yaml is read from Flink 1.19 on)"
		}
		return "", fmt.Errorf("no conf/%s: Flink %s reads its configuration from conf/%s%s: restore it from the distribution", LegacyConfFile, v, LegacyConfFile, hint)
	case !v.legacyYAML() && legacy:
		return "", fmt.Errorf("no conf/%s: Flink %s reads only conf/%s, not conf/%s: convert it with the distribution's bin/migrate-config-file.sh", StandardConfFile, v, StandardConfFile, LegacyConfFile)
	}
	return "", fmt.Errorf("no conf/%s: Flink %s reads its configuration from conf/%s: restore it from the distribution", StandardConfFile, v, StandardConfFile)
}
