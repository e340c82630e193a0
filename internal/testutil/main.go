package testutil

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Main is every package's TestMain: it runs the tests, removes the
// binaries Build made, closes http.DefaultClient's idle connections (the
// tests' keep-alive connections to servers they have stopped) and fails
// the run if a goroutine leaked (goleak, with opts). It does not return.
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	_ = RemoveBuilds()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
