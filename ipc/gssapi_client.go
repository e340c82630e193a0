package ipc

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The client (initiator) side of SASL GSSAPI: KerberosMechanism and its
// session, which sends the AP-REQ, checks the AP-REP and picks the layer.

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
		return nil, false, fmt.Errorf("%w: %w", ErrKerberos, ErrNoKerberosCredentials)
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

// fail reports a failure of the exchange with s's server; format may wrap
// errors with %w.
func (s *krbClientSession) fail(format string, a ...any) error {
	return fmt.Errorf("%w: %s: "+format, append([]any{ErrKerberos, s.principal}, a...)...)
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
		return nil, fmt.Errorf("%w: get a service ticket for %s as %s: %w", ErrKerberos, s.principal, user, kdcError(err))
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
		return nil, s.fail("subkey enctype %d: %w", subType, err)
	}
	raw := make([]byte, e.GetKeyByteSize())
	var seqb [4]byte
	if _, err := io.ReadFull(s.rand, raw); err != nil {
		return nil, s.fail("random subkey: %w", err)
	}
	if _, err := io.ReadFull(s.rand, seqb[:]); err != nil {
		return nil, s.fail("random sequence number: %w", err)
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
		return nil, s.fail("encode authenticator: %w", err)
	}
	// kvno 0: the enc-part carries no kvno, as Java writes it (gokrb5's
	// NewAPReq would copy the ticket's).
	ea, err := crypto.GetEncryptedData(ab, key, keyusage.AP_REQ_AUTHENTICATOR, 0)
	if err != nil {
		return nil, s.fail("encrypt authenticator: %w", err)
	}
	req := messages.APReq{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REQ, APOptions: types.NewKrbFlags(), Ticket: tkt, EncryptedAuthenticator: ea}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	b, err := req.Marshal()
	if err != nil {
		return nil, s.fail("encode AP-REQ: %w", err)
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
		return s.fail("server's reply: %w", err)
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
		return s.fail("%w", err)
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
		return s.fail("%w", err)
	}
	acc, err := deriveGSSKeys(key, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return s.fail("%w", err)
	}
	s.send = &gssSender{k: ini, flags: base, seq: uint64(uint32(s.auth.SeqNumber)), rand: s.rand}
	s.recv = &gssReceiver{k: acc, flags: base | wrapSentByAcceptor, seq: uint64(uint32(enc.SequenceNumber))}
	return nil
}

// chooseLayer answers the server's security-layer offer.
func (s *krbClientSession) chooseLayer(tok []byte) ([]byte, error) {
	offer, _, err := s.recv.unwrap(tok)
	if err != nil {
		return nil, s.fail("security layer offer: %w", err)
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

// kdcError names the condition of a gokrb5 login or ticket failure,
// wrapping err and the condition's sentinel. gokrb5 flattens KDC errors
// into text, so this has to read it. An unrecognised failure is returned
// as it is.
func kdcError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "KDC_ERR_S_PRINCIPAL_UNKNOWN"):
		return fmt.Errorf("%w (check the configured server principal and host name): %w", ErrServicePrincipalUnknown, err)
	case strings.Contains(msg, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		return fmt.Errorf("%w: %w", ErrClientPrincipalUnknown, err)
	case strings.Contains(msg, "KRB_AP_ERR_SKEW"), strings.Contains(msg, "clock skew with KDC too large"):
		// The KDC refused this host's time (AS or TGS exchange), or gokrb5
		// refused the times of the KDC's reply.
		return fmt.Errorf("%w between this host and the KDC (synchronise this host's clock with the KDC's, e.g. with NTP: they must agree within krb5.conf's clockskew, 5 minutes by default): %w", ErrClockSkew, err)
	case strings.Contains(msg, "KRB_AP_ERR_TKT_EXPIRED"), strings.Contains(msg, "no valid existing session"):
		return fmt.Errorf("%w: %w", ErrTicketExpired, err)
	case strings.Contains(msg, "KDC_ERR_PREAUTH_FAILED"), strings.Contains(msg, "matching key not found in keytab"):
		return fmt.Errorf("%w (re-export it): %w", ErrKeytabNoKey, err)
	case strings.Contains(msg, "neither a keytab nor a password"), strings.Contains(msg, "no user credentials"):
		return fmt.Errorf("%w (no ticket and no keytab): %w", ErrNoKerberosCredentials, err)
	case strings.Contains(msg, "Networking_Error"), strings.Contains(msg, "error sending to a KDC"):
		return fmt.Errorf("%w (check the kdc entries of the realm in krb5.conf): %w", ErrKDCUnreachable, err)
	}
	return err
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
