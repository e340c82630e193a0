package hdfspb_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
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

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// These tests decode real Hadoop 3.3.6 conversations (shared/fixtures,
// located, loaded and framed by internal/capture) with our definitions. For
// every protobuf message on the wire they check that it parses (required
// fields included), that nothing lands in unknown fields anywhere in the
// tree (a wrong field number or enum value would), and that a deterministic
// re-encoding reproduces the captured bytes exactly. NameNode traffic is
// read in clear (SIMPLE, QOP auth), inside DIGEST-MD5 auth-int and
// auth-conf WRAP messages (unwrapped with the fixtures' delegation tokens),
// and inside GSSAPI auth-int and auth-conf wrap tokens (opened and verified
// with the fixtures' keytabs): no conversation stays opaque.

const (
	clientProtocol   = "org.apache.hadoop.hdfs.protocol.ClientProtocol"
	dataTransferVer  = 28
	opWriteBlock     = 80
	opReadBlock      = 81
	putCatFileSHA256 = "ee722732894182bf69b3d7fbe81d9eb86dc5b6c95e4a02a910ab780fd1741244"
	putCatFileSize   = 1600000
	kerberosSHA256   = "6805605cf7151db6fbea29ea5548d08417b9160d908f08bfc9a18b04edf14a9f"
	kerberosFileSize = 44
)

// wantGSSPrivacy are the sealed (auth-conf) GSSAPI NameNode conversations:
// their bodies are decrypted with the keys the keytabs yield.
var wantGSSPrivacy = []string{
	"kerberos/distshell-secure-privacy/client-nn-upload.txt",
	"kerberos/distshell-secure-privacy/rm-nn-cancel-token.txt",
	"kerberos/distshell-secure-privacy/rm-nn-renew-token.txt",
	"kerberos/nn-put-privacy/client-nn-cat.txt",
	"kerberos/nn-put-privacy/client-nn-ls.txt",
	"kerberos/nn-put-privacy/client-nn-mkdir.txt",
	"kerberos/nn-put-privacy/client-nn-put.txt",
}

// fixtures returns a directory below capture.Dir. Missing fixtures fail the
// test: CI always has them.
func fixtures(t *testing.T, sub string) string {
	t.Helper()
	root, err := capture.Dir()
	require.NoError(t, err)
	dir := filepath.Join(root, sub)
	_, err = os.Stat(dir)
	require.NoError(t, err)
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

// check decodes raw into m and asserts the three properties
// (capture.RoundTrip). what names the message in failure output.
func check(t *testing.T, c tally, what string, raw []byte, m proto.Message) {
	t.Helper()
	require.NoError(t, capture.RoundTrip(raw, m), what)
	c[m.ProtoReflect().Descriptor().FullName()]++
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

// methodTypes maps each ClientNamenodeProtocol method name to its request
// and response types. It is built from the service block of
// client_namenode_protocol.proto; TestServiceBlock checks that block against
// a hand-written table.
func methodTypes(t *testing.T) map[string]capture.Method {
	t.Helper()
	sd := hdfspb.File_hdfspb_client_namenode_protocol_proto.Services().ByName("ClientNamenodeProtocol")
	require.NotNil(t, sd)
	out, err := capture.Methods(sd)
	require.NoError(t, err)
	return out
}

// How the calls of a connection reached us.
const (
	viaPlain = "plain"
	viaWrap  = "inside DIGEST-MD5 WRAP"
	viaGSS   = "inside GSSAPI WRAP (verified with the keytabs)"
)

// nnConn is the state of one decoded NameNode connection.
type nnConn struct {
	name      string
	mechanism string // SASL mechanism chosen by the client, "" for SIMPLE
	via       string
	identity  []byte // DIGEST-MD5: the delegation token identifier
	calls     map[int32]string
	requests  map[int32]proto.Message
	responses map[int32]proto.Message
	frames    int
	wrapped   int // frames that travelled inside SASL WRAP
}

// decodeNN decodes one NameNode transcript. It returns nil, and the
// conversation, when the traffic is sealed GSSAPI.
func decodeNN(t *testing.T, cnt tally, path string, pw capture.Passwords) (*nnConn, *capture.Conversation) {
	t.Helper()
	types := methodTypes(t)
	tr, err := capture.Load(path)
	require.NoError(t, err)
	kt, err := capture.KerberosKeytabs()
	require.NoError(t, err)
	conv, err := capture.DecodeWithKeys(tr, pw, kt)
	require.NoError(t, err, path)
	c := &nnConn{
		name:      filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path),
		mechanism: conv.Mechanism,
		via:       viaPlain,
		calls:     map[int32]string{},
		requests:  map[int32]proto.Message{},
		responses: map[int32]proto.Message{},
	}
	full := conv
	switch {
	case conv.Opaque:
		return nil, conv
	case conv.Wrapped && conv.Mechanism == ipc.MechGSSAPI:
		c.via = viaGSS
	case conv.Wrapped:
		c.via = viaWrap
	}

	// Every frame, outer and inner: the IPC layer's own messages.
	for _, fs := range [][]capture.Frame{full.Client, full.Server, full.InnerClient, full.InnerServer} {
		for i, f := range fs {
			where := fmt.Sprintf("%s frame %d (inner %v, client %v)", c.name, i, f.Inner, f.Req != nil)
			msgs, err := capture.CheckIPC(f)
			require.NoError(t, err, where)
			for _, m := range msgs {
				cnt[m.ProtoReflect().Descriptor().FullName()]++
			}
			c.frames++
			if f.Inner {
				c.wrapped++
			}
		}
	}

	if conv.Mechanism == ipc.MechDigestMD5 {
		d, err := ipc.ParseDirectives(conv.Response)
		require.NoError(t, err, c.name)
		c.identity, err = base64.StdEncoding.DecodeString(d["username"])
		require.NoError(t, err, c.name)
		id, err := ipc.ParseDelegationTokenIdentifier(c.identity)
		require.NoError(t, err, "%s: SASL username", c.name)
		require.Equal(t, c.identity, id.Marshal(), "%s: SASL username re-encoding", c.name)
	}

	ctx, err := full.Context()
	require.NoError(t, err, c.name)
	require.NotNil(t, ctx, "%s: no connection context", c.name)
	require.Equal(t, clientProtocol, ctx.GetProtocol(), "%s: connection context protocol", c.name)

	calls, err := full.CheckedCalls()
	require.NoError(t, err, c.name)
	require.NotEmpty(t, calls, c.name)
	for _, call := range calls {
		id := call.Request.Req.Header.GetCallId()
		where := fmt.Sprintf("%s call %d", c.name, id)
		rh := call.Request.Req.Call
		require.Equal(t, clientProtocol, rh.GetDeclaringClassProtocolName(), where)
		require.Equal(t, uint64(1), rh.GetClientProtocolVersion(), where)
		mt, ok := types[call.Method()]
		require.True(t, ok, "%s: unknown method %q", where, call.Method())
		req := mt.Request.New().Interface()
		check(t, cnt, where+" "+call.Method()+" request", call.Request.Req.Body, req)
		c.calls[id] = call.Method()
		c.requests[id] = req

		rep := call.Reply.Resp
		require.NotNil(t, rep.Body, "%s: no successful response to %s: %s %s", where, call.Method(), rep.Header.GetExceptionClassName(), rep.Header.GetErrorMsg())
		resp := mt.Response.New().Interface()
		check(t, cnt, where+" "+call.Method()+" response", rep.Body, resp)
		c.responses[id] = resp
	}
	return c, conv
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
		for _, m := range []protoreflect.MessageType{mt.Request, mt.Response} {
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
		require.Equal(t, want[0].ProtoReflect().Type(), got.Request, name)
		require.Equal(t, want[1].ProtoReflect().Type(), got.Response, name)
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
		c, conv := decodeNN(t, cnt, p, nil)
		require.NotNil(t, c, p)
		require.Equal(t, "", conv.Mechanism, "SIMPLE without SASL")
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

// TestKerberosCaptures decodes every NameNode conversation of the secure
// cluster: in clear after SASL for QOP auth; inside the DIGEST-MD5 WRAP
// messages for auth-int and auth-conf, unwrapped with the HDFS delegation
// tokens of the credentials files; and from the plaintext inside GSSAPI
// auth-int wrap tokens (integrity protection does not encrypt). GSSAPI
// privacy traffic is sealed and stays opaque, but its DataNode traffic,
// which has no SASL, is decoded.
func TestKerberosCaptures(t *testing.T) {
	root := fixtures(t, "")
	dir := fixtures(t, "kerberos")
	cnt := tally{}

	// Every token password the fixtures hold, and the HDFS delegation
	// token identifiers among them.
	keys := capture.Keyring{}
	stored := map[string]bool{}
	creds, err := capture.CredentialFiles(root)
	require.NoError(t, err)
	for _, cr := range creds {
		for _, tok := range cr.Tokens() {
			keys.Add(tok)
			if tok.Kind == ipc.KindHDFSDelegation {
				stored[string(tok.Identifier)] = true
			}
		}
	}
	require.NotEmpty(t, stored)

	all, err := capture.All(dir)
	require.NoError(t, err)
	var nn []string
	for _, p := range all {
		// who-whom[-what].txt: the NameNode is the server.
		if parts := strings.Split(strings.TrimSuffix(filepath.Base(p), ".txt"), "-"); len(parts) > 1 && parts[1] == "nn" {
			nn = append(nn, p)
		}
	}
	sort.Strings(nn)
	require.Len(t, nn, 26)

	frames, wrapped := 0, 0
	methods := map[string]int{}
	bodies := map[string]int{}
	issued := map[string]bool{} // delegation token identifiers getDelegationToken returned
	var opaque, sealed []string
	for _, p := range nn {
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		rel = filepath.ToSlash(rel)
		c, conv := decodeNN(t, cnt, p, keys.Password)
		if c == nil {
			opaque = append(opaque, rel)
			continue
		}
		if c.mechanism == ipc.MechGSSAPI && conv.QOP == ipc.QOPAuthConf {
			sealed = append(sealed, rel)
		}
		if c.mechanism == ipc.MechDigestMD5 {
			d, err := ipc.ParseDirectives(conv.Response)
			require.NoError(t, err)
			qop := d["qop"]
			switch {
			case strings.Contains(rel, "-integrity/"):
				require.Equal(t, ipc.QOPAuthInt, qop, rel)
			case strings.Contains(rel, "-privacy/"):
				require.Equal(t, ipc.QOPAuthConf, qop, rel)
			default:
				require.Equal(t, ipc.QOPAuth, qop, rel)
			}
			require.Equal(t, qop != ipc.QOPAuth, c.via == viaWrap, rel)
			require.True(t, stored[string(c.identity)], "%s: SASL username is not a stored HDFS delegation token", rel)
		}
		frames += c.frames
		wrapped += c.wrapped
		for id, m := range c.calls {
			methods[m]++
			bodies[c.via] += 2
			if m == "getDelegationToken" {
				tok := c.responses[id].(*commonpb.GetDelegationTokenResponseProto).GetToken()
				require.Equal(t, ipc.KindHDFSDelegation, tok.GetKind())
				ident, err := ipc.ParseDelegationTokenIdentifier(tok.GetIdentifier())
				require.NoError(t, err, rel)
				require.Equal(t, tok.GetIdentifier(), ident.Marshal(), rel)
				issued[string(tok.GetIdentifier())] = true
			}
		}
		t.Logf("%s (%s, %s): %d frames (%d unwrapped): %s", rel, c.mechanism, c.via, c.frames, c.wrapped, c.methodList())
	}
	require.Empty(t, opaque, "conversations left opaque")
	require.Equal(t, wantGSSPrivacy, sealed, "sealed GSSAPI conversations, decoded")
	for _, m := range []string{"getDelegationToken", "renewDelegationToken", "cancelDelegationToken", "create", "addBlock", "complete", "getBlockLocations", "delete", "getListing"} {
		require.Positive(t, methods[m], "no %s call decoded", m)
	}
	for _, via := range []string{viaPlain, viaWrap, viaGSS} {
		require.Positive(t, bodies[via], "no body decoded %s", via)
	}
	// Each delegation token the captures show being issued is the one a
	// credentials file stores (fetchdt's file, the AM's container tokens).
	require.NotEmpty(t, issued)
	for id := range issued {
		require.True(t, stored[id], "issued delegation token not in any credentials file")
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
	keysOf := make([]string, 0, len(bodies))
	for k := range bodies {
		keysOf = append(keysOf, k)
	}
	sort.Strings(keysOf)
	for _, k := range keysOf {
		t.Logf("%4d bodies  %s", bodies[k], k)
	}
	t.Logf("NameNode: %d frames (%d unwrapped from SASL WRAP) in %d connections, %d opaque (%d sealed); DataNode: %d messages; %s",
		frames, wrapped, len(nn), len(opaque), len(sealed), dnMsgs, cnt)
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
	err := capture.NoUnknown(listing.ProtoReflect())
	require.ErrorContains(t, err, "DirectoryListingProto.partialListing[1].permission")

	ack := &hdfspb.PipelineAckProto{}
	ack.ProtoReflect().SetUnknown(extra)
	require.Error(t, capture.NoUnknown(ack.ProtoReflect()))

	require.NoError(t, capture.NoUnknown((&hdfspb.RouterFederatedStateProto{
		NamespaceStateIds: map[string]int64{"ns1": 7},
	}).ProtoReflect()))
}
