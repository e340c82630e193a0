package minicluster

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// The three YARN secret managers the mini cluster needs, all built the way
// Hadoop's SecretManager is: a master key with a 32-bit id, and
// password = HMAC-SHA1(masterKey, identifierBytes) (SecretManager.createPassword).
//
//   - amrmSecrets is the RM's AMRMTokenSecretManager: it mints the
//     AMRMToken of each attempt and authenticates the scheduler port.
//   - nmTokenKeys is the NMToken master key; the RM mints NMTokens
//     (NMTokenSecretManagerInRM) and every NodeManager holds the same key to
//     authenticate callers (NMTokenSecretManagerInNM).
//   - containerKeys is the container token master key
//     (RMContainerTokenSecretManager / NMContainerTokenSecretManager).

// masterKey is a secret key and its id (MasterKeyData).
type masterKey struct {
	id  int32
	key []byte
}

// hmacKeyLen is the length of the keys Java's HmacSHA1 KeyGenerator makes.
const hmacKeyLen = 64

func newMasterKey(prev int32) masterKey {
	k := make([]byte, hmacKeyLen)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("minicluster: crypto/rand failed: %v", err))
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := int32(binary.BigEndian.Uint32(b[:]) & 0x7fffffff)
	if id == prev {
		id++
	}
	return masterKey{id: id, key: k}
}

// password is SecretManager.createPassword: HMAC-SHA1(key, identifier).
func (k masterKey) password(identifier []byte) []byte {
	m := hmac.New(sha1.New, k.key)
	m.Write(identifier)
	return m.Sum(nil)
}

// keyRing holds the current master key and the previous one, which
// Hadoop's NM-side managers keep so tokens minted just before a roll stay
// valid.
type keyRing struct {
	mu        sync.RWMutex
	current   masterKey
	previous  *masterKey
	hasKeyIDs map[int32]masterKey
}

func newKeyRing() *keyRing {
	k := newMasterKey(0)
	return &keyRing{current: k, hasKeyIDs: map[int32]masterKey{k.id: k}}
}

func (r *keyRing) cur() masterKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

func (r *keyRing) byID(id int32) (masterKey, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.hasKeyIDs[id]
	return k, ok
}

// roll makes a new current key; the old one stays valid as previous.
func (r *keyRing) roll() masterKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.current
	r.previous = &old
	r.current = newMasterKey(old.id)
	r.hasKeyIDs = map[int32]masterKey{old.id: old, r.current.id: r.current}
	return r.current
}

// set installs keys received from the RM (NodeManager side).
func (r *keyRing) set(cur masterKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current.id == cur.id {
		return
	}
	old := r.current
	r.previous = &old
	r.current = cur
	r.hasKeyIDs = map[int32]masterKey{old.id: old, cur.id: cur}
}

var marshalIdentifier = proto.MarshalOptions{Deterministic: true}

func mustMarshal(m proto.Message) []byte {
	b, err := marshalIdentifier.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("minicluster: marshal %T: %v", m, err))
	}
	return b
}

// invalidToken is SecretManager.InvalidToken as the SASL layer sends it.
func invalidToken(format string, args ...any) error {
	return &ipc.ServerError{Class: ipc.ClassInvalidToken, Message: fmt.Sprintf(format, args...),
		Code: commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED}
}

// amrmSecrets is AMRMTokenSecretManager: tokens are valid only for the
// attempts registered with it (appAttemptSet) and signed by a known key.
type amrmSecrets struct {
	keys *keyRing
	mu   sync.Mutex
	live map[yarn.AttemptID]bool
}

var _ ipc.SecretManager = (*amrmSecrets)(nil)

func newAMRMSecrets() *amrmSecrets {
	return &amrmSecrets{keys: newKeyRing(), live: map[yarn.AttemptID]bool{}}
}

// createToken registers the attempt and returns its AMRMToken: kind
// YARN_AM_RM_TOKEN, empty service (the AM sets it), as the RM mints it.
func (s *amrmSecrets) createToken(att yarn.AttemptID) *ipc.Token {
	s.mu.Lock()
	s.live[att] = true
	s.mu.Unlock()
	k := s.keys.cur()
	id := mustMarshal(&yarnpb.AMRMTokenIdentifierProto{AppAttemptId: yarn.AttemptIDToProto(att), KeyId: proto.Int32(k.id)})
	return &ipc.Token{Identifier: id, Password: k.password(id), Kind: ipc.KindAMRMToken, Service: ""}
}

func (s *amrmSecrets) removeAttempt(att yarn.AttemptID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, att)
}

// Retrieve implements ipc.SecretManager (AMRMTokenSecretManager.retrievePassword).
func (s *amrmSecrets) Retrieve(identifier []byte) ([]byte, string, error) {
	id, err := yarn.ParseAMRMTokenIdentifier(identifier)
	if err != nil {
		return nil, "", invalidToken("Invalid AMRMToken: %v", err)
	}
	s.mu.Lock()
	live := s.live[id.Attempt]
	s.mu.Unlock()
	if !live {
		return nil, "", invalidToken("%s not found in AMRMTokenSecretManager.", id.Attempt)
	}
	k, ok := s.keys.byID(id.KeyID)
	if !ok {
		return nil, "", invalidToken("Invalid AMRMToken from %s", id.Attempt)
	}
	return k.password(identifier), id.Attempt.String(), nil
}

// createNMToken mints an NMToken (NMTokenSecretManagerInRM.createNMToken):
// kind NMToken, service ip:port of the node.
func createNMToken(k masterKey, att yarn.AttemptID, node yarn.NodeID, submitter string) *ipc.Token {
	id := mustMarshal(&yarnpb.NMTokenIdentifierProto{AppAttemptId: yarn.AttemptIDToProto(att), NodeId: yarn.NodeIDToProto(node),
		AppSubmitter: proto.String(submitter), KeyId: proto.Int32(k.id)})
	return &ipc.Token{Identifier: id, Password: k.password(id), Kind: ipc.KindNMToken, Service: tokenService(node)}
}

// nmTokenSecrets is NMTokenSecretManagerInNM: it accepts NMTokens signed
// with the current or previous key the RM gave this node, for this node.
type nmTokenSecrets struct {
	keys *keyRing
	node yarn.NodeID
}

var _ ipc.SecretManager = (*nmTokenSecrets)(nil)

func (s *nmTokenSecrets) Retrieve(identifier []byte) ([]byte, string, error) {
	id, err := yarn.ParseNMTokenIdentifier(identifier)
	if err != nil {
		return nil, "", invalidToken("Invalid NMToken: %v", err)
	}
	if id.Node != s.node {
		return nil, "", invalidToken("Given NMToken for application : %s is not valid for current node manager.expected : %s found : %s",
			id.Attempt, s.node, id.Node)
	}
	k, ok := s.keys.byID(id.KeyID)
	if !ok {
		return nil, "", invalidToken("Given NMToken for application : %s seems to have been generated illegally.", id.Attempt)
	}
	return k.password(identifier), id.Attempt.String(), nil
}

// containerTokenSpec is what goes into a container token identifier.
type containerTokenSpec struct {
	id         yarn.ContainerID
	node       yarn.NodeID
	submitter  string
	resource   yarn.Resource
	expiry     int64 // ms
	rmID       int64
	priority   int32
	created    int64 // ms
	am         bool
	allocReqID int64
}

// createContainerToken mints a container token
// (RMContainerTokenSecretManager.createContainerToken), laid out as in the
// 3.3.6 captures: every field set, the node label expression empty.
func createContainerToken(k masterKey, s containerTokenSpec) *ipc.Token {
	typ := yarnpb.ContainerTypeProto_TASK
	if s.am {
		typ = yarnpb.ContainerTypeProto_APPLICATION_MASTER
	}
	id := mustMarshal(&yarnpb.ContainerTokenIdentifierProto{
		ContainerId:         yarn.ContainerIDToProto(s.id),
		NmHostAddr:          proto.String(s.node.String()),
		AppSubmitter:        proto.String(s.submitter),
		Resource:            yarn.ResourceToProto(s.resource),
		ExpiryTimeStamp:     proto.Int64(s.expiry),
		MasterKeyId:         proto.Int32(k.id),
		RmIdentifier:        proto.Int64(s.rmID),
		Priority:            &yarnpb.PriorityProto{Priority: proto.Int32(s.priority)},
		CreationTime:        proto.Int64(s.created),
		NodeLabelExpression: proto.String(""),
		ContainerType:       typ.Enum(),
		ExecutionType:       yarnpb.ExecutionTypeProto_GUARANTEED.Enum(),
		Version:             proto.Int32(0),
		AllocationRequestId: proto.Int64(s.allocReqID),
	})
	return &ipc.Token{Identifier: id, Password: k.password(id), Kind: ipc.KindContainerToken, Service: tokenService(s.node)}
}
