package minicluster

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = testutil.RemoveBuilds()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
