package testutil

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Eventually is require.Eventually with cond run on the calling
// goroutine, the test's, so cond may itself call require or t.Fatal
// (require.Eventually runs cond on a goroutine of its own). It checks
// cond at once and then every tick, and fails t if cond has not held
// within waitFor.
func Eventually(t testing.TB, cond func() bool, waitFor, tick time.Duration, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for !cond() {
		if !time.Now().Before(deadline) {
			require.Fail(t, "Condition never satisfied", msgAndArgs...)
			return
		}
		<-ticker.C
	}
}
