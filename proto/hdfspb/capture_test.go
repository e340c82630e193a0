package hdfspb_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// These tests decode real Hadoop 3.3.6 conversations (shared/fixtures) with
// our definitions. For every protobuf message on the wire they check that it
// parses (required fields included), that nothing lands in unknown fields
// anywhere in the tree (a wrong field number or enum value would), and that a
// deterministic re-encoding reproduces the captured bytes exactly.

const (
	clientProtocol   = "org.apache.hadoop.hdfs.protocol.ClientProtocol"
	dataTransferVer  = 28
	opWriteBlock     = 80
	opReadBlock      = 81
	putCatFileSHA256 = "ee722732894182bf69b3d7fbe81d9eb86dc5b6c95e4a02a910ab780fd1741244"
	putCatFileSize   = 1600000
	kerberosSHA256   = "6805605cf7151db6fbea29ea5548d08417b9160d908f08bfc9a18b04edf14a9f"
	kerberosFileSize = 44
	saslCallID       = -33
	contextCallID    = -3
	pingCallID       = -4
)

// fixtures returns the capture directory, or skips when this checkout has none.
func fixtures(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("SPINDLE_HADOOP_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures", "hadoop-3.3.6")
	}
	dir = filepath.Join(dir, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no Hadoop captures at %s (set SPINDLE_HADOOP_FIXTURES): %v", dir, err)
	}
	return dir
}

// ---- message checks -----------------------------------------------------------

// tally counts checked messages by full name.
type tally map[protoreflect.FullName]int

func (c tally) String() string {
	names := make([]string, 0, len(c))
	total := 0
	for n, k := range c {
		names = append(names, fmt.Sprintf("%s×%d", n.Name(), k))
		total += k
	}
	sort.Strings(names)
	return fmt.Sprintf("%d messages: %s", total, strings.Join(names, " "))
}

// check decodes raw into m and asserts the three properties. what names the
// message in failure output.
func check(t *testing.T, c tally, what string, raw []byte, m proto.Message) {
	t.Helper()
	require.NoError(t, proto.Unmarshal(raw, m), "%s: unmarshal %s", what, m.ProtoReflect().Descriptor().FullName())
	require.NoError(t, noUnknown(m.ProtoReflect(), string(m.ProtoReflect().Descriptor().Name())), "%s", what)
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err, "%s: marshal", what)
	require.Equal(t, hex.EncodeToString(raw), hex.EncodeToString(again), "%s: re-encoding differs", what)
	c[m.ProtoReflect().Descriptor().FullName()]++
}

// noUnknown walks m and every message below it (singular, list and map values).
func noUnknown(m protoreflect.Message, path string) error {
	if u := m.GetUnknown(); len(u) > 0 {
		return fmt.Errorf("%s has %d bytes of unknown fields: %x", path, len(u), []byte(u))
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsList():
			if fd.Message() != nil {
				l := v.List()
				for i := 0; i < l.Len() && err == nil; i++ {
					err = noUnknown(l.Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					err = noUnknown(mv.Message(), fmt.Sprintf("%s[%v]", p, k.Interface()))
					return err == nil
				})
			}
		case fd.Message() != nil:
			err = noUnknown(v.Message(), p)
		}
		return err == nil
	})
	return err
}

// ---- byte reader ------------------------------------------------------------------

type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, fmt.Errorf("want %d bytes at offset %d, have %d", n, r.off, r.left())
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.next(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (r *reader) u16() (uint16, error) {
	b, err := r.next(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (r *reader) u8() (byte, error) {
	b, err := r.next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// delimited reads a varint length and that many bytes.
func (r *reader) delimited() ([]byte, error) {
	n, k := protowire.ConsumeVarint(r.b[r.off:])
	if k < 0 {
		return nil, fmt.Errorf("bad varint at offset %d: %v", r.off, protowire.ParseError(k))
	}
	r.off += k
	return r.next(int(n))
}

// ---- NameNode RPC transcripts -----------------------------------------------------------

// readTranscript reassembles the two directions of a "> hex" / "< hex" file.
func readTranscript(t *testing.T, path string) (client, server []byte) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var c, s bytes.Buffer
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		dir, hx, ok := strings.Cut(line, " ")
		require.True(t, ok, "%s: bad line %q", path, line)
		b, err := hex.DecodeString(strings.TrimSpace(hx))
		require.NoError(t, err, "%s: bad hex", path)
		switch dir {
		case ">":
			c.Write(b)
		case "<":
			s.Write(b)
		default:
			t.Fatalf("%s: bad direction %q", path, dir)
		}
	}
	require.NoError(t, sc.Err())
	return c.Bytes(), s.Bytes()
}

// methodTypes maps each ClientNamenodeProtocol method name to fresh request
// and response messages. It is built from the service block of
// client_namenode_protocol.proto; TestServiceBlock checks that block against
// a hand-written table.
func methodTypes(t *testing.T) map[string][2]protoreflect.MessageType {
	t.Helper()
	sd := hdfspb.File_hdfspb_client_namenode_protocol_proto.Services().ByName("ClientNamenodeProtocol")
	require.NotNil(t, sd)
	out := map[string][2]protoreflect.MessageType{}
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		require.NoError(t, err, "method %s", md.Name())
		outT, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
		require.NoError(t, err, "method %s", md.Name())
		out[string(md.Name())] = [2]protoreflect.MessageType{in, outT}
	}
	return out
}

// nnConn is the state of one decoded NameNode connection.
type nnConn struct {
	name      string
	mechanism string // SASL mechanism chosen by the client, "" for SIMPLE
	protocol  string
	calls     map[int32]string // callId → method
	requests  map[int32]proto.Message
	responses map[int32]proto.Message
	frames    int
	wrapped   int // frames that travelled inside SASL WRAP
}

// unwrap returns the plaintext of a SASL WRAP token for the integrity-only
// layers: RFC 4121 wrap tokens without confidentiality (GSSAPI) and
// DIGEST-MD5 auth-int. Sealed tokens cannot be read without keys.
func (c *nnConn) unwrap(tok []byte) ([]byte, error) {
	switch c.mechanism {
	case "GSSAPI":
		// 05 04 flags ff EC(2) RRC(2) SND_SEQ(8) | plaintext | checksum(EC)
		if len(tok) < 16 || tok[0] != 0x05 || tok[1] != 0x04 {
			return nil, errors.New("not an RFC 4121 wrap token")
		}
		if tok[2]&0x02 != 0 {
			return nil, errors.New("sealed wrap token (privacy): cannot read without keys")
		}
		ec := int(binary.BigEndian.Uint16(tok[4:6]))
		if rrc := binary.BigEndian.Uint16(tok[6:8]); rrc != 0 || len(tok) < 16+ec {
			return nil, fmt.Errorf("unexpected RRC %d / EC %d", rrc, ec)
		}
		return tok[16 : len(tok)-ec], nil
	case "DIGEST-MD5":
		// msg | HMAC(10) | 00 01 | seqnum(4)
		if len(tok) < 16 || tok[len(tok)-6] != 0 || tok[len(tok)-5] != 1 {
			return nil, errors.New("not a DIGEST-MD5 integrity token")
		}
		return tok[:len(tok)-16], nil
	}
	return nil, fmt.Errorf("WRAP with mechanism %q", c.mechanism)
}

// parseClient decodes the client→server stream. inner is true for bytes
// that were unwrapped from SASL WRAP messages (no preamble).
func (c *nnConn) parseClient(t *testing.T, cnt tally, stream []byte, inner bool, types map[string][2]protoreflect.MessageType) {
	t.Helper()
	r := &reader{b: stream}
	if !inner {
		pre, err := r.next(7)
		require.NoError(t, err)
		require.Equal(t, "hrpc", string(pre[:4]), "%s: preamble", c.name)
		require.Equal(t, byte(9), pre[4], "%s: IPC version", c.name)
	}
	var unwrapped []byte
	for r.left() > 0 {
		n, err := r.u32()
		require.NoError(t, err, c.name)
		body, err := r.next(int(n))
		require.NoError(t, err, "%s: frame", c.name)
		fr := &reader{b: body}
		where := fmt.Sprintf("%s client frame at %d", c.name, r.off-int(n)-4)
		c.frames++
		if inner {
			c.wrapped++
		}

		raw, err := fr.delimited()
		require.NoError(t, err, where)
		hdr := &commonpb.RpcRequestHeaderProto{}
		check(t, cnt, where+" header", raw, hdr)

		switch id := hdr.GetCallId(); {
		case id == saslCallID:
			raw, err := fr.delimited()
			require.NoError(t, err, where)
			sasl := &commonpb.RpcSaslProto{}
			check(t, cnt, where+" sasl", raw, sasl)
			if sasl.GetState() == commonpb.RpcSaslProto_INITIATE {
				require.NotEmpty(t, sasl.GetAuths(), where)
				c.mechanism = sasl.GetAuths()[0].GetMechanism()
			}
			if sasl.GetState() == commonpb.RpcSaslProto_WRAP {
				pt, err := c.unwrap(sasl.GetToken())
				require.NoError(t, err, where)
				unwrapped = append(unwrapped, pt...)
			}
		case id == contextCallID:
			raw, err := fr.delimited()
			require.NoError(t, err, where)
			ctx := &commonpb.IpcConnectionContextProto{}
			check(t, cnt, where+" context", raw, ctx)
			c.protocol = ctx.GetProtocol()
		case id == pingCallID:
		case id >= 0:
			raw, err := fr.delimited()
			require.NoError(t, err, where)
			rh := &commonpb.RequestHeaderProto{}
			check(t, cnt, where+" request header", raw, rh)
			require.Equal(t, clientProtocol, rh.GetDeclaringClassProtocolName(), where)
			require.Equal(t, uint64(1), rh.GetClientProtocolVersion(), where)
			mt, ok := types[rh.GetMethodName()]
			require.True(t, ok, "%s: unknown method %q", where, rh.GetMethodName())
			raw, err = fr.delimited()
			require.NoError(t, err, where)
			req := mt[0].New().Interface()
			check(t, cnt, where+" "+rh.GetMethodName()+" request", raw, req)
			_, dup := c.calls[id]
			require.False(t, dup, "%s: call id %d reused", where, id)
			c.calls[id] = rh.GetMethodName()
			c.requests[id] = req
		default:
			t.Fatalf("%s: unexpected call id %d", where, id)
		}
		require.Zero(t, fr.left(), "%s: %d trailing bytes in frame", where, fr.left())
	}
	if len(unwrapped) > 0 {
		c.parseClient(t, cnt, unwrapped, true, types)
	}
}

// parseServer decodes the server→client stream; parseClient must run first.
func (c *nnConn) parseServer(t *testing.T, cnt tally, stream []byte, inner bool, types map[string][2]protoreflect.MessageType) {
	t.Helper()
	r := &reader{b: stream}
	var unwrapped []byte
	for r.left() > 0 {
		n, err := r.u32()
		require.NoError(t, err, c.name)
		body, err := r.next(int(n))
		require.NoError(t, err, "%s: frame", c.name)
		fr := &reader{b: body}
		where := fmt.Sprintf("%s server frame at %d", c.name, r.off-int(n)-4)
		c.frames++
		if inner {
			c.wrapped++
		}

		raw, err := fr.delimited()
		require.NoError(t, err, where)
		hdr := &commonpb.RpcResponseHeaderProto{}
		check(t, cnt, where+" header", raw, hdr)
		id := int32(hdr.GetCallId())

		switch {
		case id == saslCallID && hdr.GetStatus() == commonpb.RpcResponseHeaderProto_SUCCESS:
			raw, err := fr.delimited()
			require.NoError(t, err, where)
			sasl := &commonpb.RpcSaslProto{}
			check(t, cnt, where+" sasl", raw, sasl)
			if sasl.GetState() == commonpb.RpcSaslProto_WRAP {
				pt, err := c.unwrap(sasl.GetToken())
				require.NoError(t, err, where)
				unwrapped = append(unwrapped, pt...)
			}
		case hdr.GetStatus() == commonpb.RpcResponseHeaderProto_SUCCESS:
			method, ok := c.calls[id]
			require.True(t, ok, "%s: response to unknown call %d", where, id)
			raw, err := fr.delimited()
			require.NoError(t, err, where)
			resp := types[method][1].New().Interface()
			check(t, cnt, where+" "+method+" response", raw, resp)
			c.responses[id] = resp
		default:
			t.Logf("%s: call %d (%s) failed: %s", where, id, c.calls[id], hdr.GetExceptionClassName())
		}
		require.Zero(t, fr.left(), "%s: %d trailing bytes in frame", where, fr.left())
	}
	if len(unwrapped) > 0 {
		c.parseServer(t, cnt, unwrapped, true, types)
	}
}

func decodeNN(t *testing.T, cnt tally, path string) *nnConn {
	t.Helper()
	types := methodTypes(t)
	cs, ss := readTranscript(t, path)
	c := &nnConn{
		name:      filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path),
		calls:     map[int32]string{},
		requests:  map[int32]proto.Message{},
		responses: map[int32]proto.Message{},
	}
	c.parseClient(t, cnt, cs, false, types)
	c.parseServer(t, cnt, ss, false, types)
	require.Equal(t, clientProtocol, c.protocol, "%s: connection context protocol", c.name)
	require.NotEmpty(t, c.calls, c.name)
	for id, m := range c.calls {
		_, ok := c.responses[id]
		require.True(t, ok, "%s: no successful response to call %d (%s)", c.name, id, m)
	}
	return c
}

// byMethod returns the (request, response) pairs of method in call order.
func (c *nnConn) byMethod(method string) (reqs, resps []proto.Message) {
	ids := make([]int32, 0, len(c.calls))
	for id, m := range c.calls {
		if m == method {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		reqs = append(reqs, c.requests[id])
		resps = append(resps, c.responses[id])
	}
	return reqs, resps
}

func (c *nnConn) methodList() string {
	ids := make([]int32, 0, len(c.calls))
	for id := range c.calls {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ms := make([]string, len(ids))
	for i, id := range ids {
		ms[i] = c.calls[id]
	}
	return strings.Join(ms, ",")
}

// ---- DataTransferProtocol ------------------------------------------------------------------

type packet struct {
	hdr  *hdfspb.PacketHeaderProto
	data []byte
}

// readPacket reads one data packet:
//
//	u32 BE payload length (4 + checksums + data) | u16 BE header length
//	| PacketHeaderProto | checksums | data
//
// and verifies the chunk checksums.
func readPacket(t *testing.T, cnt tally, r *reader, where string, sum *hdfspb.ChecksumProto) packet {
	t.Helper()
	plen, err := r.u32()
	require.NoError(t, err, where)
	hlen, err := r.u16()
	require.NoError(t, err, where)
	raw, err := r.next(int(hlen))
	require.NoError(t, err, where)
	hdr := &hdfspb.PacketHeaderProto{}
	check(t, cnt, where+" packet header", raw, hdr)
	require.GreaterOrEqual(t, plen, uint32(4), where)
	payload, err := r.next(int(plen) - 4)
	require.NoError(t, err, where)
	dlen := int(hdr.GetDataLen())
	require.LessOrEqual(t, dlen, len(payload), where)
	sums, data := payload[:len(payload)-dlen], payload[len(payload)-dlen:]

	require.Equal(t, hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C, sum.GetType(), where)
	bpc := int(sum.GetBytesPerChecksum())
	chunks := (dlen + bpc - 1) / bpc
	require.Len(t, sums, 4*chunks, "%s: checksum bytes", where)
	tab := crc32.MakeTable(crc32.Castagnoli)
	for i := 0; i < chunks; i++ {
		chunk := data[i*bpc : min((i+1)*bpc, dlen)]
		require.Equal(t, binary.BigEndian.Uint32(sums[4*i:]), crc32.Checksum(chunk, tab), "%s: chunk %d CRC32C", where, i)
	}
	return packet{hdr: hdr, data: data}
}

// decodeWrite checks one WRITE_BLOCK connection and returns the block data.
func decodeWrite(t *testing.T, cnt tally, clientPath, serverPath string) []byte {
	t.Helper()
	name := filepath.Base(clientPath)
	cb, err := os.ReadFile(clientPath)
	require.NoError(t, err)
	sb, err := os.ReadFile(serverPath)
	require.NoError(t, err)

	cr := &reader{b: cb}
	ver, err := cr.u16()
	require.NoError(t, err)
	require.Equal(t, uint16(dataTransferVer), ver, name)
	op, err := cr.u8()
	require.NoError(t, err)
	require.Equal(t, byte(opWriteBlock), op, name)
	raw, err := cr.delimited()
	require.NoError(t, err, name)
	wb := &hdfspb.OpWriteBlockProto{}
	check(t, cnt, name+" op", raw, wb)
	require.Equal(t, hdfspb.OpWriteBlockProto_PIPELINE_SETUP_CREATE, wb.GetStage(), name)

	var data []byte
	var seqnos []int64
	for {
		p := readPacket(t, cnt, cr, fmt.Sprintf("%s packet %d", name, len(seqnos)), wb.GetRequestedChecksum())
		// seqno counts packets per output stream, so a second block goes on
		// from where the first stopped; within a block it is consecutive.
		if len(seqnos) > 0 {
			require.Equal(t, seqnos[len(seqnos)-1]+1, p.hdr.GetSeqno(), "%s: packet seqno", name)
		}
		require.Equal(t, int64(len(data)), p.hdr.GetOffsetInBlock(), "%s: offsetInBlock", name)
		seqnos = append(seqnos, p.hdr.GetSeqno())
		data = append(data, p.data...)
		if p.hdr.GetLastPacketInBlock() {
			require.Empty(t, p.data, "%s: last packet carries data", name)
			break
		}
	}
	require.Zero(t, cr.left(), "%s: trailing client bytes", name)

	sr := &reader{b: sb}
	raw, err = sr.delimited()
	require.NoError(t, err, name)
	resp := &hdfspb.BlockOpResponseProto{}
	check(t, cnt, name+" response", raw, resp)
	require.Equal(t, hdfspb.Status_SUCCESS, resp.GetStatus(), name)
	for i, want := range seqnos {
		raw, err := sr.delimited()
		require.NoError(t, err, "%s ack %d", name, i)
		ack := &hdfspb.PipelineAckProto{}
		check(t, cnt, fmt.Sprintf("%s ack %d", name, i), raw, ack)
		require.Equal(t, want, ack.GetSeqno(), "%s: ack seqno", name)
		require.Equal(t, []hdfspb.Status{hdfspb.Status_SUCCESS}, ack.GetReply(), "%s: ack reply", name)
	}
	require.Zero(t, sr.left(), "%s: trailing server bytes", name)
	return data
}

// decodeRead checks a connection of one or more READ_BLOCK ops and returns
// the data of each block in order.
func decodeRead(t *testing.T, cnt tally, clientPath, serverPath string) [][]byte {
	t.Helper()
	name := filepath.Base(clientPath)
	cb, err := os.ReadFile(clientPath)
	require.NoError(t, err)
	sb, err := os.ReadFile(serverPath)
	require.NoError(t, err)

	var ops []*hdfspb.OpReadBlockProto
	cr := &reader{b: cb}
	for cr.left() > 0 {
		where := fmt.Sprintf("%s op %d", name, len(ops))
		ver, err := cr.u16()
		require.NoError(t, err, where)
		require.Equal(t, uint16(dataTransferVer), ver, where)
		op, err := cr.u8()
		require.NoError(t, err, where)
		require.Equal(t, byte(opReadBlock), op, where)
		raw, err := cr.delimited()
		require.NoError(t, err, where)
		rb := &hdfspb.OpReadBlockProto{}
		check(t, cnt, where, raw, rb)
		ops = append(ops, rb)
		raw, err = cr.delimited()
		require.NoError(t, err, where)
		st := &hdfspb.ClientReadStatusProto{}
		check(t, cnt, where+" read status", raw, st)
		require.Equal(t, hdfspb.Status_CHECKSUM_OK, st.GetStatus(), where)
	}

	var blocks [][]byte
	sr := &reader{b: sb}
	for i, rb := range ops {
		where := fmt.Sprintf("%s block %d", name, i)
		raw, err := sr.delimited()
		require.NoError(t, err, where)
		resp := &hdfspb.BlockOpResponseProto{}
		check(t, cnt, where+" response", raw, resp)
		require.Equal(t, hdfspb.Status_SUCCESS, resp.GetStatus(), where)
		info := resp.GetReadOpChecksumInfo()
		require.NotNil(t, info, where)
		require.Equal(t, rb.GetOffset(), info.GetChunkOffset(), where)
		var data []byte
		for n := 0; ; n++ {
			p := readPacket(t, cnt, sr, fmt.Sprintf("%s packet %d", where, n), info.GetChecksum())
			require.Equal(t, int64(n), p.hdr.GetSeqno(), where)
			require.Equal(t, int64(info.GetChunkOffset())+int64(len(data)), p.hdr.GetOffsetInBlock(), where)
			data = append(data, p.data...)
			if p.hdr.GetLastPacketInBlock() {
				require.Empty(t, p.data, where)
				break
			}
		}
		require.Len(t, data, int(rb.GetLen()), where)
		blocks = append(blocks, data)
	}
	require.Zero(t, sr.left(), "%s: trailing server bytes", name)
	return blocks
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ---- tests -------------------------------------------------------------------------------------

// TestServiceBlock checks the service block against an explicit table of the
// methods the captures exercise, and that every method resolves to generated
// Go types.
func TestServiceBlock(t *testing.T) {
	types := methodTypes(t)
	require.Len(t, types, 111)
	for name, mt := range types {
		for _, m := range mt {
			_, generated := m.New().Interface().(interface{ ProtoReflect() protoreflect.Message })
			require.True(t, generated, name)
			require.NotContains(t, fmt.Sprintf("%T", m.New().Interface()), "dynamicpb", name)
		}
	}
	table := map[string][2]proto.Message{
		"getFileInfo":           {&hdfspb.GetFileInfoRequestProto{}, &hdfspb.GetFileInfoResponseProto{}},
		"mkdirs":                {&hdfspb.MkdirsRequestProto{}, &hdfspb.MkdirsResponseProto{}},
		"create":                {&hdfspb.CreateRequestProto{}, &hdfspb.CreateResponseProto{}},
		"addBlock":              {&hdfspb.AddBlockRequestProto{}, &hdfspb.AddBlockResponseProto{}},
		"getServerDefaults":     {&hdfspb.GetServerDefaultsRequestProto{}, &hdfspb.GetServerDefaultsResponseProto{}},
		"complete":              {&hdfspb.CompleteRequestProto{}, &hdfspb.CompleteResponseProto{}},
		"rename":                {&hdfspb.RenameRequestProto{}, &hdfspb.RenameResponseProto{}},
		"getListing":            {&hdfspb.GetListingRequestProto{}, &hdfspb.GetListingResponseProto{}},
		"getBlockLocations":     {&hdfspb.GetBlockLocationsRequestProto{}, &hdfspb.GetBlockLocationsResponseProto{}},
		"setPermission":         {&hdfspb.SetPermissionRequestProto{}, &hdfspb.SetPermissionResponseProto{}},
		"delete":                {&hdfspb.DeleteRequestProto{}, &hdfspb.DeleteResponseProto{}},
		"getDelegationToken":    {&commonpb.GetDelegationTokenRequestProto{}, &commonpb.GetDelegationTokenResponseProto{}},
		"renewDelegationToken":  {&commonpb.RenewDelegationTokenRequestProto{}, &commonpb.RenewDelegationTokenResponseProto{}},
		"cancelDelegationToken": {&commonpb.CancelDelegationTokenRequestProto{}, &commonpb.CancelDelegationTokenResponseProto{}},
		"getHAServiceState":     {&hdfspb.HAServiceStateRequestProto{}, &hdfspb.HAServiceStateResponseProto{}},
		"msync":                 {&hdfspb.MsyncRequestProto{}, &hdfspb.MsyncResponseProto{}},
		"getFsStats":            {&hdfspb.GetFsStatusRequestProto{}, &hdfspb.GetFsStatsResponseProto{}},
	}
	for name, want := range table {
		got, ok := types[name]
		require.True(t, ok, name)
		require.Equal(t, want[0].ProtoReflect().Descriptor().FullName(), got[0].Descriptor().FullName(), name)
		require.Equal(t, want[1].ProtoReflect().Descriptor().FullName(), got[1].Descriptor().FullName(), name)
	}
}

// TestPutCatCaptures decodes every NameNode and DataNode message of the
// SIMPLE-auth `hdfs dfs` run.
func TestPutCatCaptures(t *testing.T) {
	dir := fixtures(t, "hdfs-put-cat")
	cnt := tally{}

	conns := map[string]*nnConn{}
	nn, err := filepath.Glob(filepath.Join(dir, "client-nn-*.txt"))
	require.NoError(t, err)
	require.Len(t, nn, 6)
	frames := 0
	for _, p := range nn {
		c := decodeNN(t, cnt, p)
		conns[strings.TrimSuffix(filepath.Base(p), ".txt")] = c
		frames += c.frames
		t.Logf("%s: %d frames: %s", c.name, c.frames, c.methodList())
	}

	// Spot values whose encoding a same-wire-type mistake (int vs sint,
	// fixed vs varint) would still let through.
	_, resps := conns["client-nn-cat"].byMethod("getBlockLocations")
	require.Len(t, resps, 1)
	lb := resps[0].(*hdfspb.GetBlockLocationsResponseProto).GetLocations()
	require.Equal(t, uint64(putCatFileSize), lb.GetFileLength())
	require.Len(t, lb.GetBlocks(), 2)
	require.Equal(t, uint64(1048576), lb.GetBlocks()[0].GetB().GetNumBytes())
	require.Equal(t, uint64(putCatFileSize-1048576), lb.GetBlocks()[1].GetB().GetNumBytes())
	require.Equal(t, uint64(1048576), lb.GetBlocks()[1].GetOffset())
	require.Equal(t, uint32(9866), lb.GetBlocks()[0].GetLocs()[0].GetId().GetXferPort())

	_, resps = conns["client-nn-ls"].byMethod("getListing")
	require.Len(t, resps, 1)
	var found bool
	for _, st := range resps[0].(*hdfspb.GetListingResponseProto).GetDirList().GetPartialListing() {
		if string(st.GetPath()) == "blob.bin" {
			found = true
			require.Equal(t, uint64(putCatFileSize), st.GetLength())
			require.Equal(t, uint64(1048576), st.GetBlocksize())
			require.Equal(t, hdfspb.HdfsFileStatusProto_IS_FILE, st.GetFileType())
		}
	}
	require.True(t, found, "blob.bin not in listing")

	reqs, _ := conns["client-nn-chmod"].byMethod("setPermission")
	require.Len(t, reqs, 1)
	require.Equal(t, uint32(0o700), reqs[0].(*hdfspb.SetPermissionRequestProto).GetPermission().GetPerm())

	// DataNode: both block writes, then the read of both blocks.
	var written []byte
	dnMsgs := 0
	for _, b := range []string{"client-dn-write-block1", "client-dn-write-block2"} {
		before := total(cnt)
		written = append(written, decodeWrite(t, cnt, filepath.Join(dir, b+".client.bin"), filepath.Join(dir, b+".server.bin"))...)
		dnMsgs += total(cnt) - before
	}
	before := total(cnt)
	blocks := decodeRead(t, cnt, filepath.Join(dir, "client-dn-read.client.bin"), filepath.Join(dir, "client-dn-read.server.bin"))
	dnMsgs += total(cnt) - before
	require.Len(t, blocks, 2)
	read := append(append([]byte(nil), blocks[0]...), blocks[1]...)
	require.Len(t, read, putCatFileSize)
	require.Equal(t, putCatFileSHA256, sha(read), "data read back")
	require.Equal(t, putCatFileSHA256, sha(written), "data written")

	t.Logf("NameNode: %d frames in %d connections; DataNode: %d messages; %s", frames, len(nn), dnMsgs, cnt)
}

func total(c tally) int {
	n := 0
	for _, k := range c {
		n += k
	}
	return n
}

// TestKerberosCaptures decodes the NameNode conversations of the secure
// cluster: in clear after SASL for QOP auth, and from the plaintext inside
// the SASL WRAP tokens for QOP auth-int (integrity protection does not
// encrypt). Privacy (auth-conf) traffic is sealed and is not decoded here,
// but its DataNode traffic, which has no SASL, is.
func TestKerberosCaptures(t *testing.T) {
	dir := fixtures(t, "kerberos")
	cnt := tally{}

	var nn []string
	for _, sub := range []string{
		"nn-put-auth", "nn-fetchdt-auth", "nn-ls-token-auth", "distshell-secure-auth",
		"nn-put-integrity", "distshell-secure-integrity",
	} {
		m, err := filepath.Glob(filepath.Join(dir, sub, "*-nn*.txt"))
		require.NoError(t, err)
		for _, p := range m {
			if !strings.HasPrefix(filepath.Base(p), "kdc-") {
				nn = append(nn, p)
			}
		}
	}
	require.NotEmpty(t, nn)
	frames, wrapped := 0, 0
	methods := map[string]int{}
	for _, p := range nn {
		c := decodeNN(t, cnt, p)
		frames += c.frames
		wrapped += c.wrapped
		for _, m := range c.calls {
			methods[m]++
		}
		t.Logf("%s (%s): %d frames (%d unwrapped): %s", c.name, c.mechanism, c.frames, c.wrapped, c.methodList())
	}
	for _, m := range []string{"getDelegationToken", "renewDelegationToken", "cancelDelegationToken", "create", "addBlock", "complete", "getBlockLocations"} {
		require.Positive(t, methods[m], "no %s call decoded", m)
	}

	dnMsgs := 0
	for _, sub := range []string{"nn-put-auth", "nn-put-integrity", "nn-put-privacy"} {
		before := total(cnt)
		w := decodeWrite(t, cnt, filepath.Join(dir, sub, "client-dn-write.client.bin"), filepath.Join(dir, sub, "client-dn-write.server.bin"))
		require.Equal(t, kerberosSHA256, sha(w), sub)
		if _, err := os.Stat(filepath.Join(dir, sub, "client-dn-read.client.bin")); err == nil {
			blocks := decodeRead(t, cnt, filepath.Join(dir, sub, "client-dn-read.client.bin"), filepath.Join(dir, sub, "client-dn-read.server.bin"))
			require.Len(t, blocks, 1, sub)
			require.Len(t, blocks[0], kerberosFileSize, sub)
			require.Equal(t, kerberosSHA256, sha(blocks[0]), sub)
		}
		dnMsgs += total(cnt) - before
	}
	t.Logf("NameNode: %d frames (%d unwrapped from SASL WRAP) in %d connections; DataNode: %d messages; %s",
		frames, wrapped, len(nn), dnMsgs, cnt)
}

// TestNoUnknownFindsNestedFields makes sure the unknown-field walk looks
// inside nested, repeated and map-valued messages.
func TestNoUnknownFindsNestedFields(t *testing.T) {
	extra := protowire.AppendTag(nil, 99, protowire.VarintType)
	extra = protowire.AppendVarint(extra, 1)

	perm := &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o644)}
	perm.ProtoReflect().SetUnknown(extra)
	st := &hdfspb.HdfsFileStatusProto{Permission: perm}
	listing := &hdfspb.DirectoryListingProto{PartialListing: []*hdfspb.HdfsFileStatusProto{{}, st}}
	err := noUnknown(listing.ProtoReflect(), "DirectoryListingProto")
	require.ErrorContains(t, err, "DirectoryListingProto.partialListing[1].permission")

	ack := &hdfspb.PipelineAckProto{}
	ack.ProtoReflect().SetUnknown(extra)
	require.Error(t, noUnknown(ack.ProtoReflect(), "PipelineAckProto"))

	require.NoError(t, noUnknown((&hdfspb.RouterFederatedStateProto{
		NamespaceStateIds: map[string]int64{"ns1": 7},
	}).ProtoReflect(), "RouterFederatedStateProto"))
}
