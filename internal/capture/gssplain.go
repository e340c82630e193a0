package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// ErrSealed is returned by PeekGSSIntegrity for wrap tokens with
// confidentiality, whose plaintext cannot be read without the keys.
var ErrSealed = errors.New("capture: sealed GSSAPI wrap token")

// PeekGSSIntegrity returns a copy of an opaque GSSAPI conversation whose
// InnerClient and InnerServer hold the frames that RFC 4121 wrap tokens
// without confidentiality (QOP auth-int) carry in clear:
//
//	05 04 flags ff | EC (2) | RRC (2) | SND_SEQ (8) | plaintext | checksum (EC bytes)
//
// The checksums are NOT verified (that needs the Kerberos session key), so
// this only serves tests of the message bodies; the copy stays Opaque.
// Sealed tokens (privacy) return an error wrapping ErrSealed.
func PeekGSSIntegrity(c *Conversation) (*Conversation, error) {
	if c.Mechanism != ipc.MechGSSAPI || !c.Opaque {
		return nil, fmt.Errorf("capture: not an opaque GSSAPI conversation (%s, opaque %v)", c.Mechanism, c.Opaque)
	}
	out := *c
	cp, err := gssPlain(c.Client, func(f Frame) []byte {
		if f.Req.Header.GetCallId() == ipc.CallIDSASL {
			return f.Req.Body
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	sp, err := gssPlain(c.Server, func(f Frame) []byte {
		if f.Resp.CallID() == ipc.CallIDSASL {
			return f.Resp.Body
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if out.InnerClient, err = frames(bytes.NewReader(cp), true); err != nil {
		return nil, fmt.Errorf("inner client: %w", err)
	}
	if out.InnerServer, err = frames(bytes.NewReader(sp), false); err != nil {
		return nil, fmt.Errorf("inner server: %w", err)
	}
	for i := range out.InnerClient {
		out.InnerClient[i].Inner = true
	}
	for i := range out.InnerServer {
		out.InnerServer[i].Inner = true
	}
	return &out, nil
}

// gssPlain concatenates the plaintext of the WRAP tokens among fs.
func gssPlain(fs []Frame, sasl func(Frame) []byte) ([]byte, error) {
	var plain []byte
	for _, f := range fs {
		b := sasl(f)
		if b == nil {
			continue
		}
		m := &commonpb.RpcSaslProto{}
		if err := ipc.Unmarshal(b, m); err != nil {
			return nil, err
		}
		if m.GetState() != commonpb.RpcSaslProto_WRAP {
			continue
		}
		tok := m.GetToken()
		if len(tok) < 16 || tok[0] != 0x05 || tok[1] != 0x04 || tok[3] != 0xff {
			return nil, errors.New("capture: not an RFC 4121 wrap token")
		}
		if tok[2]&0x02 != 0 {
			return nil, ErrSealed
		}
		ec := int(binary.BigEndian.Uint16(tok[4:6]))
		if rrc := binary.BigEndian.Uint16(tok[6:8]); rrc != 0 || len(tok) < 16+ec {
			return nil, fmt.Errorf("capture: wrap token with RRC %d, EC %d, %d bytes", rrc, ec, len(tok))
		}
		plain = append(plain, tok[16:len(tok)-ec]...)
	}
	return plain, nil
}
