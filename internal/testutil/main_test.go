package testutil_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = testutil.RemoveBuilds()
		os.Exit(code)
	}))
}
