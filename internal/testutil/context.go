package testutil

import (
	"context"
	"testing"
	"time"
)

// Context returns a context that ends after d, or when the test and its
// subtests have finished (t.Cleanup), whichever comes first. Every test
// context has a timeout (STYLE.md §8); this is the one place that calls
// context.Background for a test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
