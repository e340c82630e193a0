package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// builds are the binaries Build made in this test binary, in one
// temporary directory that RemoveBuilds removes.
var builds struct {
	mu   sync.Mutex
	dir  string
	byID map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the main package pkg (an import path, or a directory
// relative to the test's working directory, as go build takes it) once
// per test binary and returns the path of the binary: out (a slash-
// separated relative path such as "spindle" or "bin/java") inside a
// directory of its own. Later calls with the same pkg and out return the
// same path without building again. A failed build fails every test that
// asks for it (t.Fatal, never t.Skip), with go build's output.
//
// The binaries live in one temporary directory: the package's TestMain
// calls RemoveBuilds after the tests have run.
func Build(t testing.TB, pkg, out string) string {
	t.Helper()
	builds.mu.Lock()
	if builds.byID == nil {
		builds.byID = map[string]*build{}
	}
	id := pkg + "\x00" + out
	b, ok := builds.byID[id]
	if !ok {
		b = &build{}
		builds.byID[id] = b
	}
	n := len(builds.byID)
	builds.mu.Unlock()
	b.once.Do(func() {
		dir, err := buildDir()
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, strconv.Itoa(n), filepath.FromSlash(out))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build -o %s %s: %v\n%s", out, pkg, err, o)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func buildDir() (string, error) {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "spindle-testbin-")
		if err != nil {
			return "", fmt.Errorf("testutil: a directory for test binaries: %w", err)
		}
		builds.dir = dir
	}
	return builds.dir, nil
}

// RemoveBuilds removes every binary Build made; TestMain calls it after
// m.Run. Build may be called again afterwards and builds afresh.
func RemoveBuilds() error {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	dir := builds.dir
	builds.dir, builds.byID = "", nil
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}
