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

// excludedBy reports whether the client excluded this DataNode.
func (dn *dataNode) excludedBy(nodes []*hdfspb.DatanodeInfoProto) bool {
	for _, n := range nodes {
		id := n.GetId()
		if id.GetDatanodeUuid() == dn.uuid || (id.GetIpAddr() == dn.ip && int(id.GetXferPort()) == dn.port) {
			return true
		}
	}
	return false
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
// BlockReceiver): the response, then per packet a CRC check, the write and
// an ack; the last packet finalizes the replica, which is reported to the
// NameNode before its ack goes out, so complete() finds it.
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
	open := dn.createRBW
	switch st := op.GetStage(); st {
	case hdfspb.OpWriteBlockProto_PIPELINE_SETUP_CREATE:
	case hdfspb.OpWriteBlockProto_PIPELINE_SETUP_APPEND:
		open = func(eb *hdfspb.ExtendedBlockProto) (*replica, *os.File, error) {
			return dn.appendRBW(eb, op.GetLatestGenerationStamp(), op.GetMinBytesRcvd())
		}
	default:
		return fail("minihdfs: write stage %v is not supported", st)
	}
	if len(op.GetTargets()) > 0 {
		return fail("minihdfs: a pipeline of %d DataNodes is not supported", len(op.GetTargets())+1)
	}
	sum, err := newChecksum(op.GetRequestedChecksum())
	if err != nil {
		return fail("%v", err)
	}
	rep, f, err := open(eb)
	if err != nil {
		return fail("%v", err)
	}
	defer f.Close()
	_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_SUCCESS.Enum(), FirstBadLink: proto.String("")}))
	if err := bw.Flush(); err != nil {
		return err
	}
	var buf []byte
	for {
		if err := nc.SetReadDeadline(time.Now().Add(socketTimeout)); err != nil {
			return err
		}
		var p packet
		p, buf, err = readPacket(br, buf)
		if err != nil {
			return fmt.Errorf("receive %s: %w", extendedString(eb), err)
		}
		h := p.hdr
		if h.GetSeqno() == heartbeatSeqno && len(p.data) == 0 && !h.GetLastPacketInBlock() {
			if err := dn.sendAck(bw, heartbeatSeqno, hdfspb.Status_SUCCESS); err != nil {
				return err
			}
			continue
		}
		if err := dn.receive(rep, f, sum, p); err != nil {
			if errors.Is(err, errChecksum) {
				_ = dn.sendAck(bw, h.GetSeqno(), hdfspb.Status_ERROR_CHECKSUM)
			}
			return fmt.Errorf("receive %s: %w", extendedString(eb), err)
		}
		if h.GetLastPacketInBlock() {
			if err := dn.finalizeRBW(rep, f); err != nil {
				_ = dn.sendAck(bw, h.GetSeqno(), hdfspb.Status_ERROR)
				return err
			}
			dn.nn.blockReceived(rep.id, rep.gs, rep.length)
		}
		if err := dn.sendAck(bw, h.GetSeqno(), hdfspb.Status_SUCCESS); err != nil {
			return err
		}
		if h.GetLastPacketInBlock() {
			return nil
		}
	}
}

func (dn *dataNode) sendAck(bw *bufio.Writer, seqno int64, st hdfspb.Status) error {
	_, _ = bw.Write(appendDelimited(nil, ack(seqno, st)))
	return bw.Flush()
}

// javaMessage is an error worded as the Java DataNode words it, for the
// client to read in a BlockOpResponseProto.
type javaMessage string

func (m javaMessage) Error() string { return string(m) }

// createRBW creates the replica file of a new block (FsDatasetImpl.createRbw).
func (dn *dataNode) createRBW(eb *hdfspb.ExtendedBlockProto) (*replica, *os.File, error) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if r := dn.replicas[eb.GetBlockId()]; r != nil {
		return nil, nil, javaMessage(fmt.Sprintf("Block %s already exists in state %s and thus cannot be created.", extendedString(eb), r.state()))
	}
	r := &replica{id: eb.GetBlockId(), gs: eb.GetGenerationStamp(), path: filepath.Join(dn.dir, "rbw", fmt.Sprintf("blk_%d", eb.GetBlockId()))}
	f, err := os.OpenFile(r.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, nil, err
	}
	dn.replicas[r.id] = r
	return r, f, nil
}

// receive checks and writes one packet's data at its offset. A packet may
// start inside the last, partial chunk to rewrite it (after an hflush); any
// other gap or overlap is refused.
func (dn *dataNode) receive(r *replica, f *os.File, sum checksum, p packet) error {
	dn.mu.Lock()
	cur := r.length
	dn.mu.Unlock()
	off := p.hdr.GetOffsetInBlock()
	if off > cur || off < cur-cur%int64(sum.bpc) || off < 0 {
		return fmt.Errorf("%w: Received an out-of-sequence packet at offset %d. Expecting packet starting at %d", errFraming, off, cur)
	}
	if err := sum.verify(p); err != nil {
		return err
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

// finalizeRBW moves a completely received replica to finalized/.
func (dn *dataNode) finalizeRBW(r *replica, f *os.File) error {
	if err := f.Truncate(r.length); err != nil {
		return err
	}
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if dn.replicas[r.id] != r {
		return fmt.Errorf("replica %s was deleted while it was written", blockName(r.id, r.gs))
	}
	final := filepath.Join(dn.dir, "finalized", filepath.Base(r.path))
	if err := os.Rename(r.path, final); err != nil {
		return err
	}
	r.path, r.finalized = final, true
	return nil
}

// recoverReplica finalizes the replica of a block whose writer is gone and
// returns its length (block recovery, for one replica).
func (dn *dataNode) recoverReplica(id uint64) (int64, bool) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	r := dn.replicas[id]
	if r == nil {
		return 0, false
	}
	if !r.finalized {
		final := filepath.Join(dn.dir, "finalized", filepath.Base(r.path))
		if err := os.Truncate(r.path, r.length); err == nil {
			if err := os.Rename(r.path, final); err == nil {
				r.path, r.finalized = final, true
			}
		}
	}
	return r.length, true
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
	data := make([]byte, readPacketData)
	var out []byte
	seq := int64(0)
	for off := start; ; seq++ {
		n := min(int64(readPacketData), end-off)
		last := n == 0
		if !last {
			if _, err := f.ReadAt(data[:n], off); err != nil {
				return fmt.Errorf("read %s: %w", extendedString(eb), err)
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
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return err
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
