package krbtest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// recTB records Fatal and Skip instead of ending the test.
type recTB struct {
	testing.TB
	fatal, skipped string
}

func (r *recTB) Helper()           {}
func (r *recTB) Name() string      { return "TestNeedsAKDC/privacy" }
func (r *recTB) Fatal(args ...any) { r.fatal = fmt.Sprint(args...) }
func (r *recTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }

func TestSkipIsRecorded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "skips")
	t.Setenv(RequireEnv, "")
	t.Setenv(SkipsEnv, file)
	for range 2 {
		r := &recTB{TB: t}
		skip(r, "krb5kdc not installed", "apt-get install krb5-kdc")
		require.Equal(t, "krb5kdc not installed (apt-get install krb5-kdc)", r.skipped)
		require.Empty(t, r.fatal)
	}
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Equal(t, "krb5kdc not installed (apt-get install krb5-kdc)\tTestNeedsAKDC/privacy\n"+
		"krb5kdc not installed (apt-get install krb5-kdc)\tTestNeedsAKDC/privacy\n", string(b))
}

func TestSkipFailsWhenAKDCIsRequired(t *testing.T) {
	file := filepath.Join(t.TempDir(), "skips")
	t.Setenv(RequireEnv, "1")
	t.Setenv(SkipsEnv, file)
	r := &recTB{TB: t}
	skip(r, "krb5kdc not installed", "apt-get install krb5-kdc")
	require.Equal(t, "krb5kdc not installed (apt-get install krb5-kdc); SPINDLE_REQUIRE_KDC=1 makes this a failure", r.fatal)
	require.NoFileExists(t, file, "a failure is no skip")
}
