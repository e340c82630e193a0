package ipc_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

func fixtures(t *testing.T) string {
	t.Helper()
	d, err := capture.Dir()
	require.NoError(t, err)
	return d
}

// containerTokenPasswords reads every credentials file in the fixtures.
func containerTokenPasswords(t *testing.T, dir string) capture.Passwords {
	pw := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "tokens.bin") && !strings.HasSuffix(p, "token.bin") {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		c, err := ipc.ParseCredentials(b)
		require.NoError(t, err, p)
		for _, tok := range c.Tokens() {
			pw[string(tok.Identifier)] = tok.Password
		}
		return nil
	})
	require.NoError(t, err)
	return func(id []byte) []byte { return pw[string(id)] }
}

// requireNoUnknown fails if m or any message inside it has unknown fields:
// the check that catches a wrong field number, since re-encoding alone would
// carry unknown fields through unchanged.
func requireNoUnknown(t *testing.T, m protoreflect.Message, where string) {
	t.Helper()
	require.Empty(t, m.GetUnknown(), "%s: unknown fields in %s", where, m.Descriptor().FullName())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				requireNoUnknown(t, v.List().Get(i).Message(), where)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				requireNoUnknown(t, mv.Message(), where)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			requireNoUnknown(t, v.Message(), where)
		}
		return true
	})
}

func reencode(t *testing.T, raw []byte, msgs ...proto.Message) {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		if m == nil {
			continue
		}
		var err error
		b, err = ipc.AppendDelimited(b, m)
		require.NoError(t, err)
	}
	require.Equal(t, raw, b)
}

// decodeKnown decodes and re-encodes everything the IPC layer itself owns in
// a frame: headers, SASL messages and the connection context. Call bodies
// are left raw here; package wiretest decodes them with the YARN and HDFS types.
func decodeKnown(t *testing.T, f capture.Frame, where string) {
	t.Helper()
	if f.Req != nil {
		h := f.Req.Header
		requireNoUnknown(t, h.ProtoReflect(), where)
		var body proto.Message
		switch id := h.GetCallId(); {
		case id == ipc.CallIDSASL:
			body = &commonpb.RpcSaslProto{}
		case id == ipc.CallIDContext:
			body = &commonpb.IpcConnectionContextProto{}
		}
		if body != nil {
			require.NoError(t, proto.Unmarshal(f.Req.Body, body))
			requireNoUnknown(t, body.ProtoReflect(), where)
			reencode(t, f.Raw, h, body)
			return
		}
		if f.Req.Call != nil {
			requireNoUnknown(t, f.Req.Call.ProtoReflect(), where)
			b, err := ipc.AppendDelimited(nil, h)
			require.NoError(t, err)
			b, err = ipc.AppendDelimited(b, f.Req.Call)
			require.NoError(t, err)
			b = appendDelim(b, f.Req.Body)
			require.Equal(t, f.Raw, b, where)
			return
		}
		reencode(t, f.Raw, h) // ping
		return
	}
	h := f.Resp.Header
	requireNoUnknown(t, h.ProtoReflect(), where)
	b, err := ipc.AppendDelimited(nil, h)
	require.NoError(t, err)
	if f.Resp.CallID() == ipc.CallIDSASL && f.Resp.Body != nil {
		m := &commonpb.RpcSaslProto{}
		require.NoError(t, proto.Unmarshal(f.Resp.Body, m))
		requireNoUnknown(t, m.ProtoReflect(), where)
		reencode(t, f.Raw, h, m)
		return
	}
	if f.Resp.Body != nil && (len(f.Resp.Body) > 0 || len(b) < len(f.Raw)) {
		b = appendDelim(b, f.Resp.Body)
	}
	require.Equal(t, f.Raw, b, where)
}

func appendDelim(b, m []byte) []byte {
	return append(protowire.AppendVarint(b, uint64(len(m))), m...)
}

// TestCapturesFrames decodes every frame of every transcript, both
// directions, inner frames of DIGEST-MD5 wrapped traffic included, and
// re-encodes the IPC layer's own messages to the identical bytes.
func TestCapturesFrames(t *testing.T) {
	dir := fixtures(t)
	paths, err := capture.All(dir)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 70)
	pw := containerTokenPasswords(t, dir)
	var frames, inner, opaque int
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		t.Run(rel, func(t *testing.T) {
			tr, err := capture.Load(p)
			require.NoError(t, err)
			c, err := capture.Decode(tr, pw)
			require.NoError(t, err)
			for i, f := range c.Client {
				decodeKnown(t, f, rel+" client frame "+itoa(i))
			}
			for i, f := range c.Server {
				decodeKnown(t, f, rel+" server frame "+itoa(i))
			}
			for i, f := range c.InnerClient {
				decodeKnown(t, f, rel+" inner client frame "+itoa(i))
			}
			for i, f := range c.InnerServer {
				decodeKnown(t, f, rel+" inner server frame "+itoa(i))
			}
			frames += len(c.Client) + len(c.Server)
			inner += len(c.InnerClient) + len(c.InnerServer)
			if c.Opaque {
				opaque++
				// Only GSSAPI-protected traffic stays opaque here, and only
				// where the NodeManager token passwords live in am-rm.txt
				// (package wiretest unwraps those with the allocate responses).
				if c.Mechanism != ipc.MechGSSAPI {
					require.Contains(t, rel, "-nm-", "DIGEST traffic left opaque: %s", rel)
				}
			}
			if c.Wrapped && !c.Opaque {
				require.NotEmpty(t, c.InnerClient)
				require.NotEmpty(t, c.InnerServer)
			}
		})
	}
	t.Logf("%d transcripts, %d outer frames, %d inner frames, %d opaque conversations", len(paths), frames, inner, opaque)
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestCaptureDigestResponse recomputes the Java AM's DIGEST-MD5 response=
// and the RM's rspauth= of distshell-run/am-rm.txt from the AMRMToken in
// am-container_tokens.bin and the nonce and cnonce on the wire.
func TestCaptureDigestResponse(t *testing.T) {
	dir := fixtures(t)
	b, err := os.ReadFile(filepath.Join(dir, "distshell-run", "am-container_tokens.bin"))
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	require.Equal(t, b, creds.Marshal(), "credentials re-encode to the same bytes")
	tok := creds.TokenOfKind(ipc.KindAMRMToken)
	require.NotNil(t, tok)
	require.Equal(t, "", tok.Service)
	require.Equal(t, []string{""}, creds.Aliases())

	tr, err := capture.Load(filepath.Join(dir, "distshell-run", "am-rm.txt"))
	require.NoError(t, err)
	c, err := capture.Decode(tr, nil)
	require.NoError(t, err)
	require.Equal(t, ipc.MethodToken, c.Method)
	ch, err := ipc.ParseDirectives(c.Challenge)
	require.NoError(t, err)
	rs, err := ipc.ParseDirectives(c.Response)
	require.NoError(t, err)
	require.Equal(t, base64.StdEncoding.EncodeToString(tok.Identifier), rs["username"])
	require.Equal(t, ch["nonce"], rs["nonce"])
	pw := base64.StdEncoding.EncodeToString(tok.Password)
	got := ipc.DigestResponse(rs["username"], pw, rs["nonce"], rs["cnonce"], rs["qop"])
	require.Equal(t, rs["response"], got)
	require.True(t, strings.HasPrefix(got, "6d473c44"))

	var success *commonpb.RpcSaslProto
	for _, f := range c.Server {
		m := &commonpb.RpcSaslProto{}
		require.NoError(t, proto.Unmarshal(f.Resp.Body, m))
		if m.GetState() == commonpb.RpcSaslProto_SUCCESS {
			success = m
			break
		}
	}
	require.NotNil(t, success)
	want := "rspauth=" + ipc.DigestRspAuth(rs["username"], pw, rs["nonce"], rs["cnonce"], rs["qop"])
	require.Equal(t, want, string(success.GetToken()))
	require.True(t, strings.HasPrefix(want, "rspauth=23bc2f08"))

	// Our DigestClient accepts the real server's rspauth for a replayed exchange.
	dc := ipc.NewDigestClient(tok.Identifier, tok.Password)
	dc.Rand = bytes.NewReader(mustB64(t, rs["cnonce"]))
	resp, err := dc.Respond(c.Challenge)
	require.NoError(t, err)
	require.Equal(t, string(c.Response), string(resp), "byte-identical digest-response to the Java client's")
	require.NoError(t, dc.Verify(success.GetToken()))
}

func mustB64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestCaptureDigestWrapped unwraps the real JDK auth-int and auth-conf
// (3des) traffic of the secure cluster's AM→RM connections.
func TestCaptureDigestWrapped(t *testing.T) {
	dir := fixtures(t)
	for _, tc := range []struct{ dir, qop string }{
		{"distshell-secure-integrity", ipc.QOPAuthInt},
		{"distshell-secure-privacy", ipc.QOPAuthConf},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "kerberos", tc.dir, "am-container_tokens.bin"))
			require.NoError(t, err)
			creds, err := ipc.ParseCredentials(b)
			require.NoError(t, err)
			require.Equal(t, b, creds.Marshal())
			amrm := creds.TokenOfKind(ipc.KindAMRMToken)
			require.NotNil(t, amrm)
			tr, err := capture.Load(filepath.Join(dir, "kerberos", tc.dir, "am-rm.txt"))
			require.NoError(t, err)
			c, err := capture.Decode(tr, func(id []byte) []byte {
				if bytes.Equal(id, amrm.Identifier) {
					return amrm.Password
				}
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, tc.qop, c.QOP)
			require.False(t, c.Opaque)
			calls := c.Calls()
			var methods []string
			for _, call := range calls {
				methods = append(methods, call.Method())
				require.NotNil(t, call.Reply, call.Method())
			}
			require.Equal(t, "registerApplicationMaster", methods[0])
			require.Equal(t, "finishApplicationMaster", methods[len(methods)-1])
		})
	}
}
