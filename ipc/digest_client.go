package ipc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// The client side of DIGEST-MD5: DigestClient and TokenMechanism, which
// authenticates with a Hadoop token.

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

// TokenMechanism authenticates with a Hadoop token over DIGEST-MD5.
type TokenMechanism struct {
	// Token is the credential (AMRMToken, NMToken, delegation token).
	Token *Token
	// QOPs is the client's QOP preference (hadoop.rpc.protection order);
	// empty takes the strongest the server offers.
	QOPs []string
	// Cipher is the auth-conf cipher to prefer ("" means 3des, as Java).
	Cipher string
	// Rand for the cnonce; nil means crypto/rand.
	Rand io.Reader
}

var _ ClientMechanism = (*TokenMechanism)(nil)

func (m *TokenMechanism) Method() string    { return MethodToken }
func (m *TokenMechanism) Mechanism() string { return MechDigestMD5 }

func (m *TokenMechanism) Start(offer SaslOffer) (ClientSession, bool, error) {
	if m.Token == nil {
		return nil, false, nil
	}
	c := NewDigestClient(m.Token.Identifier, m.Token.Password)
	c.QOPs, c.Cipher, c.Rand = m.QOPs, m.Cipher, m.Rand
	return &digestClientSession{c: c}, true, nil
}

type digestClientSession struct {
	c       *DigestClient
	started bool
}

func (s *digestClientSession) Step(challenge []byte) ([]byte, error) {
	if s.started {
		return nil, fmt.Errorf("%w: unexpected second DIGEST-MD5 challenge", ErrSASL)
	}
	if len(challenge) == 0 {
		return nil, fmt.Errorf("%w: server offered TOKEN without a DIGEST-MD5 challenge", ErrSASL)
	}
	s.started = true
	return s.c.Respond(challenge)
}

func (s *digestClientSession) Complete(final []byte) error { return s.c.Verify(final) }

func (s *digestClientSession) Layer() (SecurityLayer, error) { return s.c.Layer() }
