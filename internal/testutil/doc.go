// Package testutil is the one test toolkit of STYLE.md §12: a buffer
// several goroutines write to, a test context, a binary built once per
// test binary, a dialer that injects network faults, and an Eventually
// whose condition runs on the test's goroutine.
//
// It is imported only from _test.go files and imports nothing of the
// module, so every package's tests can use it (ipc's internal tests
// included) without an import cycle.
//
// A test binary that uses Build removes what it built in TestMain:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
//			testutil.RemoveBuilds()
//			os.Exit(code)
//		}))
//	}
package testutil
