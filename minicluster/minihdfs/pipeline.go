package minihdfs

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// The DataNode's half of a write pipeline of several nodes: the mirror
// (the connection to the next DataNode) and the PacketResponder that
// merges the mirror's acks into this node's.

// maxPendingAcks bounds the packets received and not yet acked, as the
// client's own window does (DataStreamer's dfs.client.write.max-packets-in-flight).
const maxPendingAcks = 80

// mirrorDialTimeout bounds connecting to the next DataNode
// (dfs.client.socket-timeout as the DataXceiver uses it).
const mirrorDialTimeout = 10 * time.Second

// pendingAck is a packet received and waiting for its ack
// (BlockReceiver.Packet).
type pendingAck struct {
	seqno  int64
	last   bool
	status hdfspb.Status
}

// mirror is the connection to the next DataNode of the pipeline. Once it
// fails, packets are no longer forwarded and acks report the downstream
// node as failed (BlockReceiver's mirrorError).
type mirror struct {
	dn     *dataNode
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	addr   string
	failed atomic.Bool
	closed atomic.Bool
}

// openMirror connects to the first of op's targets and sends it the same
// WRITE_BLOCK with the remaining targets (DataXceiver.writeBlock). It
// returns the mirror's status and, when that is not SUCCESS, the first bad
// link: the mirror's own address if it could not be reached, else the one
// the mirror reported.
func (dn *dataNode) openMirror(op *hdfspb.OpWriteBlockProto) (*mirror, hdfspb.Status, string, error) {
	t := op.GetTargets()[0]
	addr := net.JoinHostPort(t.GetId().GetIpAddr(), fmt.Sprint(t.GetId().GetXferPort()))
	conn, err := net.DialTimeout("tcp", addr, mirrorDialTimeout)
	if err != nil {
		return nil, hdfspb.Status_ERROR, addr, err
	}
	if !dn.track(conn) {
		conn.Close()
		return nil, hdfspb.Status_ERROR, addr, net.ErrClosed
	}
	m := &mirror{dn: dn, conn: conn, br: bufio.NewReaderSize(conn, 64<<10), bw: bufio.NewWriterSize(conn, 128<<10), addr: addr}
	down := proto.Clone(op).(*hdfspb.OpWriteBlockProto)
	down.Targets = op.GetTargets()[1:]
	if ts := op.GetTargetStorageTypes(); len(ts) > 0 {
		down.StorageType = ts[0].Enum()
		down.TargetStorageTypes = ts[1:]
	}
	if ids := op.GetTargetStorageIds(); len(ids) > 0 {
		down.StorageId = proto.String(ids[0])
		down.TargetStorageIds = ids[1:]
	}
	if ps := op.GetTargetPinnings(); len(ps) > 0 {
		down.Pinning = proto.Bool(ps[0])
		down.TargetPinnings = ps[1:]
	}
	hdr := binary.BigEndian.AppendUint16(nil, dataTransferVersion)
	hdr = append(hdr, opWriteBlock)
	_ = conn.SetDeadline(time.Now().Add(socketTimeout))
	if _, err = m.bw.Write(appendDelimited(hdr, down)); err == nil {
		err = m.bw.Flush()
	}
	if err != nil {
		m.close()
		return nil, hdfspb.Status_ERROR, addr, err
	}
	b, err := readDelimited(m.br, maxOpLen)
	resp := &hdfspb.BlockOpResponseProto{}
	if err == nil {
		err = proto.Unmarshal(b, resp)
	}
	if err != nil {
		m.close()
		return nil, hdfspb.Status_ERROR, addr, err
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.GetStatus() != hdfspb.Status_SUCCESS {
		m.close()
		bad := resp.GetFirstBadLink()
		if bad == "" {
			bad = addr
		}
		return nil, resp.GetStatus(), bad, errors.New(resp.GetMessage())
	}
	return m, hdfspb.Status_SUCCESS, "", nil
}

// track registers an outgoing connection so that kill cuts it; false if
// the DataNode is already stopped.
func (dn *dataNode) track(c net.Conn) bool {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if dn.stopped {
		return false
	}
	dn.conns[c] = struct{}{}
	return true
}

// close closes the mirror connection; m may be nil. Idempotent.
func (m *mirror) close() {
	if m == nil || m.closed.Swap(true) {
		return
	}
	m.failed.Store(true)
	m.conn.Close()
	m.dn.mu.Lock()
	delete(m.dn.conns, m.conn)
	m.dn.mu.Unlock()
}

// forward sends a packet downstream as received: its length prefix, then
// buf, which holds the header, checksums and data. A failure marks the
// mirror failed and is otherwise ignored (BlockReceiver.handleMirrorOutError):
// the client learns of it from the acks.
func (m *mirror) forward(p packet, buf []byte) {
	if m == nil || m.failed.Load() {
		return
	}
	var lens [6]byte
	binary.BigEndian.PutUint32(lens[:4], uint32(4+len(p.sums)+len(p.data)))
	binary.BigEndian.PutUint16(lens[4:], uint16(len(buf)-len(p.sums)-len(p.data)))
	_ = m.conn.SetWriteDeadline(time.Now().Add(socketTimeout))
	_, err := m.bw.Write(lens[:])
	if err == nil {
		_, err = m.bw.Write(buf)
	}
	if err == nil {
		err = m.bw.Flush()
	}
	if err != nil {
		m.dn.lg.Info().Err(err).Str("node", m.addr).Msg("mirror failed; continuing without it")
		m.failed.Store(true)
	}
}

// readAck reads the mirror's ack for seqno, or marks the mirror failed.
func (m *mirror) readAck(seqno int64) []hdfspb.Status {
	if m.failed.Load() {
		return nil
	}
	_ = m.conn.SetReadDeadline(time.Now().Add(socketTimeout))
	b, err := readDelimited(m.br, maxOpLen)
	a := &hdfspb.PipelineAckProto{}
	if err == nil {
		err = proto.Unmarshal(b, a)
	}
	if err == nil && a.GetSeqno() != seqno {
		err = fmt.Errorf("%w: PacketResponder: seqno: expected=%d, received=%d", errFraming, seqno, a.GetSeqno())
	}
	if err != nil {
		m.dn.lg.Info().Err(err).Str("node", m.addr).Msg("reading the mirror's ack failed")
		m.failed.Store(true)
		return nil
	}
	return a.GetReply()
}

// respondAcks is the PacketResponder: for each packet received, in order,
// it waits for the mirror's ack, finalizes the replica after the last
// packet, and acks upstream with this node's status followed by the
// downstream replies, or SUCCESS then ERROR once the mirror failed
// (BlockReceiver.PacketResponder.sendAckUpstreamUnprotected). A transfer
// gets no acks, and only TRANSFER_FINALIZED finalizes: a TRANSFER_RBW
// replica waits for the client's pipeline recovery.
func (dn *dataNode) respondAcks(nc net.Conn, bw *bufio.Writer, m *mirror, rep *replica, f *os.File, stage hdfspb.OpWriteBlockProto_BlockConstructionStage, pending <-chan pendingAck) error {
	var err error
	for p := range pending {
		if err != nil {
			continue // drain, so the receiver never blocks
		}
		if stage == hdfspb.OpWriteBlockProto_TRANSFER_RBW || stage == hdfspb.OpWriteBlockProto_TRANSFER_FINALIZED {
			if p.status != hdfspb.Status_SUCCESS {
				err = fmt.Errorf("transfer: %v for packet %d", p.status, p.seqno)
			} else if p.last && stage == hdfspb.OpWriteBlockProto_TRANSFER_FINALIZED {
				if err = dn.finalizeRBW(rep, f); err == nil {
					if st, ok := dn.replicaState(rep.id); ok {
						dn.nn.blockReceived(rep.id, st.gs, st.length)
					}
				}
			}
			continue
		}
		replies := []hdfspb.Status{p.status}
		if m != nil && p.status == hdfspb.Status_SUCCESS {
			down := m.readAck(p.seqno)
			if m.failed.Load() {
				down = []hdfspb.Status{hdfspb.Status_ERROR}
			}
			replies = append(replies, down...)
		}
		if p.last && p.status == hdfspb.Status_SUCCESS {
			if ferr := dn.finalizeRBW(rep, f); ferr != nil {
				replies[0] = hdfspb.Status_ERROR
				err = ferr
			} else if st, ok := dn.replicaState(rep.id); ok {
				dn.nn.blockReceived(rep.id, st.gs, st.length)
			}
		}
		if !dn.alive() {
			// A killed DataNode sends nothing more. kill marks it
			// stopped before it closes any connection, so a mirror
			// failure the kill itself caused is never reported as the
			// downstream node's (which would make the client drop the
			// wrong node).
			err = net.ErrClosed
			continue
		}
		if werr := nc.SetWriteDeadline(time.Now().Add(socketTimeout)); werr != nil && err == nil {
			err = werr
		}
		_, _ = bw.Write(appendDelimited(nil, ack(p.seqno, replies...)))
		if werr := bw.Flush(); werr != nil && err == nil {
			err = werr
		}
		if p.status != hdfspb.Status_SUCCESS && err == nil {
			err = fmt.Errorf("sent %v for packet %d", p.status, p.seqno)
		}
	}
	return err
}
