package ipc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The Kerberos V5 GSS-API mechanism on the wire (RFC 1964 §1.1 framing,
// RFC 4121 per-message tokens), as the JDK writes it for Hadoop's SASL
// GSSAPI. See hadoop-wire.md §3.5 and the fixtures' kerberos/README.md.

// ErrGSSToken wraps every malformed or unverifiable GSS token.
var ErrGSSToken = errors.New("ipc: GSSAPI token")

// krb5MechOID is the DER encoding of the Kerberos V5 mechanism OID
// 1.2.840.113554.1.2.2 (gss_mech_krb5).
var krb5MechOID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}

// Token ids of RFC 1964/4121 context-establishment tokens.
var (
	tokIDAPReq    = [2]byte{0x01, 0x00}
	tokIDAPRep    = [2]byte{0x02, 0x00}
	tokIDKRBError = [2]byte{0x03, 0x00}
)

// maxGSSToken bounds context tokens; real AP-REQs with a PAC stay far below.
const maxGSSToken = 64 << 10

// appendGSSInitialToken frames a context token (RFC 2743 §3.1):
//
//	| 60 | DER len | 06 09 <krb5 OID> | TOK_ID (2) | Kerberos message |
func appendGSSInitialToken(dst []byte, tokID [2]byte, msg []byte) []byte {
	n := len(krb5MechOID) + 2 + len(msg)
	dst = append(dst, 0x60)
	dst = appendDERLength(dst, n)
	dst = append(dst, krb5MechOID...)
	dst = append(dst, tokID[:]...)
	return append(dst, msg...)
}

func appendDERLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n < 0x100:
		return append(dst, 0x81, byte(n))
	case n < 0x10000:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// ParseGSSInitialToken splits a Kerberos GSS context token into its token
// id and the Kerberos message (AP-REQ, AP-REP or KRB-ERROR DER). The outer
// length must cover the token exactly and the mechanism must be krb5.
func ParseGSSInitialToken(b []byte) (tokID [2]byte, msg []byte, err error) {
	if len(b) > maxGSSToken {
		return tokID, nil, fmt.Errorf("%w: context token of %d bytes exceeds %d", ErrGSSToken, len(b), maxGSSToken)
	}
	if len(b) < 2 || b[0] != 0x60 {
		return tokID, nil, fmt.Errorf("%w: not a GSS context token (want tag 0x60)", ErrGSSToken)
	}
	n, hl := 0, 2
	switch l := b[1]; {
	case l < 0x80:
		n = int(l)
	case l >= 0x81 && l <= 0x84:
		k := int(l & 0x7f)
		if len(b) < 2+k {
			return tokID, nil, fmt.Errorf("%w: truncated length", ErrGSSToken)
		}
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hl += k
	default:
		return tokID, nil, fmt.Errorf("%w: bad DER length byte %#x", ErrGSSToken, l)
	}
	if n != len(b)-hl {
		return tokID, nil, fmt.Errorf("%w: length %d, token has %d bytes", ErrGSSToken, n, len(b)-hl)
	}
	body := b[hl:]
	if !bytes.HasPrefix(body, krb5MechOID) {
		return tokID, nil, fmt.Errorf("%w: mechanism is not Kerberos V5", ErrGSSToken)
	}
	body = body[len(krb5MechOID):]
	if len(body) < 2 {
		return tokID, nil, fmt.Errorf("%w: no token id", ErrGSSToken)
	}
	copy(tokID[:], body[:2])
	return tokID, body[2:], nil
}

// GSS checksum (RFC 4121 §4.1.1) context flags, as Java sets them.
const (
	gssFlagDeleg    = 0x01
	gssFlagMutual   = 0x02
	gssFlagReplay   = 0x04
	gssFlagSequence = 0x08
	gssFlagConf     = 0x10
	gssFlagInteg    = 0x20

	// gssClientFlags is what the JDK initiator asks for under Hadoop:
	// MUTUAL|REPLAY|SEQUENCE|CONF|INTEG = 0x3e, no delegation.
	gssClientFlags = gssFlagMutual | gssFlagReplay | gssFlagSequence | gssFlagConf | gssFlagInteg

	// chksumGSSAPI is the authenticator checksum type 0x8003.
	chksumGSSAPI = 0x8003
)

// gssChecksum builds the 0x8003 authenticator checksum without channel
// bindings or delegation:
//
//	| Lgth u32 LE = 16 | Bnd (16 zero bytes) | Flags u32 LE |
func gssChecksum(flags uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:4], 16)
	binary.LittleEndian.PutUint32(b[20:24], flags)
	return b
}

// parseGSSChecksum returns the context flags of a 0x8003 checksum.
func parseGSSChecksum(c types.Checksum) (uint32, error) {
	if c.CksumType != chksumGSSAPI {
		return 0, fmt.Errorf("%w: authenticator checksum type %#x, want 0x8003 (not a GSS-API initiator)", ErrGSSToken, c.CksumType)
	}
	b := c.Checksum
	if len(b) < 24 || binary.LittleEndian.Uint32(b[0:4]) != 16 {
		return 0, fmt.Errorf("%w: malformed 0x8003 checksum", ErrGSSToken)
	}
	return binary.LittleEndian.Uint32(b[20:24]), nil
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
		return nil, fmt.Errorf("%w: AP-REP: %w", ErrGSSToken, err)
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
		return nil, fmt.Errorf("%w: EncAPRepPart: %w", ErrGSSToken, err)
	}
	return &enc, nil
}
