package yarn

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

func TestParseTokenIdentifiers(t *testing.T) {
	node := NodeID{Host: "worker-1.example.com", Port: 45454}
	nm, err := proto.Marshal(&yarnpb.NMTokenIdentifierProto{AppAttemptId: AttemptIDToProto(att1), NodeId: NodeIDToProto(node),
		AppSubmitter: proto.String("alice"), KeyId: proto.Int32(-5)})
	require.NoError(t, err)
	got, err := ParseNMTokenIdentifier(nm)
	require.NoError(t, err)
	require.Equal(t, NMTokenIdentifier{Attempt: att1, Node: node, Submitter: "alice", KeyID: -5}, got)

	amrm, err := proto.Marshal(&yarnpb.AMRMTokenIdentifierProto{AppAttemptId: AttemptIDToProto(att1)})
	require.NoError(t, err)
	a, err := ParseAMRMTokenIdentifier(amrm)
	require.NoError(t, err)
	require.Equal(t, AMRMTokenIdentifier{Attempt: att1, KeyID: -1}, a, "keyId defaults to -1")

	cid := ContainerID{Attempt: att1, ID: 3<<40 | 17}
	ct, err := proto.Marshal(&yarnpb.ContainerTokenIdentifierProto{
		ContainerId: ContainerIDToProto(cid), NmHostAddr: proto.String(node.String()), AppSubmitter: proto.String("alice"),
		Resource:        ResourceToProto(Resource{MemoryMB: 2048, VCores: 2, Extra: map[string]int64{"yarn.io/gpu": 1}}),
		ExpiryTimeStamp: proto.Int64(1795317700000), MasterKeyId: proto.Int32(7), RmIdentifier: proto.Int64(1795317067845),
		Priority: &yarnpb.PriorityProto{Priority: proto.Int32(4)}, CreationTime: proto.Int64(1795317100000),
		NodeLabelExpression: proto.String("gpu"), ContainerType: yarnpb.ContainerTypeProto_APPLICATION_MASTER.Enum(),
		ExecutionType: yarnpb.ExecutionTypeProto_OPPORTUNISTIC.Enum(), Version: proto.Int32(2), AllocationRequestId: proto.Int64(9),
		AllocationTags: []string{"spark"}})
	require.NoError(t, err)
	c, err := ParseContainerTokenIdentifier(ct)
	require.NoError(t, err)
	require.Equal(t, ContainerTokenIdentifier{
		Container: cid, NMAddress: "worker-1.example.com:45454", Submitter: "alice",
		Resource: Resource{MemoryMB: 2048, VCores: 2, Extra: map[string]int64{"yarn.io/gpu": 1}},
		Expiry:   time.UnixMilli(1795317700000), MasterKeyID: 7, RMIdentifier: 1795317067845, Priority: 4,
		CreationTime: time.UnixMilli(1795317100000), NodeLabelExpression: "gpu", Type: ContainerTypeAM,
		ExecutionType: Opportunistic, Version: 2, AllocationRequestID: 9, AllocationTags: []string{"spark"},
	}, c)
	require.Equal(t, "container_e03_1795317067845_0002_01_000017", c.Container.String())

	// Defaults of a minimal container token.
	ct, err = proto.Marshal(&yarnpb.ContainerTokenIdentifierProto{ContainerId: ContainerIDToProto(cid)})
	require.NoError(t, err)
	c, err = ParseContainerTokenIdentifier(ct)
	require.NoError(t, err)
	require.Equal(t, Guaranteed, c.ExecutionType)
	require.EqualValues(t, -1, c.AllocationRequestID)
	require.True(t, c.Expiry.IsZero())
}

// The pre-2.6 DataOutput identifiers, which Java still reads when the
// protobuf parse fails.
func TestParseLegacyTokenIdentifiers(t *testing.T) {
	be := binary.BigEndian
	var amrm []byte
	amrm = be.AppendUint64(amrm, 1795317067845)
	amrm = be.AppendUint32(amrm, 2)
	amrm = be.AppendUint32(amrm, 1)
	amrm = be.AppendUint32(amrm, 42)
	a, err := ParseAMRMTokenIdentifier(amrm)
	require.NoError(t, err)
	require.Equal(t, AMRMTokenIdentifier{Attempt: att1, KeyID: 42}, a)

	nm := be.AppendUint64(nil, 1795317067845)
	nm = be.AppendUint32(nm, 2)
	nm = be.AppendUint32(nm, 1)
	for _, s := range []string{"localhost:8041", "root"} {
		nm = be.AppendUint16(nm, uint16(len(s)))
		nm = append(nm, s...)
	}
	nm = be.AppendUint32(nm, 7)
	n, err := ParseNMTokenIdentifier(nm)
	require.NoError(t, err)
	require.Equal(t, NMTokenIdentifier{Attempt: att1, Node: NodeID{Host: "localhost", Port: 8041}, Submitter: "root", KeyID: 7}, n)

	_, err = ParseAMRMTokenIdentifier(amrm[:19])
	require.ErrorIs(t, err, ErrBadTokenIdentifier)
	require.ErrorContains(t, err, "nor the legacy form (short)", "the legacy decoder's error is kept")
	_, err = ParseNMTokenIdentifier(nm[:len(nm)-1])
	require.ErrorIs(t, err, ErrBadTokenIdentifier)
	_, err = ParseAMRMTokenIdentifier(append(amrm[:20:20], 0))
	require.ErrorContains(t, err, "nor the legacy form (1 trailing bytes)")
}

func TestParseBadTokenIdentifiers(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":          {},
		"truncated":      {0x0a, 0x05, 0x0a},
		"no attempt":     {0x10, 0x01},
		"garbage legacy": {0x00, 0x01, 0x02},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseAMRMTokenIdentifier(b)
			require.ErrorIs(t, err, ErrBadTokenIdentifier)
			_, err = ParseNMTokenIdentifier(b)
			require.ErrorIs(t, err, ErrBadTokenIdentifier)
			_, err = ParseContainerTokenIdentifier(b)
			require.ErrorIs(t, err, ErrBadTokenIdentifier)
		})
	}
}

// The AM container's real container_tokens file (3.3.6): one
// YARN_AM_RM_TOKEN, alias "", empty service.
func TestAMRMTokenFromCredentials(t *testing.T) {
	dir, err := capture.Dir()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "distshell-run", "am-container_tokens.bin"))
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	tok, err := AMRMTokenFromCredentials(creds)
	require.NoError(t, err)
	require.Equal(t, ipc.KindAMRMToken, tok.Kind)
	require.Empty(t, tok.Service)
	id, err := ParseAMRMTokenIdentifier(tok.Identifier)
	require.NoError(t, err)
	require.Equal(t, "appattempt_1795317067845_0002_000001", id.Attempt.String())

	other := &ipc.Credentials{}
	other.AddToken("hdfs", &ipc.Token{Kind: ipc.KindHDFSDelegation})
	_, err = AMRMTokenFromCredentials(other)
	require.ErrorIs(t, err, ErrNoAMRMToken)
	require.ErrorContains(t, err, "HDFS_DELEGATION_TOKEN")
	_, err = AMRMTokenFromCredentials(nil)
	require.ErrorIs(t, err, ErrNoAMRMToken)
	require.ErrorContains(t, err, "HADOOP_TOKEN_FILE_LOCATION")
}

// FuzzTokenIdentifiers: the decoders take bytes from the network and from
// files; they must never panic, and must reject or fully decode.
func FuzzTokenIdentifiers(f *testing.F) {
	seed := func(m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(&yarnpb.AMRMTokenIdentifierProto{AppAttemptId: AttemptIDToProto(att1), KeyId: proto.Int32(3)})
	seed(&yarnpb.NMTokenIdentifierProto{AppAttemptId: AttemptIDToProto(att1), NodeId: NodeIDToProto(NodeID{Host: "h", Port: 1}), AppSubmitter: proto.String("u")})
	seed(&yarnpb.ContainerTokenIdentifierProto{ContainerId: ContainerIDToProto(ContainerID{Attempt: att1, ID: 2}), Resource: ResourceToProto(small)})
	legacy := binary.BigEndian.AppendUint64(nil, 1)
	legacy = binary.BigEndian.AppendUint64(legacy, 2)
	f.Add(binary.BigEndian.AppendUint32(legacy, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := ParseAMRMTokenIdentifier(b); err == nil {
			_ = a.Attempt.String()
		}
		if n, err := ParseNMTokenIdentifier(b); err == nil {
			_ = n.Node.String()
		}
		if c, err := ParseContainerTokenIdentifier(b); err == nil {
			_ = c.Container.String()
		}
	})
}
