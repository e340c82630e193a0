package minihdfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// The data transfer protocol (DataTransferProtocol, PacketReceiver,
// PipelineAck) as pure functions over io.Reader and []byte, shared by the
// DataNode, its tests and its fuzz targets. Every length read from the
// wire is checked before anything is allocated for it.

// Protocol constants (DataTransferProtocol.DATA_TRANSFER_VERSION, Op).
const (
	dataTransferVersion = 28
	opWriteBlock        = 80
	opReadBlock         = 81
	opBlockChecksum     = 85
	opTransferBlock     = 86

	// maxOpLen bounds an operation's header proto; real ones are a few
	// hundred bytes (a pipeline of targets stays well under this).
	maxOpLen = 1 << 20
	// maxPacketLen is PacketReceiver.MAX_PACKET_SIZE.
	maxPacketLen = 16 << 20
	// maxChunk bounds bytesPerChecksum.
	maxChunk = 1 << 20
	// heartbeatSeqno is PipelineAck.HEART_BEAT_SEQNO.
	heartbeatSeqno = -1
)

var (
	errVersion  = errors.New("minihdfs: unsupported data transfer version")
	errTooLarge = errors.New("minihdfs: length exceeds limit")
	errFraming  = errors.New("minihdfs: malformed data transfer message")
	errChecksum = errors.New("minihdfs: checksum mismatch")
)

// readOp reads the start of one operation:
//
//	+--------------------------------------+
//	| u16 BE data transfer version (28)    |
//	| u8  op code (80 WRITE_BLOCK, ...)    |
//	| varint length | Op…Proto             |
//	+--------------------------------------+
//
// It returns the op code and the raw proto. A clean EOF before the version
// is io.EOF.
func readOp(r io.ByteReader) (op byte, body []byte, err error) {
	var hdr [3]byte
	for i := range hdr {
		if hdr[i], err = r.ReadByte(); err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
	if v := binary.BigEndian.Uint16(hdr[:2]); v != dataTransferVersion {
		return 0, nil, fmt.Errorf("%w: %d (expected %d)", errVersion, v, dataTransferVersion)
	}
	body, err = readDelimited(r, maxOpLen)
	return hdr[2], body, err
}

// readDelimited reads a varint length and that many bytes, at most max.
func readDelimited(r io.ByteReader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: message of %d bytes", errTooLarge, n)
	}
	b := make([]byte, 0, min(n, 4096))
	for i := uint64(0); i < n; i++ {
		c, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b = append(b, c)
	}
	return b, nil
}

// appendDelimited appends m with a varint length prefix.
func appendDelimited(dst []byte, m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err) // only generated messages with their required fields set
	}
	dst = protowire.AppendVarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// packet is one data packet.
type packet struct {
	hdr  *hdfspb.PacketHeaderProto
	sums []byte // 4 bytes per chunk, or none
	data []byte
}

// readPacket reads one packet:
//
//	+---------------------------------------------------+
//	| u32 BE payload length = 4 + len(checksums+data)   |
//	| u16 BE header length                              |
//	| PacketHeaderProto (offsetInBlock, seqno,          |
//	|   lastPacketInBlock, dataLen[, syncBlock])        |
//	| checksums: 4 bytes per chunk of data              |
//	| data: dataLen bytes                               |
//	+---------------------------------------------------+
//
// buf is reused for the payload when it is large enough; the returned
// packet aliases it.
func readPacket(r io.Reader, buf []byte) (packet, []byte, error) {
	var lens [6]byte
	if _, err := io.ReadFull(r, lens[:]); err != nil {
		return packet{}, buf, err
	}
	plen := binary.BigEndian.Uint32(lens[:4])
	hlen := int(binary.BigEndian.Uint16(lens[4:]))
	if plen < 4 || plen > maxPacketLen {
		return packet{}, buf, fmt.Errorf("%w: packet payload length %d", errFraming, plen)
	}
	total := hlen + int(plen) - 4
	buf, err := readN(r, buf[:0], total)
	if err != nil {
		return packet{}, buf, err
	}
	hdr := &hdfspb.PacketHeaderProto{}
	if err := proto.Unmarshal(buf[:hlen], hdr); err != nil {
		return packet{}, buf, fmt.Errorf("%w: packet header: %w", errFraming, err)
	}
	payload := buf[hlen:]
	dlen := int(hdr.GetDataLen())
	if dlen < 0 || dlen > len(payload) {
		return packet{}, buf, fmt.Errorf("%w: dataLen %d in a payload of %d", errFraming, dlen, len(payload))
	}
	return packet{hdr: hdr, sums: payload[:len(payload)-dlen], data: payload[len(payload)-dlen:]}, buf, nil
}

// readN reads n bytes into buf. Beyond buf's capacity it grows with the
// data that actually arrives, so a peer that announces a large packet and
// sends little costs little.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	const step = 1 << 20
	for len(buf) < n {
		k := min(n-len(buf), step)
		if cap(buf)-len(buf) < k {
			buf = append(buf[:cap(buf)], make([]byte, k)...)[:len(buf)]
		}
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// appendPacket appends the wire form of a packet (the layout of
// readPacket).
func appendPacket(dst []byte, hdr *hdfspb.PacketHeaderProto, sums, data []byte) []byte {
	h, err := proto.MarshalOptions{Deterministic: true}.Marshal(hdr)
	if err != nil {
		panic(err)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+len(sums)+len(data)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h)))
	dst = append(dst, h...)
	dst = append(dst, sums...)
	return append(dst, data...)
}

// checksum is a DataChecksum: its type and chunk size.
type checksum struct {
	typ hdfspb.ChecksumTypeProto
	bpc int
	tab *crc32.Table
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// newChecksum validates a requested ChecksumProto.
func newChecksum(c *hdfspb.ChecksumProto) (checksum, error) {
	bpc := int(c.GetBytesPerChecksum())
	if bpc <= 0 || bpc > maxChunk {
		return checksum{}, fmt.Errorf("%w: bytesPerChecksum %d", errFraming, bpc)
	}
	switch c.GetType() {
	case hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C:
		return checksum{c.GetType(), bpc, castagnoli}, nil
	case hdfspb.ChecksumTypeProto_CHECKSUM_CRC32:
		return checksum{c.GetType(), bpc, crc32.IEEETable}, nil
	case hdfspb.ChecksumTypeProto_CHECKSUM_NULL:
		return checksum{c.GetType(), bpc, nil}, nil
	}
	return checksum{}, fmt.Errorf("%w: checksum type %v", errFraming, c.GetType())
}

// size is the checksum bytes for n data bytes.
func (c checksum) size(n int) int {
	if c.tab == nil {
		return 0
	}
	return 4 * ((n + c.bpc - 1) / c.bpc)
}

// verify checks every chunk of p against its checksum (BlockReceiver.verifyChunks).
func (c checksum) verify(p packet) error {
	if want := c.size(len(p.data)); len(p.sums) != want {
		return fmt.Errorf("%w: invalid checksum length: received length is %d but expected length is %d", errFraming, len(p.sums), want)
	}
	if c.tab == nil {
		return nil
	}
	for i, off := 0, 0; off < len(p.data); i, off = i+1, off+c.bpc {
		chunk := p.data[off:min(off+c.bpc, len(p.data))]
		if binary.BigEndian.Uint32(p.sums[4*i:]) != crc32.Checksum(chunk, c.tab) {
			return fmt.Errorf("%w: chunk %d at packet offset %d", errChecksum, i, off)
		}
	}
	return nil
}

// appendSums appends the checksums of data's chunks.
func (c checksum) appendSums(dst, data []byte) []byte {
	if c.tab == nil {
		return dst
	}
	for off := 0; off < len(data); off += c.bpc {
		dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(data[off:min(off+c.bpc, len(data))], c.tab))
	}
	return dst
}

func (c checksum) proto() *hdfspb.ChecksumProto {
	return &hdfspb.ChecksumProto{Type: c.typ.Enum(), BytesPerChecksum: proto.Uint32(uint32(c.bpc))}
}

// ack is a PipelineAckProto: one reply per DataNode from this one down
// the pipeline, each also as its header flag (PipelineAck.combineHeader
// with ECN disabled: the status in the low bits), no downstream time — the
// bytes of the 3.3.6 captures for a single node. The Java client reads the
// flags, colinmarc/hdfs the replies.
func ack(seqno int64, replies ...hdfspb.Status) *hdfspb.PipelineAckProto {
	flags := make([]uint32, len(replies))
	for i, st := range replies {
		flags[i] = uint32(st)
	}
	return &hdfspb.PipelineAckProto{
		Seqno:                  proto.Int64(seqno),
		Reply:                  replies,
		DownstreamAckTimeNanos: proto.Uint64(0),
		Flag:                   flags,
	}
}
