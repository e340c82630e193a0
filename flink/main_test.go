package flink_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

var fake struct {
	dir  string // removed by TestMain
	once sync.Once
	home string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "spindle-flink-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fake.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakeJavaHome builds testdata/fakejava once per test binary into a
// JAVA_HOME of its own: <home>/bin/java.
func fakeJavaHome(t testing.TB) string {
	t.Helper()
	fake.once.Do(func() {
		fake.home = filepath.Join(fake.dir, "jdk")
		out, err := exec.Command("go", "build", "-o", filepath.Join(fake.home, "bin", "java"), "./testdata/fakejava").CombinedOutput()
		if err != nil {
			fake.err = fmt.Errorf("go build ./testdata/fakejava: %v\n%s", err, out)
		}
	})
	if fake.err != nil {
		t.Fatal(fake.err)
	}
	return fake.home
}
