package hdfs_test

import (
	"testing"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"go.uber.org/goleak"
)

// colinmarc/hdfs leaks one goroutine per block write that fails mid-stream
// (transfer.blockWriteStream.ackPackets waits on a channel closed only
// after a successful last packet): the interrupted-upload tests cut writes
// on purpose.
func TestMain(m *testing.M) {
	testutil.Main(m, goleak.IgnoreAnyFunction("github.com/colinmarc/hdfs/v2/internal/transfer.(*blockWriteStream).ackPackets"))
}
