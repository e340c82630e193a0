package minihdfs_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// dataNodeByUUID returns the cluster's handle of the DataNode a location names.
func dataNodeByUUID(t *testing.T, c *minihdfs.Cluster, uuid string) *minihdfs.DataNode {
	t.Helper()
	for i := range c.DataNodes() {
		if d := c.DataNode(i); d.UUID() == uuid {
			return d
		}
	}
	require.Failf(t, "no such DataNode", "uuid %s", uuid)
	return nil
}

func (n *nnConn) blocks(p string) []*hdfspb.LocatedBlockProto {
	n.t.Helper()
	resp := &hdfspb.GetBlockLocationsResponseProto{}
	require.NoError(n.t, n.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String(p), Offset: proto.Uint64(0), Length: proto.Uint64(1 << 40)}, resp))
	return resp.GetLocations().GetBlocks()
}

func multi(n, replication int) func(*minihdfs.Options) {
	return func(o *minihdfs.Options) { o.DataNodes, o.Replication = n, replication }
}

// TestPipelineReplicates writes through colinmarc/hdfs with replication 2
// on 3 DataNodes: every block lands on 2 distinct nodes (each pipeline's
// acks carry a reply per node, which colinmarc checks), the bytes arrive
// twice, and the file reads back.
func TestPipelineReplicates(t *testing.T) {
	c := start(t, multi(3, 2))
	require.Equal(t, 3, c.DataNodes())
	cl := client(t, c, "root")
	data := randomBytes(t, 5<<20+12345)
	w, err := cl.CreateFile("/user/root/r2", 2, 1<<20, 0o644)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	got, err := cl.ReadFile("/user/root/r2")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))

	nn := dialNN(t, c, "root")
	blocks := nn.blocks("/user/root/r2")
	require.Len(t, blocks, 6)
	perNode := map[string]int{}
	for _, b := range blocks {
		require.Len(t, b.GetLocs(), 2, "block %d", b.GetB().GetBlockId())
		require.NotEqual(t, b.GetLocs()[0].GetId().GetDatanodeUuid(), b.GetLocs()[1].GetId().GetDatanodeUuid())
		for _, l := range b.GetLocs() {
			perNode[l.GetId().GetDatanodeUuid()]++
		}
	}
	require.Len(t, perNode, 3, "placement spreads blocks over all nodes")
	var received int64
	for i := range c.DataNodes() {
		received += c.DataNode(i).BytesReceived()
		require.Len(t, c.DataNode(i).Replicas(), perNode[c.DataNode(i).UUID()])
	}
	require.Equal(t, int64(2*len(data)), received)

	rep := &hdfspb.GetDatanodeReportResponseProto{}
	require.NoError(t, nn.call("getDatanodeReport", &hdfspb.GetDatanodeReportRequestProto{Type: hdfspb.DatanodeReportTypeProto_LIVE.Enum()}, rep))
	require.Len(t, rep.GetDi(), 3)
	require.Equal(t, uint32(2), nn.stat("/user/root/r2").GetBlockReplication())
}

// TestPlacement: a file asking for more replicas than there are nodes gets
// one per node; excluding every live node, or losing them all, is
// BlockManager's "could only be written to 0 of the 1 minReplication
// nodes".
func TestPlacement(t *testing.T) {
	c := start(t, multi(3, 1))
	nn := dialNN(t, c, "root")
	req := createReq("/user/root/p", "DFSClient_p", 1)
	req.Replication = proto.Uint32(5)
	resp := &hdfspb.CreateResponseProto{}
	require.NoError(t, nn.call("create", req, resp))
	ab := &hdfspb.AddBlockResponseProto{}
	add := &hdfspb.AddBlockRequestProto{Src: proto.String("/user/root/p"), ClientName: proto.String("DFSClient_p"), FileId: proto.Uint64(resp.GetFs().GetFileId())}
	require.NoError(t, nn.call("addBlock", add, ab))
	require.Len(t, ab.GetBlock().GetLocs(), 3)
	require.NoError(t, nn.call("abandonBlock", &hdfspb.AbandonBlockRequestProto{B: ab.GetBlock().GetB(), Src: add.Src, Holder: add.ClientName, FileId: add.FileId}, &hdfspb.AbandonBlockResponseProto{}))

	add.ExcludeNodes = ab.GetBlock().GetLocs()
	requireRemote(t, nn.call("addBlock", add, &hdfspb.AddBlockResponseProto{}), "java.io.IOException",
		"File /user/root/p could only be written to 0 of the 1 minReplication nodes. There are 3 datanode(s) running and 3 node(s) are excluded in this operation.")
	add.ExcludeNodes = ab.GetBlock().GetLocs()[:1]
	c.DataNode(1).Stop()
	c.DataNode(2).Stop()
	err := nn.call("addBlock", add, &hdfspb.AddBlockResponseProto{})
	requireRemote(t, err, "java.io.IOException",
		"File /user/root/p could only be written to 0 of the 1 minReplication nodes. There are 1 datanode(s) running and 1 node(s) are excluded in this operation.")
}

// TestReadFallsOverToAnotherReplica: with the first listed replica's
// DataNode dead (and still listed, as a real NameNode lists it until it
// declares the node dead), colinmarc/hdfs reads every block from the
// other replica.
func TestReadFallsOverToAnotherReplica(t *testing.T) {
	c := start(t, multi(2, 2))
	cl := client(t, c, "root")
	data := randomBytes(t, 3<<20+1)
	w, err := cl.CreateFile("/user/root/f", 2, 1<<20, 0o644)
	require.NoError(t, err)
	_, err = w.Write(data)
	require.NoError(t, err)
	require.NoError(t, w.Close())

	nn := dialNN(t, c, "root")
	first := nn.blocks("/user/root/f")[0].GetLocs()[0].GetId().GetDatanodeUuid()
	dataNodeByUUID(t, c, first).Stop()
	for _, b := range nn.blocks("/user/root/f") {
		require.Len(t, b.GetLocs(), 2, "the dead node is still listed")
	}
	got, err := cl.ReadFile("/user/root/f")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}

// TestColinmarcPipelineFailureFailsWrite records what colinmarc/hdfs
// v2.4.0 does when a DataNode of its pipeline dies: no recovery — the bad
// ack (or broken connection) fails Write or Close, and the file stays
// open until its lease expires. The Java client recovers instead; see
// TestPipelineRecovery.
func TestColinmarcPipelineFailureFailsWrite(t *testing.T) {
	c := start(t, multi(3, 2))
	cl := client(t, c, "root")
	for i := range c.DataNodes() {
		c.DataNode(i).StopAfter(2 << 20)
	}
	w, err := cl.CreateFile("/user/root/x", 2, 1<<20, 0o644)
	require.NoError(t, err)
	_, werr := w.Write(randomBytes(t, 8<<20))
	cerr := w.Close()
	require.True(t, werr != nil || cerr != nil, "colinmarc/hdfs cannot recover a pipeline")
}

// TestPipelineRecovery is the case: a 64 MiB write with
// replication 2 on 3 DataNodes (32 MiB blocks), a DataNode of the first
// block's pipeline killed 20 MiB into the block — first or second in the
// pipeline, so that the client sees a broken connection or a downstream
// ERROR reply. The write, by a client doing what the Java DataStreamer
// does, completes; the file reads back byte-identical through
// colinmarc/hdfs; each block ends with live replicas: two when the client
// asked for a replacement DataNode (getAdditionalDatanode and
// TRANSFER_BLOCK), else the one survivor.
func TestPipelineRecovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kill    int
		replace bool
		want    int
	}{
		{"first-node-replaced", 0, true, 2},
		{"second-node-replaced", 1, true, 2},
		{"second-node-not-replaced", 1, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, func(o *minihdfs.Options) { o.DataNodes, o.Replication, o.BlockSize = 3, 2, 32<<20 })
			nn := dialNN(t, c, "root")
			data := randomBytes(t, 64<<20)
			s := newRawStreamer(t, nn, "/user/root/big", 2, 32<<20)
			s.replace = tc.replace
			var killed *minihdfs.DataNode
			s.onBlock = func(nodes []*hdfspb.DatanodeInfoProto) {
				require.Len(t, nodes, 2)
				if killed == nil {
					killed = dataNodeByUUID(t, c, nodes[tc.kill].GetId().GetDatanodeUuid())
					killed.StopAfter(killed.BytesReceived() + 20<<20)
				}
			}
			require.NoError(t, s.write(data))
			require.Equal(t, 1, s.recoveries)
			require.False(t, killed.Alive())

			blocks := nn.blocks("/user/root/big")
			require.Len(t, blocks, 2)
			for i, b := range blocks {
				want := 2
				if i == 0 {
					want = tc.want
				}
				require.Len(t, b.GetLocs(), want, "block %d", i)
				for _, l := range b.GetLocs() {
					require.NotEqual(t, killed.UUID(), l.GetId().GetDatanodeUuid(), "block %d", i)
				}
			}
			require.Greater(t, blocks[0].GetB().GetGenerationStamp(), blocks[1].GetB().GetGenerationStamp()-2, "block 0 has a bumped generation stamp")
			cl := client(t, c, "root")
			got, err := cl.ReadFile("/user/root/big")
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "the file reads back byte-identical")
		})
	}
}

// TestPipelineFirstBadLink: when the first DataNode cannot reach the next
// one, its answer to WRITE_BLOCK is ERROR naming that node's address as
// firstBadLink, which the Java client excludes when it asks for another
// block (DataXceiver.writeBlock).
func TestPipelineFirstBadLink(t *testing.T) {
	c := start(t, multi(2, 2))
	nn := dialNN(t, c, "root")
	s := newRawStreamer(t, nn, "/user/root/bad", 2, 1<<20)
	ab := &hdfspb.AddBlockResponseProto{}
	require.NoError(t, nn.call("addBlock", &hdfspb.AddBlockRequestProto{Src: proto.String(s.src), ClientName: proto.String(s.client),
		FileId: proto.Uint64(s.fileID)}, ab))
	locs := ab.GetBlock().GetLocs()
	require.Len(t, locs, 2)
	second := dataNodeByUUID(t, c, locs[1].GetId().GetDatanodeUuid())
	second.Stop()
	s.blk, s.nodes = ab.GetBlock().GetB(), locs
	err := s.connect(hdfspb.OpWriteBlockProto_PIPELINE_SETUP_CREATE, s.blk.GetGenerationStamp())
	require.ErrorContains(t, err, "writeBlock: ERROR firstBadLink="+second.Addr())
}
