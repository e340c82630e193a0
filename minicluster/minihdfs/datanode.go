package minihdfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// DataNode timeouts (dfs.client.socket-timeout,
// dfs.datanode.socket.reuse.keepalive).
const (
	socketTimeout    = 60 * time.Second
	keepaliveTimeout = 4 * time.Second
	readPacketData   = 64 << 10 // data bytes per READ_BLOCK packet, as the 3.3.6 DataNode sends
)

// replica is one block's file on disk (ReplicaInfo), in rbw/ while it is
// written and in finalized/ after.
type replica struct {
	id, gs    uint64
	length    int64 // bytes written and acknowledged
	finalized bool
	path      string
	writer    *writer  // the connection writing it, nil when none
	sum       checksum // the checksum it was written with (its metadata header)
}

func (r *replica) String() string {
	return fmt.Sprintf("%s, %s, length=%d", blockName(r.id, r.gs), r.state(), r.length)
}

func (r *replica) state() string {
	if r.finalized {
		return "FINALIZED"
	}
	return "RBW"
}

// dataNode serves the data transfer protocol on its own listener and
// keeps replicas under dir. It tells the NameNode about finalized
// replicas in-process.
type dataNode struct {
	lg        zerolog.Logger
	nn        *nameNode
	bpid      string
	dir       string
	uuid      string
	storageID string
	ip        string
	host      string
	port      int
	capacity  uint64
	started   time.Time

	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]struct{}
	replicas map[uint64]*replica
	stopped  bool
	wg       sync.WaitGroup

	received  atomic.Int64 // data bytes accepted in WRITE_BLOCK packets
	stopAfter atomic.Int64 // stop once received reaches this; 0 = never
	used      atomic.Int64
	xceivers  atomic.Int32
}

func newDataNode(lg zerolog.Logger, bpid, dir string, ln net.Listener, ip, host string, capacity uint64) (*dataNode, error) {
	for _, sub := range []string{"rbw", "finalized"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return &dataNode{
		lg: lg, bpid: bpid, dir: dir, ln: ln, ip: ip, host: host, port: port, capacity: capacity,
		uuid: newUUID(), storageID: "DS-" + newUUID(), started: time.Now(),
		conns: map[net.Conn]struct{}{}, replicas: map[uint64]*replica{},
	}, nil
}

func (dn *dataNode) addr() string { return net.JoinHostPort(dn.ip, strconv.Itoa(dn.port)) }

func (dn *dataNode) alive() bool {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	return !dn.stopped
}

func (dn *dataNode) usage() (capacity, used uint64) { return dn.capacity, uint64(dn.used.Load()) }

// info is the DatanodeInfoProto the NameNode hands to clients, with every
// field the 3.3.6 NameNode sets.
func (dn *dataNode) info(now time.Time) *hdfspb.DatanodeInfoProto {
	capacity, used := dn.usage()
	mono := uint64(time.Since(dn.started).Milliseconds())
	return &hdfspb.DatanodeInfoProto{
		Id: &hdfspb.DatanodeIDProto{
			IpAddr: proto.String(dn.ip), HostName: proto.String(dn.host), DatanodeUuid: proto.String(dn.uuid),
			XferPort: proto.Uint32(uint32(dn.port)), InfoPort: proto.Uint32(0), IpcPort: proto.Uint32(0), InfoSecurePort: proto.Uint32(0),
		},
		Capacity: proto.Uint64(capacity), DfsUsed: proto.Uint64(used), Remaining: proto.Uint64(capacity - min(used, capacity)),
		BlockPoolUsed: proto.Uint64(used), LastUpdate: proto.Uint64(uint64(now.UnixMilli())),
		XceiverCount: proto.Uint32(uint32(dn.xceivers.Load())), Location: proto.String("/default-rack"),
		NonDfsUsed: proto.Uint64(0), AdminState: hdfspb.DatanodeInfoProto_NORMAL.Enum(),
		CacheCapacity: proto.Uint64(0), CacheUsed: proto.Uint64(0), LastUpdateMonotonic: proto.Uint64(mono),
		LastBlockReportTime: proto.Uint64(uint64(dn.started.UnixMilli())), LastBlockReportMonotonic: proto.Uint64(0),
		NumBlocks: proto.Uint32(0),
	}
}

// serve accepts connections until the DataNode stops.
func (dn *dataNode) serve() {
	defer dn.wg.Done()
	for {
		nc, err := dn.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		dn.mu.Lock()
		if dn.stopped {
			dn.mu.Unlock()
			nc.Close()
			return
		}
		dn.conns[nc] = struct{}{}
		dn.wg.Add(1)
		dn.mu.Unlock()
		go func() {
			defer dn.wg.Done()
			dn.xceivers.Add(1)
			defer dn.xceivers.Add(-1)
			if err := dn.serveConn(nc); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				dn.lg.Debug().Err(err).Str("node", dn.addr()).Msg("data transfer connection ended")
			}
			nc.Close()
			dn.mu.Lock()
			delete(dn.conns, nc)
			dn.mu.Unlock()
		}()
	}
}

// kill stops the DataNode at once: no more connections, and every open
// one is cut mid-stream. It does not wait, so a connection's own
// goroutine may call it.
func (dn *dataNode) kill() {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if dn.stopped {
		return
	}
	dn.stopped = true
	dn.ln.Close()
	for c := range dn.conns {
		c.Close()
	}
}

// stop kills the DataNode and waits for its goroutines.
func (dn *dataNode) stop() {
	dn.kill()
	dn.wg.Wait()
}

// serveConn runs operations on one connection until it closes
// (DataXceiver.run).
func (dn *dataNode) serveConn(nc net.Conn) error {
	br := bufio.NewReaderSize(nc, 128<<10)
	bw := bufio.NewWriterSize(nc, 128<<10)
	for n := 0; ; n++ {
		timeout := socketTimeout
		if n > 0 {
			timeout = keepaliveTimeout
		}
		if err := nc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
			return err
		}
		op, body, err := readOp(br)
		if err != nil {
			return err
		}
		switch op {
		case opWriteBlock:
			err = dn.writeBlock(nc, br, bw, body)
		case opReadBlock:
			err = dn.readBlock(nc, br, bw, body)
		case opTransferBlock:
			err = dn.transferBlock(bw, body)
		case opBlockChecksum:
			err = dn.blockChecksum(bw, body)
		default:
			respond(bw, hdfspb.Status_ERROR_UNSUPPORTED, fmt.Sprintf("minihdfs: data transfer op %d is not supported", op))
			return fmt.Errorf("unsupported op %d", op)
		}
		if err != nil {
			return err
		}
	}
}

// respond sends a BlockOpResponseProto carrying an error.
func respond(bw *bufio.Writer, st hdfspb.Status, msg string) {
	_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: st.Enum(), Message: proto.String(msg)}))
	_ = bw.Flush()
}

// writeBlock receives one block (DataXceiver.writeBlock and
// BlockReceiver): for a new block (PIPELINE_SETUP_CREATE) or one whose
// pipeline a client rebuilt (PIPELINE_SETUP_STREAMING_RECOVERY,
// PIPELINE_CLOSE_RECOVERY). With targets it first opens the same
// operation to the next DataNode (the mirror) and answers with the
// mirror's status, naming it as firstBadLink when it cannot be reached.
// Then per packet: forward it downstream, check its CRCs (the last node
// of the pipeline only), write it, and let the responder ack it with this
// node's status followed by the downstream replies. The last packet
// finalizes the replica, which is reported to the NameNode before its ack
// goes out, so complete() finds it.
func (dn *dataNode) writeBlock(nc net.Conn, br *bufio.Reader, bw *bufio.Writer, body []byte) error {
	op := &hdfspb.OpWriteBlockProto{}
	if err := proto.Unmarshal(body, op); err != nil {
		return fmt.Errorf("OpWriteBlockProto: %w", err)
	}
	eb := op.GetHeader().GetBaseHeader().GetBlock()
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		respond(bw, hdfspb.Status_ERROR, msg)
		return errors.New(msg)
	}
	if eb.GetPoolId() != dn.bpid {
		return fail("Block pool %s is not found on DataNode %s", eb.GetPoolId(), dn.uuid)
	}
	sum, err := newChecksum(op.GetRequestedChecksum())
	if err != nil {
		return fail("%v", err)
	}
	w := &writer{conn: nc, done: make(chan struct{})}
	defer close(w.done)
	var rep *replica
	var f *os.File
	stage := op.GetStage()
	transfer := stage == hdfspb.OpWriteBlockProto_TRANSFER_RBW || stage == hdfspb.OpWriteBlockProto_TRANSFER_FINALIZED
	switch stage {
	case hdfspb.OpWriteBlockProto_PIPELINE_SETUP_CREATE, hdfspb.OpWriteBlockProto_TRANSFER_RBW, hdfspb.OpWriteBlockProto_TRANSFER_FINALIZED:
		// A transfer (DataNode.transferReplicaForPipelineRecovery on the
		// sender) creates the replica as a new one does (createTemporary).
		rep, f, err = dn.createRBW(eb, w, sum)
	case hdfspb.OpWriteBlockProto_PIPELINE_SETUP_STREAMING_RECOVERY, hdfspb.OpWriteBlockProto_PIPELINE_CLOSE_RECOVERY:
		rep, f, err = dn.recoverRBW(eb, op, w)
	case hdfspb.OpWriteBlockProto_PIPELINE_SETUP_APPEND:
		rep, f, err = dn.appendRBW(eb, op.GetLatestGenerationStamp(), op.GetMinBytesRcvd(), w)
	default:
		return fail("minihdfs: write stage %v is not supported", stage)
	}
	if err != nil {
		return fail("%v", err)
	}
	defer f.Close()
	defer dn.releaseWriter(rep, w)

	var m *mirror
	if len(op.GetTargets()) > 0 {
		var st hdfspb.Status
		var badLink string
		m, st, badLink, err = dn.openMirror(op)
		if err != nil || st != hdfspb.Status_SUCCESS {
			msg := fmt.Sprintf("minihdfs: mirror %s: %v", badLink, err)
			_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_ERROR.Enum(),
				FirstBadLink: proto.String(badLink), Message: proto.String(msg)}))
			_ = bw.Flush()
			return errors.New(msg)
		}
		defer m.close()
	}
	_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_SUCCESS.Enum(), FirstBadLink: proto.String("")}))
	if err := bw.Flush(); err != nil {
		return err
	}

	pending := make(chan pendingAck, maxPendingAcks)
	responded := make(chan error, 1)
	go func() { responded <- dn.respondAcks(nc, bw, m, rep, f, stage, pending) }()
	err = dn.receivePackets(nc, br, m, rep, f, sum, pending)
	if err != nil {
		// Unblock the responder: it may wait on the mirror or the client.
		m.close()
		nc.Close()
	}
	close(pending)
	if rerr := <-responded; err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("receive %s: %w", extendedString(eb), err)
	}
	if transfer {
		// The close-ack of a transfer (DataXceiver.writeBlock, isTransfer).
		_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_SUCCESS.Enum()}))
		return bw.Flush()
	}
	return nil
}

// receivePackets is BlockReceiver.receivePacket in a loop: each packet is
// forwarded to the mirror first, then checked and written, then queued
// for the responder. It returns after the last packet of the block.
func (dn *dataNode) receivePackets(nc net.Conn, br *bufio.Reader, m *mirror, rep *replica, f *os.File, sum checksum, pending chan<- pendingAck) error {
	var buf []byte
	for {
		if err := nc.SetReadDeadline(time.Now().Add(socketTimeout)); err != nil {
			return err
		}
		var p packet
		var err error
		p, buf, err = readPacket(br, buf)
		if err != nil {
			return err
		}
		m.forward(p, buf)
		h := p.hdr
		heartbeat := h.GetSeqno() == heartbeatSeqno && len(p.data) == 0 && !h.GetLastPacketInBlock()
		if !heartbeat {
			// Only the last node of a pipeline verifies (BlockReceiver.shouldVerifyChecksum).
			if err := dn.receive(rep, f, sum, p, m == nil); err != nil {
				if errors.Is(err, errChecksum) {
					pending <- pendingAck{seqno: h.GetSeqno(), status: hdfspb.Status_ERROR_CHECKSUM}
				}
				return err
			}
		}
		pending <- pendingAck{seqno: h.GetSeqno(), last: h.GetLastPacketInBlock(), status: hdfspb.Status_SUCCESS}
		if h.GetLastPacketInBlock() {
			return nil
		}
	}
}

// writer is the connection writing a replica, so that pipeline recovery
// can stop it (ReplicaInPipeline.stopWriter): closing conn ends it, done
// closes when it has let go.
type writer struct {
	conn net.Conn
	done chan struct{}
}

// releaseWriter forgets w as rep's writer.
func (dn *dataNode) releaseWriter(rep *replica, w *writer) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if rep.writer == w {
		rep.writer = nil
	}
}

// javaMessage is an error worded as the Java DataNode words it, for the
// client to read in a BlockOpResponseProto.
type javaMessage string

func (m javaMessage) Error() string { return string(m) }

// createRBW creates the replica file of a new block (FsDatasetImpl.createRbw).
func (dn *dataNode) createRBW(eb *hdfspb.ExtendedBlockProto, w *writer, sum checksum) (*replica, *os.File, error) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if r := dn.replicas[eb.GetBlockId()]; r != nil {
		return nil, nil, javaMessage(fmt.Sprintf("Block %s already exists in state %s and thus cannot be created.", extendedString(eb), r.state()))
	}
	r := &replica{id: eb.GetBlockId(), gs: eb.GetGenerationStamp(), sum: sum, path: filepath.Join(dn.dir, "rbw", fmt.Sprintf("blk_%d", eb.GetBlockId()))}
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	r.writer = w
	dn.replicas[r.id] = r
	return r, f, nil
}

// stopWriterTimeout bounds the wait for a replaced writer
// (dfs.datanode.xceiver.stop.timeout.millis).
const stopWriterTimeout = time.Minute

// recoverRBW reopens a replica for a rebuilt pipeline
// (FsDatasetImpl.recoverRbw and, for PIPELINE_CLOSE_RECOVERY,
// recoverClose): the old writer is stopped, the replica must be in range
// of the client's generation stamps and byte counts, and takes the new
// generation stamp. Packets the client resends from its last acked byte
// overwrite what is already there.
func (dn *dataNode) recoverRBW(eb *hdfspb.ExtendedBlockProto, op *hdfspb.OpWriteBlockProto, w *writer) (*replica, *os.File, error) {
	closing := op.GetStage() == hdfspb.OpWriteBlockProto_PIPELINE_CLOSE_RECOVERY
	newGS := op.GetLatestGenerationStamp()
	dn.mu.Lock()
	r := dn.replicas[eb.GetBlockId()]
	var old *writer
	if r != nil {
		old = r.writer
	}
	dn.mu.Unlock()
	if r == nil {
		return nil, nil, javaMessage("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Cannot append to a non-existent replica " + extendedString(eb))
	}
	if old != nil {
		old.conn.Close()
		select {
		case <-old.done:
		case <-time.After(stopWriterTimeout):
			return nil, nil, javaMessage(fmt.Sprintf("java.io.IOException: Join on writer thread of %s timed out", r))
		}
	}
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if dn.replicas[r.id] != r || r.writer != nil {
		return nil, nil, javaMessage(fmt.Sprintf("java.io.IOException: %s is being written by another writer", r))
	}
	if r.finalized && !closing {
		return nil, nil, javaMessage("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Cannot recover a non-RBW replica " + r.String())
	}
	if r.gs < eb.GetGenerationStamp() || r.gs > newGS {
		return nil, nil, javaMessage(fmt.Sprintf("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Cannot append to a replica with unexpected generation stamp %s. Expected GS range is [%d, %d].",
			r, eb.GetGenerationStamp(), newGS))
	}
	if lo, hi := int64(op.GetMinBytesRcvd()), int64(op.GetMaxBytesRcvd()); !closing && (r.length < lo || r.length > hi) {
		return nil, nil, javaMessage(fmt.Sprintf("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Unmatched length replica %s: BytesAcked = %d BytesRcvd = %d are not in the range of [%d, %d].",
			r, r.length, r.length, lo, hi))
	}
	f, err := os.OpenFile(r.path, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	r.gs = newGS
	r.writer = w
	return r, f, nil
}

// receive checks (when verify) and writes one packet's data at its
// offset. A packet may start anywhere in what is already written: inside
// the last, partial chunk to rewrite it (after an hflush), or earlier when
// a client resends unacked packets after pipeline recovery. A gap is
// refused.
func (dn *dataNode) receive(r *replica, f *os.File, sum checksum, p packet, verify bool) error {
	dn.mu.Lock()
	cur := r.length
	dn.mu.Unlock()
	off := p.hdr.GetOffsetInBlock()
	if off > cur || off < 0 {
		return fmt.Errorf("%w: Received an out-of-sequence packet at offset %d. Expecting packet starting at %d", errFraming, off, cur)
	}
	if want := sum.size(len(p.data)); len(p.sums) != want {
		return fmt.Errorf("%w: invalid checksum length: received length is %d but expected length is %d", errFraming, len(p.sums), want)
	}
	if verify {
		if err := sum.verify(p); err != nil {
			return err
		}
	}
	if len(p.data) > 0 {
		if _, err := f.WriteAt(p.data, off); err != nil {
			return err
		}
	}
	if p.hdr.GetSyncBlock() {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	end := off + int64(len(p.data))
	dn.mu.Lock()
	if end > r.length {
		dn.used.Add(end - r.length)
		r.length = end
	}
	dn.mu.Unlock()
	total := dn.received.Add(int64(len(p.data)))
	if lim := dn.stopAfter.Load(); lim > 0 && total >= lim {
		dn.lg.Info().Str("node", dn.addr()).Msg("fault hook: stopping the DataNode")
		dn.kill()
	}
	return nil
}

// finalizeRBW moves a completely received replica to finalized/ (a
// replica finalized before a close recovery stays where it is).
func (dn *dataNode) finalizeRBW(r *replica, f *os.File) error {
	if err := f.Truncate(r.length); err != nil {
		return err
	}
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if dn.replicas[r.id] != r {
		return fmt.Errorf("replica %s was deleted while it was written", blockName(r.id, r.gs))
	}
	if r.finalized {
		return nil
	}
	final := filepath.Join(dn.dir, "finalized", filepath.Base(r.path))
	if err := os.Rename(r.path, final); err != nil {
		return err
	}
	r.path, r.finalized = final, true
	return nil
}

// replicaState is what the DataNode holds of a block.
type replicaState struct {
	gs        uint64
	length    int64
	finalized bool
}

func (dn *dataNode) replicaState(id uint64) (replicaState, bool) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	r := dn.replicas[id]
	if r == nil {
		return replicaState{}, false
	}
	return replicaState{gs: r.gs, length: r.length, finalized: r.finalized}, true
}

// finalizeAt cuts the replica of a block whose writer is gone to length
// and finalizes it (block recovery, for one replica).
func (dn *dataNode) finalizeAt(id uint64, length int64) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	r := dn.replicas[id]
	if r == nil {
		return
	}
	if length < r.length {
		if err := os.Truncate(r.path, length); err != nil {
			dn.lg.Warn().Err(err).Msg("truncate replica")
			return
		}
		dn.used.Add(length - r.length)
		r.length = length
	}
	if !r.finalized {
		final := filepath.Join(dn.dir, "finalized", filepath.Base(r.path))
		if err := os.Truncate(r.path, r.length); err == nil {
			if err := os.Rename(r.path, final); err == nil {
				r.path, r.finalized = final, true
			}
		}
	}
}

// invalidate deletes the replicas of blocks the NameNode dropped.
func (dn *dataNode) invalidate(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	dn.mu.Lock()
	defer dn.mu.Unlock()
	for _, id := range ids {
		if r := dn.replicas[id]; r != nil {
			delete(dn.replicas, id)
			dn.used.Add(-r.length)
			if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				dn.lg.Warn().Err(err).Msg("delete replica")
			}
		}
	}
}

// readBlock sends a byte range of a replica (DataXceiver.readBlock,
// BlockSender): the response with the checksum in use, packets of up to
// 64 KiB with their checksums, an empty last packet, then the client's
// read status.
func (dn *dataNode) readBlock(nc net.Conn, br *bufio.Reader, bw *bufio.Writer, body []byte) error {
	op := &hdfspb.OpReadBlockProto{}
	if err := proto.Unmarshal(body, op); err != nil {
		return fmt.Errorf("OpReadBlockProto: %w", err)
	}
	eb := op.GetHeader().GetBaseHeader().GetBlock()
	f, start, end, err := dn.openForRead(eb, op.GetOffset(), op.GetLen())
	if err != nil {
		msg := fmt.Sprintf("opReadBlock %s received exception %v", extendedString(eb), err)
		respond(bw, hdfspb.Status_ERROR, msg)
		return errors.New(msg)
	}
	defer f.Close()
	sum := checksum{typ: hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C, bpc: bytesPerChecksum, tab: castagnoli}
	if !op.GetSendChecksums() {
		sum = checksum{typ: hdfspb.ChecksumTypeProto_CHECKSUM_NULL, bpc: bytesPerChecksum}
	}
	_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{
		Status:             hdfspb.Status_SUCCESS.Enum(),
		ReadOpChecksumInfo: &hdfspb.ReadOpChecksumInfoProto{Checksum: sum.proto(), ChunkOffset: proto.Uint64(uint64(start))},
	}))
	if err := sendPackets(nc, bw, f, start, end, sum); err != nil {
		return fmt.Errorf("read %s: %w", extendedString(eb), err)
	}
	// The client answers a complete read with its ClientReadStatusProto.
	if err := nc.SetReadDeadline(time.Now().Add(socketTimeout)); err != nil {
		return err
	}
	st, err := readDelimited(br, maxOpLen)
	if err != nil {
		return err
	}
	return proto.Unmarshal(st, &hdfspb.ClientReadStatusProto{})
}

// openForRead checks a read request against the replica (BlockSender) and
// returns the file and the chunk-aligned range to send.
func (dn *dataNode) openForRead(eb *hdfspb.ExtendedBlockProto, offset, length uint64) (*os.File, int64, int64, error) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	r := dn.replicas[eb.GetBlockId()]
	if r == nil || eb.GetPoolId() != dn.bpid {
		return nil, 0, 0, fmt.Errorf("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Replica not found for %s", extendedString(eb))
	}
	if r.gs < eb.GetGenerationStamp() {
		return nil, 0, 0, fmt.Errorf("java.io.IOException: Replica gen stamp < block genstamp, block=%s, replica=%s", extendedString(eb), blockName(r.id, r.gs))
	}
	vis := r.length
	start, n := int64(offset), int64(length)
	if start < 0 || n < 0 || start > vis || start+n > vis || start+n < start {
		return nil, 0, 0, fmt.Errorf("java.io.IOException:  Offset %d and length %d don't match block %s ( blockLen %d )", start, n, extendedString(eb), vis)
	}
	end := start + n
	if rem := end % bytesPerChecksum; rem != 0 {
		end = min(end+bytesPerChecksum-rem, vis)
	}
	f, err := os.Open(r.path)
	if err != nil {
		return nil, 0, 0, err
	}
	return f, start - start%bytesPerChecksum, end, nil
}
