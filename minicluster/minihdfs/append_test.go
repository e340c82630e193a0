package minihdfs_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// TestColinmarcAppend appends with the unmodified colinmarc/hdfs client
// (PIPELINE_SETUP_APPEND on a partial last block, addBlock after a full
// one) and reads every stage back byte for byte: an empty file, a partial
// chunk, a write that crosses the 1 MiB block boundary, a file whose last
// block is exactly full, and many small appends.
func TestColinmarcAppend(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	var want []byte
	appendAll := func(name string, data []byte) {
		t.Helper()
		w, err := cl.Append(name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		want = append(want, data...)
		got, err := cl.ReadFile(name)
		require.NoError(t, err)
		require.Equal(t, len(want), len(got))
		require.Equal(t, want, got)
		fi, err := cl.Stat(name)
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), fi.Size())
	}

	require.NoError(t, writeFile(cl, "/user/root/a", nil, 0o644))
	appendAll("/user/root/a", []byte("hello"))                         // to an empty file: a new block
	appendAll("/user/root/a", randomBytes(t, 700))                     // into the partial chunk and past it
	appendAll("/user/root/a", randomBytes(t, 1<<20))                   // across the block boundary
	appendAll("/user/root/a", randomBytes(t, 1<<20-len(want)%(1<<20))) // fills block 2 exactly
	require.Zero(t, len(want)%(1<<20))
	appendAll("/user/root/a", []byte("after a full block")) // a new block
	for i := 0; i < 20; i++ {
		appendAll("/user/root/a", randomBytes(t, 1+i*37))
	}
	lb := &hdfspb.GetBlockLocationsResponseProto{}
	nn := dialNN(t, c, "root")
	require.NoError(t, nn.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/a"), Offset: proto.Uint64(0), Length: proto.Uint64(1 << 30)}, lb))
	require.Len(t, lb.GetLocations().GetBlocks(), 3, "appends reuse the partial last block")
	require.True(t, lb.GetLocations().GetIsLastBlockComplete())
}

// TestColinmarcAppendDeadline: a write deadline set on an append's writer
// applies to its pipeline; one in the past fails the write, which leaves
// the file open, and lease recovery closes it with the bytes it had.
func TestColinmarcAppendDeadline(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	require.NoError(t, writeFile(cl, "/user/root/d", []byte("base"), 0o644))

	w, err := cl.Append("/user/root/d")
	require.NoError(t, err)
	require.NoError(t, w.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = w.Write([]byte("+ok"))
	require.NoError(t, err)
	require.NoError(t, w.Close())

	w, err = cl.Append("/user/root/d")
	require.NoError(t, err)
	require.NoError(t, w.SetDeadline(time.Now().Add(-time.Second)))
	_, werr := w.Write(randomBytes(t, 200<<10))
	if werr == nil {
		werr = w.Close()
	}
	require.ErrorIs(t, werr, os.ErrDeadlineExceeded)

	nn := dialNN(t, c, "root")
	rl := &hdfspb.RecoverLeaseResponseProto{}
	require.NoError(t, nn.call("recoverLease", &hdfspb.RecoverLeaseRequestProto{Src: proto.String("/user/root/d"), ClientName: proto.String("DFSClient_other")}, rl))
	require.True(t, rl.GetResult())
	got, err := cl.ReadFile("/user/root/d")
	require.NoError(t, err)
	require.Equal(t, "base+ok", string(got))
}

// TestAppendExceptions checks append's failures as FSDirAppendOp and
// FSNamesystem.recoverLeaseInternal word them, and the NEW_BLOCK reply.
func TestAppendExceptions(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
	c := start(t, func(o *minihdfs.Options) {
		o.Clock = clk.now
		o.LeaseSoftLimit = time.Minute
		o.LeaseHardLimit = time.Hour
	})
	root, alice := dialNN(t, c, "root"), dialNN(t, c, "alice")
	cl := client(t, c, "root")
	root.mkdir("/user/root/dir", 0o755)
	require.NoError(t, writeFile(cl, "/user/root/f", []byte("0123456789"), 0o644))
	appendReq := func(p, holder string, flag uint32) *hdfspb.AppendRequestProto {
		return &hdfspb.AppendRequestProto{Src: proto.String(p), ClientName: proto.String(holder), Flag: proto.Uint32(flag)}
	}
	const (
		abce = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
		ripe = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
	)
	requireRemote(t, root.call("append", appendReq("/user/root/dir", "DFSClient_a", 4), &hdfspb.AppendResponseProto{}),
		"org.apache.hadoop.fs.FileAlreadyExistsException", "Cannot append to directory /user/root/dir; already exists as a directory.")
	requireRemote(t, root.call("append", appendReq("/user/root/nope", "DFSClient_a", 4), &hdfspb.AppendResponseProto{}),
		"java.io.FileNotFoundException", "Failed to append to non-existent file /user/root/nope for client 127.0.0.1")
	requireRemote(t, alice.call("append", appendReq("/user/root/f", "DFSClient_alice", 4), &hdfspb.AppendResponseProto{}),
		"org.apache.hadoop.security.AccessControlException", `Permission denied: user=alice, access=WRITE, inode="/user/root/f":root:supergroup:-rw-r--r--`)

	// The partial last block comes back under construction, located.
	resp := &hdfspb.AppendResponseProto{}
	require.NoError(t, root.call("append", appendReq("/user/root/f", "DFSClient_a", 4), resp))
	require.Equal(t, uint64(10), resp.GetBlock().GetB().GetNumBytes())
	require.Zero(t, resp.GetBlock().GetOffset())
	require.Len(t, resp.GetBlock().GetLocs(), 1)
	require.Equal(t, uint64(10), resp.GetStat().GetLength())

	// Open by DFSClient_a: the same client and another one are refused.
	requireRemote(t, root.call("append", appendReq("/user/root/f", "DFSClient_a", 4), &hdfspb.AppendResponseProto{}), abce,
		"Failed to APPEND_FILE /user/root/f for DFSClient_a on 127.0.0.1 because DFSClient_a is already the current lease holder.")
	requireRemote(t, root.call("append", appendReq("/user/root/f", "DFSClient_b", 4), &hdfspb.AppendResponseProto{}), abce,
		"Failed to APPEND_FILE /user/root/f for DFSClient_b on 127.0.0.1 because this file lease is currently owned by DFSClient_a on 127.0.0.1")
	requireRemote(t, root.call("create", createReq("/user/root/f", "DFSClient_b", 1), &hdfspb.CreateResponseProto{}), abce,
		"Failed to CREATE_FILE /user/root/f for DFSClient_b on 127.0.0.1 because this file lease is currently owned by DFSClient_a on 127.0.0.1")

	// Past the soft limit the last block (under construction) is
	// recovered: the first try is told so, the retry gets the file.
	clk.set(1_700_000_000_000 + time.Minute.Milliseconds() + 1)
	requireRemote(t, root.call("append", appendReq("/user/root/f", "DFSClient_b", 4), &hdfspb.AppendResponseProto{}), ripe,
		"Failed to APPEND_FILE /user/root/f for DFSClient_b on 127.0.0.1 because lease recovery is in progress. Try again later.")
	resp = &hdfspb.AppendResponseProto{}
	require.NoError(t, root.call("append", appendReq("/user/root/f", "DFSClient_b", 4|32), resp))
	require.Equal(t, uint64(10), resp.GetBlock().GetB().GetNumBytes(), "NEW_BLOCK: the last block, as addBlock's previous")
	require.Empty(t, resp.GetBlock().GetLocs())
	ab := &hdfspb.AddBlockResponseProto{}
	require.NoError(t, root.call("addBlock", &hdfspb.AddBlockRequestProto{Src: proto.String("/user/root/f"), ClientName: proto.String("DFSClient_b"),
		Previous: resp.GetBlock().GetB(), FileId: resp.GetStat().FileId}, ab))
	require.Equal(t, uint64(10), ab.GetBlock().GetOffset())
	require.NotEqual(t, resp.GetBlock().GetB().GetBlockId(), ab.GetBlock().GetB().GetBlockId())

	// An empty file and a file whose last block is full return no block.
	require.NoError(t, writeFile(cl, "/user/root/empty", nil, 0o644))
	resp = &hdfspb.AppendResponseProto{}
	require.NoError(t, root.call("append", appendReq("/user/root/empty", "DFSClient_a", 4), resp))
	require.Nil(t, resp.GetBlock())
	require.NoError(t, writeFile(cl, "/user/root/full", randomBytes(t, 1<<20), 0o644))
	resp = &hdfspb.AppendResponseProto{}
	require.NoError(t, root.call("append", appendReq("/user/root/full", "DFSClient_a", 4), resp))
	require.Nil(t, resp.GetBlock())
	require.Equal(t, uint64(1<<20), resp.GetStat().GetLength())
	_, err := cl.Stat("/user/root/full")
	require.False(t, errors.Is(err, os.ErrNotExist))
}
