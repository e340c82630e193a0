package yarn

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = testutil.RemoveBuilds() // the integration tests' AM binary
		os.Exit(code)
	}))
}
