package minicluster

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	// gokrb5's SPNEGO service keeps one replay cache per process, swept by
	// a goroutine that never ends (service.GetReplayCache); the
	// NodeManagers' SPNEGO web servers start it.
	testutil.Main(m, goleak.IgnoreAnyFunction("github.com/jcmturner/gokrb5/v8/service.GetReplayCache.func1.1"),
		goleak.IgnoreAnyFunction("github.com/jcmturner/gokrb5/v8/service.VerifyAPREQ.GetReplayCache.func1.1")) // its name when inlined
}
