package minihdfs

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// sendPackets sends [start, end) of f as data packets of up to 64 KiB with
// their checksums, then the empty last packet (BlockSender.sendBlock),
// and flushes.
func sendPackets(nc net.Conn, bw *bufio.Writer, f *os.File, start, end int64, sum checksum) error {
	data := make([]byte, readPacketData)
	var out []byte
	for off, seq := start, int64(0); ; seq++ {
		n := min(int64(readPacketData), end-off)
		last := n == 0
		if !last {
			if _, err := f.ReadAt(data[:n], off); err != nil {
				return err
			}
		}
		hdr := &hdfspb.PacketHeaderProto{
			OffsetInBlock:     proto.Int64(off),
			Seqno:             proto.Int64(seq),
			LastPacketInBlock: proto.Bool(last),
			DataLen:           proto.Int32(int32(n)),
		}
		out = appendPacket(out[:0], hdr, sum.appendSums(nil, data[:n]), data[:n])
		if err := nc.SetWriteDeadline(time.Now().Add(socketTimeout)); err != nil {
			return err
		}
		if _, err := bw.Write(out); err != nil {
			return err
		}
		off += n
		if last {
			return bw.Flush()
		}
	}
}

// transferBlock copies a replica to new DataNodes for a client that adds
// them to its pipeline (DataXceiver.transferBlock,
// DataNode.transferReplicaForPipelineRecovery and DataTransfer): a
// WRITE_BLOCK of stage TRANSFER_RBW (or TRANSFER_FINALIZED) to the first
// target with the bytes this node has, then SUCCESS to the client.
func (dn *dataNode) transferBlock(bw *bufio.Writer, body []byte) error {
	op := &hdfspb.OpTransferBlockProto{}
	if err := proto.Unmarshal(body, op); err != nil {
		return fmt.Errorf("OpTransferBlockProto: %w", err)
	}
	eb := op.GetHeader().GetBaseHeader().GetBlock()
	fail := func(err error) error {
		msg := fmt.Sprintf("opTransferBlock %s received exception %v", extendedString(eb), err)
		respond(bw, hdfspb.Status_ERROR, msg)
		return errors.New(msg)
	}
	if len(op.GetTargets()) == 0 {
		_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_SUCCESS.Enum()}))
		return bw.Flush()
	}
	dn.mu.Lock()
	r := dn.replicas[eb.GetBlockId()]
	var st replicaState
	var path string
	if r != nil {
		st, path = replicaState{gs: r.gs, length: r.length, finalized: r.finalized}, r.path
	}
	dn.mu.Unlock()
	if r == nil || eb.GetPoolId() != dn.bpid {
		return fail(javaMessage("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Replica not found for " + extendedString(eb)))
	}
	if st.gs < eb.GetGenerationStamp() {
		return fail(javaMessage(fmt.Sprintf("java.io.IOException: Replica gen stamp < block genstamp, block=%s, replica=%s", extendedString(eb), r)))
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	stage := hdfspb.OpWriteBlockProto_TRANSFER_RBW
	if st.finalized {
		stage = hdfspb.OpWriteBlockProto_TRANSFER_FINALIZED
	}
	b := proto.Clone(eb).(*hdfspb.ExtendedBlockProto)
	b.GenerationStamp, b.NumBytes = proto.Uint64(st.gs), proto.Uint64(uint64(st.length))
	sum := checksum{typ: hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C, bpc: bytesPerChecksum, tab: castagnoli}
	wop := &hdfspb.OpWriteBlockProto{
		Header: &hdfspb.ClientOperationHeaderProto{
			BaseHeader: &hdfspb.BaseHeaderProto{Block: b, Token: op.GetHeader().GetBaseHeader().GetToken()},
			ClientName: proto.String(op.GetHeader().GetClientName()),
		},
		Targets:               op.GetTargets(),
		Source:                dn.info(time.Now()),
		Stage:                 stage.Enum(),
		PipelineSize:          proto.Uint32(0),
		MinBytesRcvd:          proto.Uint64(0),
		MaxBytesRcvd:          proto.Uint64(0),
		LatestGenerationStamp: proto.Uint64(0),
		RequestedChecksum:     sum.proto(),
		TargetStorageTypes:    op.GetTargetStorageTypes(),
		TargetStorageIds:      op.GetTargetStorageIds(),
	}
	m, status, badLink, err := dn.openMirror(wop)
	if err != nil || status != hdfspb.Status_SUCCESS {
		return fail(fmt.Errorf("java.io.IOException: transfer to %s: %v %w", badLink, status, err))
	}
	defer m.close()
	if err := sendPackets(m.conn, m.bw, f, 0, st.length, sum); err != nil {
		return fail(err)
	}
	// The target's close-ack (DNTransferAckProto).
	_ = m.conn.SetReadDeadline(time.Now().Add(socketTimeout))
	ab, err := readDelimited(m.br, maxOpLen)
	closeAck := &hdfspb.BlockOpResponseProto{}
	if err == nil {
		err = proto.Unmarshal(ab, closeAck)
	}
	if err == nil && closeAck.GetStatus() != hdfspb.Status_SUCCESS {
		err = fmt.Errorf("java.io.IOException: Bad connect ack, targets=%s status=%v", badLink, closeAck.GetStatus())
	}
	if err != nil {
		return fail(err)
	}
	_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_SUCCESS.Enum()}))
	return bw.Flush()
}
