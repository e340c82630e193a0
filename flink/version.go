package flink

import (
	"fmt"
	"regexp"
	"strconv"
)

// Version is a Flink release, as the flink-dist jar's file name states it
// (flink-dist-1.17.2.jar, flink-dist_2.12-1.14.6.jar, flink-dist-2.1-SNAPSHOT.jar).
type Version struct {
	Major, Minor, Patch int
	// Raw is the version as the file name spells it, e.g. "1.17.2" or
	// "2.1-SNAPSHOT".
	Raw string
}

// String returns Raw.
func (v Version) String() string { return v.Raw }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// The Flink releases this package knows how to run. Below 1.11 Flink had
// no JobManager memory model (FLIP-116), which the JVM flags are computed
// from; 3.x does not exist yet.
var (
	minVersion = Version{Major: 1, Minor: 11, Raw: "1.11"}
	maxMajor   = 2
)

// Behaviour that changed between releases, each with the release that
// introduced it (see the facts in doc.go).
func (v Version) ignoreUnrecognizedVMOptions() bool { return v.AtLeast(1, 18) } // config.sh, FLINK-32290
func (v Version) defaultJavaOpts() bool             { return v.AtLeast(1, 19) } // env.java.default-opts.*, FLINK-33221
func (v Version) securityManagerAllow() bool        { return v.AtLeast(1, 19) } // -Djava.security.manager=allow on JDK 18+, FLINK-33309
func (v Version) rootLogLevel() bool                { return v.AtLeast(1, 19) } // ROOT_LOG_LEVEL from env.log.level, FLINK-33166
func (v Version) standardYAML() bool                { return v.AtLeast(1, 19) } // conf/config.yaml, FLIP-366
func (v Version) legacyYAML() bool                  { return v.Major < 2 }      // conf/flink-conf.yaml, removed in 2.0
func (v Version) legacyMemoryOptions() bool         { return v.Major < 2 }      // taskmanager.heap.size & co., FLINK-33750
func (v Version) executionModeArg() bool            { return v.Major < 2 }      // --executionMode cluster, FLINK-36355

// distJarName matches lib/flink-dist*.jar as config.sh's
// constructFlinkClassPath does (.*/flink-dist[^/]*.jar) and captures the
// version: an optional Scala suffix (_2.11, _2.12) and the release.
var distJarName = regexp.MustCompile(`^flink-dist(?:_[0-9.]+)?-(([0-9]+)\.([0-9]+)(?:\.([0-9]+))?[0-9A-Za-z.\-+_]*)\.jar$`)

// isDistJar reports whether name is a flink-dist jar by config.sh's rule.
func isDistJar(name string) bool {
	return len(name) >= len("flink-dist.jar") && name[:len("flink-dist")] == "flink-dist" && name[len(name)-4:] == ".jar"
}

// versionFromDistJar reads the release from a flink-dist jar's name.
func versionFromDistJar(name string) (Version, error) {
	m := distJarName.FindStringSubmatch(name)
	if m == nil {
		return Version{}, fmt.Errorf("cannot read a Flink version from %s: want flink-dist-<major>.<minor>[.<patch>].jar, e.g. flink-dist-1.17.2.jar", name)
	}
	v := Version{Raw: m[1]}
	v.Major, _ = strconv.Atoi(m[2])
	v.Minor, _ = strconv.Atoi(m[3])
	if m[4] != "" {
		v.Patch, _ = strconv.Atoi(m[4])
	}
	return v, nil
}

// supported says whether v can be run, and if not why.
func (v Version) supported() error {
	if !v.AtLeast(minVersion.Major, minVersion.Minor) || v.Major > maxMajor {
		return fmt.Errorf("unsupported Flink version %s: Spindle runs Flink %s to %d.x (the releases with Flink's current memory model)", v, minVersion, maxMajor)
	}
	return nil
}
