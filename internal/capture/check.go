package capture

// Checks the protocol packages' capture tests share: the unknown-field walk,
// the decode/re-encode round trip, method type lookup from a service block,
// call-id bookkeeping, and the token passwords of the fixtures' credentials
// files.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// NoUnknown returns an error naming every message in m's tree (m itself and
// each singular, repeated and map-valued message below it) that carries
// unknown fields. A wrong field number or enum value lands there, and a
// re-encoding alone would carry it through unchanged. Paths start at m's
// message name, e.g. "DirectoryListingProto.partialListing[1].permission".
func NoUnknown(m protoreflect.Message) error {
	var found []string
	unknown(string(m.Descriptor().Name()), m, &found)
	if len(found) == 0 {
		return nil
	}
	return fmt.Errorf("unknown fields: %s", strings.Join(found, "; "))
}

func unknown(path string, m protoreflect.Message, out *[]string) {
	if u := m.GetUnknown(); len(u) > 0 {
		*out = append(*out, fmt.Sprintf("%s (%s): %s", path, m.Descriptor().FullName(), describeRaw(u)))
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					unknown(fmt.Sprintf("%s[%v]", p, k.Interface()), mv.Message(), out)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					unknown(fmt.Sprintf("%s[%d]", p, i), l.Get(i).Message(), out)
				}
			}
		case fd.Message() != nil:
			unknown(p, v.Message(), out)
		}
		return true
	})
}

// describeRaw names the fields of raw wire bytes, for failure messages.
func describeRaw(b []byte) string {
	var parts []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			parts = append(parts, "unparsable "+hex.EncodeToString(b))
			break
		}
		parts = append(parts, fmt.Sprintf("#%d(wiretype %d)", num, typ))
		b = b[n:]
	}
	return strings.Join(parts, " ")
}

// RoundTrip unmarshals raw into m (proto2 required fields included), checks
// NoUnknown, and checks that a deterministic re-encoding reproduces raw byte
// for byte (a wrong wire type, label or packing shows up here).
func RoundTrip(raw []byte, m proto.Message) error {
	name := m.ProtoReflect().Descriptor().FullName()
	if err := proto.Unmarshal(raw, m); err != nil {
		return fmt.Errorf("unmarshal %s: %w", name, err)
	}
	if err := NoUnknown(m.ProtoReflect()); err != nil {
		return err
	}
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", name, err)
	}
	if !bytes.Equal(raw, again) {
		return fmt.Errorf("%s: re-encoding differs:\n captured %x\n   ours   %x", name, raw, again)
	}
	return nil
}

// Method holds the request and response types of one RPC method.
type Method struct{ Request, Response protoreflect.MessageType }

// Methods returns the types of every method of sd by its wire method name,
// resolved through the global registry, so they are the generated Go types.
func Methods(sd protoreflect.ServiceDescriptor) (map[string]Method, error) {
	out := make(map[string]Method, sd.Methods().Len())
	for i := 0; i < sd.Methods().Len(); i++ {
		md := sd.Methods().Get(i)
		in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
		if err != nil {
			return nil, fmt.Errorf("%s.%s request: %w", sd.FullName(), md.Name(), err)
		}
		resp, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
		if err != nil {
			return nil, fmt.Errorf("%s.%s response: %w", sd.FullName(), md.Name(), err)
		}
		out[string(md.Name())] = Method{in, resp}
	}
	return out, nil
}

// callFrames returns the client and server frames that carry the
// connection after SASL: the inner ones when the traffic was unwrapped.
func (c *Conversation) callFrames() (client, server []Frame) {
	if len(c.InnerClient) > 0 {
		return c.InnerClient, c.InnerServer
	}
	return c.Client, c.Server
}

// Context returns the connection context the client sent (the inner one
// when the traffic was wrapped), or nil if there is none in reach.
func (c *Conversation) Context() (*commonpb.IpcConnectionContextProto, error) {
	cf, _ := c.callFrames()
	for _, f := range cf {
		if f.Req.Header.GetCallId() == ipc.CallIDContext {
			m := &commonpb.IpcConnectionContextProto{}
			if err := ipc.Unmarshal(f.Req.Body, m); err != nil {
				return nil, err
			}
			return m, nil
		}
	}
	return nil, nil
}

// CheckedCalls returns Calls after checking the call-id bookkeeping of the
// frames that carry them: the client used only call ids >= 0 and the
// special SASL, context and ping ids, never the same call id twice; the
// server answered only SASL and calls, each call exactly once, and nothing
// that was not asked.
func (c *Conversation) CheckedCalls() ([]Call, error) {
	cf, sf := c.callFrames()
	asked := map[int32]bool{}
	for i, f := range cf {
		switch id := f.Req.Header.GetCallId(); {
		case id >= 0:
			if asked[id] {
				return nil, fmt.Errorf("client frame %d: call id %d reused", i, id)
			}
			asked[id] = true
		case id == ipc.CallIDSASL || id == ipc.CallIDContext || id == ipc.CallIDPing:
		default:
			return nil, fmt.Errorf("client frame %d: unexpected call id %d", i, id)
		}
	}
	answered := map[int32]bool{}
	for i, f := range sf {
		switch id := f.Resp.CallID(); {
		case id >= 0:
			if !asked[id] {
				return nil, fmt.Errorf("server frame %d: reply to call %d, which was never made", i, id)
			}
			if answered[id] {
				return nil, fmt.Errorf("server frame %d: second reply to call %d", i, id)
			}
			answered[id] = true
		case id == ipc.CallIDSASL:
		default:
			h := f.Resp.Header
			return nil, fmt.Errorf("server frame %d: unexpected call id %d (%s %s)", i, id, h.GetExceptionClassName(), h.GetErrorMsg())
		}
	}
	calls := c.Calls()
	for _, call := range calls {
		if call.Reply == nil {
			return nil, fmt.Errorf("call %d %s: no reply", call.Request.Req.Header.GetCallId(), call.Method())
		}
	}
	return calls, nil
}

// CheckIPC decodes every message of f that the IPC layer owns (the RPC
// header, the engine's RequestHeaderProto, a SASL message, the connection
// context), checks each with RoundTrip, and returns them in wire order.
// Call bodies are left to the protocol's own types.
func CheckIPC(f Frame) ([]proto.Message, error) {
	parts, err := ipc.SplitDelimited(f.Raw)
	if err != nil {
		return nil, err
	}
	var msgs []proto.Message
	if f.Req != nil {
		msgs = append(msgs, &commonpb.RpcRequestHeaderProto{})
		switch id := f.Req.Header.GetCallId(); {
		case id >= 0:
			msgs = append(msgs, &commonpb.RequestHeaderProto{})
		case id == ipc.CallIDSASL:
			msgs = append(msgs, &commonpb.RpcSaslProto{})
		case id == ipc.CallIDContext:
			msgs = append(msgs, &commonpb.IpcConnectionContextProto{})
		}
	} else {
		msgs = append(msgs, &commonpb.RpcResponseHeaderProto{})
		if f.Resp.CallID() == ipc.CallIDSASL && f.Resp.Body != nil {
			msgs = append(msgs, &commonpb.RpcSaslProto{})
		}
	}
	if len(parts) < len(msgs) {
		return nil, fmt.Errorf("frame has %d parts, want at least %d", len(parts), len(msgs))
	}
	for i, m := range msgs {
		if err := RoundTrip(parts[i], m); err != nil {
			return nil, err
		}
	}
	return msgs, nil
}

// Keyring holds token passwords by identifier. Its Password method is a
// Passwords func.
type Keyring map[string][]byte

// Add records t's password.
func (k Keyring) Add(t *ipc.Token) { k[string(t.Identifier)] = t.Password }

// Password returns the password of the token with identifier id, or nil.
func (k Keyring) Password(id []byte) []byte { return k[string(id)] }

// CredentialFiles parses every Hadoop token storage file (HDTS magic) under
// dir, by path.
func CredentialFiles(dir string) (map[string]*ipc.Credentials, error) {
	out := map[string]*ipc.Credentials{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".bin") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(b, []byte("HDTS")) {
			return nil
		}
		c, err := ipc.ParseCredentials(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out[p] = c
		return nil
	})
	if err == nil && len(out) == 0 {
		err = errors.New("capture: no credentials files under " + dir)
	}
	return out, err
}
