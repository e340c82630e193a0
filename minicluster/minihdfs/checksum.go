package minihdfs

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// OP_BLOCK_CHECKSUM, the DataNode's half of getFileChecksum
// (DataXceiver.blockChecksum and
// BlockChecksumHelper.ReplicatedBlockChecksumComputer, Hadoop 3.1.3/3.3):
//
//   - MD5CRC: the MD5 of the block's chunk CRCs as the metadata file
//     stores them (4 big-endian bytes per bytesPerChecksum chunk, the last
//     chunk possibly short); for a request shorter than the replica, the
//     CRCs of the whole chunks it covers and the CRC of its partial last
//     chunk (checksumPartialBlock).
//   - COMPOSITE_CRC: the chunk CRCs composed into one CRC per stripe of
//     stripeLength bytes (the whole block when 0), CrcComposer.
//
// The reply carries bytesPerCrc, crcPerBlock (the number of CRCs in the
// metadata file: chunks in the replica), the checksum bytes, the CRC type
// and the options echoed. The client combines the blocks
// (FileChecksumHelper): the MD5 of the concatenated block MD5s padded with
// zeros to DataOutputBuffer's capacity, or the composition of the block
// CRCs. The DataNode keeps no metadata file: it recomputes the CRCs with
// the checksum the replica was written with; they equal the client's,
// which the last node of the pipeline verified.

// blockChecksum serves OP_BLOCK_CHECKSUM.
func (dn *dataNode) blockChecksum(bw *bufio.Writer, body []byte) error {
	op := &hdfspb.OpBlockChecksumProto{}
	if err := proto.Unmarshal(body, op); err != nil {
		return fmt.Errorf("OpBlockChecksumProto: %w", err)
	}
	eb := op.GetHeader().GetBlock()
	opts := op.GetBlockChecksumOptions()
	if opts == nil {
		opts = &hdfspb.BlockChecksumOptionsProto{BlockChecksumType: hdfspb.BlockChecksumTypeProto_MD5CRC.Enum(), StripeLength: proto.Uint64(0)}
	}
	resp, err := dn.computeBlockChecksum(eb, opts)
	if err != nil {
		msg := fmt.Sprintf("blockChecksum %s received exception %v", extendedString(eb), err)
		respond(bw, hdfspb.Status_ERROR, msg)
		return errors.New(msg)
	}
	_, _ = bw.Write(appendDelimited(nil, &hdfspb.BlockOpResponseProto{Status: hdfspb.Status_SUCCESS.Enum(), ChecksumResponse: resp}))
	return bw.Flush()
}

func (dn *dataNode) computeBlockChecksum(eb *hdfspb.ExtendedBlockProto, opts *hdfspb.BlockChecksumOptionsProto) (*hdfspb.OpBlockChecksumResponseProto, error) {
	dn.mu.Lock()
	r := dn.replicas[eb.GetBlockId()]
	var st replicaState
	var path string
	var sum checksum
	if r != nil {
		st, path, sum = replicaState{gs: r.gs, length: r.length, finalized: r.finalized}, r.path, r.sum
	}
	dn.mu.Unlock()
	if r == nil || eb.GetPoolId() != dn.bpid {
		return nil, javaMessage("org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Replica not found for " + extendedString(eb))
	}
	if st.gs < eb.GetGenerationStamp() {
		return nil, javaMessage(fmt.Sprintf("java.io.IOException: Replica gen stamp < block genstamp, block=%s, replica=%s", extendedString(eb), blockName(r.id, st.gs)))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	visible := st.length
	request := min(int64(eb.GetNumBytes()), visible)
	crcs, err := chunkCRCs(f, visible, sum)
	if err != nil {
		return nil, err
	}
	crcPerBlock := uint64(len(crcs) / 4)
	var out []byte
	switch t := opts.GetBlockChecksumType(); t {
	case hdfspb.BlockChecksumTypeProto_MD5CRC:
		// checksumPartialBlock when the request is shorter, else checksumWholeBlock.
		if request < visible && crcPerBlock > 0 {
			crcs, err = chunkCRCs(f, request, sum)
			if err != nil {
				return nil, err
			}
		}
		h := md5.Sum(crcs)
		out = h[:]
	case hdfspb.BlockChecksumTypeProto_COMPOSITE_CRC:
		if sum.tab == nil {
			return nil, javaMessage(fmt.Sprintf("java.io.IOException: Unsupported CRC type for composition: %v", sum.typ))
		}
		poly := uint32(castagnoliPolynomial)
		if sum.typ == hdfspb.ChecksumTypeProto_CHECKSUM_CRC32 {
			poly = gzipPolynomial
		}
		if request < visible {
			if crcs, err = chunkCRCs(f, request, sum); err != nil {
				return nil, err
			}
		}
		stripe := int64(opts.GetStripeLength())
		if stripe <= 0 || stripe > request {
			stripe = request
		}
		c := newCrcComposer(poly, int64(sum.bpc), stripe)
		for i := 0; i < len(crcs)/4; i++ {
			n := min(int64(sum.bpc), request-int64(i)*int64(sum.bpc))
			c.update(binary.BigEndian.Uint32(crcs[4*i:]), n)
		}
		out = c.digest()
	default:
		return nil, javaMessage(fmt.Sprintf("java.io.IOException: Unrecognized BlockChecksumType: %v", t))
	}
	return &hdfspb.OpBlockChecksumResponseProto{
		BytesPerCrc:          proto.Uint32(uint32(sum.bpc)),
		CrcPerBlock:          proto.Uint64(crcPerBlock),
		BlockChecksum:        out,
		CrcType:              sum.typ.Enum(),
		BlockChecksumOptions: opts,
	}, nil
}

// chunkCRCs returns the checksums of the first n bytes of f, chunk by
// chunk, as a metadata file holds them (none for CHECKSUM_NULL).
func chunkCRCs(f *os.File, n int64, sum checksum) ([]byte, error) {
	if sum.tab == nil {
		return nil, nil
	}
	out := make([]byte, 0, sum.size(int(min(n, 1<<40))))
	step := max(1, (256<<10)/sum.bpc) * sum.bpc
	buf := make([]byte, step)
	for off := int64(0); off < n; {
		k := int(min(int64(step), n-off))
		if _, err := f.ReadAt(buf[:k], off); err != nil {
			return nil, err
		}
		out = sum.appendSums(out, buf[:k])
		off += int64(k)
	}
	return out, nil
}
