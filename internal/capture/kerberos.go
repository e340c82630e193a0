package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Keytabs are the service keytabs that open the tickets inside captured
// AP-REQs (fixtures kerberos/keytabs).
type Keytabs []*keytab.Keytab

// LoadKeytabs reads every *.keytab in dir.
func LoadKeytabs(dir string) (Keytabs, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.keytab"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out Keytabs
	for _, p := range paths {
		kt, err := keytab.Load(p)
		if err != nil {
			return nil, fmt.Errorf("capture: keytab %s: %w", p, err)
		}
		out = append(out, kt)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("capture: no keytabs in %s", dir)
	}
	return out, nil
}

// decryptTicket opens t with the first keytab holding its key.
func (k Keytabs) decryptTicket(t *messages.Ticket) error {
	for _, kt := range k {
		key, _, err := kt.GetEncryptionKey(t.SName, t.Realm, t.EncPart.KVNO, t.EncPart.EType)
		if err != nil {
			continue
		}
		return t.Decrypt(key)
	}
	return fmt.Errorf("capture: no keytab has a key for %s@%s kvno %d etype %d",
		t.SName.PrincipalNameString(), t.Realm, t.EncPart.KVNO, t.EncPart.EType)
}

// GSSToken is one RFC 4121 wrap token of a replayed GSSAPI conversation.
type GSSToken struct {
	// Raw is the token as captured.
	Raw []byte
	// FromServer reports the acceptor's direction.
	FromServer bool
	// Layer marks the security-layer negotiation messages (CHALLENGE and
	// RESPONSE, not WRAP).
	Layer bool
	Flags byte
	EC    uint16
	RRC   uint16
	Seq   uint64
	// Sealed tokens carry Confounder (the random 16 bytes Java chose).
	Sealed     bool
	Confounder []byte
	// Plain is the verified plaintext.
	Plain []byte
}

// GSSExchange is what ReplayGSS recovered from a captured GSSAPI
// conversation with the service keytab. It holds keys: test support only.
type GSSExchange struct {
	// Client and Service are the principals of the ticket.
	Client, Service string
	// MutualRequired is the AP-REQ's ap-options bit; GSSFlags the 0x8003
	// checksum's context flags.
	MutualRequired bool
	GSSFlags       uint32
	// SessionKey is the ticket's; Subkey the authenticator's; AcceptorSubkey
	// the AP-REP's (Java never sends one).
	SessionKey, Subkey, AcceptorSubkey types.EncryptionKey
	// ClientSeq and ServerSeq are the seq-numbers of the authenticator and
	// the EncAPRepPart: each direction's first SND_SEQ.
	ClientSeq, ServerSeq uint64
	// Offer and Choice are the unwrapped security-layer messages.
	Offer, Choice []byte
	// QOP is the chosen layer.
	QOP string
	// ClientTokens and ServerTokens are every wrap token in wire order, the
	// security-layer message first.
	ClientTokens, ServerTokens []GSSToken
}

// WrapKey is the key of every wrap token: the acceptor subkey if the AP-REP
// had one, else the initiator's subkey, else the session key.
func (x *GSSExchange) WrapKey() types.EncryptionKey {
	switch {
	case len(x.AcceptorSubkey.KeyValue) > 0:
		return x.AcceptorSubkey
	case len(x.Subkey.KeyValue) > 0:
		return x.Subkey
	}
	return x.SessionKey
}

// saslMessages returns the RpcSaslProto bodies of one direction's SASL frames.
func saslMessages(fs []Frame, client bool) ([]*commonpb.RpcSaslProto, error) {
	var out []*commonpb.RpcSaslProto
	for _, f := range fs {
		var body []byte
		if client {
			if f.Req.Header.GetCallId() != ipc.CallIDSASL {
				continue
			}
			body = f.Req.Body
		} else {
			if f.Resp.CallID() != ipc.CallIDSASL || f.Resp.Body == nil {
				continue
			}
			body = f.Resp.Body
		}
		m := &commonpb.RpcSaslProto{}
		if err := ipc.Unmarshal(body, m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ReplayGSS decrypts the ticket in the conversation's AP-REQ with kt,
// recovers the session key, the authenticator's subkey and seq-number and
// the AP-REP's seq-number, and verifies every wrap token in both directions
// (checksums, encryption integrity, direction flags and sequence numbers).
func ReplayGSS(c *Conversation, kt Keytabs) (*GSSExchange, error) {
	if c.Mechanism != ipc.MechGSSAPI {
		return nil, fmt.Errorf("capture: conversation used %q, not GSSAPI", c.Mechanism)
	}
	cm, err := saslMessages(c.Client, true)
	if err != nil {
		return nil, err
	}
	sm, err := saslMessages(c.Server, false)
	if err != nil {
		return nil, err
	}
	x := &GSSExchange{}
	// Client: NEGOTIATE, INITIATE(AP-REQ), RESPONSE(empty), RESPONSE(choice), WRAP…
	// Server: NEGOTIATE, CHALLENGE(AP-REP), CHALLENGE(offer), SUCCESS, WRAP…
	var apReq, apRep []byte
	var clientTok, serverTok []GSSToken
	for _, m := range cm {
		switch m.GetState() {
		case commonpb.RpcSaslProto_INITIATE:
			apReq = m.GetToken()
		case commonpb.RpcSaslProto_RESPONSE:
			if len(m.GetToken()) > 0 {
				clientTok = append(clientTok, GSSToken{Raw: m.GetToken(), Layer: true})
			}
		case commonpb.RpcSaslProto_WRAP:
			clientTok = append(clientTok, GSSToken{Raw: m.GetToken()})
		}
	}
	for _, m := range sm {
		switch m.GetState() {
		case commonpb.RpcSaslProto_CHALLENGE:
			if apRep == nil && len(m.GetToken()) > 0 && m.GetToken()[0] == 0x60 {
				apRep = m.GetToken()
			} else {
				serverTok = append(serverTok, GSSToken{Raw: m.GetToken(), FromServer: true, Layer: true})
			}
		case commonpb.RpcSaslProto_SUCCESS:
			if len(m.GetToken()) > 0 {
				return nil, errors.New("capture: GSSAPI SUCCESS carries a token")
			}
		case commonpb.RpcSaslProto_WRAP:
			serverTok = append(serverTok, GSSToken{Raw: m.GetToken(), FromServer: true})
		}
	}
	if apReq == nil {
		return nil, errors.New("capture: no INITIATE token")
	}
	if err := x.openAPReq(apReq, kt); err != nil {
		return nil, err
	}
	if apRep != nil {
		if err := x.openAPRep(apRep); err != nil {
			return nil, err
		}
	}
	key := x.WrapKey()
	seq := x.ClientSeq
	for i := range clientTok {
		if err := verifyToken(&clientTok[i], key, len(x.AcceptorSubkey.KeyValue) > 0, seq); err != nil {
			return nil, fmt.Errorf("capture: client token %d: %w", i, err)
		}
		seq++
	}
	seq = x.ServerSeq
	for i := range serverTok {
		if err := verifyToken(&serverTok[i], key, len(x.AcceptorSubkey.KeyValue) > 0, seq); err != nil {
			return nil, fmt.Errorf("capture: server token %d: %w", i, err)
		}
		seq++
	}
	x.ClientTokens, x.ServerTokens = clientTok, serverTok
	if len(serverTok) == 0 || !serverTok[0].Layer || len(clientTok) == 0 || !clientTok[0].Layer {
		return nil, errors.New("capture: security-layer messages missing")
	}
	x.Offer, x.Choice = serverTok[0].Plain, clientTok[0].Plain
	if len(x.Offer) != 4 || len(x.Choice) < 4 {
		return nil, fmt.Errorf("capture: security-layer messages of %d and %d bytes", len(x.Offer), len(x.Choice))
	}
	switch x.Choice[0] {
	case 1:
		x.QOP = ipc.QOPAuth
	case 2:
		x.QOP = ipc.QOPAuthInt
	case 4:
		x.QOP = ipc.QOPAuthConf
	default:
		return nil, fmt.Errorf("capture: client chose layer %#x", x.Choice[0])
	}
	if x.Choice[0]&x.Offer[0] == 0 {
		return nil, fmt.Errorf("capture: client chose layer %#x, server offered %#x", x.Choice[0], x.Offer[0])
	}
	return x, nil
}

func (x *GSSExchange) openAPReq(tok []byte, kt Keytabs) error {
	id, msg, err := ipc.ParseGSSInitialToken(tok)
	if err != nil {
		return err
	}
	if id != [2]byte{1, 0} {
		return fmt.Errorf("capture: INITIATE token id %x", id)
	}
	var req messages.APReq
	if err := req.Unmarshal(msg); err != nil {
		return fmt.Errorf("capture: AP-REQ: %w", err)
	}
	if err := kt.decryptTicket(&req.Ticket); err != nil {
		return err
	}
	etp := req.Ticket.DecryptedEncPart
	x.Service = req.Ticket.SName.PrincipalNameString() + "@" + req.Ticket.Realm
	x.Client = etp.CName.PrincipalNameString() + "@" + etp.CRealm
	x.SessionKey = etp.Key
	x.MutualRequired = types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired)
	if err := req.DecryptAuthenticator(etp.Key); err != nil {
		return fmt.Errorf("capture: authenticator: %w", err)
	}
	a := req.Authenticator
	if !a.CName.Equal(etp.CName) || a.CRealm != etp.CRealm {
		return errors.New("capture: authenticator client differs from the ticket's")
	}
	if a.Cksum.CksumType != 0x8003 || len(a.Cksum.Checksum) < 24 || binary.LittleEndian.Uint32(a.Cksum.Checksum) != 16 {
		return fmt.Errorf("capture: authenticator checksum type %#x", a.Cksum.CksumType)
	}
	x.GSSFlags = binary.LittleEndian.Uint32(a.Cksum.Checksum[20:24])
	x.Subkey = a.SubKey
	x.ClientSeq = uint64(uint32(a.SeqNumber))
	return nil
}

func (x *GSSExchange) openAPRep(tok []byte) error {
	id, msg, err := ipc.ParseGSSInitialToken(tok)
	if err != nil {
		return err
	}
	if id != [2]byte{2, 0} {
		return fmt.Errorf("capture: AP-REP token id %x", id)
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return fmt.Errorf("capture: AP-REP: %w", err)
	}
	b, err := crypto.DecryptEncPart(rep.EncPart, x.SessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return fmt.Errorf("capture: AP-REP: %w", err)
	}
	var enc messages.EncAPRepPart
	if err := enc.Unmarshal(b); err != nil {
		return fmt.Errorf("capture: EncAPRepPart: %w", err)
	}
	x.AcceptorSubkey = enc.Subkey
	x.ServerSeq = uint64(uint32(enc.SequenceNumber))
	return nil
}

// verifyToken checks one wrap token with gokrb5's RFC 3961 routines (a
// separate code path from ipc's layer, so the two check each other).
func verifyToken(t *GSSToken, key types.EncryptionKey, acceptorSubkey bool, seq uint64) error {
	tok := t.Raw
	if len(tok) < 16 || tok[0] != 0x05 || tok[1] != 0x04 || tok[3] != 0xff {
		return errors.New("not an RFC 4121 wrap token")
	}
	t.Flags = tok[2]
	t.EC = binary.BigEndian.Uint16(tok[4:6])
	t.RRC = binary.BigEndian.Uint16(tok[6:8])
	t.Seq = binary.BigEndian.Uint64(tok[8:16])
	t.Sealed = t.Flags&0x02 != 0
	if (t.Flags&0x01 != 0) != t.FromServer {
		return fmt.Errorf("SentByAcceptor flag %#x in the wrong direction", t.Flags)
	}
	if (t.Flags&0x04 != 0) != acceptorSubkey {
		return fmt.Errorf("AcceptorSubkey flag %#x does not match the context", t.Flags)
	}
	if t.Seq != seq {
		return fmt.Errorf("SND_SEQ %d, want %d", t.Seq, seq)
	}
	body := append([]byte(nil), tok[16:]...)
	if r := int(t.RRC); r > 0 && len(body) > 0 {
		r %= len(body)
		body = append(body[r:], body[:r]...)
	}
	usage := uint32(keyusage.GSSAPI_INITIATOR_SEAL)
	if t.FromServer {
		usage = keyusage.GSSAPI_ACCEPTOR_SEAL
	}
	e, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return err
	}
	hl := e.GetHMACBitLength() / 8
	if !t.Sealed {
		if int(t.EC) != hl || len(body) < hl {
			return fmt.Errorf("unsealed token with EC %d", t.EC)
		}
		plain := body[:len(body)-hl]
		hdr := append([]byte(nil), tok[:16]...)
		copy(hdr[4:8], []byte{0, 0, 0, 0})
		if !e.VerifyChecksum(key.KeyValue, append(append([]byte(nil), plain...), hdr...), body[len(body)-hl:], usage) {
			return errors.New("checksum does not verify")
		}
		t.Plain = plain
		return nil
	}
	if len(body) < e.GetConfounderByteSize()+16+hl {
		return errors.New("sealed token too short")
	}
	ke, err := e.DeriveKey(key.KeyValue, common.GetUsageKe(usage))
	if err != nil {
		return err
	}
	pt, err := e.DecryptData(ke, body[:len(body)-hl])
	if err != nil {
		return err
	}
	if !e.VerifyIntegrity(key.KeyValue, body, pt, usage) {
		return errors.New("integrity check failed")
	}
	inner := pt[len(pt)-16:]
	want := append([]byte(nil), tok[:16]...)
	want[6], want[7] = 0, 0
	if !bytes.Equal(inner, want) {
		return errors.New("encrypted header copy differs")
	}
	cf := e.GetConfounderByteSize()
	if int(t.EC) > len(pt)-cf-16 {
		return fmt.Errorf("EC %d too large", t.EC)
	}
	t.Confounder = pt[:cf]
	t.Plain = pt[cf : len(pt)-16-int(t.EC)]
	return nil
}

// DecodeWithKeys is Decode that also opens GSSAPI conversations: with the
// service keytabs it replays the Kerberos context (ReplayGSS), verifies
// every wrap token and fills InnerClient and InnerServer from the WRAP
// payloads. For GSSAPI, QOP is set to the negotiated layer and Opaque is
// false. DIGEST-MD5 conversations decode exactly as with Decode.
func DecodeWithKeys(t *Transcript, pw Passwords, kt Keytabs) (*Conversation, error) {
	c, err := Decode(t, pw)
	if err != nil || c.Mechanism != ipc.MechGSSAPI || len(kt) == 0 {
		return c, err
	}
	x, err := ReplayGSS(c, kt)
	if err != nil {
		return nil, err
	}
	c.QOP = x.QOP
	c.Opaque = false
	var cp, sp []byte
	for _, tk := range x.ClientTokens {
		if !tk.Layer {
			cp = append(cp, tk.Plain...)
		}
	}
	for _, tk := range x.ServerTokens {
		if !tk.Layer {
			sp = append(sp, tk.Plain...)
		}
	}
	if c.InnerClient, err = frames(bytes.NewReader(cp), true); err != nil {
		return nil, fmt.Errorf("inner client: %w", err)
	}
	if c.InnerServer, err = frames(bytes.NewReader(sp), false); err != nil {
		return nil, fmt.Errorf("inner server: %w", err)
	}
	for i := range c.InnerClient {
		c.InnerClient[i].Inner = true
	}
	for i := range c.InnerServer {
		c.InnerServer[i].Inner = true
	}
	return c, nil
}

// KerberosDir returns the fixtures' kerberos folder.
func KerberosDir() (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	k := filepath.Join(d, "kerberos")
	if _, err := os.Stat(k); err != nil {
		return "", err
	}
	return k, nil
}

// KerberosKeytabs loads the fixtures' keytabs (kerberos/keytabs): every
// service of the captured cluster, alice and krbtgt.
// The fixtures never change, so they are read once per test binary.
func KerberosKeytabs() (Keytabs, error) {
	keytabsOnce.Do(func() {
		d, err := KerberosDir()
		if err != nil {
			keytabsErr = err
			return
		}
		keytabs, keytabsErr = LoadKeytabs(filepath.Join(d, "keytabs"))
	})
	return keytabs, keytabsErr
}

var (
	keytabsOnce sync.Once
	keytabs     Keytabs
	keytabsErr  error
)
