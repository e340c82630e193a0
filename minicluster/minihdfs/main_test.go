package minihdfs_test

import (
	"testing"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"go.uber.org/goleak"
)

// colinmarc/hdfs leaks one goroutine per block write that fails mid-stream
// (transfer.blockWriteStream.ackPackets waits on a channel that is only
// closed after a successful last packet); the DataNode fault tests provoke
// exactly that.
func TestMain(m *testing.M) {
	testutil.Main(m, goleak.IgnoreAnyFunction("github.com/colinmarc/hdfs/v2/internal/transfer.(*blockWriteStream).ackPackets"))
}
