// Package delegation is the delegation token secret manager of the mini
// cluster's ResourceManager (RM_DELEGATION_TOKEN) and NameNode
// (HDFS_DELEGATION_TOKEN), built as Hadoop's
// AbstractDelegationTokenSecretManager is: a master key with an id,
// password = HMAC-SHA1(master key, identifier bytes), a table of live
// tokens with their renewal deadline, renewal by the token's renewer up to
// the token's maximum date, and cancellation by its owner or renewer.
// Only the identifier's encoding differs between the two services
// (Writable for HDFS, YARNDelegationTokenIdentifierProto for YARN); a
// Codec supplies it.
//
// Failures are *ipc.ServerError with the Java classes and messages the
// real secret managers throw (SecretManager$InvalidToken,
// AccessControlException). The manager never logs.
package delegation

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Identifier is AbstractDelegationTokenIdentifier's fields.
type Identifier struct {
	Owner, Renewer, RealUser string
	IssueDate, MaxDate       int64 // ms since the epoch
	SequenceNumber           int32
	MasterKeyID              int32
}

// User is the user a token authenticates: the owner (proxy users are not
// modelled beyond recording the real user).
func (id Identifier) User() string { return id.Owner }

// Codec encodes one service's identifiers.
type Codec struct {
	// Kind is the token kind, e.g. HDFS_DELEGATION_TOKEN.
	Kind string
	// Marshal encodes an identifier.
	Marshal func(Identifier) []byte
	// Parse decodes one.
	Parse func([]byte) (Identifier, error)
	// String is the identifier as Java's toString prints it in messages.
	String func(Identifier) string
}

// Options configures a Manager.
type Options struct {
	Codec Codec
	// MaxLifetime is how long after issue a token may be renewed
	// (dfs.namenode.delegation.token.max-lifetime,
	// yarn.resourcemanager.delegation.token.max-lifetime); 0 means 7 days.
	MaxLifetime time.Duration
	// RenewInterval is how long a token lives without renewal
	// (dfs.namenode.delegation.token.renew-interval,
	// yarn.resourcemanager.delegation.token.renew-interval); 0 means 1 day.
	RenewInterval time.Duration
	// Clock; nil means time.Now.
	Clock func() time.Time
}

// Manager issues, verifies, renews and cancels delegation tokens. It is
// safe for concurrent use.
type Manager struct {
	o Options

	mu     sync.Mutex
	keyID  int32
	key    []byte
	seq    int32
	tokens map[string]*live // by identifier bytes
}

type live struct {
	id        Identifier
	password  []byte
	renewDate int64 // ms
}

var _ ipc.SecretManager = (*Manager)(nil)

// New returns a manager with a fresh random master key.
func New(o Options) *Manager {
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = 7 * 24 * time.Hour
	}
	if o.RenewInterval <= 0 {
		o.RenewInterval = 24 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	key := make([]byte, 64) // Java's HmacSHA1 KeyGenerator
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("delegation: crypto/rand failed: %v", err))
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Manager{o: o, key: key, keyID: int32(binary.BigEndian.Uint32(b[:])&0x7fff) + 1, tokens: map[string]*live{}}
}

func (m *Manager) nowMS() int64 { return m.o.Clock().UnixMilli() }

func (m *Manager) password(identifier []byte) []byte {
	h := hmac.New(sha1.New, m.key)
	h.Write(identifier)
	return h.Sum(nil)
}

// Create issues a token for owner (the authenticated user's full name),
// renewable by renewer (already reduced to its short name, as the
// identifier's constructor does), with realUser for proxy users. Its
// service is empty: the client sets it.
func (m *Manager) Create(owner, renewer, realUser string) *ipc.Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowMS()
	m.seq++
	id := Identifier{Owner: owner, Renewer: renewer, RealUser: realUser, IssueDate: now,
		MaxDate: now + m.o.MaxLifetime.Milliseconds(), SequenceNumber: m.seq, MasterKeyID: m.keyID}
	b := m.o.Codec.Marshal(id)
	pw := m.password(b)
	m.tokens[string(b)] = &live{id: id, password: pw, renewDate: min(id.MaxDate, now+m.o.RenewInterval.Milliseconds())}
	return &ipc.Token{Identifier: b, Password: pw, Kind: m.o.Codec.Kind}
}

func invalidToken(format string, args ...any) error {
	return &ipc.ServerError{Class: ipc.ClassInvalidToken, Message: fmt.Sprintf(format, args...),
		Code: commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED}
}

func (m *Manager) parse(identifier []byte) (Identifier, error) {
	id, err := m.o.Codec.Parse(identifier)
	if err != nil {
		return id, invalidToken("Invalid %s identifier: %v", m.o.Codec.Kind, err)
	}
	return id, nil
}

// Retrieve implements ipc.SecretManager
// (AbstractDelegationTokenSecretManager.retrievePassword): the token must
// be live (issued here, not cancelled) and not past its renewal deadline.
func (m *Manager) Retrieve(identifier []byte) ([]byte, string, error) {
	id, err := m.parse(identifier)
	if err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tokens[string(identifier)]
	if t == nil {
		return nil, "", invalidToken("token (%s) can't be found in cache", m.o.Codec.String(id))
	}
	if now := m.nowMS(); t.renewDate < now {
		return nil, "", invalidToken("token (%s) is expired, current time: %s expected renewal time: %s",
			m.o.Codec.String(id), javaTime(now), javaTime(t.renewDate))
	}
	return t.password, id.User(), nil
}

// Renew extends a token's life by RenewInterval, up to its maximum date,
// and returns the new expiry (ms). renewer is the caller's short name; it
// must be the token's renewer.
func (m *Manager) Renew(tok *ipc.Token, renewer string) (int64, error) {
	id, err := m.parse(tok.Identifier)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.nowMS()
	if id.MaxDate < now {
		return 0, invalidToken("%s tried to renew an expired token (%s) max expiration date: %s currentTime: %s",
			renewer, m.o.Codec.String(id), javaTime(id.MaxDate), javaTime(now))
	}
	if id.Renewer == "" {
		return 0, &ipc.ServerError{Class: ipc.ClassAccessControl, Message: fmt.Sprintf("%s tried to renew a token (%s) without a renewer", renewer, m.o.Codec.String(id))}
	}
	if id.Renewer != renewer {
		return 0, &ipc.ServerError{Class: ipc.ClassAccessControl, Message: fmt.Sprintf("%s tries to renew a token (%s) with non-matching renewer %s", renewer, m.o.Codec.String(id), id.Renewer)}
	}
	t := m.tokens[string(tok.Identifier)]
	if t == nil || !hmac.Equal(t.password, tok.Password) {
		return 0, invalidToken("Renewal request for unknown token (%s)", m.o.Codec.String(id))
	}
	t.renewDate = min(id.MaxDate, now+m.o.RenewInterval.Milliseconds())
	return t.renewDate, nil
}

// Cancel removes a token. canceller is the caller's full name and
// cancellerShort its short name: the owner or the renewer may cancel.
func (m *Manager) Cancel(tok *ipc.Token, canceller, cancellerShort string) error {
	id, err := m.parse(tok.Identifier)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[string(tok.Identifier)] == nil {
		return invalidToken("Token not found %s", m.o.Codec.String(id))
	}
	if canceller != id.Owner && (id.Renewer == "" || cancellerShort != id.Renewer) {
		return &ipc.ServerError{Class: ipc.ClassAccessControl, Message: fmt.Sprintf("%s is not authorized to cancel the token %s", canceller, m.o.Codec.String(id))}
	}
	delete(m.tokens, string(tok.Identifier))
	return nil
}

// Live is the number of tokens issued and neither cancelled nor removed.
func (m *Manager) Live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tokens)
}

// javaTime formats ms the way the Java messages print dates (Time.formatTime).
func javaTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05,000+0000")
}

// ShortName is the Kerberos short name of a principal under the default
// auth_to_local rule: "rm/host@REALM" and "rm@REALM" become "rm".
func ShortName(principal string) string {
	if i := strings.IndexAny(principal, "/@"); i >= 0 {
		return principal[:i]
	}
	return principal
}
