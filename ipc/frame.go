package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Pure codec functions shared by the client (conn.go) and the server
// (server.go). Nothing here touches a net.Conn.

// Preamble constants (Hadoop RpcConstants and Server.AuthProtocol).
const (
	// IPCVersion is RpcConstants.CURRENT_VERSION.
	IPCVersion = 9
	// AuthNone is AuthProtocol.NONE: SIMPLE without SASL.
	AuthNone byte = 0
	// AuthSASL is AuthProtocol.SASL (-33 as a byte).
	AuthSASL byte = 0xDF
)

// Special call ids (RpcConstants and AuthProtocol.SASL.callId).
const (
	CallIDAuthFailed   int32 = -1  // AUTHORIZATION_FAILED_CALL_ID, server only
	CallIDInvalid      int32 = -2  // INVALID_CALL_ID
	CallIDContext      int32 = -3  // CONNECTION_CONTEXT_CALL_ID
	CallIDPing         int32 = -4  // PING_CALL_ID
	CallIDSASL         int32 = -33 // AuthProtocol.SASL.callId
	DefaultMaxFrame          = 128 << 20
	protocolVersionOne       = 1 // clientProtocolVersion of every YARN and HDFS PB protocol
)

// respCallIDSASL is -33 as the uint32 the response header carries.
const respCallIDSASL uint32 = 0xFFFFFFDF

var magic = [4]byte{'h', 'r', 'p', 'c'}

// ErrFrameTooLarge is returned when a length read from the wire exceeds the
// configured maximum (ipc.maximum.data.length, 128 MiB by default).
var ErrFrameTooLarge = errors.New("ipc: frame too large")

// ErrMalformed is wrapped by every decode error of bytes that do not form a
// valid Hadoop IPC message.
var ErrMalformed = errors.New("ipc: malformed message")

// Preamble is the 7-byte connection header.
//
//	+------+------+------+------+---------+---------------+---------------+
//	| 'h'  | 'r'  | 'p'  | 'c'  | version | service class | auth protocol |
//	+------+------+------+------+---------+---------------+---------------+
//	                              0x09      0x00            0x00 | 0xDF
type Preamble struct {
	Version      byte
	ServiceClass byte
	AuthProtocol byte
}

// AppendPreamble appends p's 7 bytes to dst.
func AppendPreamble(dst []byte, p Preamble) []byte {
	dst = append(dst, magic[:]...)
	return append(dst, p.Version, p.ServiceClass, p.AuthProtocol)
}

// ReadPreamble reads and checks the 7-byte preamble. A wrong magic or version
// returns an error wrapping ErrMalformed; the Preamble read so far is returned
// so a server can answer with the version it saw.
func ReadPreamble(r io.Reader) (Preamble, error) {
	var b [7]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Preamble{}, err
	}
	p := Preamble{Version: b[4], ServiceClass: b[5], AuthProtocol: b[6]}
	if [4]byte(b[:4]) != magic {
		return p, fmt.Errorf("%w: bad magic %q", ErrMalformed, b[:4])
	}
	if p.Version != IPCVersion {
		return p, fmt.Errorf("%w: IPC version %d, want %d", ErrMalformed, p.Version, IPCVersion)
	}
	if p.AuthProtocol != AuthNone && p.AuthProtocol != AuthSASL {
		return p, fmt.Errorf("%w: unknown auth protocol 0x%02x", ErrMalformed, p.AuthProtocol)
	}
	return p, nil
}

// ReadFrame reads one length-prefixed frame and returns its payload (without
// the length). The length is checked against max (DefaultMaxFrame if max <= 0)
// before anything is allocated.
//
//	+---------------------+------------------------+
//	| u32 BE length n     | n bytes of payload     |
//	+---------------------+------------------------+
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// AppendFrame appends a frame holding each message varint-delimited, in order.
// A nil message is skipped; an empty message is the single byte 00. Marshaling
// is deterministic, which for Hadoop's proto2 messages reproduces Java's bytes.
//
//	+-----------+--------------+------+--------------+-----+
//	| u32 BE n  | varint len 1 | msg1 | varint len 2 | ... |
//	+-----------+--------------+------+--------------+-----+
func AppendFrame(dst []byte, msgs ...proto.Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	var err error
	for _, m := range msgs {
		if m == nil {
			continue
		}
		if dst, err = AppendDelimited(dst, m); err != nil {
			return dst[:start], err
		}
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// AppendDelimited appends m as a varint length followed by its bytes.
func AppendDelimited(dst []byte, m proto.Message) ([]byte, error) {
	n := marshalOpts.Size(m)
	dst = protowire.AppendVarint(dst, uint64(n))
	return marshalOpts.MarshalAppend(dst, m)
}

// MaxDelimitedParts is the most varint-delimited parts SplitDelimited takes
// from one frame. Hadoop's frames have at most three (a call: RPC header,
// method header, request).
const MaxDelimitedParts = 8

// ErrTooManyParts is returned by SplitDelimited for a frame of more than
// MaxDelimitedParts parts. It wraps ErrMalformed.
var ErrTooManyParts = fmt.Errorf("%w: too many delimited parts", ErrMalformed)

// SplitDelimited cuts a frame payload into its varint-delimited parts. It
// fails unless the parts cover b exactly, and with ErrTooManyParts after
// MaxDelimitedParts parts. The parts point into b: what it allocates does
// not grow with b (each zero byte is an empty part, so a frame of zeros
// would otherwise cost 24 bytes of slice header per byte).
func SplitDelimited(b []byte) ([][]byte, error) {
	var parts [][]byte
	for len(b) > 0 {
		if len(parts) == MaxDelimitedParts {
			return nil, fmt.Errorf("%w: more than %d, %d bytes left", ErrTooManyParts, MaxDelimitedParts, len(b))
		}
		n, k := protowire.ConsumeVarint(b)
		if k < 0 {
			return nil, fmt.Errorf("%w: bad varint length", ErrMalformed)
		}
		b = b[k:]
		if n > uint64(len(b)) {
			return nil, fmt.Errorf("%w: delimited length %d exceeds the %d bytes left", ErrMalformed, n, len(b))
		}
		parts = append(parts, b[:n])
		b = b[n:]
	}
	return parts, nil
}

var unmarshalOpts = proto.UnmarshalOptions{}

// Unmarshal decodes b into m, wrapping errors with ErrMalformed.
func Unmarshal(b []byte, m proto.Message) error {
	if err := unmarshalOpts.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %T: %w", ErrMalformed, m, err)
	}
	return nil
}

// Request is one decoded client→server frame.
type Request struct {
	Header *commonpb.RpcRequestHeaderProto
	// Call is the protobuf engine header; set only for calls (callId >= 0).
	Call *commonpb.RequestHeaderProto
	// Body is the raw method request (calls), the RpcSaslProto (callId -33)
	// or the IpcConnectionContextProto (callId -3). Nil for a ping.
	Body []byte
}

// ParseRequest decodes a request frame payload (without its length).
//
//	call:    | hdr RpcRequestHeaderProto | RequestHeaderProto | request |
//	sasl:    | hdr (callId -33)          | RpcSaslProto       |
//	context: | hdr (callId -3)           | IpcConnectionContextProto |
//	ping:    | hdr (callId -4)           |
func ParseRequest(b []byte) (*Request, error) {
	parts, err := SplitDelimited(b)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: empty request frame", ErrMalformed)
	}
	r := &Request{Header: &commonpb.RpcRequestHeaderProto{}}
	if err := Unmarshal(parts[0], r.Header); err != nil {
		return nil, err
	}
	id := r.Header.GetCallId()
	switch {
	case id >= 0:
		if len(parts) != 3 {
			return nil, fmt.Errorf("%w: call %d has %d parts, want 3", ErrMalformed, id, len(parts))
		}
		r.Call = &commonpb.RequestHeaderProto{}
		if err := Unmarshal(parts[1], r.Call); err != nil {
			return nil, err
		}
		r.Body = parts[2]
	case id == CallIDPing:
		if len(parts) != 1 {
			return nil, fmt.Errorf("%w: ping has %d parts, want 1", ErrMalformed, len(parts))
		}
	default:
		if len(parts) != 2 {
			return nil, fmt.Errorf("%w: call id %d has %d parts, want 2", ErrMalformed, id, len(parts))
		}
		r.Body = parts[1]
	}
	return r, nil
}

// Response is one decoded server→client frame.
type Response struct {
	Header *commonpb.RpcResponseHeaderProto
	// Body is the raw response message; nil unless the status is SUCCESS.
	Body []byte
}

// CallID returns the response's call id as the signed value the request used.
func (r *Response) CallID() int32 { return int32(r.Header.GetCallId()) }

// ParseResponse decodes a response frame payload (without its length).
//
//	success: | hdr RpcResponseHeaderProto | response message |
//	error:   | hdr (status ERROR/FATAL, exception class and message) |
func ParseResponse(b []byte) (*Response, error) {
	parts, err := SplitDelimited(b)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: empty response frame", ErrMalformed)
	}
	r := &Response{Header: &commonpb.RpcResponseHeaderProto{}}
	if err := Unmarshal(parts[0], r.Header); err != nil {
		return nil, err
	}
	switch r.Header.GetStatus() {
	case commonpb.RpcResponseHeaderProto_SUCCESS:
		if len(parts) > 2 {
			return nil, fmt.Errorf("%w: response has %d parts", ErrMalformed, len(parts))
		}
		if len(parts) == 2 {
			r.Body = parts[1]
		} else {
			r.Body = []byte{}
		}
	default:
		if len(parts) != 1 {
			return nil, fmt.Errorf("%w: error response carries a body", ErrMalformed)
		}
	}
	return r, nil
}

// RequestHeader builds the RpcRequestHeaderProto Hadoop clients send:
// rpcKind RPC_PROTOCOL_BUFFER and rpcOp RPC_FINAL_PACKET always present.
func RequestHeader(callID int32, clientID []byte, retry int32) *commonpb.RpcRequestHeaderProto {
	if clientID == nil {
		clientID = []byte{}
	}
	return &commonpb.RpcRequestHeaderProto{
		RpcKind:    commonpb.RpcKindProto_RPC_PROTOCOL_BUFFER.Enum(),
		RpcOp:      commonpb.RpcRequestHeaderProto_RPC_FINAL_PACKET.Enum(),
		CallId:     proto.Int32(callID),
		ClientId:   clientID,
		RetryCount: proto.Int32(retry),
	}
}

// MethodHeader builds the protobuf engine header for method on protocol.
func MethodHeader(method, protocol string) *commonpb.RequestHeaderProto {
	return &commonpb.RequestHeaderProto{
		MethodName:                 proto.String(method),
		DeclaringClassProtocolName: proto.String(protocol),
		ClientProtocolVersion:      proto.Uint64(protocolVersionOne),
	}
}
