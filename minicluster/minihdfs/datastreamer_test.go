package minihdfs_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// rawStreamer is a transcription, for tests, of the Java client's
// DataStreamer with its pipeline recovery: colinmarc/hdfs (v2.4.0) has
// none — its BlockWriter fails the write on the first bad ack or broken
// connection (internal/transfer/block_write_stream.go ackPackets) — so
// this is how the mini HDFS's side of recovery is exercised. Per block:
// addBlock, WRITE_BLOCK to the first node with the others as targets,
// 64 KiB packets with CRC32C sums, acks read in order with a window of
// packets in flight. On a failure the bad node is the first reply that is
// not SUCCESS, or the first node when its connection broke
// (ResponseProcessor: markFirstNodeIfNotMarked); recovery
// (setupPipelineForAppendOrRecovery) drops it, asks getAdditionalDatanode
// for a replacement when replace is set and copies the replica there with
// TRANSFER_BLOCK (addDatanode2ExistingPipeline), gets a new generation
// stamp (updateBlockForPipeline), reopens the pipeline with
// PIPELINE_SETUP_STREAMING_RECOVERY, commits it (updatePipeline) and
// resends every unacked packet.
type rawStreamer struct {
	t         *testing.T
	nn        *nnConn
	src       string
	client    string
	fileID    uint64
	blockSize int64
	replace   bool

	blk        *hdfspb.ExtendedBlockProto // numBytes = bytes acked
	nodes      []*hdfspb.DatanodeInfoProto
	storageIDs []string
	conn       net.Conn
	br         *bufio.Reader
	seq        int64
	sent       int64 // bytes sent in the block
	unacked    []rawPacket

	onBlock    func(nodes []*hdfspb.DatanodeInfoProto) // called after each addBlock
	recoveries int
}

type rawPacket struct {
	seq  int64
	off  int64
	data []byte
	last bool
}

const (
	rawPacketData = 64 << 10
	rawWindow     = 16
)

func newRawStreamer(t *testing.T, nn *nnConn, src string, replication uint32, blockSize int64) *rawStreamer {
	t.Helper()
	client := "DFSClient_raw_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	req := createReq(src, client, 1)
	req.Replication = proto.Uint32(replication)
	req.BlockSize = proto.Uint64(uint64(blockSize))
	resp := &hdfspb.CreateResponseProto{}
	require.NoError(t, nn.call("create", req, resp))
	return &rawStreamer{t: t, nn: nn, src: src, client: client, fileID: resp.GetFs().GetFileId(), blockSize: blockSize}
}

// write writes data as the whole file and completes it.
func (s *rawStreamer) write(data []byte) error {
	for off := int64(0); off < int64(len(data)); off += s.blockSize {
		if err := s.writeBlock(data[off:min(off+s.blockSize, int64(len(data)))]); err != nil {
			return err
		}
	}
	for {
		resp := &hdfspb.CompleteResponseProto{}
		err := s.nn.call("complete", &hdfspb.CompleteRequestProto{Src: proto.String(s.src), ClientName: proto.String(s.client),
			Last: s.blk, FileId: proto.Uint64(s.fileID)}, resp)
		if err != nil || resp.GetResult() {
			return err
		}
	}
}

func (s *rawStreamer) writeBlock(data []byte) error {
	resp := &hdfspb.AddBlockResponseProto{}
	if err := s.nn.call("addBlock", &hdfspb.AddBlockRequestProto{Src: proto.String(s.src), ClientName: proto.String(s.client),
		Previous: s.blk, FileId: proto.Uint64(s.fileID)}, resp); err != nil {
		return err
	}
	lb := resp.GetBlock()
	s.blk, s.nodes, s.storageIDs = lb.GetB(), lb.GetLocs(), lb.GetStorageIDs()
	s.blk.NumBytes = proto.Uint64(0)
	s.seq, s.sent, s.unacked = 0, 0, nil
	if s.onBlock != nil {
		s.onBlock(s.nodes)
	}
	if err := s.connect(hdfspb.OpWriteBlockProto_PIPELINE_SETUP_CREATE, s.blk.GetGenerationStamp()); err != nil {
		return err
	}
	defer func() { s.conn.Close() }()
	for off := 0; off <= len(data); off += rawPacketData {
		p := rawPacket{seq: s.seq, off: int64(off), data: data[off:min(off+rawPacketData, len(data))]}
		p.last = len(p.data) == 0
		s.seq++
		s.unacked = append(s.unacked, p)
		s.sent = p.off + int64(len(p.data))
		if err := s.send(p); err != nil {
			if err := s.recover(err); err != nil {
				return err
			}
		}
		for len(s.unacked) >= rawWindow || (p.last && len(s.unacked) > 0) {
			if err := s.readAck(); err != nil {
				if err := s.recover(err); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// connect opens the pipeline to s.nodes (DataStreamer.createBlockOutputStream).
func (s *rawStreamer) connect(stage hdfspb.OpWriteBlockProto_BlockConstructionStage, newGS uint64) error {
	op := &hdfspb.OpWriteBlockProto{
		Header: &hdfspb.ClientOperationHeaderProto{
			BaseHeader: &hdfspb.BaseHeaderProto{Block: s.blk},
			ClientName: proto.String(s.client),
		},
		Targets:               s.nodes[1:],
		Stage:                 stage.Enum(),
		PipelineSize:          proto.Uint32(uint32(len(s.nodes))),
		MinBytesRcvd:          proto.Uint64(s.blk.GetNumBytes()),
		MaxBytesRcvd:          proto.Uint64(uint64(s.sent)),
		LatestGenerationStamp: proto.Uint64(newGS),
		RequestedChecksum:     &hdfspb.ChecksumProto{Type: hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(), BytesPerChecksum: proto.Uint32(512)},
	}
	conn, br, resp, err := dataOp(s.nodes[0], 80, op)
	if err != nil {
		return err
	}
	if resp.GetStatus() != hdfspb.Status_SUCCESS {
		conn.Close()
		return fmt.Errorf("writeBlock: %v firstBadLink=%s: %s", resp.GetStatus(), resp.GetFirstBadLink(), resp.GetMessage())
	}
	s.conn, s.br = conn, br
	return nil
}

func (s *rawStreamer) send(p rawPacket) error {
	var sums []byte
	for off := 0; off < len(p.data); off += 512 {
		sums = binary.BigEndian.AppendUint32(sums, crc32.Checksum(p.data[off:min(off+512, len(p.data))], crc32.MakeTable(crc32.Castagnoli)))
	}
	h, err := proto.Marshal(&hdfspb.PacketHeaderProto{OffsetInBlock: proto.Int64(p.off), Seqno: proto.Int64(p.seq),
		LastPacketInBlock: proto.Bool(p.last), DataLen: proto.Int32(int32(len(p.data)))})
	require.NoError(s.t, err)
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(sums)+len(p.data)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(h)))
	b = append(append(append(b, h...), sums...), p.data...)
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = s.conn.Write(b)
	return err
}

// badNode is a failure naming the pipeline index at fault.
type badNode struct {
	index int
	err   error
}

func (b badNode) Error() string { return fmt.Sprintf("bad node %d: %v", b.index, b.err) }

func (s *rawStreamer) readAck() error {
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := readDelimitedMsg(s.br)
	if err != nil {
		return err
	}
	ack := &hdfspb.PipelineAckProto{}
	require.NoError(s.t, proto.Unmarshal(b, ack))
	require.Len(s.t, ack.GetFlag(), len(ack.GetReply()), "one header flag per reply")
	for i, st := range ack.GetReply() {
		require.Equal(s.t, uint32(st), ack.GetFlag()[i], "the flag carries the status")
		if st != hdfspb.Status_SUCCESS {
			return badNode{i, fmt.Errorf("ack %d: %v", ack.GetSeqno(), st)}
		}
	}
	require.Len(s.t, ack.GetReply(), len(s.nodes), "one reply per DataNode of the pipeline")
	p := s.unacked[0]
	require.Equal(s.t, p.seq, ack.GetSeqno())
	s.unacked = s.unacked[1:]
	s.blk.NumBytes = proto.Uint64(uint64(p.off) + uint64(len(p.data)))
	return nil
}

// recover is setupPipelineForAppendOrRecovery for a failure err.
func (s *rawStreamer) recover(err error) error {
	s.recoveries++
	if s.recoveries > 5 {
		return fmt.Errorf("giving up after %d recoveries: %w", s.recoveries, err)
	}
	bad := 0
	var bn badNode
	if errors.As(err, &bn) {
		bad = bn.index
	}
	s.conn.Close()
	s.t.Logf("pipeline recovery %d: dropping node %d (port %d) of %d: %v", s.recoveries, bad, s.nodes[bad].GetId().GetXferPort(), len(s.nodes), err)
	excluded := s.nodes[bad]
	s.nodes = append(append([]*hdfspb.DatanodeInfoProto(nil), s.nodes[:bad]...), s.nodes[bad+1:]...)
	s.storageIDs = append(append([]string(nil), s.storageIDs[:bad]...), s.storageIDs[bad+1:]...)
	if len(s.nodes) == 0 {
		return fmt.Errorf("all DataNodes are bad: %w", err)
	}
	if s.replace {
		if err := s.addDatanode(excluded); err != nil {
			return err
		}
	}
	ub := &hdfspb.UpdateBlockForPipelineResponseProto{}
	if err := s.nn.call("updateBlockForPipeline", &hdfspb.UpdateBlockForPipelineRequestProto{Block: s.blk, ClientName: proto.String(s.client)}, ub); err != nil {
		return err
	}
	newGS := ub.GetBlock().GetB().GetGenerationStamp()
	if err := s.connect(hdfspb.OpWriteBlockProto_PIPELINE_SETUP_STREAMING_RECOVERY, newGS); err != nil {
		return err
	}
	nb := proto.Clone(s.blk).(*hdfspb.ExtendedBlockProto)
	nb.GenerationStamp = proto.Uint64(newGS)
	var ids []*hdfspb.DatanodeIDProto
	for _, n := range s.nodes {
		ids = append(ids, n.GetId())
	}
	if err := s.nn.call("updatePipeline", &hdfspb.UpdatePipelineRequestProto{ClientName: proto.String(s.client), OldBlock: s.blk,
		NewBlock: nb, NewNodes: ids, StorageIDs: s.storageIDs}, &hdfspb.UpdatePipelineResponseProto{}); err != nil {
		return err
	}
	s.blk = nb
	for _, p := range s.unacked {
		if err := s.send(p); err != nil {
			return s.recover(err)
		}
	}
	return nil
}

// addDatanode is addDatanode2ExistingPipeline: one more node from the
// NameNode, and the replica copied to it from the first surviving node.
func (s *rawStreamer) addDatanode(excluded *hdfspb.DatanodeInfoProto) error {
	resp := &hdfspb.GetAdditionalDatanodeResponseProto{}
	if err := s.nn.call("getAdditionalDatanode", &hdfspb.GetAdditionalDatanodeRequestProto{Src: proto.String(s.src), Blk: s.blk,
		Existings: s.nodes, Excludes: []*hdfspb.DatanodeInfoProto{excluded}, NumAdditionalNodes: proto.Uint32(1),
		ClientName: proto.String(s.client), ExistingStorageUuids: s.storageIDs, FileId: proto.Uint64(s.fileID)}, resp); err != nil {
		return err
	}
	locs := resp.GetBlock().GetLocs()
	require.Len(s.t, locs, len(s.nodes)+1, "the existing nodes and one more")
	var added *hdfspb.DatanodeInfoProto
	for i, n := range locs {
		if i >= len(s.nodes) || n.GetId().GetDatanodeUuid() != s.nodes[i].GetId().GetDatanodeUuid() {
			added = n
			break
		}
	}
	require.NotNil(s.t, added)
	conn, _, r, err := dataOp(s.nodes[0], 86, &hdfspb.OpTransferBlockProto{
		Header:             &hdfspb.ClientOperationHeaderProto{BaseHeader: &hdfspb.BaseHeaderProto{Block: s.blk}, ClientName: proto.String(s.client)},
		Targets:            []*hdfspb.DatanodeInfoProto{added},
		TargetStorageTypes: []hdfspb.StorageTypeProto{hdfspb.StorageTypeProto_DISK},
	})
	if err != nil {
		return err
	}
	conn.Close()
	if r.GetStatus() != hdfspb.Status_SUCCESS {
		return fmt.Errorf("transferBlock: %v: %s", r.GetStatus(), r.GetMessage())
	}
	s.nodes = locs
	s.storageIDs = resp.GetBlock().GetStorageIDs()
	return nil
}

// dataOp opens a data transfer connection to node, sends op and reads the
// BlockOpResponseProto.
func dataOp(node *hdfspb.DatanodeInfoProto, code byte, op proto.Message) (net.Conn, *bufio.Reader, *hdfspb.BlockOpResponseProto, error) {
	addr := net.JoinHostPort(node.GetId().GetIpAddr(), strconv.Itoa(int(node.GetId().GetXferPort())))
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := proto.Marshal(op)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	msg := append([]byte{0, 28, code}, protowire.AppendVarint(nil, uint64(len(b)))...)
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := conn.Write(append(msg, b...)); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReader(conn)
	rb, err := readDelimitedMsg(br)
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	resp := &hdfspb.BlockOpResponseProto{}
	if err := proto.Unmarshal(rb, resp); err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	return conn, br, resp, nil
}

func readDelimitedMsg(br *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(br)
	if err != nil {
		return nil, err
	}
	if n > 1<<20 {
		return nil, fmt.Errorf("message of %d bytes", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return b, err
}
