package ipc

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// SASL GSSAPI (RFC 4752) over Kerberos V5, the way the JDK runs it for
// Hadoop (hadoop-wire.md §3.5, §10):
//
//	C → INITIATE  GSS token: AP-REQ (mutual-required, subkey, seq-number, 0x8003 flags 0x3e)
//	S ← CHALLENGE GSS token: AP-REP (seq-number, no subkey)
//	C → RESPONSE  empty
//	S ← CHALLENGE wrap(layers offered | max buffer)      4 bytes, unsealed
//	C → RESPONSE  wrap(layer chosen | max buffer)        4 bytes, unsealed, no authzid
//	S ← SUCCESS   no token
//
// Every wrap token in both directions is keyed by the initiator's
// authenticator subkey (usage 24 initiator, 22 acceptor); each direction's
// SND_SEQ starts at the seq-number its side sent in the AP exchange.

// ErrKerberos wraps every Kerberos/GSSAPI authentication failure.
var ErrKerberos = errors.New("ipc: KERBEROS")

// ErrNoKerberosCredentials means the client has no usable Kerberos login.
var ErrNoKerberosCredentials = errors.New("no Kerberos credentials")

// ErrServerPrincipal means the server's principal is not the one configured.
var ErrServerPrincipal = errors.New("server principal mismatch")

// SASL GSSAPI security layers (RFC 4752 §3.3) and their QOP names.
const (
	gssLayerNone      = 0x01
	gssLayerIntegrity = 0x02
	gssLayerPrivacy   = 0x04

	// gssMaxBuf is the receive buffer Java advertises (3 bytes, 65536).
	gssMaxBuf = 65536

	defaultMaxClockSkew = 5 * time.Minute
)

func qopLayerBit(q string) byte {
	switch q {
	case QOPAuth:
		return gssLayerNone
	case QOPAuthInt:
		return gssLayerIntegrity
	case QOPAuthConf:
		return gssLayerPrivacy
	}
	return 0
}

func layerBitQOP(b byte) string {
	switch b {
	case gssLayerNone:
		return QOPAuth
	case gssLayerIntegrity:
		return QOPAuthInt
	case gssLayerPrivacy:
		return QOPAuthConf
	}
	return ""
}

// ExpandPrincipal substitutes _HOST in a Hadoop server principal pattern
// such as "rm/_HOST@EXAMPLE.COM" with host, lower-cased, the way
// SecurityUtil.getServerPrincipal does. An empty host or 0.0.0.0 means the
// local host name. Pass the host name being dialled (Java uses its
// canonical name; this function does no DNS look-up). A principal without
// _HOST as its host component is returned unchanged.
func ExpandPrincipal(pattern, host string) (string, error) {
	svc, rest, ok := strings.Cut(pattern, "/")
	if !ok {
		return pattern, nil
	}
	h, realm, hasRealm := strings.Cut(rest, "@")
	if h != "_HOST" {
		return pattern, nil
	}
	if host == "" || host == "0.0.0.0" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("%w: substitute _HOST in %s: %w", ErrKerberos, pattern, err)
		}
	}
	out := svc + "/" + strings.ToLower(host)
	if hasRealm {
		out += "@" + realm
	}
	return out, nil
}

// principalString renders a principal name and realm as name/inst@REALM.
func principalString(pn types.PrincipalName, realm string) string {
	return pn.PrincipalNameString() + "@" + realm
}

// --- client (initiator) -------------------------------------------------

// KerberosMechanism authenticates a client with Kerberos over SASL GSSAPI.
// Logging in (keytab or ticket cache) is the caller's job; the mechanism
// asks Client for a service ticket each time a connection authenticates.
// One value serves one server address (because of _HOST) and may be shared
// by the connections to it.
type KerberosMechanism struct {
	// Client is the logged-in Kerberos client.
	Client *client.Client
	// ServerPrincipal is the configured server principal pattern, e.g.
	// "rm/_HOST@EXAMPLE.COM" (yarn.resourcemanager.principal) or
	// "nn/_HOST@EXAMPLE.COM" (dfs.namenode.kerberos.principal). Required:
	// like Hadoop, the client refuses to authenticate to a server whose
	// advertised principal differs. Without a realm, the client's default
	// realm is assumed.
	ServerPrincipal string
	// Host replaces _HOST in ServerPrincipal: the host being dialled.
	Host string
	// QOPs is the client's QOP preference (hadoop.rpc.protection order);
	// empty takes the strongest the server offers.
	QOPs []string
	// Rand supplies the subkey, the sequence number and confounders; nil
	// means crypto/rand.
	Rand io.Reader

	// serviceTicket replaces Client.GetServiceTicket in tests.
	serviceTicket func(spn string) (messages.Ticket, types.EncryptionKey, error)
}

var _ ClientMechanism = (*KerberosMechanism)(nil)

// Method returns MethodKerberos.
func (m *KerberosMechanism) Method() string { return MethodKerberos }

// Mechanism returns MechGSSAPI.
func (m *KerberosMechanism) Mechanism() string { return MechGSSAPI }

// Start checks the offered server principal against ServerPrincipal and
// returns a session whose first Step produces the AP-REQ.
func (m *KerberosMechanism) Start(offer SaslOffer) (ClientSession, bool, error) {
	if m.Client == nil || m.Client.Credentials == nil {
		return nil, false, fmt.Errorf("%w: %w (run kinit, or pass --keytab and --principal)", ErrKerberos, ErrNoKerberosCredentials)
	}
	realm := m.Client.Credentials.Domain()
	if m.Client.Config != nil && m.Client.Config.LibDefaults.DefaultRealm != "" {
		realm = m.Client.Config.LibDefaults.DefaultRealm
	}
	if offer.Protocol == "" || offer.ServerID == "" {
		return nil, false, fmt.Errorf("%w: server offers KERBEROS without a principal (protocol %q, serverId %q)", ErrKerberos, offer.Protocol, offer.ServerID)
	}
	offered := offer.Protocol + "/" + offer.ServerID + "@" + realm
	if m.ServerPrincipal == "" {
		return nil, false, fmt.Errorf("%w: no server principal configured to check %s against (set yarn.resourcemanager.principal or dfs.namenode.kerberos.principal)", ErrKerberos, offered)
	}
	want, err := ExpandPrincipal(m.ServerPrincipal, m.Host)
	if err != nil {
		return nil, false, err
	}
	if !strings.Contains(want, "@") {
		want += "@" + realm
	}
	if offered != want {
		return nil, false, fmt.Errorf("%w: %w: server has Kerberos principal %s, expecting %s (check the configured server principal and the host name used to reach the server)",
			ErrKerberos, ErrServerPrincipal, offered, want)
	}
	rnd := m.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	return &krbClientSession{m: m, spn: offer.Protocol + "/" + offer.ServerID, principal: want, rand: rnd}, true, nil
}

type krbClientState int

const (
	krbSendAPReq krbClientState = iota
	krbWantAPRep
	krbWantOffer
	krbChosen
	krbDone
)

type krbClientSession struct {
	m         *KerberosMechanism
	spn       string // protocol/serverId
	principal string // protocol/serverId@REALM, for messages
	rand      io.Reader
	state     krbClientState

	sessionKey types.EncryptionKey
	auth       types.Authenticator
	send       *gssSender
	recv       *gssReceiver
	qop        string
	peerMax    int
}

func (s *krbClientSession) fail(format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrKerberos, s.principal, fmt.Sprintf(format, a...))
}

// Step runs the initiator's state machine (see the diagram above).
func (s *krbClientSession) Step(challenge []byte) ([]byte, error) {
	switch s.state {
	case krbSendAPReq:
		tok, err := s.apReq()
		if err != nil {
			return nil, err
		}
		s.state = krbWantAPRep
		return tok, nil
	case krbWantAPRep:
		if err := s.apRep(challenge); err != nil {
			return nil, err
		}
		s.state = krbWantOffer
		return []byte{}, nil
	case krbWantOffer:
		tok, err := s.chooseLayer(challenge)
		if err != nil {
			return nil, err
		}
		s.state = krbChosen
		return tok, nil
	}
	return nil, s.fail("unexpected challenge after the security layer was chosen")
}

func (s *krbClientSession) serviceTicket() (messages.Ticket, types.EncryptionKey, error) {
	if s.m.serviceTicket != nil {
		return s.m.serviceTicket(s.spn)
	}
	return s.m.Client.GetServiceTicket(s.spn)
}

// apReq builds the GSS initial context token exactly as the JDK does.
func (s *krbClientSession) apReq() ([]byte, error) {
	creds := s.m.Client.Credentials
	user := principalString(creds.CName(), creds.Domain())
	tkt, key, err := s.serviceTicket()
	if err != nil {
		return nil, fmt.Errorf("%w: get a service ticket for %s as %s: %s", ErrKerberos, s.principal, user, kdcHint(err))
	}
	if !tkt.SName.Equal(types.NewPrincipalName(0, s.spn)) {
		return nil, s.fail("KDC returned a ticket for %s", principalString(tkt.SName, tkt.Realm))
	}
	s.sessionKey = key
	// The subkey keys every wrap token: same enctype as the session key
	// (as Java), or aes256-cts-hmac-sha1-96 when the session key's enctype
	// has no RFC 4121 support here.
	subType := key.KeyType
	if !gssEnctypeSupported(subType) {
		subType = etypeID.AES256_CTS_HMAC_SHA1_96
	}
	e, err := crypto.GetEtype(subType)
	if err != nil {
		return nil, s.fail("subkey enctype %d: %v", subType, err)
	}
	raw := make([]byte, e.GetKeyByteSize())
	var seqb [4]byte
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return nil, s.fail("random subkey: %v", err)
	}
	if _, err := io.ReadFull(s.rand, seqb[:]); err != nil {
		return nil, s.fail("random sequence number: %v", err)
	}
	now := time.Now().UTC()
	s.auth = types.Authenticator{
		AVNO:      iana.PVNO,
		CRealm:    creds.Domain(),
		CName:     creds.CName(),
		Cksum:     types.Checksum{CksumType: chksumGSSAPI, Checksum: gssChecksum(gssClientFlags)},
		CTime:     now.Truncate(time.Second),
		Cusec:     now.Nanosecond() / 1000,
		SubKey:    types.EncryptionKey{KeyType: subType, KeyValue: e.RandomToKey(raw)},
		SeqNumber: int64(binary.BigEndian.Uint32(seqb[:]) & 0x3fffffff),
	}
	ab, err := s.auth.Marshal()
	if err != nil {
		return nil, s.fail("encode authenticator: %v", err)
	}
	// kvno 0: the enc-part carries no kvno, as Java writes it (gokrb5's
	// NewAPReq would copy the ticket's).
	ea, err := crypto.GetEncryptedData(ab, key, keyusage.AP_REQ_AUTHENTICATOR, 0)
	if err != nil {
		return nil, s.fail("encrypt authenticator: %v", err)
	}
	req := messages.APReq{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REQ, APOptions: types.NewKrbFlags(), Ticket: tkt, EncryptedAuthenticator: ea}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	b, err := req.Marshal()
	if err != nil {
		return nil, s.fail("encode AP-REQ: %v", err)
	}
	return appendGSSInitialToken(nil, tokIDAPReq, b), nil
}

// apRep verifies the acceptor's AP-REP (mutual authentication) and sets up
// both directions of the context.
func (s *krbClientSession) apRep(tok []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.fail("malformed reply from the server")
		}
	}()
	if len(tok) >= 2 && tok[0] == 0x05 && tok[1] == 0x04 {
		return s.fail("server skipped the AP-REP although mutual authentication is required")
	}
	id, msg, err := ParseGSSInitialToken(tok)
	if err != nil {
		return s.fail("server's reply: %v", err)
	}
	switch id {
	case tokIDAPRep:
	case tokIDKRBError:
		var ke messages.KRBError
		if err := ke.Unmarshal(msg); err != nil {
			return s.fail("server sent an unreadable KRB-ERROR")
		}
		return s.fail("server rejected the AP-REQ: %s", krbErrorText(ke.ErrorCode, ke.EText))
	default:
		return s.fail("server sent GSS token id %x, want AP-REP", id)
	}
	enc, err := DecryptAPRep(msg, s.sessionKey)
	if err != nil {
		return s.fail("%v", err)
	}
	if !enc.CTime.Equal(s.auth.CTime) || enc.Cusec != s.auth.Cusec {
		return s.fail("AP-REP does not echo our authenticator time (mutual authentication failed)")
	}
	key, base := s.auth.SubKey, byte(0)
	if len(enc.Subkey.KeyValue) > 0 {
		key, base = enc.Subkey, wrapAcceptorSubkey
	}
	ini, err := deriveGSSKeys(key, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		return s.fail("%v", err)
	}
	acc, err := deriveGSSKeys(key, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return s.fail("%v", err)
	}
	s.send = &gssSender{k: ini, flags: base, seq: uint64(uint32(s.auth.SeqNumber)), rand: s.rand}
	s.recv = &gssReceiver{k: acc, flags: base | wrapSentByAcceptor, seq: uint64(uint32(enc.SequenceNumber))}
	return nil
}

// chooseLayer answers the server's security-layer offer.
func (s *krbClientSession) chooseLayer(tok []byte) ([]byte, error) {
	offer, _, err := s.recv.unwrap(tok)
	if err != nil {
		return nil, s.fail("security layer offer: %v", err)
	}
	if len(offer) != 4 {
		return nil, s.fail("security layer offer has %d bytes, want 4", len(offer))
	}
	var offered []string
	for _, b := range []byte{gssLayerNone, gssLayerIntegrity, gssLayerPrivacy} {
		if offer[0]&b != 0 {
			offered = append(offered, layerBitQOP(b))
		}
	}
	s.qop = ""
	if len(s.m.QOPs) > 0 {
	pref:
		for _, want := range s.m.QOPs {
			for _, o := range offered {
				if o == want {
					s.qop = o
					break pref
				}
			}
		}
	} else if len(offered) > 0 {
		s.qop = offered[len(offered)-1]
	}
	if s.qop == "" {
		return nil, s.fail("server offers QOP %v, none acceptable (set hadoop.rpc.protection to match the cluster)", offered)
	}
	s.peerMax = int(offer[1])<<16 | int(offer[2])<<8 | int(offer[3])
	choice := []byte{qopLayerBit(s.qop), 0, 0, 0}
	if s.qop != QOPAuth {
		choice[1] = gssMaxBuf >> 16 // Java: 01 0000; with auth it sends 0
	}
	return s.send.wrap(choice, false)
}

// Complete checks that the server's SUCCESS ends the exchange.
func (s *krbClientSession) Complete(final []byte) error {
	if s.state != krbChosen {
		return s.fail("server reported success before the exchange finished")
	}
	if len(final) != 0 {
		return s.fail("unexpected %d-byte token in SUCCESS", len(final))
	}
	s.state = krbDone
	return nil
}

// Layer returns the negotiated security layer, nil for QOP auth.
func (s *krbClientSession) Layer() (SecurityLayer, error) {
	if s.state != krbDone {
		return nil, s.fail("exchange not complete")
	}
	return newKrbLayer(s.send, s.recv, s.qop, s.peerMax), nil
}

func newKrbLayer(send *gssSender, recv *gssReceiver, qop string, peerMax int) SecurityLayer {
	if qop == QOPAuth {
		return nil
	}
	l := &gssLayer{send: send, recv: recv, conf: qop == QOPAuthConf}
	if peerMax <= 0 {
		peerMax = gssMaxBuf
	}
	l.maxWrap = max(peerMax-send.overhead(l.conf), 1)
	return l
}

// kdcHint turns a gokrb5 failure into one line naming the cause and the fix.
// gokrb5 flattens KDC errors into text, so this has to read it.
func kdcHint(err error) string {
	msg := err.Error()
	var hint string
	switch {
	case strings.Contains(msg, "KDC_ERR_S_PRINCIPAL_UNKNOWN"):
		hint = "the KDC does not know this service principal (check the configured server principal and host name)"
	case strings.Contains(msg, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		hint = "the KDC does not know the client principal (check --principal)"
	case strings.Contains(msg, "KRB_AP_ERR_SKEW"), strings.Contains(msg, "clock skew with KDC too large"):
		// The KDC refused this host's time (AS or TGS exchange), or gokrb5
		// refused the times of the KDC's reply.
		hint = "clock skew too great between this host and the KDC (synchronise this host's clock with the KDC's, e.g. with NTP: they must agree within krb5.conf's clockskew, 5 minutes by default)"
	case strings.Contains(msg, "KRB_AP_ERR_TKT_EXPIRED"), strings.Contains(msg, "no valid existing session"):
		hint = "the Kerberos ticket has expired (run kinit, or pass --keytab and --principal)"
	case strings.Contains(msg, "KDC_ERR_PREAUTH_FAILED"), strings.Contains(msg, "matching key not found in keytab"):
		hint = "the keytab has no valid key for the principal (re-export it, check --principal and --keytab)"
	case strings.Contains(msg, "neither a keytab nor a password"), strings.Contains(msg, "no user credentials"):
		hint = "no Kerberos ticket and no keytab (run kinit, or pass --keytab and --principal)"
	case strings.Contains(msg, "Networking_Error"), strings.Contains(msg, "error sending to a KDC"):
		hint = "cannot reach the KDC (check the kdc entries of the realm in krb5.conf)"
	default:
		hint = "run kinit, or pass --keytab and --principal"
	}
	return hint + ": " + msg
}

func krbErrorText(code int32, etext string) string {
	s := errorcode.Lookup(code)
	if etext != "" {
		s += ": " + etext
	}
	switch code {
	case errorcode.KRB_AP_ERR_SKEW:
		s += " (synchronise clocks, e.g. with NTP)"
	case errorcode.KRB_AP_ERR_TKT_EXPIRED:
		s += " (run kinit)"
	}
	return s
}

// checkCiphertext rejects EncryptedData too short for its enctype before
// gokrb5 decrypts it: gokrb5 v8.4.4 slices out of range (panics) on
// ciphertext shorter than its checksum (see testdata/fuzz/FuzzGSSAPRep).
func checkCiphertext(what string, ed types.EncryptedData) error {
	e, err := crypto.GetEtype(ed.EType)
	if err != nil {
		return fmt.Errorf("%w: %s uses unsupported enctype %d", ErrGSSToken, what, ed.EType)
	}
	if min := e.GetConfounderByteSize() + e.GetHMACBitLength()/8; len(ed.Cipher) < min {
		return fmt.Errorf("%w: %s ciphertext of %d bytes, want at least %d", ErrGSSToken, what, len(ed.Cipher), min)
	}
	return nil
}

// recoverToken turns a panic inside gokrb5's ASN.1 or crypto code on
// hostile input into an error, so a bad token cannot take down a server.
func recoverToken(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: malformed Kerberos token", ErrGSSToken)
	}
}

// --- AP-REP -------------------------------------------------------------

// encAPRepPart is EncAPRepPart without the optional subkey, which the JDK
// acceptor never sends (and neither do we).
type encAPRepPart struct {
	CTime          time.Time `asn1:"generalized,explicit,tag:0"`
	Cusec          int       `asn1:"explicit,tag:1"`
	SequenceNumber int64     `asn1:"explicit,tag:3"`
}

// marshalAPRep encrypts EncAPRepPart{ctime, cusec, seq-number} with the
// ticket session key (usage 12) and encodes the AP-REP.
func marshalAPRep(ctime time.Time, cusec int, seq uint32, sessionKey types.EncryptionKey) ([]byte, error) {
	b, err := asn1.Marshal(encAPRepPart{CTime: ctime.UTC(), Cusec: cusec, SequenceNumber: int64(seq)})
	if err != nil {
		return nil, err
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(b, sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, err
	}
	rep := messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP, EncPart: ed}
	if b, err = asn1.Marshal(rep); err != nil {
		return nil, err
	}
	return asn1tools.AddASNAppTag(b, asnAppTag.APREP), nil
}

// DecryptAPRep parses an AP-REP (the DER inside the GSS token) and decrypts
// its EncAPRepPart with the ticket session key.
func DecryptAPRep(msg []byte, sessionKey types.EncryptionKey) (_ *messages.EncAPRepPart, err error) {
	defer recoverToken(&err)
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return nil, fmt.Errorf("%w: AP-REP: %v", ErrGSSToken, err)
	}
	if rep.EncPart.EType != sessionKey.KeyType {
		return nil, fmt.Errorf("%w: AP-REP enctype %d, session key enctype %d", ErrGSSToken, rep.EncPart.EType, sessionKey.KeyType)
	}
	if err := checkCiphertext("AP-REP", rep.EncPart); err != nil {
		return nil, err
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, sessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return nil, fmt.Errorf("%w: AP-REP does not decrypt with the session key (server does not hold the service key)", ErrGSSToken)
	}
	var enc messages.EncAPRepPart
	if err := enc.Unmarshal(plain); err != nil {
		return nil, fmt.Errorf("%w: EncAPRepPart: %v", ErrGSSToken, err)
	}
	return &enc, nil
}

// --- server (acceptor) --------------------------------------------------

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

type replayKey struct {
	client string
	ctime  int64
	cusec  int
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
		return nil, false, fmt.Errorf("%w: AP-REQ: %v", ErrKerberos, err)
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
		return nil, false, fmt.Errorf("%w: clock skew too great: client %s sent time %s, server time is %s, at most %s allowed (synchronise clocks, e.g. with NTP)",
			ErrKerberos, client, ct.UTC().Format(time.RFC3339), now.Format(time.RFC3339), skew)
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
	if m.replayed(replayKey{client: client, ctime: a.CTime.Unix(), cusec: a.Cusec}, now) {
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
