package ipc

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// The DIGEST-MD5 security layer (RFC 2831 §2.3, §2.4) both sides share:
// integrity (auth-int) and confidentiality (auth-conf: 3des, des, rc4).

func cipherKeyLen(c string) int {
	switch c {
	case "3des", "des", "rc4":
		return 16
	case "rc4-56":
		return 7
	case "rc4-40":
		return 5
	}
	return 0
}

const (
	magicKic = "Digest session key to client-to-server signing key magic constant"
	magicKis = "Digest session key to server-to-client signing key magic constant"
	magicKcc = "Digest H(A1) to client-to-server sealing key magic constant"
	magicKcs = "Digest H(A1) to server-to-client sealing key magic constant"
)

func md5Concat(a []byte, s string) []byte {
	h := md5.New()
	h.Write(a)
	h.Write([]byte(s))
	return h.Sum(nil)
}

type digestLayer struct {
	conf           bool
	cipherName     string
	kiSend, kiRecv []byte
	seqSend        uint32
	seqRecv        uint32
	// confidentiality: exactly one of the stream or block pairs is set.
	streamSend, streamRecv *rc4.Cipher
	blockSend, blockRecv   cipher.BlockMode
}

func newDigestLayer(ha1 []byte, qop, cipherName string, client bool) (SecurityLayer, error) {
	if qop == QOPAuth || qop == "" {
		return nil, nil
	}
	kic, kis := md5Concat(ha1, magicKic), md5Concat(ha1, magicKis)
	l := &digestLayer{}
	if client {
		l.kiSend, l.kiRecv = kic, kis
	} else {
		l.kiSend, l.kiRecv = kis, kic
	}
	if qop != QOPAuthConf {
		return l, nil
	}
	l.conf = true
	l.cipherName = cipherName
	n := cipherKeyLen(cipherName)
	if n == 0 {
		return nil, fmt.Errorf("%w: cipher %q", ErrDigest, cipherName)
	}
	kcc, kcs := md5Concat(ha1[:n], magicKcc), md5Concat(ha1[:n], magicKcs)
	sendKey, recvKey := kcc, kcs
	if !client {
		sendKey, recvKey = kcs, kcc
	}
	switch cipherName {
	case "rc4", "rc4-56", "rc4-40":
		var err error
		if l.streamSend, err = rc4.NewCipher(sendKey); err != nil {
			return nil, err
		}
		if l.streamRecv, err = rc4.NewCipher(recvKey); err != nil {
			return nil, err
		}
	case "des", "3des":
		mk := func(k []byte) (cipher.Block, error) {
			if cipherName == "des" {
				return des.NewCipher(desExpand(k[0:7]))
			}
			k1, k2 := desExpand(k[0:7]), desExpand(k[7:14])
			return des.NewTripleDESCipher(append(append(append([]byte{}, k1...), k2...), k1...))
		}
		sb, err := mk(sendKey)
		if err != nil {
			return nil, err
		}
		rb, err := mk(recvKey)
		if err != nil {
			return nil, err
		}
		// CBC state carries over from message to message in each direction;
		// Go's BlockMode keeps its IV across CryptBlocks calls.
		l.blockSend = cipher.NewCBCEncrypter(sb, sendKey[8:16])
		l.blockRecv = cipher.NewCBCDecrypter(rb, recvKey[8:16])
	}
	return l, nil
}

// desExpand spreads 56 key bits over 8 bytes with odd parity in the low bit.
func desExpand(k []byte) []byte {
	v := uint64(0)
	for _, b := range k[:7] {
		v = v<<8 | uint64(b)
	}
	out := make([]byte, 8)
	for i := 0; i < 8; i++ {
		b := byte(v>>(56-7*(i+1))) & 0x7f
		b <<= 1
		if bitsOdd(b) {
			// already odd: parity bit 0
		} else {
			b |= 1
		}
		out[i] = b
	}
	return out
}

func bitsOdd(b byte) bool {
	n := 0
	for ; b != 0; b &= b - 1 {
		n++
	}
	return n%2 == 1
}

func digestMAC(k []byte, seq uint32, msg []byte) []byte {
	m := hmac.New(md5.New, k)
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	m.Write(s[:])
	m.Write(msg)
	return m.Sum(nil)[:10]
}

func (l *digestLayer) MaxWrap() int {
	if l.conf {
		return digestMaxBuf - 26
	}
	return digestMaxBuf - 16
}

// Wrap protects msg:
//
//	auth-int:  | msg | HMAC-MD5(Ki, seq|msg)[0:10] | 00 01 | seq u32 BE |
//	auth-conf: | Encrypt(msg | pad | mac10)       | 00 01 | seq u32 BE |
func (l *digestLayer) Wrap(msg []byte) ([]byte, error) {
	mac := digestMAC(l.kiSend, l.seqSend, msg)
	var out []byte
	if !l.conf {
		out = make([]byte, 0, len(msg)+16)
		out = append(append(out, msg...), mac...)
	} else {
		pad := 0
		if l.blockSend != nil {
			pad = 8 - (len(msg)+10)%8
		}
		plain := make([]byte, 0, len(msg)+pad+10+6)
		plain = append(plain, msg...)
		for i := 0; i < pad; i++ {
			plain = append(plain, byte(pad))
		}
		plain = append(plain, mac...)
		if l.blockSend != nil {
			l.blockSend.CryptBlocks(plain, plain)
		} else {
			l.streamSend.XORKeyStream(plain, plain)
		}
		out = plain
	}
	out = append(out, 0, 1)
	out = binary.BigEndian.AppendUint32(out, l.seqSend)
	l.seqSend++
	return out, nil
}

// Unwrap verifies and strips the protection Wrap added on the other side.
func (l *digestLayer) Unwrap(b []byte) ([]byte, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("%w: wrapped message of %d bytes is too short", ErrDigest, len(b))
	}
	tail := b[len(b)-6:]
	if tail[0] != 0 || tail[1] != 1 {
		return nil, fmt.Errorf("%w: wrapped message type %x, want 0001", ErrDigest, tail[:2])
	}
	seq := binary.BigEndian.Uint32(tail[2:])
	if seq != l.seqRecv {
		return nil, fmt.Errorf("%w: sequence number %d, want %d", ErrDigest, seq, l.seqRecv)
	}
	body := b[:len(b)-6]
	var msg, mac []byte
	if !l.conf {
		msg, mac = body[:len(body)-10], body[len(body)-10:]
	} else {
		plain := make([]byte, len(body))
		if l.blockRecv != nil {
			if len(plain)%8 != 0 {
				return nil, fmt.Errorf("%w: ciphertext of %d bytes is not a whole number of blocks", ErrDigest, len(plain))
			}
			l.blockRecv.CryptBlocks(plain, body)
		} else {
			l.streamRecv.XORKeyStream(plain, body)
		}
		msg, mac = plain[:len(plain)-10], plain[len(plain)-10:]
		if l.blockRecv != nil {
			if len(msg) == 0 {
				return nil, fmt.Errorf("%w: no padding", ErrDigest)
			}
			pad := int(msg[len(msg)-1])
			if pad < 1 || pad > 8 || pad > len(msg) {
				return nil, fmt.Errorf("%w: bad padding", ErrDigest)
			}
			msg = msg[:len(msg)-pad]
		}
	}
	if !hmac.Equal(mac, digestMAC(l.kiRecv, seq, msg)) {
		return nil, fmt.Errorf("%w: message integrity check failed", ErrDigest)
	}
	l.seqRecv++
	return bytes.Clone(msg), nil
}

// ReplayDigest rebuilds both security layers of an observed DIGEST-MD5
// exchange from the server's challenge, the client's response and the token
// password. It is for decoding captured or mirrored traffic (tests, debug
// tools); client unwraps what the server sent and server unwraps what the
// client sent. It checks the response= value first, so a wrong password is
// reported rather than producing garbage.
func ReplayDigest(password []byte, challenge, response []byte) (client, server SecurityLayer, qop string, err error) {
	ch, err := ParseDirectives(challenge)
	if err != nil {
		return nil, nil, "", err
	}
	rs, err := ParseDirectives(response)
	if err != nil {
		return nil, nil, "", err
	}
	if rs["nonce"] != ch["nonce"] {
		return nil, nil, "", fmt.Errorf("%w: response nonce does not match the challenge", ErrDigest)
	}
	pw := base64.StdEncoding.EncodeToString(password)
	qop = rs["qop"]
	if qop == "" {
		qop = QOPAuth
	}
	realm := rs["realm"]
	if realm == "" {
		realm = digestRealm
	}
	ha1 := digestHA1(rs["username"], realm, pw, rs["nonce"], rs["cnonce"])
	if got := digestResponseValue(ha1, "AUTHENTICATE", rs["nonce"], rs["cnonce"], qop); got != rs["response"] {
		return nil, nil, "", fmt.Errorf("%w: password does not reproduce the captured response", ErrDigest)
	}
	if client, err = newDigestLayer(ha1, qop, rs["cipher"], true); err != nil {
		return nil, nil, "", err
	}
	if server, err = newDigestLayer(ha1, qop, rs["cipher"], false); err != nil {
		return nil, nil, "", err
	}
	return client, server, qop, nil
}
