package ipc

import (
	"crypto/md5"
	"encoding/base64"
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
