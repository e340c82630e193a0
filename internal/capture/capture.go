// Package capture reads the real Hadoop wire captures in
// shared/fixtures/hadoop-3.3.6 for tests: the `>`/`<` hex transcripts, and a
// walker that turns a transcript into decoded IPC frames, unwrapping
// DIGEST-MD5 protected traffic when it knows the token password. It is test
// support: production code never imports it.
package capture

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Dir returns the fixtures directory: $SPINDLE_FIXTURES, or
// ../shared/fixtures/hadoop-3.3.6 next to the module root.
func Dir() (string, error) {
	if d := os.Getenv("SPINDLE_FIXTURES"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			f := filepath.Join(filepath.Dir(d), "shared", "fixtures", "hadoop-3.3.6")
			if _, err := os.Stat(f); err != nil {
				return "", fmt.Errorf("capture: fixtures not found at %s (clone next to shared/ or set SPINDLE_FIXTURES)", f)
			}
			return f, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("capture: go.mod not found above the working directory")
		}
	}
}

// Transcript is one TCP connection: each direction reassembled.
type Transcript struct {
	Name           string
	Client, Server []byte
}

// Load reads a `>`/`<` hex transcript.
func Load(path string) (*Transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &Transcript{Name: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if len(line) < 2 || (line[0] != '>' && line[0] != '<') {
			return nil, fmt.Errorf("%s:%d: not a transcript line", path, n)
		}
		b, err := hex.DecodeString(strings.TrimSpace(line[1:]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if line[0] == '>' {
			t.Client = append(t.Client, b...)
		} else {
			t.Server = append(t.Server, b...)
		}
	}
	return t, sc.Err()
}

// All returns every RPC transcript under the fixtures directory (not the
// KDC exchanges, decoded dumps or container listings).
func All(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		b := filepath.Base(p)
		if d.IsDir() || !strings.HasSuffix(b, ".txt") || strings.HasPrefix(b, "kdc-") || b == "decoded.txt" || strings.HasPrefix(b, "worker-container") {
			return nil
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// Frame is one decoded frame. Raw is its payload without the 4-byte length.
type Frame struct {
	Raw  []byte
	Req  *ipc.Request  // client frames
	Resp *ipc.Response // server frames
	// Inner reports a frame that travelled inside SASL WRAP tokens.
	Inner bool
}

// Conversation is a transcript decoded into frames.
type Conversation struct {
	Preamble ipc.Preamble
	// Client and Server are the outer frames in wire order.
	Client, Server []Frame
	// InnerClient and InnerServer are the frames carried inside WRAP
	// messages (empty when QOP is auth).
	InnerClient, InnerServer []Frame
	// Method is the negotiated auth method; Mechanism the SASL mechanism.
	Method, Mechanism string
	// QOP is the DIGEST-MD5 QOP when TOKEN was used.
	QOP string
	// Wrapped reports WRAP traffic; Opaque that it could not be unwrapped
	// (GSSAPI, which the Kerberos code decodes).
	Wrapped, Opaque bool
	// Challenge and Response are the DIGEST-MD5 exchange, when TOKEN was used.
	Challenge, Response []byte
}

// Passwords finds a token password by identifier; nil means unknown.
type Passwords func(identifier []byte) []byte

// Decode parses a transcript. pw is consulted for DIGEST-MD5 with QOP
// auth-int or auth-conf; without the password the WRAP payloads stay opaque.
func Decode(t *Transcript, pw Passwords) (*Conversation, error) {
	c := &Conversation{}
	r := bytes.NewReader(t.Client)
	var err error
	if c.Preamble, err = ipc.ReadPreamble(r); err != nil {
		return nil, fmt.Errorf("client preamble: %w", err)
	}
	if c.Client, err = frames(r, true); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if c.Server, err = frames(bytes.NewReader(t.Server), false); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var clientWraps, serverWraps [][]byte
	for _, f := range c.Client {
		if f.Req.Header.GetCallId() != ipc.CallIDSASL {
			continue
		}
		m := &commonpb.RpcSaslProto{}
		if err := ipc.Unmarshal(f.Req.Body, m); err != nil {
			return nil, err
		}
		switch m.GetState() {
		case commonpb.RpcSaslProto_INITIATE:
			if len(m.GetAuths()) == 1 {
				c.Method, c.Mechanism = m.GetAuths()[0].GetMethod(), m.GetAuths()[0].GetMechanism()
				if c.Mechanism == ipc.MechDigestMD5 {
					c.Response = m.GetToken()
				}
			}
		case commonpb.RpcSaslProto_WRAP:
			clientWraps = append(clientWraps, m.GetToken())
		}
	}
	for _, f := range c.Server {
		if f.Resp.CallID() != ipc.CallIDSASL || f.Resp.Body == nil {
			continue
		}
		m := &commonpb.RpcSaslProto{}
		if err := ipc.Unmarshal(f.Resp.Body, m); err != nil {
			return nil, err
		}
		switch m.GetState() {
		case commonpb.RpcSaslProto_NEGOTIATE:
			for _, a := range m.GetAuths() {
				if a.GetMechanism() == ipc.MechDigestMD5 {
					c.Challenge = a.GetChallenge()
				}
			}
		case commonpb.RpcSaslProto_WRAP:
			serverWraps = append(serverWraps, m.GetToken())
		}
	}
	c.Wrapped = len(clientWraps)+len(serverWraps) > 0
	if !c.Wrapped {
		return c, nil
	}
	if c.Mechanism != ipc.MechDigestMD5 || pw == nil {
		c.Opaque = true
		return c, nil
	}
	d, err := ipc.ParseDirectives(c.Response)
	if err != nil {
		return nil, err
	}
	id, err := base64.StdEncoding.DecodeString(d["username"])
	if err != nil {
		return nil, err
	}
	password := pw(id)
	if password == nil {
		c.Opaque = true
		return c, nil
	}
	cl, sv, qop, err := ipc.ReplayDigest(password, c.Challenge, c.Response)
	if err != nil {
		return nil, err
	}
	c.QOP = qop
	var plain []byte
	for _, w := range clientWraps {
		p, err := sv.Unwrap(w)
		if err != nil {
			return nil, fmt.Errorf("unwrap client message: %w", err)
		}
		plain = append(plain, p...)
	}
	if c.InnerClient, err = frames(bytes.NewReader(plain), true); err != nil {
		return nil, fmt.Errorf("inner client: %w", err)
	}
	plain = plain[:0]
	for _, w := range serverWraps {
		p, err := cl.Unwrap(w)
		if err != nil {
			return nil, fmt.Errorf("unwrap server message: %w", err)
		}
		plain = append(plain, p...)
	}
	if c.InnerServer, err = frames(bytes.NewReader(plain), false); err != nil {
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

func frames(r io.Reader, client bool) ([]Frame, error) {
	var out []Frame
	for {
		b, err := ipc.ReadFrame(r, 0)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		f := Frame{Raw: b}
		if client {
			f.Req, err = ipc.ParseRequest(b)
		} else {
			f.Resp, err = ipc.ParseResponse(b)
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

// Calls returns the frames that carry method calls and their replies, the
// inner ones when the traffic was wrapped, with each reply matched by call id.
func (c *Conversation) Calls() []Call {
	cf, sf := c.Client, c.Server
	if len(c.InnerClient) > 0 {
		cf, sf = c.InnerClient, c.InnerServer
	}
	replies := map[int32][]Frame{}
	for _, f := range sf {
		if id := f.Resp.CallID(); id >= 0 {
			replies[id] = append(replies[id], f)
		}
	}
	var out []Call
	for _, f := range cf {
		if f.Req.Call == nil {
			continue
		}
		call := Call{Request: f}
		id := f.Req.Header.GetCallId()
		if rs := replies[id]; len(rs) > 0 {
			call.Reply = &rs[0]
			replies[id] = rs[1:]
		}
		out = append(out, call)
	}
	return out
}

// Call is one request and its reply (nil if the connection ended first).
type Call struct {
	Request Frame
	Reply   *Frame
}

// Method is the call's method name.
func (c Call) Method() string { return c.Request.Req.Call.GetMethodName() }
