package minihdfs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// The replay tests play the client side of the real `hdfs dfs` run in
// shared/fixtures/hadoop-3.3.6/hdfs-put-cat/ (Hadoop 3.3.6 client, NameNode
// and DataNode) against the mini HDFS and compare every reply with the real
// daemons' reply.
//
// NameNode: each captured request is sent as the Java client framed it
// (its RPC header, its method header, its body); the reply header must
// equal the captured one, and the reply body must have the same shape:
// the same fields present everywhere in the tree, in the same order, and
// the same values except for the cluster-specific ones in normalised.
// Values the NameNode assigned (inode ids, block ids, generation stamps,
// the block pool, the storage id) are mapped one-to-one from the capture
// to ours, the mapping must stay consistent, and later requests that
// quote them (addBlock's previous, complete's last, fileId) are rewritten
// through it before they are sent.
//
// DataNode: each captured data transfer stream is fed to our DataNode and
// our bytes must equal the real DataNode's bytes exactly (block op
// responses, pipeline acks, read packets with their CRC32C checksums).

const (
	putCatSHA256 = "ee722732894182bf69b3d7fbe81d9eb86dc5b6c95e4a02a910ab780fd1741244"
	putCatSize   = 1600000
)

// normalised lists the fields whose values are cluster-specific, with how
// they are compared: "map" values must correspond one-to-one between the
// capture and our replies (and are rewritten in later requests); "any"
// values need only be present.
var normalised = map[string]string{
	"spindle.hdfs.HdfsFileStatusProto.modification_time":      "any",
	"spindle.hdfs.HdfsFileStatusProto.access_time":            "any",
	"spindle.hdfs.HdfsFileStatusProto.fileId":                 "map",
	"spindle.hdfs.AddBlockRequestProto.fileId":                "map",
	"spindle.hdfs.CompleteRequestProto.fileId":                "map",
	"spindle.hdfs.ExtendedBlockProto.poolId":                  "map",
	"spindle.hdfs.ExtendedBlockProto.blockId":                 "map",
	"spindle.hdfs.ExtendedBlockProto.generationStamp":         "map",
	"spindle.hdfs.LocatedBlockProto.storageIDs":               "map",
	"spindle.hdfs.OpWriteBlockProto.storageId":                "map",
	"spindle.hdfs.DatanodeIDProto.datanodeUuid":               "map",
	"spindle.hdfs.DatanodeIDProto.xferPort":                   "any",
	"spindle.hdfs.DatanodeIDProto.infoPort":                   "any",
	"spindle.hdfs.DatanodeIDProto.ipcPort":                    "any",
	"spindle.hdfs.DatanodeInfoProto.capacity":                 "any",
	"spindle.hdfs.DatanodeInfoProto.dfsUsed":                  "any",
	"spindle.hdfs.DatanodeInfoProto.remaining":                "any",
	"spindle.hdfs.DatanodeInfoProto.blockPoolUsed":            "any",
	"spindle.hdfs.DatanodeInfoProto.lastUpdate":               "any",
	"spindle.hdfs.DatanodeInfoProto.xceiverCount":             "any",
	"spindle.hdfs.DatanodeInfoProto.nonDfsUsed":               "any",
	"spindle.hdfs.DatanodeInfoProto.lastUpdateMonotonic":      "any",
	"spindle.hdfs.DatanodeInfoProto.lastBlockReportTime":      "any",
	"spindle.hdfs.DatanodeInfoProto.lastBlockReportMonotonic": "any",
}

// mapping records captured → ours for the "map" fields, by field.
type mapping map[string]map[string]string

func fieldKey(fd protoreflect.FieldDescriptor) string {
	return string(fd.ContainingMessage().FullName()) + "." + string(fd.Name())
}

// kind is the mapping class of a field: ids of one kind share one table,
// whichever message carries them.
func kind(fd protoreflect.FieldDescriptor) string {
	switch fd.Name() {
	case "fileId":
		return "inode"
	case "storageIDs", "storageId":
		return "storage"
	}
	return fieldKey(fd)
}

func (m mapping) record(t *testing.T, where string, fd protoreflect.FieldDescriptor, want, got protoreflect.Value) {
	k := kind(fd)
	if m[k] == nil {
		m[k] = map[string]string{}
	}
	w, g := fmt.Sprint(want.Interface()), fmt.Sprint(got.Interface())
	if prev, ok := m[k][w]; ok {
		require.Equal(t, prev, g, "%s: captured %s %s maps to two values", where, k, w)
		return
	}
	for cw, cg := range m[k] {
		require.False(t, cg == g && cw != w, "%s: captured %s %s and %s both map to %s", where, k, cw, w, g)
	}
	m[k][w] = g
}

// sameShape compares a captured reply with ours.
func sameShape(t *testing.T, where string, want, got protoreflect.Message, m mapping) {
	t.Helper()
	require.Equal(t, want.Descriptor().FullName(), got.Descriptor().FullName(), where)
	require.Empty(t, got.GetUnknown(), "%s: unknown fields in our reply", where)
	fields := want.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		at := where + "." + string(fd.Name())
		require.Equal(t, want.Has(fd), got.Has(fd), "%s: presence differs (captured %v)", at, want.Has(fd))
		if !want.Has(fd) {
			continue
		}
		how := normalised[fieldKey(fd)]
		compare := func(at string, wv, gv protoreflect.Value) {
			switch {
			case fd.Message() != nil:
				sameShape(t, at, wv.Message(), gv.Message(), m)
			case how == "map":
				m.record(t, at, fd, wv, gv)
			case how == "any":
			default:
				require.Equal(t, wv.Interface(), gv.Interface(), at)
			}
		}
		if fd.IsList() {
			wl, gl := want.Get(fd).List(), got.Get(fd).List()
			require.Equal(t, wl.Len(), gl.Len(), "%s: list length", at)
			for j := 0; j < wl.Len(); j++ {
				compare(fmt.Sprintf("%s[%d]", at, j), wl.Get(j), gl.Get(j))
			}
			continue
		}
		compare(at, want.Get(fd), got.Get(fd))
	}
}

// rewrite replaces captured values of "map" fields in a request by ours.
func rewrite(t *testing.T, msg protoreflect.Message, m mapping) {
	t.Helper()
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() != nil && fd.IsList():
			for j := 0; j < v.List().Len(); j++ {
				rewrite(t, v.List().Get(j).Message(), m)
			}
		case fd.Message() != nil:
			rewrite(t, v.Message(), m)
		case normalised[fieldKey(fd)] == "map":
			table := m[kind(fd)]
			if fd.IsList() {
				l := v.List()
				for j := 0; j < l.Len(); j++ {
					g, ok := table[fmt.Sprint(l.Get(j).Interface())]
					require.True(t, ok, "no mapping for %s %v", kind(fd), l.Get(j).Interface())
					l.Set(j, parseLike(t, l.Get(j), g))
				}
				return true
			}
			g, ok := table[fmt.Sprint(v.Interface())]
			require.True(t, ok, "no mapping for %s %v", kind(fd), v.Interface())
			msg.Set(fd, parseLike(t, v, g))
		}
		return true
	})
}

func parseLike(t *testing.T, like protoreflect.Value, s string) protoreflect.Value {
	switch like.Interface().(type) {
	case string:
		return protoreflect.ValueOfString(s)
	case uint64:
		var u uint64
		_, err := fmt.Sscan(s, &u)
		require.NoError(t, err)
		return protoreflect.ValueOfUint64(u)
	}
	t.Fatalf("cannot map a %T", like.Interface())
	return protoreflect.Value{}
}

func fixtureDir(t *testing.T) string {
	t.Helper()
	root, err := capture.Dir()
	require.NoError(t, err)
	return filepath.Join(root, "hdfs-put-cat")
}

func methodTypes(t *testing.T) map[string]capture.Method {
	t.Helper()
	types, err := capture.Methods(hdfspb.File_hdfspb_client_namenode_protocol_proto.Services().ByName("ClientNamenodeProtocol"))
	require.NoError(t, err)
	return types
}

// TestReplayPutCatNameNode replays the NameNode conversations of mkdir, put
// (with both block writes fed to our DataNode), ls, cat (with the read of
// both blocks), chmod and delete, in that order, on one mini HDFS.
func TestReplayPutCatNameNode(t *testing.T) {
	dir := fixtureDir(t)
	c := start(t, func(o *minihdfs.Options) { o.BlockSize = 0; o.Users = []string{"root"} })
	types := methodTypes(t)
	m := mapping{}
	ctx := testutil.Context(t, 60*time.Second)

	blocksWritten := 0
	for _, step := range []string{"mkdir", "put", "ls", "cat", "chmod", "delete"} {
		tr, err := capture.Load(filepath.Join(dir, "client-nn-"+step+".txt"))
		require.NoError(t, err)
		conv, err := capture.Decode(tr, nil)
		require.NoError(t, err)
		calls, err := conv.CheckedCalls()
		require.NoError(t, err)

		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", c.NameNodeAddr())
		require.NoError(t, err)
		require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
		// The preamble and connection context exactly as the Java client sent them.
		ctxFrame := conv.Client[0]
		require.Equal(t, int32(ipc.CallIDContext), ctxFrame.Req.Header.GetCallId())
		_, err = nc.Write(append(append([]byte{}, tr.Client[:7]...), frame(ctxFrame.Raw)...))
		require.NoError(t, err)

		for _, call := range calls {
			method := call.Method()
			where := fmt.Sprintf("%s: call %d %s", step, call.Request.Req.Header.GetCallId(), method)
			mt, ok := types[method]
			require.True(t, ok, where)
			req := mt.Request.New().Interface()
			require.NoError(t, proto.Unmarshal(call.Request.Req.Body, req), where)
			out, err := ipc.AppendFrame(nil, call.Request.Req.Header, call.Request.Req.Call, req)
			require.NoError(t, err)
			require.Equal(t, frame(call.Request.Raw), out, "%s: re-framing the captured request changed its bytes", where)
			rewrite(t, req.ProtoReflect(), m)
			out, err = ipc.AppendFrame(nil, call.Request.Req.Header, call.Request.Req.Call, req)
			require.NoError(t, err)
			_, err = nc.Write(out)
			require.NoError(t, err, where)

			raw, err := ipc.ReadFrame(nc, 0)
			require.NoError(t, err, where)
			got, err := ipc.ParseResponse(raw)
			require.NoError(t, err, where)
			want := call.Reply.Resp
			require.True(t, proto.Equal(want.Header, got.Header), "%s: reply header\n captured %v\n ours     %v", where, want.Header, got.Header)
			wantBody, gotBody := mt.Response.New().Interface(), mt.Response.New().Interface()
			require.NoError(t, proto.Unmarshal(want.Body, wantBody))
			require.NoError(t, proto.Unmarshal(got.Body, gotBody), where)
			sameShape(t, where, wantBody.ProtoReflect(), gotBody.ProtoReflect(), m)
			t.Logf("%s: reply matches", where)

			switch method {
			case "addBlock":
				blocksWritten++
				name := fmt.Sprintf("client-dn-write-block%d", blocksWritten)
				replayDataNode(t, ctx, c, filepath.Join(dir, name+".client.bin"), filepath.Join(dir, name+".server.bin"), m, opWriteBlock)
			case "getBlockLocations":
				data := replayDataNode(t, ctx, c, filepath.Join(dir, "client-dn-read.client.bin"), filepath.Join(dir, "client-dn-read.server.bin"), m, opReadBlock)
				require.Equal(t, putCatSHA256, sha(readData(t, data)))
			}
		}
		require.NoError(t, nc.Close())
	}
	require.Equal(t, 2, blocksWritten)
	require.Equal(t, int64(putCatSize), c.DataNodeBytesReceived())
	t.Logf("mapping captured → ours: %v", m)
}

// TestReplayPutCatDataNode feeds the three captured data transfer streams,
// unmodified, to a DataNode of the captured block pool: our bytes must
// equal the real DataNode's, and the blocks read back must be the file.
func TestReplayPutCatDataNode(t *testing.T) {
	dir := fixtureDir(t)
	c := start(t, func(o *minihdfs.Options) { o.BlockPoolID = "BP-411686458-127.0.0.1-1795316416754" })
	ctx := testutil.Context(t, 60*time.Second)
	for _, name := range []string{"client-dn-write-block1", "client-dn-write-block2"} {
		replayDataNode(t, ctx, c, filepath.Join(dir, name+".client.bin"), filepath.Join(dir, name+".server.bin"), nil, opWriteBlock)
	}
	data := replayDataNode(t, ctx, c, filepath.Join(dir, "client-dn-read.client.bin"), filepath.Join(dir, "client-dn-read.server.bin"), nil, opReadBlock)
	got := readData(t, data)
	require.Len(t, got, putCatSize)
	require.Equal(t, putCatSHA256, sha(got))
	require.Equal(t, int64(putCatSize), c.DataNodeBytesReceived())
}

const (
	opWriteBlock = 80
	opReadBlock  = 81
)

// replayDataNode sends the captured client stream to our DataNode, with
// every op's ids rewritten through m (nil: unchanged), and requires our
// reply bytes to equal the captured server bytes. It returns them.
func replayDataNode(t *testing.T, ctx context.Context, c *minihdfs.Cluster, clientPath, serverPath string, m mapping, op byte) []byte {
	t.Helper()
	in, err := os.ReadFile(clientPath)
	require.NoError(t, err)
	want, err := os.ReadFile(serverPath)
	require.NoError(t, err)
	if m != nil {
		in = rewriteOps(t, in, m, op)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.DataNodeAddr())
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.SetDeadline(time.Now().Add(30*time.Second)))
	werr := make(chan error, 1)
	go func() {
		_, err := nc.Write(in)
		if err == nil {
			err = nc.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(nc)
	require.NoError(t, err)
	require.NoError(t, <-werr)
	require.Equal(t, len(want), len(got), "%s: reply length", filepath.Base(serverPath))
	require.True(t, bytes.Equal(want, got), "%s: our DataNode's bytes differ from the real one's", filepath.Base(serverPath))
	return got
}

// rewriteOps rewrites the op protos of a client stream of write ops (one op,
// then packets) or read ops (op, read status, op, read status...).
func rewriteOps(t *testing.T, in []byte, m mapping, op byte) []byte {
	var out []byte
	for len(in) > 0 {
		require.Equal(t, []byte{0, 28, op}, in[:3])
		n, k := protowire.ConsumeVarint(in[3:])
		require.Positive(t, k)
		body := in[3+k : 3+k+int(n)]
		var msg proto.Message = &hdfspb.OpWriteBlockProto{}
		if op == opReadBlock {
			msg = &hdfspb.OpReadBlockProto{}
		}
		require.NoError(t, proto.Unmarshal(body, msg))
		rewrite(t, msg.ProtoReflect(), m)
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
		require.NoError(t, err)
		out = append(out, in[:3]...)
		out = protowire.AppendVarint(out, uint64(len(b)))
		out = append(out, b...)
		in = in[3+k+int(n):]
		if op == opWriteBlock {
			return append(out, in...) // packets follow
		}
		n, k = protowire.ConsumeVarint(in) // ClientReadStatusProto
		out = append(out, in[:k+int(n)]...)
		in = in[k+int(n):]
	}
	return out
}

// readData extracts the block data of a DataNode's READ_BLOCK replies.
func readData(t *testing.T, b []byte) []byte {
	var data []byte
	for len(b) > 0 {
		n, k := protowire.ConsumeVarint(b)
		require.Positive(t, k)
		b = b[k+int(n):]
		for {
			plen := binary.BigEndian.Uint32(b)
			hlen := binary.BigEndian.Uint16(b[4:])
			h := &hdfspb.PacketHeaderProto{}
			require.NoError(t, proto.Unmarshal(b[6:6+hlen], h))
			payload := b[6+int(hlen) : 6+int(hlen)+int(plen)-4]
			data = append(data, payload[len(payload)-int(h.GetDataLen()):]...)
			b = b[6+int(hlen)+int(plen)-4:]
			if h.GetLastPacketInBlock() {
				break
			}
		}
	}
	return data
}

func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
