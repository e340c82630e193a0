package am_test

import (
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = testutil.RemoveBuilds()
	http.DefaultClient.CloseIdleConnections() // the tests' keep-alive connections to AMs and JobManagers
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
