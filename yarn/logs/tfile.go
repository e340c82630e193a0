package logs

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// TFile (hadoop-common org.apache.hadoop.io.file.tfile.TFile) on top of
// BCFile (…tfile.BCFile), as Hadoop 3.x writes them. A TFile is a BCFile
// whose data blocks hold key/value records and whose meta blocks are
// "TFile.meta" and "TFile.index":
//
//	+--------------------------+ 0
//	| BCFile magic (16 bytes)  |   BCFile.Magic.AB_MAGIC_BCFILE
//	+--------------------------+
//	| data block 0 … n-1       |   records: VInt keyLen, key, value chunks
//	+--------------------------+
//	| meta "TFile.meta"        |   Version(1,0), VLong records, String comparator
//	| meta "TFile.index"       |   VInt n, (VInt keyLen, first key); per block:
//	|                          |   VInt n, (VInt keyLen, last key, VLong records)
//	| meta "BCFile.index"      |   String compression, VInt blocks, per block a region
//	+--------------------------+ offsetIndexMeta
//	| meta index               |   VInt n, per meta: String "data:"+name,
//	|                          |   String compression, region
//	+--------------------------+
//	| int64 offsetIndexMeta    |   big endian
//	| Version(1,0)             |   two int16: BCFile.API_VERSION
//	| BCFile magic (16 bytes)  |
//	+--------------------------+
//
// A region is VLong offset, VLong compressed size, VLong raw size. A value
// is a chunk sequence (Chunk.ChunkEncoder): VInt -n then n bytes for each
// chunk but the last, VInt n then n bytes for the last. VInt and VLong are
// TFile's own variable-length integers (Utils.writeVLong), not Hadoop's
// WritableUtils ones. Strings are VInt length then UTF-8 (Utils.writeString).

// bcfileMagic is BCFile.Magic.AB_MAGIC_BCFILE.
var bcfileMagic = []byte{0xd1, 0x11, 0xd3, 0x68, 0x91, 0xb5, 0xd7, 0xb6, 0x39, 0xdf, 0x41, 0x40, 0x92, 0xba, 0xe1, 0x50}

const (
	// Meta block names (TFile.TFileMeta.BLOCK_NAME, TFile.TFileIndex.BLOCK_NAME,
	// BCFile.DataIndex.BLOCK_NAME); the meta index stores them as "data:"+name.
	metaTFile    = "TFile.meta"
	metaTIndex   = "TFile.index"
	metaBCFIndex = "BCFile.index"
	metaPrefix   = "data:"
	// CompressionNone and CompressionGz are TFile.COMPRESSION_NONE and
	// COMPRESSION_GZ (gz is zlib: DefaultCodec).
	CompressionNone = "none"
	CompressionGz   = "gz"
	// chunkBufferSize is tfile.io.chunk.size's default (TFile.getChunkBufferSize).
	chunkBufferSize = 1 << 20
	// minBlockSize is what AggregatedLogFormat.LogWriter passes to
	// TFile.Writer: 256 KiB.
	minBlockSize = 256 << 10
	// maxKeySize is TFile.MAX_KEY_SIZE.
	maxKeySize = 64 << 10
)

// ErrFormat is returned for a file that is not a TFile this package
// reads (bad magic, unknown version, corrupt index or record).
var ErrFormat = errors.New("logs: not a valid aggregated log file")

func formatErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, a...))
}

// writeVLong is TFile Utils.writeVLong.
func writeVLong(w *bytes.Buffer, n int64) {
	if n < 128 && n >= -32 {
		w.WriteByte(byte(n))
		return
	}
	un := n
	if n < 0 {
		un = ^n
	}
	bits := 64
	for i := 63; i >= 0 && un>>uint(i)&1 == 0; i-- {
		bits--
	}
	l := bits/8 + 1
	first := n >> uint((l-1)*8)
	switch {
	case l <= 2:
		if l == 1 {
			first >>= 8
		}
		if first < 20 && first >= -20 {
			w.WriteByte(byte(first - 52))
			w.WriteByte(byte(n))
			return
		}
		first >>= 8
		fallthrough
	case l == 3:
		if first < 16 && first >= -16 {
			w.WriteByte(byte(first - 88))
			w.Write([]byte{byte(n >> 8), byte(n)})
			return
		}
		first >>= 8
		fallthrough
	case l == 4:
		if first < 8 && first >= -8 {
			w.WriteByte(byte(first - 112))
			w.Write([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
			return
		}
		w.WriteByte(0x83) // (byte)(4 - 129)
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
	default:
		w.WriteByte(byte(l - 129))
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n))
		w.Write(b[8-l:])
	}
}

// byteReader is what the VLong reader needs.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// readVLong is TFile Utils.readVLong.
func readVLong(r byteReader) (int64, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	first := int64(int8(b))
	if first >= -32 {
		return first, nil
	}
	readN := func(n int) (uint64, error) {
		var buf [8]byte
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return 0, err
		}
		var v uint64
		for _, c := range buf[:n] {
			v = v<<8 | uint64(c)
		}
		return v, nil
	}
	switch (first + 128) / 8 {
	case 11, 10, 9, 8, 7:
		v, err := readN(1)
		return (first+52)<<8 | int64(v), err
	case 6, 5, 4, 3:
		v, err := readN(2)
		return (first+88)<<16 | int64(v), err
	case 2, 1:
		v, err := readN(3)
		return (first+112)<<24 | int64(v), err
	case 0:
		l := int(first + 129)
		if l < 4 || l > 8 {
			return 0, formatErr("corrupted VLong encoding")
		}
		v, err := readN(l)
		// sign-extend from l bytes
		shift := uint(64 - 8*l)
		return int64(v<<shift) >> shift, err
	}
	return 0, formatErr("corrupted VLong encoding")
}

// readVInt is Utils.readVInt: a VLong that must fit an int32.
func readVInt(r byteReader) (int, error) {
	v, err := readVLong(r)
	if err != nil {
		return 0, err
	}
	if v < -1<<31 || v > 1<<31-1 {
		return 0, formatErr("number too large for an integer")
	}
	return int(v), nil
}

func writeString(w *bytes.Buffer, s string) {
	writeVLong(w, int64(len(s)))
	w.WriteString(s)
}

func readString(r byteReader, limit int) (string, error) {
	n, err := readVInt(r)
	if err != nil {
		return "", err
	}
	if n < 0 || n > limit {
		return "", formatErr("string of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// region is BCFile.BlockRegion.
type region struct{ offset, compressed, raw int64 }

func (g region) write(w *bytes.Buffer) {
	writeVLong(w, g.offset)
	writeVLong(w, g.compressed)
	writeVLong(w, g.raw)
}

func readRegion(r byteReader) (region, error) {
	var g region
	var err error
	for _, p := range []*int64{&g.offset, &g.compressed, &g.raw} {
		if *p, err = readVLong(r); err != nil {
			return g, err
		}
	}
	return g, nil
}

// TFileWriter writes an unsorted, uncompressed TFile (compression "none",
// no comparator) as TFile.Writer does with the arguments
// AggregatedLogFormat.LogWriter gives it, byte for byte: the same block
// boundaries (a data block ends after the value that takes it to 256 KiB),
// the same value chunking (a 1 MiB chunk buffer), the same indexes. It
// holds at most one data block in memory. Not safe for concurrent use.
type TFileWriter struct {
	w       io.Writer
	pos     int64 // bytes written to w
	block   bytes.Buffer
	inBlock bool
	blkRecs int64
	records int64
	blocks  []region
	index   bytes.Buffer // TFileIndex entries, each VInt size + entry
	first   []byte
	lastKey []byte
	chunk   []byte // the chunk encoder's buffer, reused across records
	err     error
}

// NewTFileWriter starts a TFile on w, which must be at offset 0.
func NewTFileWriter(w io.Writer) (*TFileWriter, error) {
	t := &TFileWriter{w: w}
	t.emit(bcfileMagic)
	return t, t.err
}

func (t *TFileWriter) emit(p []byte) {
	if t.err != nil {
		return
	}
	n, err := t.w.Write(p)
	t.pos += int64(n)
	t.err = err
}

// Append adds one record: key, then the value that value writes. value
// gets a chunk encoder: its Write calls must be the ones the Java writer
// makes (one per DataOutputStream.write), since chunk boundaries follow
// them.
func (t *TFileWriter) Append(key []byte, value func(w io.Writer) error) error {
	if t.err != nil {
		return t.err
	}
	if len(key) > maxKeySize {
		return fmt.Errorf("logs: key of %d bytes exceeds TFile's %d", len(key), maxKeySize)
	}
	if !t.inBlock {
		t.inBlock = true
		t.block.Reset()
	}
	writeVLong(&t.block, int64(len(key)))
	t.block.Write(key)
	if t.first == nil {
		t.first = append([]byte{}, key...)
	}
	t.lastKey = append(t.lastKey[:0], key...)
	if t.chunk == nil {
		t.chunk = make([]byte, 0, chunkBufferSize)
	}
	enc := &chunkEncoder{out: &t.block, buf: t.chunk[:0]}
	if err := value(enc); err != nil {
		t.err = err
		return err
	}
	enc.close()
	t.blkRecs++
	t.records++
	t.finishBlock(false)
	return t.err
}

// finishBlock is TFile.Writer.finishDataBlock.
func (t *TFileWriter) finishBlock(force bool) {
	if !t.inBlock || (!force && t.block.Len() < minBlockSize) {
		return
	}
	var e bytes.Buffer
	writeVLong(&e, int64(len(t.lastKey)))
	e.Write(t.lastKey)
	writeVLong(&e, t.blkRecs)
	writeVLong(&t.index, int64(e.Len()))
	t.index.Write(e.Bytes())
	g := region{offset: t.pos, compressed: int64(t.block.Len()), raw: int64(t.block.Len())}
	t.emit(t.block.Bytes())
	t.blocks = append(t.blocks, g)
	t.inBlock, t.blkRecs = false, 0
}

// Close finishes the file: the last data block, the meta blocks, the
// meta index and the tail. It does not close the underlying writer.
func (t *TFileWriter) Close() error {
	t.finishBlock(true)
	type meta struct {
		name string
		g    region
	}
	var metas []meta
	addMeta := func(name string, b []byte) {
		metas = append(metas, meta{name, region{offset: t.pos, compressed: int64(len(b)), raw: int64(len(b))}})
		t.emit(b)
	}
	var b bytes.Buffer
	// TFileMeta.write: API_VERSION (1,0), record count, comparator "".
	b.Write([]byte{0, 1, 0, 0})
	writeVLong(&b, t.records)
	writeString(&b, "")
	addMeta(metaTFile, b.Bytes())
	// TFileIndex.write.
	b.Reset()
	if t.first == nil {
		writeVLong(&b, 0)
	} else {
		var f bytes.Buffer
		writeVLong(&f, int64(len(t.first)))
		f.Write(t.first)
		writeVLong(&b, int64(f.Len()))
		b.Write(f.Bytes())
		b.Write(t.index.Bytes())
	}
	addMeta(metaTIndex, b.Bytes())
	// DataIndex.write.
	b.Reset()
	writeString(&b, CompressionNone)
	writeVLong(&b, int64(len(t.blocks)))
	for _, g := range t.blocks {
		g.write(&b)
	}
	addMeta(metaBCFIndex, b.Bytes())
	// MetaIndex.write: a TreeMap, so in name order — which is the order
	// above sorted: BCFile.index, TFile.index, TFile.meta.
	b.Reset()
	writeVLong(&b, int64(len(metas)))
	for _, i := range []int{2, 1, 0} {
		writeString(&b, metaPrefix+metas[i].name)
		writeString(&b, CompressionNone)
		metas[i].g.write(&b)
	}
	off := t.pos
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(off)))
	b.Write([]byte{0, 1, 0, 0}) // BCFile.API_VERSION
	b.Write(bcfileMagic)
	t.emit(b.Bytes())
	return t.err
}

// chunkEncoder is Chunk.ChunkEncoder: writes are buffered up to the chunk
// buffer's size; a write that would fill it goes out with the buffered
// bytes as one non-last chunk.
type chunkEncoder struct {
	out *bytes.Buffer
	buf []byte
}

func (c *chunkEncoder) Write(p []byte) (int, error) {
	if len(p)+len(c.buf) >= cap(c.buf) {
		if n := len(c.buf) + len(p); n > 0 {
			writeVLong(c.out, -int64(n))
			c.out.Write(c.buf)
			c.out.Write(p)
			c.buf = c.buf[:0]
		}
		return len(p), nil
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *chunkEncoder) close() {
	writeVLong(c.out, int64(len(c.buf)))
	c.out.Write(c.buf)
}

// Record is one key/value record of a TFile.
type Record struct {
	Key, Value []byte
}

// ReadTFile decodes every record of the TFile in r (size bytes), in file
// order. Data blocks may be uncompressed ("none") or zlib ("gz"); a value
// larger than maxValue bytes is an error (it bounds what a corrupt or
// hostile file can make this allocate).
func ReadTFile(r io.ReaderAt, size int64, maxValue int64) ([]Record, error) {
	tailLen := int64(8 + 4 + len(bcfileMagic))
	if size < int64(len(bcfileMagic))+tailLen {
		return nil, formatErr("file of %d bytes is too short", size)
	}
	tail := make([]byte, tailLen)
	if _, err := r.ReadAt(tail, size-tailLen); err != nil {
		return nil, err
	}
	if !bytes.Equal(tail[12:], bcfileMagic) {
		return nil, formatErr("no BCFile magic at the end")
	}
	if major := binary.BigEndian.Uint16(tail[8:]); major != 1 {
		return nil, formatErr("BCFile version %d.%d", major, binary.BigEndian.Uint16(tail[10:]))
	}
	metaOff := int64(binary.BigEndian.Uint64(tail))
	if metaOff < int64(len(bcfileMagic)) || metaOff > size-tailLen {
		return nil, formatErr("meta index offset %d out of range", metaOff)
	}
	mi := make([]byte, size-tailLen-metaOff)
	if _, err := r.ReadAt(mi, metaOff); err != nil {
		return nil, err
	}
	br := bytes.NewReader(mi)
	n, err := readVInt(br)
	if err != nil || n < 0 || n > 1024 {
		return nil, formatErr("meta index count")
	}
	type metaEntry struct {
		comp string
		g    region
	}
	metas := map[string]metaEntry{}
	for i := 0; i < n; i++ {
		name, err := readString(br, 1024)
		if err != nil {
			return nil, formatErr("meta index: %v", err)
		}
		comp, err := readString(br, 64)
		if err != nil {
			return nil, formatErr("meta index: %v", err)
		}
		g, err := readRegion(br)
		if err != nil {
			return nil, formatErr("meta index: %v", err)
		}
		if len(name) < len(metaPrefix) || name[:len(metaPrefix)] != metaPrefix {
			return nil, formatErr("corrupted meta region index")
		}
		metas[name[len(metaPrefix):]] = metaEntry{comp, g}
	}
	readBlock := func(comp string, g region) ([]byte, error) {
		if g.offset < 0 || g.compressed < 0 || g.offset+g.compressed > metaOff || g.raw < 0 || g.raw > maxValue+minBlockSize {
			return nil, formatErr("block region out of range")
		}
		b := make([]byte, g.compressed)
		if _, err := r.ReadAt(b, g.offset); err != nil {
			return nil, err
		}
		switch comp {
		case CompressionNone:
			return b, nil
		case CompressionGz:
			zr, err := zlib.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, formatErr("gz block: %v", err)
			}
			out, err := io.ReadAll(io.LimitReader(zr, g.raw+1))
			if err != nil {
				return nil, formatErr("gz block: %v", err)
			}
			return out, nil
		}
		return nil, fmt.Errorf("logs: TFile compression %q is not supported (only none and gz; set yarn.nodemanager.log-aggregation.compression-type to one of them)", comp)
	}
	ie, ok := metas[metaBCFIndex]
	if !ok {
		return nil, formatErr("no %s", metaBCFIndex)
	}
	ib, err := readBlock(ie.comp, ie.g)
	if err != nil {
		return nil, err
	}
	ir := bytes.NewReader(ib)
	comp, err := readString(ir, 64)
	if err != nil {
		return nil, formatErr("data index: %v", err)
	}
	nb, err := readVInt(ir)
	if err != nil || nb < 0 || int64(nb) > size {
		return nil, formatErr("data index block count")
	}
	var recs []Record
	for i := 0; i < nb; i++ {
		g, err := readRegion(ir)
		if err != nil {
			return nil, formatErr("data index: %v", err)
		}
		blk, err := readBlock(comp, g)
		if err != nil {
			return nil, err
		}
		rr := bytes.NewReader(blk)
		for rr.Len() > 0 {
			kl, err := readVInt(rr)
			if err != nil || kl < 0 || kl > maxKeySize || kl > rr.Len() {
				return nil, formatErr("record key length")
			}
			key := make([]byte, kl)
			_, _ = io.ReadFull(rr, key)
			var val []byte
			for {
				cl, err := readVInt(rr)
				if err != nil {
					return nil, formatErr("value chunk: %v", err)
				}
				last := cl >= 0
				if cl < 0 {
					cl = -cl
				}
				if cl > rr.Len() || int64(len(val)+cl) > maxValue {
					return nil, formatErr("value chunk of %d bytes", cl)
				}
				start := len(val)
				val = append(val, make([]byte, cl)...)
				_, _ = io.ReadFull(rr, val[start:])
				if last {
					break
				}
			}
			recs = append(recs, Record{Key: key, Value: val})
		}
	}
	return recs, nil
}
