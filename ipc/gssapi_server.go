package ipc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The server (acceptor) side of SASL GSSAPI: KerberosServerMechanism and
// its session, which verifies the AP-REQ against the service keytab,
// answers with the AP-REP and offers the security layers.

// KerberosServerMechanism accepts KERBEROS/GSSAPI with a service keytab,
// as a Hadoop daemon logged in as Principal does. Use it by pointer; it is
// safe for concurrent connections (it holds the replay cache).
type KerberosServerMechanism struct {
	// Keytab holds the service's keys.
	Keytab *keytab.Keytab
	// Principal is the service principal with the host already substituted,
	// e.g. "rm/rm1.example.com@EXAMPLE.COM". Its two name components are
	// advertised as protocol and serverId.
	Principal string
	// QOPs are the layers offered (hadoop.rpc.protection); empty means auth.
	QOPs []string
	// MaxClockSkew bounds the difference between the client's and this
	// host's clock; 0 means 5 minutes (krb5.conf clockskew default).
	MaxClockSkew time.Duration
	// Rand supplies the sequence number and confounders; nil means crypto/rand.
	Rand io.Reader

	now func() time.Time // tests simulate clock skew

	mu        sync.Mutex
	seen      map[replayKey]time.Time
	lastPrune time.Time
}

// replayKey identifies an authenticator as Java's replay cache does
// (sun.security.krb5.internal.rcache.AuthTimeWithHash: client, time and a
// hash of the encrypted authenticator) and MIT's since 1.18 (the
// authenticator's ciphertext): two connections that start in the same
// microsecond send different authenticators (another subkey and sequence
// number), which are not replays.
type replayKey struct {
	client string
	ctime  int64
	cusec  int
	hash   [sha256.Size]byte
}

var _ ServerMechanism = (*KerberosServerMechanism)(nil)

// Method returns MethodKerberos.
func (m *KerberosServerMechanism) Method() string { return MethodKerberos }

// Mechanism returns MechGSSAPI.
func (m *KerberosServerMechanism) Mechanism() string { return MechGSSAPI }

func (m *KerberosServerMechanism) parts() (svc, host, realm string, err error) {
	name, realm, ok := strings.Cut(m.Principal, "@")
	svc, host, ok2 := strings.Cut(name, "/")
	if !ok || !ok2 || svc == "" || host == "" || realm == "" || strings.Contains(host, "/") {
		return "", "", "", fmt.Errorf("%w: server principal %q is not service/host@REALM", ErrKerberos, m.Principal)
	}
	return svc, host, realm, nil
}

// Protocol is the service component of Principal ("rm", "nn").
func (m *KerberosServerMechanism) Protocol() string {
	svc, _, _, _ := m.parts()
	return svc
}

// ServerID is the host component of Principal.
func (m *KerberosServerMechanism) ServerID() string {
	_, host, _, _ := m.parts()
	return host
}

// Validate checks the principal, the QOPs and that the keytab holds a key
// for the principal. Start calls it; servers may call it at start-up.
func (m *KerberosServerMechanism) Validate() error {
	svc, host, realm, err := m.parts()
	if err != nil {
		return err
	}
	if m.Keytab == nil {
		return fmt.Errorf("%w: no keytab for %s (pass the service keytab)", ErrKerberos, m.Principal)
	}
	found := false
	for _, e := range m.Keytab.Entries {
		c := e.Principal.Components
		if e.Principal.Realm == realm && len(c) == 2 && c[0] == svc && c[1] == host {
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("%w: keytab has no key for %s (export one with kadmin ktadd, or fix the principal)", ErrKerberos, m.Principal)
	}
	for _, q := range m.QOPs {
		if qopLayerBit(q) == 0 {
			return fmt.Errorf("%w: unknown QOP %q", ErrKerberos, q)
		}
	}
	return nil
}

// Start begins an exchange; GSSAPI sends no challenge in the offer.
func (m *KerberosServerMechanism) Start() (ServerSession, []byte, error) {
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	rnd := m.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	return &krbServerSession{m: m, rand: rnd}, nil, nil
}

func (m *KerberosServerMechanism) clock() time.Time {
	if m.now != nil {
		return m.now().UTC()
	}
	return time.Now().UTC()
}

func (m *KerberosServerMechanism) skew() time.Duration {
	if m.MaxClockSkew > 0 {
		return m.MaxClockSkew
	}
	return defaultMaxClockSkew
}

// replayed records an authenticator and reports whether it was seen within
// the skew window (RFC 4120 §3.2.3).
func (m *KerberosServerMechanism) replayed(k replayKey, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[replayKey]time.Time{}
	}
	window := 2 * m.skew()
	if now.Sub(m.lastPrune) > window/4 {
		for key, t := range m.seen {
			if now.Sub(t) > window {
				delete(m.seen, key)
			}
		}
		m.lastPrune = now
	}
	if _, ok := m.seen[k]; ok {
		return true
	}
	m.seen[k] = now
	return false
}

type krbServerState int

const (
	krbWantAPReq krbServerState = iota
	krbWantEmpty
	krbWantChoice
	krbAccepted
)

type krbServerSession struct {
	m     *KerberosServerMechanism
	rand  io.Reader
	state krbServerState
	user  string
	send  *gssSender
	recv  *gssReceiver
	offer byte
	qop   string
	peer  int
}

// Step runs the acceptor's state machine.
func (s *krbServerSession) Step(tok []byte) ([]byte, bool, error) {
	switch s.state {
	case krbWantAPReq:
		rep, mutual, err := s.accept(tok)
		if err != nil {
			return nil, false, err
		}
		if mutual {
			s.state = krbWantEmpty
			return rep, false, nil
		}
		s.state = krbWantChoice
		off, err := s.layerOffer()
		return off, false, err
	case krbWantEmpty:
		if len(tok) != 0 {
			return nil, false, fmt.Errorf("%w: expected an empty response after the AP-REP, got %d bytes", ErrKerberos, len(tok))
		}
		s.state = krbWantChoice
		off, err := s.layerOffer()
		return off, false, err
	case krbWantChoice:
		if err := s.checkChoice(tok); err != nil {
			return nil, false, err
		}
		s.state = krbAccepted
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("%w: exchange already complete", ErrKerberos)
}

// accept verifies the client's AP-REQ and builds the AP-REP.
func (s *krbServerSession) accept(tok []byte) (rep []byte, mutual bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %w: malformed AP-REQ", ErrKerberos, ErrGSSToken)
		}
	}()
	return s.acceptAPReq(tok)
}

func (s *krbServerSession) acceptAPReq(tok []byte) ([]byte, bool, error) {
	m := s.m
	svc, host, realm, err := m.parts()
	if err != nil {
		return nil, false, err
	}
	id, msg, err := ParseGSSInitialToken(tok)
	if err != nil {
		return nil, false, fmt.Errorf("%w: initial token: %w", ErrKerberos, err)
	}
	if id != tokIDAPReq {
		return nil, false, fmt.Errorf("%w: initial GSS token id %x, want AP-REQ", ErrKerberos, id)
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return nil, false, fmt.Errorf("%w: AP-REQ: %w", ErrKerberos, err)
	}
	tkt := &req.Ticket
	if len(tkt.SName.NameString) != 2 || tkt.SName.NameString[0] != svc || tkt.SName.NameString[1] != host || tkt.Realm != realm {
		return nil, false, fmt.Errorf("%w: %w: the client's ticket is for %s but this server is %s (the client used the wrong server principal)",
			ErrKerberos, ErrServerPrincipal, principalString(tkt.SName, tkt.Realm), m.Principal)
	}
	if types.IsFlagSet(&req.APOptions, flags.APOptionUseSessionKey) {
		return nil, false, fmt.Errorf("%w: user-to-user tickets are not supported", ErrKerberos)
	}
	if err := checkCiphertext("ticket", tkt.EncPart); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKerberos, err)
	}
	if err := checkCiphertext("authenticator", req.EncryptedAuthenticator); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKerberos, err)
	}
	key, _, err := m.Keytab.GetEncryptionKey(tkt.SName, tkt.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
	if err != nil {
		return nil, false, fmt.Errorf("%w: keytab has no key for %s kvno %d enctype %s (the keytab is out of date or lacks this enctype: re-export it with kadmin ktadd)",
			ErrKerberos, m.Principal, tkt.EncPart.KVNO, etypeName(tkt.EncPart.EType))
	}
	if err := tkt.Decrypt(key); err != nil {
		return nil, false, fmt.Errorf("%w: ticket for %s does not decrypt with the keytab's kvno %d key (the keytab is stale: re-export it)", ErrKerberos, m.Principal, tkt.EncPart.KVNO)
	}
	etp := &tkt.DecryptedEncPart
	now, skew := m.clock(), m.skew()
	if err := req.DecryptAuthenticator(etp.Key); err != nil {
		return nil, false, fmt.Errorf("%w: authenticator does not decrypt with the ticket's session key", ErrKerberos)
	}
	a := &req.Authenticator
	if !a.CName.Equal(etp.CName) || a.CRealm != etp.CRealm {
		return nil, false, fmt.Errorf("%w: authenticator names %s but the ticket was issued to %s", ErrKerberos,
			principalString(a.CName, a.CRealm), principalString(etp.CName, etp.CRealm))
	}
	client := principalString(etp.CName, etp.CRealm)
	ct := a.CTime.Add(time.Duration(a.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > skew || -d > skew {
		return nil, false, fmt.Errorf("%w: %w: client %s sent time %s, server time is %s, at most %s allowed (synchronise clocks, e.g. with NTP)",
			ErrKerberos, ErrClockSkew, client, ct.UTC().Format(time.RFC3339), now.Format(time.RFC3339), skew)
	}
	start := etp.StartTime
	if start.IsZero() {
		start = etp.AuthTime
	}
	if types.IsFlagSet(&etp.Flags, flags.Invalid) || start.Sub(now) > skew {
		return nil, false, fmt.Errorf("%w: ticket not yet valid (starts %s, server time %s)", ErrKerberos, start.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if now.Sub(etp.EndTime) > skew {
		return nil, false, fmt.Errorf("%w: ticket expired at %s (run kinit to get a new one)", ErrKerberos, etp.EndTime.Format(time.RFC3339))
	}
	gf, err := parseGSSChecksum(a.Cksum)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKerberos, err)
	}
	if m.replayed(replayKey{client: client, ctime: a.CTime.Unix(), cusec: a.Cusec, hash: sha256.Sum256(req.EncryptedAuthenticator.Cipher)}, now) {
		return nil, false, fmt.Errorf("%w: replayed authenticator from %s (request replay detected)", ErrKerberos, client)
	}
	wkey := etp.Key
	if len(a.SubKey.KeyValue) > 0 {
		wkey = a.SubKey
	}
	ini, err := deriveGSSKeys(wkey, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKerberos, err)
	}
	acc, err := deriveGSSKeys(wkey, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKerberos, err)
	}
	var seqb [4]byte
	if _, err := io.ReadFull(s.rand, seqb[:]); err != nil {
		return nil, false, fmt.Errorf("%w: random sequence number: %w", ErrKerberos, err)
	}
	seq := binary.BigEndian.Uint32(seqb[:]) & 0x3fffffff
	s.send = &gssSender{k: acc, flags: wrapSentByAcceptor, seq: uint64(seq), rand: s.rand}
	s.recv = &gssReceiver{k: ini, seq: uint64(uint32(a.SeqNumber))}
	s.user = client
	mutual := types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) || gf&gssFlagMutual != 0
	if !mutual {
		return nil, false, nil
	}
	rep, err := marshalAPRep(a.CTime, a.Cusec, seq, etp.Key)
	if err != nil {
		return nil, false, fmt.Errorf("%w: build AP-REP: %w", ErrKerberos, err)
	}
	return appendGSSInitialToken(nil, tokIDAPRep, rep), true, nil
}

// layerOffer wraps the offered layers and our receive buffer (65536, as Java).
func (s *krbServerSession) layerOffer() ([]byte, error) {
	qops := s.m.QOPs
	if len(qops) == 0 {
		qops = []string{QOPAuth}
	}
	for _, q := range qops {
		s.offer |= qopLayerBit(q)
	}
	return s.send.wrap([]byte{s.offer, gssMaxBuf >> 16, 0, 0}, false)
}

// checkChoice verifies the client's wrapped layer choice. Its SND_SEQ is
// adopted rather than checked: the JDK acceptor reports an out-of-sequence
// first token only as a supplementary status, which Hadoop ignores, and
// clients such as colinmarc/hdfs (no mutual authentication, no subkey) sign
// the choice with 0 instead of their authenticator's seq-number. The token's
// checksum still covers its header; later tokens must follow in sequence.
func (s *krbServerSession) checkChoice(tok []byte) error {
	s.recv.adopt = true
	b, _, err := s.recv.unwrap(tok)
	if err != nil {
		return fmt.Errorf("%w: security layer choice from %s: %w", ErrKerberos, s.user, err)
	}
	if len(b) < 4 {
		return fmt.Errorf("%w: security layer choice has %d bytes, want at least 4", ErrKerberos, len(b))
	}
	s.qop = layerBitQOP(b[0])
	if s.qop == "" || b[0]&s.offer == 0 {
		return fmt.Errorf("%w: client %s chose security layer %#x, offered %#x (hadoop.rpc.protection differs between client and server)", ErrKerberos, s.user, b[0], s.offer)
	}
	s.peer = int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if authz := string(b[4:]); authz != "" && authz != s.user {
		return fmt.Errorf("%w: %s asked to act as %q; proxy users go in the connection context", ErrKerberos, s.user, authz)
	}
	return nil
}

// User is the client principal, e.g. "alice@EXAMPLE.COM".
func (s *krbServerSession) User() string { return s.user }

// Layer returns the negotiated security layer, nil for QOP auth.
func (s *krbServerSession) Layer() (SecurityLayer, error) {
	if s.state != krbAccepted {
		return nil, fmt.Errorf("%w: exchange not complete", ErrKerberos)
	}
	return newKrbLayer(s.send, s.recv, s.qop, s.peer), nil
}

// etypeName is the longest (most explicit) name of an enctype.
func etypeName(id int32) string {
	best := ""
	for name, v := range etypeID.ETypesByName {
		if v == id && (len(name) > len(best) || len(name) == len(best) && name < best) {
			best = name
		}
	}
	if best == "" {
		return fmt.Sprint(id)
	}
	return best
}
