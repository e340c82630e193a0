package ipc

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Hadoop auth method names (SaslRpcServer.AuthMethod) and SASL mechanisms.
const (
	MethodSimple   = "SIMPLE"
	MethodToken    = "TOKEN"
	MethodKerberos = "KERBEROS"

	MechDigestMD5 = "DIGEST-MD5"
	MechGSSAPI    = "GSSAPI"
)

// ErrSASL wraps SASL negotiation failures that are not remote exceptions.
var ErrSASL = errors.New("ipc: SASL")

// ErrFallbackToSimple is returned by Dial when the server answered NEGOTIATE
// with SUCCESS, skipping authentication, and the client has only secure
// mechanisms and Options.FallbackToSimpleAllowed is false. It wraps ErrSASL.
var ErrFallbackToSimple = fmt.Errorf("%w: server asks us to fall back to SIMPLE auth, but this client is configured to only allow secure connections (ipc.client.fallback-to-simple-auth-allowed is false)", ErrSASL)

// SaslOffer is one mechanism a server offers in its NEGOTIATE reply.
type SaslOffer struct {
	Method, Mechanism, Protocol, ServerID string
	// Challenge is the mechanism's first challenge when the server computed it
	// up front (TOKEN/DIGEST-MD5 does).
	Challenge []byte
}

// ClientMechanism is one SASL method a client can run. The connection walks
// the server's offers in the server's order and takes the first offer that a
// mechanism accepts. TOKEN (DIGEST-MD5, digest.go) and KERBEROS (GSSAPI,
// gssapi*.go) both implement it.
type ClientMechanism interface {
	// Method is the Hadoop auth method (MethodToken, MethodKerberos).
	Method() string
	// Mechanism is the SASL mechanism name (MechDigestMD5, MechGSSAPI).
	Mechanism() string
	// Start begins an exchange for offer. ok=false means this mechanism
	// cannot serve the offer and the next one is tried.
	Start(offer SaslOffer) (s ClientSession, ok bool, err error)
}

// ClientSession is one client-side SASL exchange.
type ClientSession interface {
	// Step evaluates a server challenge (for the first step: the offer's
	// challenge, possibly nil) and returns the token to send. A nil token is
	// sent as absent; an empty non-nil token as present and empty.
	Step(challenge []byte) ([]byte, error)
	// Complete evaluates the token of the server's SUCCESS message.
	Complete(final []byte) error
	// Layer returns the negotiated security layer, nil for QOP auth.
	Layer() (SecurityLayer, error)
}

// ServerMechanism is one SASL method a server offers, in list order.
type ServerMechanism interface {
	Method() string
	Mechanism() string
	// Protocol and ServerID are advertised in the offer (for TOKEN: "" and
	// "default"; for KERBEROS: the two halves of the service principal).
	Protocol() string
	ServerID() string
	// Start begins an exchange when the client negotiates; the returned
	// challenge (may be nil) is put into the offer.
	Start() (s ServerSession, challenge []byte, err error)
}

// ServerSession is one server-side SASL exchange.
type ServerSession interface {
	// Step evaluates a client token. It returns the token for the next
	// CHALLENGE, or, once done, the token (may be nil) for SUCCESS.
	Step(token []byte) (reply []byte, done bool, err error)
	// User is the authenticated user once done.
	User() string
	// Layer returns the negotiated security layer, nil for QOP auth.
	Layer() (SecurityLayer, error)
}

// SecurityLayer wraps and unwraps messages after a SASL exchange that
// negotiated integrity or confidentiality. Implementations are not safe for
// concurrent use; the connection serialises Wrap calls and Unwrap calls
// separately (one writer, one reader).
type SecurityLayer interface {
	Wrap(msg []byte) ([]byte, error)
	Unwrap(msg []byte) ([]byte, error)
	// MaxWrap is the largest plaintext one Wrap call may take.
	MaxWrap() int
}

// --- wrapped framing (QOP auth-int / auth-conf) ------------------------

// wrapRequestFrames cuts the client's plaintext byte stream into chunks of at
// most the layer's MaxWrap, wraps each and frames it as a SASL WRAP request:
//
//	| u32 len | hdr{callId -33, clientId "", retry -1} | RpcSaslProto{WRAP, token} |
func wrapRequestFrames(dst []byte, l SecurityLayer, plain []byte) ([]byte, error) {
	hdr := RequestHeader(CallIDSASL, nil, -1)
	return wrapChunks(dst, l, plain, hdr)
}

// wrapResponseFrame wraps one complete response frame as the server does:
//
//	| u32 len | RpcResponseHeaderProto{callId -33, status SUCCESS} | RpcSaslProto{WRAP, token} |
func wrapResponseFrames(dst []byte, l SecurityLayer, plain []byte) ([]byte, error) {
	hdr := &commonpb.RpcResponseHeaderProto{
		CallId: proto.Uint32(respCallIDSASL),
		Status: commonpb.RpcResponseHeaderProto_SUCCESS.Enum(),
	}
	return wrapChunks(dst, l, plain, hdr)
}

func wrapChunks(dst []byte, l SecurityLayer, plain []byte, hdr proto.Message) ([]byte, error) {
	max := l.MaxWrap()
	for len(plain) > 0 {
		n := min(len(plain), max)
		tok, err := l.Wrap(plain[:n])
		if err != nil {
			return dst, err
		}
		plain = plain[n:]
		dst, err = AppendFrame(dst, hdr, &commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_WRAP.Enum(), Token: tok})
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// unwrapReader turns a stream of SASL WRAP frames back into the plaintext
// stream of ordinary frames. parse extracts the RpcSaslProto from a frame
// (request or response side).
type unwrapReader struct {
	r     io.Reader
	max   int
	layer SecurityLayer
	parse func(frame []byte) (*commonpb.RpcSaslProto, error)
	buf   bytes.Buffer
}

func (u *unwrapReader) Read(p []byte) (int, error) {
	for u.buf.Len() == 0 {
		f, err := ReadFrame(u.r, u.max)
		if err != nil {
			return 0, err
		}
		m, err := u.parse(f)
		if err != nil {
			return 0, err
		}
		if m.GetState() != commonpb.RpcSaslProto_WRAP {
			return 0, fmt.Errorf("%w: got SASL %v after negotiation, want WRAP", ErrSASL, m.GetState())
		}
		plain, err := u.layer.Unwrap(m.GetToken())
		if err != nil {
			return 0, err
		}
		u.buf.Write(plain)
	}
	return u.buf.Read(p)
}

// saslFromResponse extracts the RpcSaslProto of a server SASL frame, turning
// an ERROR/FATAL header into a *RemoteError.
func saslFromResponse(frame []byte) (*commonpb.RpcSaslProto, error) {
	r, err := ParseResponse(frame)
	if err != nil {
		return nil, err
	}
	if r.Header.GetStatus() != commonpb.RpcResponseHeaderProto_SUCCESS {
		return nil, remoteErrorFromHeader("", r.Header)
	}
	if r.CallID() != CallIDSASL {
		return nil, fmt.Errorf("%w: response call id %d during SASL, want -33", ErrSASL, r.CallID())
	}
	m := &commonpb.RpcSaslProto{}
	if err := Unmarshal(r.Body, m); err != nil {
		return nil, err
	}
	return m, nil
}

// saslFromRequest extracts the RpcSaslProto of a client SASL frame.
func saslFromRequest(frame []byte) (*commonpb.RpcSaslProto, error) {
	r, err := ParseRequest(frame)
	if err != nil {
		return nil, err
	}
	if r.Header.GetCallId() != CallIDSASL {
		return nil, fmt.Errorf("%w: request call id %d, want -33", ErrSASL, r.Header.GetCallId())
	}
	m := &commonpb.RpcSaslProto{}
	if err := Unmarshal(r.Body, m); err != nil {
		return nil, err
	}
	return m, nil
}
