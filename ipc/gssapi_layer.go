package ipc

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The GSSAPI security layer both sides share once a context is
// established: RFC 4121 wrap tokens (auth-int signs, auth-conf seals).

// --- RFC 4121 wrap tokens ---------------------------------------------

// Wrap token flags (RFC 4121 §4.2.2).
const (
	wrapSentByAcceptor = 0x01
	wrapSealed         = 0x02
	wrapAcceptorSubkey = 0x04
)

const wrapHeaderLen = 16

// gssKeys are the keys RFC 3961 derives from the context key for one key
// usage: Kc signs unsealed tokens, Ke and Ki encrypt and protect sealed ones.
type gssKeys struct {
	e          etype.EType
	kc, ke, ki []byte
	hlen       int // truncated HMAC length
}

// gssEnctypeSupported reports the enctypes whose RFC 4121 tokens we produce
// and check: the AES-CTS-HMAC-SHA1-96 family (RFC 3962) every Hadoop
// cluster defaults to and the captures show.
func gssEnctypeSupported(t int32) bool {
	return t == etypeID.AES256_CTS_HMAC_SHA1_96 || t == etypeID.AES128_CTS_HMAC_SHA1_96
}

func deriveGSSKeys(key types.EncryptionKey, usage uint32) (*gssKeys, error) {
	if !gssEnctypeSupported(key.KeyType) {
		return nil, fmt.Errorf("%w: enctype %d is not supported for wrap tokens (use aes256-cts-hmac-sha1-96 or aes128-cts-hmac-sha1-96)", ErrGSSToken, key.KeyType)
	}
	e, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	if len(key.KeyValue) != e.GetKeyByteSize() {
		return nil, fmt.Errorf("%w: key of %d bytes for enctype %d", ErrGSSToken, len(key.KeyValue), key.KeyType)
	}
	k := &gssKeys{e: e, hlen: e.GetHMACBitLength() / 8}
	if k.kc, err = e.DeriveKey(key.KeyValue, common.GetUsageKc(usage)); err != nil {
		return nil, err
	}
	if k.ke, err = e.DeriveKey(key.KeyValue, common.GetUsageKe(usage)); err != nil {
		return nil, err
	}
	if k.ki, err = e.DeriveKey(key.KeyValue, common.GetUsageKi(usage)); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *gssKeys) mac(key []byte, parts ...[]byte) []byte {
	m := hmac.New(k.e.GetHashFunc(), key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)[:k.hlen]
}

// gssSender produces the wrap tokens of one direction.
type gssSender struct {
	k     *gssKeys
	flags byte // wrapSentByAcceptor / wrapAcceptorSubkey as fixed by the context
	seq   uint64
	rand  io.Reader
}

// wrap protects msg with the next sequence number. Java writes RRC 0 and
// EC 0 when sealing, so do we:
//
//	unsealed: | 05 04 flags ff | EC=hlen | RRC=0 | SND_SEQ (8) | msg | HMAC(Kc, msg | hdr{EC=0,RRC=0}) |
//	sealed:   | 05 04 flags|02 ff | EC=0 | RRC=0 | SND_SEQ (8) | AES-CTS(Ke, conf16 | msg | hdr) | HMAC(Ki, conf16 | msg | hdr) |
func (s *gssSender) wrap(msg []byte, seal bool) ([]byte, error) {
	var hdr [wrapHeaderLen]byte
	hdr[0], hdr[1], hdr[2], hdr[3] = 0x05, 0x04, s.flags, 0xff
	binary.BigEndian.PutUint64(hdr[8:], s.seq)
	var out []byte
	if !seal {
		zero := hdr
		binary.BigEndian.PutUint16(hdr[4:6], uint16(s.k.hlen))
		out = make([]byte, 0, wrapHeaderLen+len(msg)+s.k.hlen)
		out = append(append(out, hdr[:]...), msg...)
		out = append(out, s.k.mac(s.k.kc, msg, zero[:])...)
	} else {
		hdr[2] |= wrapSealed
		conf := s.k.e.GetConfounderByteSize()
		plain := make([]byte, conf, conf+len(msg)+wrapHeaderLen)
		r := s.rand
		if r == nil {
			r = rand.Reader
		}
		if _, err := io.ReadFull(r, plain); err != nil {
			return nil, fmt.Errorf("%w: confounder: %w", ErrGSSToken, err)
		}
		plain = append(append(plain, msg...), hdr[:]...)
		_, ct, err := s.k.e.EncryptData(s.k.ke, plain)
		if err != nil {
			return nil, fmt.Errorf("%w: encrypt: %w", ErrGSSToken, err)
		}
		out = make([]byte, 0, wrapHeaderLen+len(ct)+s.k.hlen)
		out = append(append(out, hdr[:]...), ct...)
		out = append(out, s.k.mac(s.k.ki, plain)...)
	}
	s.seq++
	return out, nil
}

// overhead is the number of bytes wrap adds.
func (s *gssSender) overhead(seal bool) int {
	if seal {
		return wrapHeaderLen + s.k.e.GetConfounderByteSize() + wrapHeaderLen + s.k.hlen
	}
	return wrapHeaderLen + s.k.hlen
}

// gssReceiver checks and opens the wrap tokens of one direction.
type gssReceiver struct {
	k     *gssKeys
	flags byte // expected wrapSentByAcceptor / wrapAcceptorSubkey bits
	seq   uint64
	// adopt makes the next token's (authenticated) SND_SEQ the start of
	// the sequence instead of checking it, as the JDK acceptor does for the
	// first initiator token (see krbServerSession.checkChoice).
	adopt bool
}

// unwrap verifies tok (integrity, direction, sequence) and returns a copy
// of its plaintext and whether it was sealed. A non-zero RRC (as Windows
// writes) is undone; EC filler in sealed tokens is dropped.
func (r *gssReceiver) unwrap(tok []byte) ([]byte, bool, error) {
	if len(tok) < wrapHeaderLen {
		return nil, false, fmt.Errorf("%w: wrap token of %d bytes is too short", ErrGSSToken, len(tok))
	}
	if tok[0] != 0x05 || tok[1] != 0x04 {
		return nil, false, fmt.Errorf("%w: token id %02x%02x, want 0504 (RFC 4121 wrap)", ErrGSSToken, tok[0], tok[1])
	}
	if tok[3] != 0xff {
		return nil, false, fmt.Errorf("%w: filler byte %#x, want 0xff", ErrGSSToken, tok[3])
	}
	flags := tok[2]
	if flags&wrapSentByAcceptor != r.flags&wrapSentByAcceptor {
		return nil, false, fmt.Errorf("%w: token was sent in the wrong direction (reflected?)", ErrGSSToken)
	}
	if flags&wrapAcceptorSubkey != r.flags&wrapAcceptorSubkey {
		return nil, false, fmt.Errorf("%w: AcceptorSubkey flag does not match the context", ErrGSSToken)
	}
	sealed := flags&wrapSealed != 0
	ec := int(binary.BigEndian.Uint16(tok[4:6]))
	rrc := int(binary.BigEndian.Uint16(tok[6:8]))
	seq := binary.BigEndian.Uint64(tok[8:16])
	body := tok[wrapHeaderLen:]
	if rrc > 0 && len(body) > 0 {
		rrc %= len(body)
		body = append(append(make([]byte, 0, len(body)), body[rrc:]...), body[:rrc]...)
	}
	var msg []byte
	if !sealed {
		if ec != r.k.hlen || len(body) < ec {
			return nil, false, fmt.Errorf("%w: unsealed token with EC %d, %d bytes", ErrGSSToken, ec, len(body))
		}
		var zero [wrapHeaderLen]byte
		copy(zero[:], tok[:wrapHeaderLen])
		zero[4], zero[5], zero[6], zero[7] = 0, 0, 0, 0
		msg = body[:len(body)-ec]
		if !hmac.Equal(body[len(body)-ec:], r.k.mac(r.k.kc, msg, zero[:])) {
			return nil, false, fmt.Errorf("%w: checksum does not verify (wrong key or tampered)", ErrGSSToken)
		}
	} else {
		conf := r.k.e.GetConfounderByteSize()
		if len(body) < conf+wrapHeaderLen+r.k.hlen || ec > len(body)-conf-wrapHeaderLen-r.k.hlen {
			return nil, false, fmt.Errorf("%w: sealed token of %d bytes with EC %d is too short", ErrGSSToken, len(tok), ec)
		}
		ct, mac := body[:len(body)-r.k.hlen], body[len(body)-r.k.hlen:]
		plain, err := r.k.e.DecryptData(r.k.ke, ct)
		if err != nil {
			return nil, false, fmt.Errorf("%w: decrypt: %w", ErrGSSToken, err)
		}
		if !hmac.Equal(mac, r.k.mac(r.k.ki, plain)) {
			return nil, false, fmt.Errorf("%w: integrity check failed (wrong key or tampered)", ErrGSSToken)
		}
		inner := plain[len(plain)-wrapHeaderLen:]
		var want [wrapHeaderLen]byte
		copy(want[:], tok[:wrapHeaderLen])
		want[6], want[7] = 0, 0
		if !bytes.Equal(inner, want[:]) {
			return nil, false, fmt.Errorf("%w: encrypted header copy differs from the token header", ErrGSSToken)
		}
		msg = plain[conf : len(plain)-wrapHeaderLen-ec]
	}
	if r.adopt {
		r.seq, r.adopt = seq, false
	}
	if seq != r.seq {
		return nil, false, fmt.Errorf("%w: sequence number %d, want %d (token lost, replayed or reordered)", ErrGSSToken, seq, r.seq)
	}
	r.seq++
	return bytes.Clone(msg), sealed, nil
}

// --- security layer -----------------------------------------------------

// GSSLayerConfig describes one side of an established Kerberos GSS context
// for NewGSSLayer.
type GSSLayerConfig struct {
	// Key protects the wrap tokens: the initiator's authenticator subkey,
	// the acceptor's AP-REP subkey when AcceptorSubkey, or the ticket
	// session key when neither side sent a subkey.
	Key types.EncryptionKey
	// AcceptorSubkey reports that Key came from the AP-REP (RFC 4121 flag 0x04).
	AcceptorSubkey bool
	// Initiator is true for the client side.
	Initiator bool
	// Confidential selects sealed tokens (QOP auth-conf); otherwise tokens
	// carry only a checksum (auth-int).
	Confidential bool
	// SendSeq and RecvSeq are the next SND_SEQ values of each direction.
	SendSeq, RecvSeq uint64
	// MaxWrap is the largest plaintext one Wrap takes; 0 means the peer's
	// 65536-byte buffer less the token overhead, as the JDK computes it.
	MaxWrap int
	// Rand supplies confounders; nil means crypto/rand.
	Rand io.Reader
}

// NewGSSLayer returns the RFC 4121 security layer for one side of a
// Kerberos context. Key usage 24 protects initiator tokens and 22 acceptor
// tokens, sealed or not, as the JDK does. Wrap and Unwrap keep separate
// state, so one writer and one reader may use the layer concurrently.
func NewGSSLayer(cfg GSSLayerConfig) (SecurityLayer, error) {
	ini, err := deriveGSSKeys(cfg.Key, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		return nil, err
	}
	acc, err := deriveGSSKeys(cfg.Key, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return nil, err
	}
	var base byte
	if cfg.AcceptorSubkey {
		base = wrapAcceptorSubkey
	}
	l := &gssLayer{conf: cfg.Confidential}
	if cfg.Initiator {
		l.send = &gssSender{k: ini, flags: base, seq: cfg.SendSeq, rand: cfg.Rand}
		l.recv = &gssReceiver{k: acc, flags: base | wrapSentByAcceptor, seq: cfg.RecvSeq}
	} else {
		l.send = &gssSender{k: acc, flags: base | wrapSentByAcceptor, seq: cfg.SendSeq, rand: cfg.Rand}
		l.recv = &gssReceiver{k: ini, flags: base, seq: cfg.RecvSeq}
	}
	l.maxWrap = cfg.MaxWrap
	if l.maxWrap <= 0 {
		l.maxWrap = gssMaxBuf - l.send.overhead(l.conf)
	}
	return l, nil
}

type gssLayer struct {
	send    *gssSender
	recv    *gssReceiver
	conf    bool
	maxWrap int
}

// Wrap seals (auth-conf) or signs (auth-int) msg as the next token.
func (l *gssLayer) Wrap(msg []byte) ([]byte, error) { return l.send.wrap(msg, l.conf) }

// Unwrap verifies the next token from the peer. On an auth-conf
// connection an unsealed token is refused.
func (l *gssLayer) Unwrap(tok []byte) ([]byte, error) {
	msg, sealed, err := l.recv.unwrap(tok)
	if err != nil {
		return nil, err
	}
	if l.conf && !sealed {
		return nil, fmt.Errorf("%w: unsealed wrap token on a privacy (auth-conf) connection", ErrGSSToken)
	}
	return msg, nil
}

// MaxWrap is the largest plaintext one Wrap call takes.
func (l *gssLayer) MaxWrap() int { return l.maxWrap }

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
