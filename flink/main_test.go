package flink_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = testutil.RemoveBuilds()
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
	return filepath.Dir(filepath.Dir(testutil.Build(t, "./testdata/fakejava", "bin/java")))
}
