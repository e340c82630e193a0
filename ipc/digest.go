package ipc

import (
	"bytes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DIGEST-MD5 (RFC 2831) exactly as Hadoop runs it over the JDK SASL provider:
// realm "default", digest-uri "/default", charset utf-8, md5-sess, username
// and password the standard base64 of the token identifier and password.
// See hadoop-wire.md §4.

const (
	digestRealm     = "default"
	digestURI       = "/default"
	digestMaxBuf    = 65536
	maxDigestString = 4096 // RFC 2831 caps challenges at 2048 and responses at 4096 bytes
)

// QOP names as SASL spells them.
const (
	QOPAuth     = "auth"
	QOPAuthInt  = "auth-int"
	QOPAuthConf = "auth-conf"
)

// ErrDigest wraps every DIGEST-MD5 failure.
var ErrDigest = errors.New("ipc: DIGEST-MD5")

// ParseDirectives parses a DIGEST-MD5 challenge or response into its
// directives. Keys are lower-cased; values may be quoted (with backslash
// escapes) or bare tokens; spaces around separators are allowed. A repeated
// key is an error, as RFC 2831 says for every directive Hadoop uses.
func ParseDirectives(b []byte) (map[string]string, error) {
	if len(b) > maxDigestString {
		return nil, fmt.Errorf("%w: message of %d bytes exceeds %d", ErrDigest, len(b), maxDigestString)
	}
	out := make(map[string]string)
	s := string(b)
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == ',') {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return out, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' {
			i++
		}
		key := strings.ToLower(strings.TrimSpace(s[start:i]))
		if i >= len(s) || s[i] != '=' || key == "" {
			return nil, fmt.Errorf("%w: directive %q has no value", ErrDigest, s[start:i])
		}
		i++ // '='
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					val.WriteByte(s[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quote in %q", ErrDigest, key)
			}
		} else {
			start := i
			for i < len(s) && s[i] != ',' {
				i++
			}
			val.WriteString(strings.TrimSpace(s[start:i]))
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%w: directive %q repeated", ErrDigest, key)
		}
		out[key] = val.String()
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] != ',' {
			return nil, fmt.Errorf("%w: junk after directive %q", ErrDigest, key)
		}
	}
}

// quoteDirective quotes a directive value, escaping '"' and '\\' (RFC 2831
// quoted-string), so a hostile nonce cannot inject directives.
func quoteDirective(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func hexMD5(parts ...[]byte) string {
	h := md5.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// digestHA1 is the raw 16-byte H(A1) of md5-sess without authzid.
func digestHA1(username, realm, password, nonce, cnonce string) []byte {
	inner := md5.Sum([]byte(username + ":" + realm + ":" + password))
	h := md5.New()
	h.Write(inner[:])
	h.Write([]byte(":" + nonce + ":" + cnonce))
	return h.Sum(nil)
}

// digestResponseValue computes response= (client) or rspauth= (server, with
// method "").
func digestResponseValue(ha1 []byte, method, nonce, cnonce, qop string) string {
	a2 := method + ":" + digestURI
	if qop == QOPAuthInt || qop == QOPAuthConf {
		a2 += ":00000000000000000000000000000000"
	}
	return hexMD5([]byte(hex.EncodeToString(ha1) + ":" + nonce + ":00000001:" + cnonce + ":" + qop + ":" + hexMD5([]byte(a2))))
}

// DigestResponse computes the response= value for the given inputs. Exposed
// for tests that check captured exchanges.
func DigestResponse(username, password, nonce, cnonce, qop string) string {
	return digestResponseValue(digestHA1(username, digestRealm, password, nonce, cnonce), "AUTHENTICATE", nonce, cnonce, qop)
}

// DigestRspAuth computes the server's rspauth= value.
func DigestRspAuth(username, password, nonce, cnonce, qop string) string {
	return digestResponseValue(digestHA1(username, digestRealm, password, nonce, cnonce), "", nonce, cnonce, qop)
}

func newNonce(r io.Reader) (string, error) {
	var b [30]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}

// qopStrength orders QOPs from weakest to strongest.
func qopStrength(q string) int {
	switch q {
	case QOPAuth:
		return 1
	case QOPAuthInt:
		return 2
	case QOPAuthConf:
		return 3
	}
	return 0
}

// Ciphers the JDK lists in auth-conf challenges, in its order.
var digestCiphers = []string{"3des", "rc4", "des", "rc4-56", "rc4-40"}

// DigestClient is the client side of one DIGEST-MD5 exchange.
type DigestClient struct {
	username, password string
	// QOPs, if set, is the client's preference order; otherwise the strongest
	// offered QOP is chosen.
	QOPs []string
	// Cipher is the auth-conf cipher to use if offered; "" means 3des, as the
	// JDK client picks.
	Cipher string
	// Rand supplies the cnonce; nil means crypto/rand.
	Rand io.Reader

	nonce, cnonce, qop, cipher string
	ha1                        []byte
	done                       bool
}

// NewDigestClient returns a client for a token's identifier and password.
func NewDigestClient(identifier, password []byte) *DigestClient {
	return &DigestClient{
		username: base64.StdEncoding.EncodeToString(identifier),
		password: base64.StdEncoding.EncodeToString(password),
	}
}

// Respond answers the server's challenge with the digest-response.
func (c *DigestClient) Respond(challenge []byte) ([]byte, error) {
	d, err := ParseDirectives(challenge)
	if err != nil {
		return nil, err
	}
	if alg := d["algorithm"]; alg != "md5-sess" {
		return nil, fmt.Errorf("%w: algorithm %q, want md5-sess", ErrDigest, alg)
	}
	c.nonce = d["nonce"]
	if c.nonce == "" {
		return nil, fmt.Errorf("%w: challenge has no nonce", ErrDigest)
	}
	realm := digestRealm
	if r, ok := d["realm"]; ok {
		realm = r
	}
	offered := splitList(d["qop"])
	if len(offered) == 0 {
		offered = []string{QOPAuth}
	}
	c.qop = ""
	if len(c.QOPs) > 0 {
	pref:
		for _, want := range c.QOPs {
			for _, o := range offered {
				if o == want {
					c.qop = o
					break pref
				}
			}
		}
	} else {
		for _, o := range offered {
			if qopStrength(o) > qopStrength(c.qop) {
				c.qop = o
			}
		}
	}
	if c.qop == "" {
		return nil, fmt.Errorf("%w: server offers qop %q, none acceptable (set hadoop.rpc.protection to match the cluster)", ErrDigest, d["qop"])
	}
	if c.qop == QOPAuthConf {
		ciphers := splitList(d["cipher"])
		want := c.Cipher
		if want == "" {
			want = "3des"
		}
		c.cipher = ""
		for _, ci := range ciphers {
			if ci == want {
				c.cipher = ci
			}
		}
		if c.cipher == "" {
			for _, ci := range ciphers {
				if cipherKeyLen(ci) > 0 {
					c.cipher = ci
					break
				}
			}
		}
		if c.cipher == "" {
			return nil, fmt.Errorf("%w: no supported cipher in %q", ErrDigest, d["cipher"])
		}
	}
	rnd := c.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	if c.cnonce, err = newNonce(rnd); err != nil {
		return nil, err
	}
	c.ha1 = digestHA1(c.username, realm, c.password, c.nonce, c.cnonce)
	resp := digestResponseValue(c.ha1, "AUTHENTICATE", c.nonce, c.cnonce, c.qop)
	var b strings.Builder
	fmt.Fprintf(&b, `charset=utf-8,username=%s,realm=%s,nonce=%s,nc=00000001,cnonce=%s,digest-uri="%s",maxbuf=%d,response=%s,qop=%s`,
		quoteDirective(c.username), quoteDirective(realm), quoteDirective(c.nonce), quoteDirective(c.cnonce), digestURI, digestMaxBuf, resp, c.qop)
	if c.cipher != "" {
		fmt.Fprintf(&b, `,cipher="%s"`, c.cipher)
	}
	return []byte(b.String()), nil
}

// Verify checks the server's final rspauth= message.
func (c *DigestClient) Verify(final []byte) error {
	if c.ha1 == nil {
		return fmt.Errorf("%w: rspauth before challenge", ErrDigest)
	}
	d, err := ParseDirectives(final)
	if err != nil {
		return err
	}
	want := digestResponseValue(c.ha1, "", c.nonce, c.cnonce, c.qop)
	if subtle.ConstantTimeCompare([]byte(d["rspauth"]), []byte(want)) != 1 {
		return fmt.Errorf("%w: server's rspauth does not match (server does not know the token password)", ErrDigest)
	}
	c.done = true
	return nil
}

// QOP returns the negotiated quality of protection.
func (c *DigestClient) QOP() string { return c.qop }

// Layer returns the security layer for the negotiated QOP, or nil for auth.
func (c *DigestClient) Layer() (SecurityLayer, error) {
	if !c.done {
		return nil, fmt.Errorf("%w: exchange not complete", ErrDigest)
	}
	return newDigestLayer(c.ha1, c.qop, c.cipher, true)
}

// DigestServer is the server side of one DIGEST-MD5 exchange.
type DigestServer struct {
	// Lookup returns the base64 password for a base64 username, or an error
	// (typically an InvalidToken ServerError).
	Lookup func(username string) (password string, err error)
	// QOPs is the offered list in order; empty means auth.
	QOPs []string
	// Rand supplies the nonce; nil means crypto/rand.
	Rand io.Reader

	nonce, cnonce, qop, cipher, username string
	ha1                                  []byte
}

// Challenge returns the first challenge in the JDK's directive order.
func (s *DigestServer) Challenge() ([]byte, error) {
	rnd := s.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var err error
	if s.nonce, err = newNonce(rnd); err != nil {
		return nil, err
	}
	qops := s.QOPs
	if len(qops) == 0 {
		qops = []string{QOPAuth}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `realm="%s",nonce="%s",qop="%s",charset=utf-8,`, digestRealm, s.nonce, strings.Join(qops, ","))
	for _, q := range qops {
		if q == QOPAuthConf {
			fmt.Fprintf(&b, `cipher="%s",`, strings.Join(digestCiphers, ","))
			break
		}
	}
	b.WriteString("algorithm=md5-sess")
	return []byte(b.String()), nil
}

// Respond checks the client's digest-response and returns the rspauth message.
func (s *DigestServer) Respond(resp []byte) ([]byte, error) {
	d, err := ParseDirectives(resp)
	if err != nil {
		return nil, err
	}
	if s.nonce == "" || d["nonce"] != s.nonce {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrDigest)
	}
	if nc, ok := d["nc"]; ok && nc != "00000001" {
		return nil, fmt.Errorf("%w: nonce count %q", ErrDigest, nc)
	}
	if r, ok := d["realm"]; ok && r != digestRealm {
		return nil, fmt.Errorf("%w: realm %q", ErrDigest, r)
	}
	if !strings.EqualFold(d["digest-uri"], digestURI) {
		return nil, fmt.Errorf("%w: digest-uri %q", ErrDigest, d["digest-uri"])
	}
	s.qop = d["qop"]
	if s.qop == "" {
		s.qop = QOPAuth
	}
	offered := s.QOPs
	if len(offered) == 0 {
		offered = []string{QOPAuth}
	}
	ok := false
	for _, q := range offered {
		ok = ok || q == s.qop
	}
	if !ok {
		return nil, fmt.Errorf("%w: client chose qop %q, not offered", ErrDigest, s.qop)
	}
	if s.qop == QOPAuthConf {
		s.cipher = d["cipher"]
		if cipherKeyLen(s.cipher) == 0 {
			return nil, fmt.Errorf("%w: cipher %q", ErrDigest, s.cipher)
		}
	}
	s.cnonce = d["cnonce"]
	s.username = d["username"]
	if s.cnonce == "" || s.username == "" {
		return nil, fmt.Errorf("%w: response lacks cnonce or username", ErrDigest)
	}
	password, err := s.Lookup(s.username)
	if err != nil {
		return nil, err
	}
	s.ha1 = digestHA1(s.username, digestRealm, password, s.nonce, s.cnonce)
	want := digestResponseValue(s.ha1, "AUTHENTICATE", s.nonce, s.cnonce, s.qop)
	if subtle.ConstantTimeCompare([]byte(d["response"]), []byte(want)) != 1 {
		return nil, &ServerError{Class: ClassSaslException, Message: "DIGEST-MD5: digest response format violation. Mismatched response.",
			Code: 15}
	}
	return []byte("rspauth=" + digestResponseValue(s.ha1, "", s.nonce, s.cnonce, s.qop)), nil
}

// Username returns the base64 username the client authenticated as.
func (s *DigestServer) Username() string { return s.username }

// QOP returns the negotiated quality of protection.
func (s *DigestServer) QOP() string { return s.qop }

// Layer returns the server's security layer, or nil for auth.
func (s *DigestServer) Layer() (SecurityLayer, error) {
	if s.ha1 == nil {
		return nil, fmt.Errorf("%w: exchange not complete", ErrDigest)
	}
	return newDigestLayer(s.ha1, s.qop, s.cipher, false)
}

// SecurityLayer wraps and unwraps messages after a SASL exchange that
// negotiated integrity or confidentiality. Implementations are not safe for
// concurrent use; the connection serialises Wrap calls and Unwrap calls
// separately (one writer, one reader).
type SecurityLayer interface {
	Wrap(msg []byte) ([]byte, error)
	Unwrap(msg []byte) ([]byte, error)
	// MaxWrap is the largest plaintext one Wrap call may take.
	MaxWrap() int
}

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
