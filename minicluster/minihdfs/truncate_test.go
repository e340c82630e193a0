package minihdfs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// TestColinmarcTruncate truncates with the unmodified colinmarc/hdfs
// client: to the same size and on a block boundary (done at once, true),
// mid-block (false, then the block recovery the lease monitor runs cuts
// the replica and closes the file), to zero; then appends after a
// truncate, and reads every stage back.
func TestColinmarcTruncate(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.LeaseCheckInterval = 5 * time.Millisecond })
	cl := client(t, c, "root")
	want := randomBytes(t, 3<<20+1000)
	require.NoError(t, writeFile(cl, "/user/root/t", want, 0o644))
	check := func(n int) {
		t.Helper()
		testutil.Eventually(t, func() bool {
			fi, err := cl.Stat("/user/root/t")
			return err == nil && fi.Size() == int64(n)
		}, 10*time.Second, 5*time.Millisecond, "length %d", n)
		got, err := cl.ReadFile("/user/root/t")
		require.NoError(t, err)
		require.Equal(t, want[:n], got)
	}

	done, err := cl.Truncate("/user/root/t", int64(len(want)))
	require.NoError(t, err)
	require.True(t, done, "same size")
	done, err = cl.Truncate("/user/root/t", 3<<20)
	require.NoError(t, err)
	require.True(t, done, "a block boundary needs no recovery")
	check(3 << 20)

	done, err = cl.Truncate("/user/root/t", 1<<20+12345)
	require.NoError(t, err)
	require.False(t, done, "mid-block: the last block is recovered")
	check(1<<20 + 12345)

	// The truncated file takes appends again once recovered.
	w, err := cl.Append("/user/root/t")
	require.NoError(t, err)
	more := randomBytes(t, 5000)
	_, err = w.Write(more)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	want = append(want[:1<<20+12345:1<<20+12345], more...)
	check(len(want))

	done, err = cl.Truncate("/user/root/t", 0)
	require.NoError(t, err)
	require.True(t, done)
	check(0)
}

// TestTruncateExceptions checks truncate's failures and the state of a
// file under truncate recovery, worded as FSNamesystem.truncate and
// FSDirTruncateOp word them.
func TestTruncateExceptions(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.LeaseCheckInterval = time.Hour })
	root, alice := dialNN(t, c, "root"), dialNN(t, c, "alice")
	cl := client(t, c, "root")
	root.mkdir("/user/root/dir", 0o755)
	require.NoError(t, writeFile(cl, "/user/root/f", []byte("0123456789"), 0o644))
	tr := func(p string, n uint64, holder string) *hdfspb.TruncateRequestProto {
		return &hdfspb.TruncateRequestProto{Src: proto.String(p), NewLength: proto.Uint64(n), ClientName: proto.String(holder)}
	}
	const (
		hiae = "org.apache.hadoop.HadoopIllegalArgumentException"
		fnf  = "java.io.FileNotFoundException"
	)
	cases := []struct {
		name  string
		conn  *nnConn
		req   *hdfspb.TruncateRequestProto
		class string
		msg   string
	}{
		{"larger", root, tr("/user/root/f", 11, "c"), hiae, "Cannot truncate to a larger file size. Current size: 10, truncate size: 11."},
		{"negative", root, tr("/user/root/f", ^uint64(0), "c"), hiae, "Cannot truncate to a negative file size: -1."},
		{"directory", root, tr("/user/root/dir", 0, "c"), fnf, "Path is not a file: /user/root/dir"},
		{"missing", root, tr("/user/root/nope", 0, "c"), fnf, "File does not exist: /user/root/nope"},
		{"denied", alice, tr("/user/root/f", 0, "c"), "org.apache.hadoop.security.AccessControlException",
			`Permission denied: user=alice, access=WRITE, inode="/user/root/f":root:supergroup:-rw-r--r--`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireRemote(t, tc.conn.call("truncate", tc.req, &hdfspb.TruncateResponseProto{}), tc.class, tc.msg)
		})
	}

	// Mid-block: false, and until the recovery the file is open under the
	// truncating client, reports its old length, and its last block is
	// UNDER_RECOVERY.
	resp := &hdfspb.TruncateResponseProto{}
	require.NoError(t, root.call("truncate", tr("/user/root/f", 4, "DFSClient_t"), resp))
	require.False(t, resp.GetResult())
	require.Equal(t, uint64(10), root.stat("/user/root/f").GetLength())
	resp = &hdfspb.TruncateResponseProto{}
	require.NoError(t, root.call("truncate", tr("/user/root/f", 4, "DFSClient_t"), resp), "the same truncate again")
	require.False(t, resp.GetResult())
	requireRemote(t, root.call("truncate", tr("/user/root/f", 3, "DFSClient_u"), &hdfspb.TruncateResponseProto{}),
		"org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
		"Failed to TRUNCATE_FILE /user/root/f for DFSClient_u on 127.0.0.1 because /user/root/f is being truncated.")
	requireRemote(t, root.call("append", &hdfspb.AppendRequestProto{Src: proto.String("/user/root/f"), ClientName: proto.String("DFSClient_u")}, &hdfspb.AppendResponseProto{}),
		"org.apache.hadoop.hdfs.protocol.RecoveryInProgressException",
		"Failed to APPEND_FILE /user/root/f for DFSClient_u on 127.0.0.1 because another recovery is in progress by DFSClient_t on 127.0.0.1")
	lb := &hdfspb.GetBlockLocationsResponseProto{}
	require.NoError(t, root.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/f"), Offset: proto.Uint64(0), Length: proto.Uint64(10)}, lb))
	require.True(t, lb.GetLocations().GetUnderConstruction())
	gs := lb.GetLocations().GetLastBlock().GetB().GetGenerationStamp()

	minihdfs.RecoverTruncates(c)
	st := root.stat("/user/root/f")
	require.Equal(t, uint64(4), st.GetLength())
	lb = &hdfspb.GetBlockLocationsResponseProto{}
	require.NoError(t, root.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/f"), Offset: proto.Uint64(0), Length: proto.Uint64(10)}, lb))
	require.False(t, lb.GetLocations().GetUnderConstruction())
	require.Greater(t, lb.GetLocations().GetLastBlock().GetB().GetGenerationStamp(), gs, "recovery bumps the generation stamp")
	got, err := cl.ReadFile("/user/root/f")
	require.NoError(t, err)
	require.Equal(t, "0123", string(got))
}

// TestAppendTruncateReplicated: append and truncate on a file replicated
// on 2 of 3 DataNodes. Appends go through the block's whole pipeline, a
// mid-block truncate is recovered on every node holding the replica, and
// each replica alone reads back the same bytes.
func TestAppendTruncateReplicated(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) {
		multi(3, 2)(o)
		o.LeaseCheckInterval = 5 * time.Millisecond
	})
	cl := client(t, c, "root")
	want := randomBytes(t, 1<<20+7000)
	w, err := cl.CreateFile("/user/root/rt", 2, 1<<20, 0o644)
	require.NoError(t, err)
	_, err = w.Write(want)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	a, err := cl.Append("/user/root/rt")
	require.NoError(t, err)
	more := randomBytes(t, 3000)
	_, err = a.Write(more)
	require.NoError(t, err)
	require.NoError(t, a.Close())
	want = append(want, more...)

	done, err := cl.Truncate("/user/root/rt", 1<<20+4321)
	require.NoError(t, err)
	require.False(t, done, "mid-block: recovered")
	want = want[:1<<20+4321]
	testutil.Eventually(t, func() bool {
		fi, err := cl.Stat("/user/root/rt")
		return err == nil && fi.Size() == int64(len(want))
	}, 10*time.Second, 5*time.Millisecond, "truncated to %d", len(want))
	nn := dialNN(t, c, "root")
	blocks := nn.blocks("/user/root/rt")
	require.Len(t, blocks, 2)
	require.Len(t, blocks[1].GetLocs(), 2, "the truncated block keeps both replicas")
	got, err := cl.ReadFile("/user/root/rt")
	require.NoError(t, err)
	require.Equal(t, want, got)
	// Every replica was cut, with the recovery's generation stamp.
	for _, loc := range blocks[1].GetLocs() {
		for i := range c.DataNodes() {
			if c.DataNode(i).UUID() == loc.GetId().GetDatanodeUuid() {
				n, gs, ok := minihdfs.ReplicaLength(c.DataNode(i), blocks[1].GetB().GetBlockId())
				require.True(t, ok)
				require.Equal(t, int64(4321), n, "replica on %s", loc.GetId().GetDatanodeUuid())
				require.Equal(t, blocks[1].GetB().GetGenerationStamp(), gs)
			}
		}
	}
	// The read above is served by the first location; stop that node and
	// the second replica serves the same bytes.
	first := blocks[1].GetLocs()[0].GetId().GetDatanodeUuid()
	for i := range c.DataNodes() {
		if c.DataNode(i).UUID() == first {
			c.DataNode(i).Stop()
		}
	}
	got, err = cl.ReadFile("/user/root/rt")
	require.NoError(t, err)
	require.Equal(t, want, got, "the second replica was cut the same way")
}
