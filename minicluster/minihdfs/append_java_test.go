package minihdfs_test

import (
	"bufio"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// TestAppendJavaSequence plays the Java client's append (DataStreamer in
// PIPELINE_SETUP_APPEND): append, updateBlockForPipeline for a new
// generation stamp, WRITE_BLOCK with the old stamp in the header and the
// new one as latestGenerationStamp, the packets (the first one only fills
// the partial chunk), updatePipeline, complete with the new stamp.
func TestAppendJavaSequence(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	require.NoError(t, writeFile(cl, "/user/root/j", []byte("0123456789"), 0o644))
	nn := dialNN(t, c, "root")
	const holder = "DFSClient_NONMAPREDUCE_1_1"

	ar := &hdfspb.AppendResponseProto{}
	require.NoError(t, nn.call("append", &hdfspb.AppendRequestProto{Src: proto.String("/user/root/j"), ClientName: proto.String(holder), Flag: proto.Uint32(4)}, ar))
	old := ar.GetBlock().GetB()
	ub := &hdfspb.UpdateBlockForPipelineResponseProto{}
	require.NoError(t, nn.call("updateBlockForPipeline", &hdfspb.UpdateBlockForPipelineRequestProto{Block: old, ClientName: proto.String(holder)}, ub))
	newGS := ub.GetBlock().GetB().GetGenerationStamp()
	require.Greater(t, newGS, old.GetGenerationStamp())

	// A stale generation stamp in the header is refused by the DataNode.
	stale := proto.Clone(old).(*hdfspb.ExtendedBlockProto)
	stale.GenerationStamp = proto.Uint64(old.GetGenerationStamp() - 1)
	resp := writeBlockOp(t, c.DataNodeAddr(), stale, newGS, 10, holder)
	require.Equal(t, hdfspb.Status_ERROR, resp.st.GetStatus())
	require.Contains(t, resp.st.GetMessage(), "Cannot append to a replica with unexpected generation stamp")
	resp.conn.Close()

	resp = writeBlockOp(t, c.DataNodeAddr(), old, newGS, 10, holder)
	require.Equal(t, hdfspb.Status_SUCCESS, resp.st.GetStatus(), resp.st.GetMessage())
	data := []byte("abcdefghij" + string(randomBytes(t, 1500)))
	first := 512 - 10 // fills the partial chunk
	resp.packet(t, 0, 10, data[:first], false)
	resp.packet(t, 1, 10+int64(first), data[first:], false)
	resp.packet(t, 2, 10+int64(len(data)), nil, true)
	for seq := int64(0); seq < 3; seq++ {
		a := resp.ack(t)
		require.Equal(t, seq, a.GetSeqno())
		require.Equal(t, []hdfspb.Status{hdfspb.Status_SUCCESS}, a.GetReply())
	}
	resp.conn.Close()

	nb := proto.Clone(old).(*hdfspb.ExtendedBlockProto)
	nb.GenerationStamp = proto.Uint64(newGS)
	require.NoError(t, nn.call("updatePipeline", &hdfspb.UpdatePipelineRequestProto{ClientName: proto.String(holder), OldBlock: old, NewBlock: nb,
		NewNodes: []*hdfspb.DatanodeIDProto{ar.GetBlock().GetLocs()[0].GetId()}, StorageIDs: ar.GetBlock().GetStorageIDs()}, &hdfspb.UpdatePipelineResponseProto{}))
	nb.NumBytes = proto.Uint64(uint64(10 + len(data)))
	done := &hdfspb.CompleteResponseProto{}
	require.NoError(t, nn.call("complete", &hdfspb.CompleteRequestProto{Src: proto.String("/user/root/j"), ClientName: proto.String(holder), Last: nb, FileId: ar.GetStat().FileId}, done))
	require.True(t, done.GetResult())

	got, err := cl.ReadFile("/user/root/j")
	require.NoError(t, err)
	require.Equal(t, "0123456789"+string(data), string(got))
	lb := &hdfspb.GetBlockLocationsResponseProto{}
	require.NoError(t, nn.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/j"), Offset: proto.Uint64(0), Length: proto.Uint64(1 << 20)}, lb))
	require.Equal(t, newGS, lb.GetLocations().GetLastBlock().GetB().GetGenerationStamp())
}

// dtStream is one data transfer connection of TestAppendJavaSequence.
type dtStream struct {
	conn net.Conn
	br   *bufio.Reader
	st   *hdfspb.BlockOpResponseProto
}

// writeBlockOp opens a PIPELINE_SETUP_APPEND WRITE_BLOCK as the Java
// client sends it and reads the DataNode's response.
func writeBlockOp(t *testing.T, addr string, b *hdfspb.ExtendedBlockProto, newGS, length uint64, holder string) *dtStream {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	op := &hdfspb.OpWriteBlockProto{
		Header: &hdfspb.ClientOperationHeaderProto{
			BaseHeader: &hdfspb.BaseHeaderProto{Block: b, Token: &commonpb.TokenProto{Identifier: []byte{}, Password: []byte{}, Kind: proto.String(""), Service: proto.String("")}},
			ClientName: proto.String(holder),
		},
		Stage: hdfspb.OpWriteBlockProto_PIPELINE_SETUP_APPEND.Enum(), PipelineSize: proto.Uint32(1),
		MinBytesRcvd: proto.Uint64(length), MaxBytesRcvd: proto.Uint64(length), LatestGenerationStamp: proto.Uint64(newGS),
		RequestedChecksum: &hdfspb.ChecksumProto{Type: hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(), BytesPerChecksum: proto.Uint32(512)},
	}
	msg := []byte{0, 28, 80}
	_, err = conn.Write(delimited(msg, op))
	require.NoError(t, err)
	s := &dtStream{conn: conn, br: bufio.NewReader(conn), st: &hdfspb.BlockOpResponseProto{}}
	s.read(t, s.st)
	return s
}

func delimited(dst []byte, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(protowire.AppendVarint(dst, uint64(len(b))), b...)
}

func (s *dtStream) read(t *testing.T, m proto.Message) {
	t.Helper()
	n, err := binary.ReadUvarint(s.br)
	require.NoError(t, err)
	b := make([]byte, n)
	_, err = io.ReadFull(s.br, b)
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(b, m))
}

func (s *dtStream) ack(t *testing.T) *hdfspb.PipelineAckProto {
	t.Helper()
	a := &hdfspb.PipelineAckProto{}
	s.read(t, a)
	return a
}

// packet sends one data packet with CRC32C chunk checksums.
func (s *dtStream) packet(t *testing.T, seq, off int64, data []byte, last bool) {
	t.Helper()
	h, err := proto.Marshal(&hdfspb.PacketHeaderProto{OffsetInBlock: proto.Int64(off), Seqno: proto.Int64(seq),
		LastPacketInBlock: proto.Bool(last), DataLen: proto.Int32(int32(len(data)))})
	require.NoError(t, err)
	var sums []byte
	for i := 0; i < len(data); i += 512 {
		sums = binary.BigEndian.AppendUint32(sums, crc32.Checksum(data[i:min(i+512, len(data))], crc32.MakeTable(crc32.Castagnoli)))
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(4+len(sums)+len(data)))
	out = binary.BigEndian.AppendUint16(out, uint16(len(h)))
	out = append(append(append(out, h...), sums...), data...)
	_, err = s.conn.Write(out)
	require.NoError(t, err)
}
