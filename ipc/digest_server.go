package ipc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// The server side of DIGEST-MD5: DigestServer and TokenServerMechanism,
// which checks tokens against a SecretManager.

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

// SecretManager finds token passwords on a server, the way Hadoop's
// SecretManager.retrievePassword does. It returns a ServerError of class
// ClassInvalidToken for unknown or expired tokens.
type SecretManager interface {
	// Retrieve returns the password for a token identifier and the user the
	// token authenticates (for AMRM and NM tokens: the app attempt id).
	Retrieve(identifier []byte) (password []byte, user string, err error)
}

// TokenServerMechanism offers TOKEN/DIGEST-MD5 backed by a SecretManager.
type TokenServerMechanism struct {
	Secrets SecretManager
	// QOPs offered, in order; empty means auth.
	QOPs []string
	Rand io.Reader
}

var _ ServerMechanism = (*TokenServerMechanism)(nil)

func (m *TokenServerMechanism) Method() string    { return MethodToken }
func (m *TokenServerMechanism) Mechanism() string { return MechDigestMD5 }
func (m *TokenServerMechanism) Protocol() string  { return "" }
func (m *TokenServerMechanism) ServerID() string  { return digestRealm }

func (m *TokenServerMechanism) Start() (ServerSession, []byte, error) {
	s := &digestServerSession{}
	s.d = &DigestServer{QOPs: m.QOPs, Rand: m.Rand, Lookup: func(username string) (string, error) {
		id, err := base64.StdEncoding.DecodeString(username)
		if err != nil {
			return "", &ServerError{Class: ClassInvalidToken, Message: "token identifier is not base64", Code: commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED}
		}
		pw, user, err := m.Secrets.Retrieve(id)
		if err != nil {
			return "", err
		}
		s.user = user
		return base64.StdEncoding.EncodeToString(pw), nil
	}}
	ch, err := s.d.Challenge()
	return s, ch, err
}

type digestServerSession struct {
	d    *DigestServer
	user string
}

func (s *digestServerSession) Step(tok []byte) ([]byte, bool, error) {
	r, err := s.d.Respond(tok)
	return r, err == nil, err
}
func (s *digestServerSession) User() string                  { return s.user }
func (s *digestServerSession) Layer() (SecurityLayer, error) { return s.d.Layer() }
