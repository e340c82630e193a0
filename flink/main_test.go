package flink_test

import (
	"path/filepath"
	"testing"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// fakeJavaHome builds testdata/fakejava once per test binary into a
// JAVA_HOME of its own: <home>/bin/java.
func fakeJavaHome(t testing.TB) string {
	t.Helper()
	return filepath.Dir(filepath.Dir(testutil.Build(t, "./testdata/fakejava", "bin/java")))
}
