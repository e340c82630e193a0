package yarn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// Decoders for the identifiers of the three tokens an ApplicationMaster
// holds (hadoop-wire.md §5.4). Each identifier is the raw (not
// length-delimited) bytes of a message of yarn_security_token.proto.
// Decoding needs no secret: the identifier travels in clear as the
// DIGEST-MD5 user name. The structs below carry no identifier or password
// bytes, so they are safe to log.

// ErrNoAMRMToken is returned when credentials hold no YARN_AM_RM_TOKEN.
var ErrNoAMRMToken = errors.New("yarn: no YARN_AM_RM_TOKEN in the credentials")

// ErrBadTokenIdentifier wraps every token identifier decoding failure.
var ErrBadTokenIdentifier = errors.New("yarn: malformed token identifier")

// AMRMTokenFromCredentials returns the AMRMToken (kind YARN_AM_RM_TOKEN)
// of the credentials the NodeManager gives an AM container: the file
// $HADOOP_TOKEN_FILE_LOCATION names, which the caller reads (package yarn
// reads no files or environment). The RM adds the token on insecure
// clusters too, with alias "" and an empty service; it is selected by kind.
func AMRMTokenFromCredentials(c *ipc.Credentials) (*ipc.Token, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no credentials (is HADOOP_TOKEN_FILE_LOCATION set? the NodeManager sets it in every container)", ErrNoAMRMToken)
	}
	t := c.TokenOfKind(ipc.KindAMRMToken)
	if t == nil {
		kinds := make([]string, 0, c.Len())
		for _, t := range c.Tokens() {
			kinds = append(kinds, t.Kind)
		}
		return nil, fmt.Errorf("%w: the file holds %d token(s) of kinds %q; an AM must run in a container the RM launched (or, unmanaged, take the token from its application report)",
			ErrNoAMRMToken, c.Len(), kinds)
	}
	return t, nil
}

// AMRMTokenIdentifier is the identifier of a YARN_AM_RM_TOKEN
// (AMRMTokenIdentifierProto). Its user is the attempt id.
type AMRMTokenIdentifier struct {
	Attempt AttemptID
	// KeyID is the RM master key that signed the token; it changes when
	// the RM rolls the key (-1 if unset).
	KeyID int32
}

// NMTokenIdentifier is the identifier of an NMToken
// (NMTokenIdentifierProto): the credential for one NodeManager.
type NMTokenIdentifier struct {
	Attempt AttemptID
	// Node is the NodeManager the token is valid for (its NodeId, host:port,
	// not the ip:port of the token's service).
	Node      NodeID
	Submitter string
	KeyID     int32
}

// ContainerType is ContainerTypeProto.
type ContainerType int32

// Container types.
const (
	ContainerTypeAM   ContainerType = 1 // APPLICATION_MASTER
	ContainerTypeTask ContainerType = 2 // TASK
)

func (t ContainerType) String() string {
	switch t {
	case ContainerTypeAM:
		return "APPLICATION_MASTER"
	case ContainerTypeTask:
		return "TASK"
	}
	return fmt.Sprintf("ContainerType(%d)", int32(t))
}

// ExecutionType is ExecutionTypeProto.
type ExecutionType int32

// Execution types.
const (
	Guaranteed    ExecutionType = 1
	Opportunistic ExecutionType = 2
)

func (t ExecutionType) String() string {
	switch t {
	case Guaranteed:
		return "GUARANTEED"
	case Opportunistic:
		return "OPPORTUNISTIC"
	}
	return fmt.Sprintf("ExecutionType(%d)", int32(t))
}

// ContainerTokenIdentifier is the identifier of a ContainerToken
// (ContainerTokenIdentifierProto), which the NodeManager checks at start.
type ContainerTokenIdentifier struct {
	Container ContainerID
	// NMAddress is the NodeManager's NodeId, host:port.
	NMAddress string
	Submitter string
	Resource  Resource
	// Expiry is when the token stops being accepted: start the container
	// before it (yarn.resourcemanager.rm.container-allocation.expiry-interval-ms).
	Expiry              time.Time
	MasterKeyID         int32
	RMIdentifier        int64 // the RM's start time
	Priority            int32
	CreationTime        time.Time
	NodeLabelExpression string
	Type                ContainerType
	ExecutionType       ExecutionType
	Version             int32
	AllocationRequestID int64
	AllocationTags      []string
}

// ParseAMRMTokenIdentifier decodes an AMRMToken identifier. Like Java's
// AMRMTokenIdentifier.readFields it falls back to the pre-2.6 DataOutput
// form (long clusterTs, int appId, int attempt, int keyId) when the bytes
// are not a protobuf message.
func ParseAMRMTokenIdentifier(b []byte) (AMRMTokenIdentifier, error) {
	var p yarnpb.AMRMTokenIdentifierProto
	if err := proto.Unmarshal(b, &p); err != nil {
		r := legacyReader{b: b}
		att := r.attempt()
		id := AMRMTokenIdentifier{Attempt: att, KeyID: r.int32()}
		if lerr := r.finish(); lerr != nil {
			return AMRMTokenIdentifier{}, fmt.Errorf("%w: AMRMToken: neither AMRMTokenIdentifierProto (%w) nor the legacy form (%w)", ErrBadTokenIdentifier, err, lerr)
		}
		return id, nil
	}
	if p.AppAttemptId == nil {
		return AMRMTokenIdentifier{}, fmt.Errorf("%w: AMRMToken without an application attempt id", ErrBadTokenIdentifier)
	}
	return AMRMTokenIdentifier{Attempt: AttemptIDFromProto(p.GetAppAttemptId()), KeyID: p.GetKeyId()}, nil
}

// ParseNMTokenIdentifier decodes an NMToken identifier, with the same
// legacy fallback as Java's NMTokenIdentifier (… int attempt, UTF
// host:port, UTF submitter, int keyId).
func ParseNMTokenIdentifier(b []byte) (NMTokenIdentifier, error) {
	var p yarnpb.NMTokenIdentifierProto
	if err := proto.Unmarshal(b, &p); err != nil {
		r := legacyReader{b: b}
		id := NMTokenIdentifier{Attempt: r.attempt()}
		node := r.utf()
		id.Submitter = r.utf()
		id.KeyID = r.int32()
		if lerr := r.finish(); lerr != nil {
			return NMTokenIdentifier{}, fmt.Errorf("%w: NMToken: neither NMTokenIdentifierProto (%w) nor the legacy form (%w)", ErrBadTokenIdentifier, err, lerr)
		}
		n, perr := ParseNodeID(node)
		if perr != nil {
			return NMTokenIdentifier{}, fmt.Errorf("%w: NMToken: %w", ErrBadTokenIdentifier, perr)
		}
		id.Node = n
		return id, nil
	}
	if p.AppAttemptId == nil || p.NodeId == nil {
		return NMTokenIdentifier{}, fmt.Errorf("%w: NMToken without an application attempt or node id", ErrBadTokenIdentifier)
	}
	return NMTokenIdentifier{Attempt: AttemptIDFromProto(p.GetAppAttemptId()), Node: NodeIDFromProto(p.GetNodeId()),
		Submitter: p.GetAppSubmitter(), KeyID: p.GetKeyId()}, nil
}

// ParseContainerTokenIdentifier decodes a ContainerToken identifier.
func ParseContainerTokenIdentifier(b []byte) (ContainerTokenIdentifier, error) {
	var p yarnpb.ContainerTokenIdentifierProto
	if err := proto.Unmarshal(b, &p); err != nil {
		return ContainerTokenIdentifier{}, fmt.Errorf("%w: ContainerToken: %w", ErrBadTokenIdentifier, err)
	}
	if p.ContainerId == nil {
		return ContainerTokenIdentifier{}, fmt.Errorf("%w: ContainerToken without a container id", ErrBadTokenIdentifier)
	}
	return ContainerTokenIdentifier{
		Container: ContainerIDFromProto(p.GetContainerId()), NMAddress: p.GetNmHostAddr(), Submitter: p.GetAppSubmitter(),
		Resource: ResourceFromProto(p.GetResource()), Expiry: msTime(p.GetExpiryTimeStamp()), MasterKeyID: p.GetMasterKeyId(),
		RMIdentifier: p.GetRmIdentifier(), Priority: p.GetPriority().GetPriority(), CreationTime: msTime(p.GetCreationTime()),
		NodeLabelExpression: p.GetNodeLabelExpression(), Type: ContainerType(p.GetContainerType()),
		ExecutionType: ExecutionType(p.GetExecutionType()), Version: p.GetVersion(),
		AllocationRequestID: p.GetAllocationRequestId(), AllocationTags: append([]string(nil), p.GetAllocationTags()...),
	}, nil
}

// legacyReader reads Java DataInput big-endian fields, remembering the
// first error.
type legacyReader struct {
	b   []byte
	err error
}

func (r *legacyReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = errors.New("short")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *legacyReader) int32() int32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (r *legacyReader) int64() int64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// utf reads DataInput.readUTF: u16 length then modified UTF-8, which for
// host names and user names is plain UTF-8.
func (r *legacyReader) utf() string {
	b := r.take(2)
	if b == nil {
		return ""
	}
	s := r.take(int(binary.BigEndian.Uint16(b)))
	if r.err == nil && !utf8.Valid(s) {
		r.err = errors.New("bad UTF")
	}
	return string(s)
}

// finish returns the first read error, or an error if bytes are left
// over: nil means the whole input was one legacy identifier.
func (r *legacyReader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return r.err
}

func (r *legacyReader) attempt() AttemptID {
	ts := r.int64()
	app := r.int32()
	att := r.int32()
	return AttemptID{App: ApplicationID{ClusterTimestamp: ts, ID: app}, Attempt: att}
}
