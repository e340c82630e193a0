package ipc_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"google.golang.org/protobuf/proto"
)

// captures loads every Hadoop 3.3.6 capture, to seed a fuzz target.
func captures(f *testing.F) []*capture.Transcript {
	dir, err := capture.Dir()
	if err != nil {
		f.Fatal(err)
	}
	paths, err := capture.All(dir)
	if err != nil {
		f.Fatal(err)
	}
	var out []*capture.Transcript
	for _, p := range paths {
		tr, err := capture.Load(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, tr)
	}
	return out
}

// seedFrames adds every captured frame payload (both directions) as a seed.
func seedFrames(f *testing.F, client bool) {
	for _, tr := range captures(f) {
		c, err := capture.Decode(tr, nil)
		if err != nil {
			f.Fatal(err)
		}
		fs := c.Server
		if client {
			fs = c.Client
		}
		for _, fr := range fs {
			f.Add(fr.Raw)
		}
	}
}

// FuzzParseRequest: the server's decoder of client frames. No panic, and a
// decoded request re-encodes to bytes that decode to the same request.
func FuzzParseRequest(f *testing.F) {
	seedFrames(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ipc.ParseRequest(b)
		if err != nil {
			return
		}
		msgs := []proto.Message{r.Header}
		if r.Call != nil {
			msgs = append(msgs, r.Call)
		}
		enc, err := ipc.AppendFrame(nil, msgs...)
		if err != nil {
			return // e.g. a required field missing: not encodable
		}
		if r.Body != nil {
			enc = append(enc[4:], appendDelim(nil, r.Body)...)
		} else {
			enc = enc[4:]
		}
		r2, err := ipc.ParseRequest(enc)
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		if !proto.Equal(r.Header, r2.Header) || !bytes.Equal(r.Body, r2.Body) {
			t.Fatal("request changed in a round trip")
		}
	})
}

// FuzzParseResponse: the client's decoder of server frames, including the
// RemoteException header fields and SASL messages.
func FuzzParseResponse(f *testing.F) {
	seedFrames(f, false)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ipc.ParseResponse(b)
		if err != nil {
			return
		}
		if r.Header.GetStatus() == commonpb.RpcResponseHeaderProto_SUCCESS && r.CallID() == ipc.CallIDSASL {
			var m commonpb.RpcSaslProto
			_ = ipc.Unmarshal(r.Body, &m)
		}
	})
}

// FuzzReadFrame: lengths from the wire never allocate past the limit.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 3, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1 << 16
		got, err := ipc.ReadFrame(bytes.NewReader(b), limit)
		if err == nil && len(got) > limit {
			t.Fatalf("frame of %d bytes passed a %d limit", len(got), limit)
		}
		if len(b) >= 4 && binary.BigEndian.Uint32(b) > limit && err == nil {
			t.Fatal("oversized length accepted")
		}
	})
}

// FuzzParseDirectives: DIGEST-MD5 challenges and responses.
func FuzzParseDirectives(f *testing.F) {
	f.Add([]byte(`realm="default",nonce="Yxf26MaU/CReIRmUZcv3nxer7e4B8SrytWTzX7Fp",qop="auth",charset=utf-8,algorithm=md5-sess`))
	f.Add([]byte(`charset=utf-8,username="Cg0KCQgCEMXg8YmgNBABEMuWrYsB",realm="default",nonce="x",nc=00000001,cnonce="y",digest-uri="/default",maxbuf=65536,response=6d473c4421df87bc508e345314ac920f,qop=auth`))
	f.Add([]byte(`a="\"q\\",b=c`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = ipc.ParseDirectives(b)
		c := ipc.NewDigestClient([]byte("id"), []byte("pw"))
		if resp, err := c.Respond(b); err == nil {
			if _, err := ipc.ParseDirectives(resp); err != nil {
				t.Fatalf("our own response does not parse: %v", err)
			}
		}
	})
}

// FuzzDigestServer: a server facing an arbitrary digest-response.
func FuzzDigestServer(f *testing.F) {
	f.Add([]byte(`username="aWQ=",nonce="n",cnonce="c",digest-uri="/default",response=00,qop=auth`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &ipc.DigestServer{Lookup: func(string) (string, error) { return "cHc=", nil }, QOPs: []string{ipc.QOPAuthConf, ipc.QOPAuthInt, ipc.QOPAuth}}
		if _, err := s.Challenge(); err != nil {
			t.Fatal(err)
		}
		_, _ = s.Respond(b)
	})
}

// FuzzCredentials: token storage files (formats 0 and 1). A file that
// parses re-encodes to a file that parses to the same tokens.
func FuzzCredentials(f *testing.F) {
	dir, err := capture.Dir()
	if err != nil {
		f.Fatal(err)
	}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".bin" && bytes.Contains([]byte(filepath.Base(p)), []byte("token")) {
			b, _ := os.ReadFile(p)
			f.Add(b)
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ipc.ParseCredentials(b)
		if err != nil {
			return
		}
		c2, err := ipc.ParseCredentials(c.Marshal())
		if err != nil {
			t.Fatalf("re-encoded credentials do not parse: %v", err)
		}
		if !bytes.Equal(c.Marshal(), c2.Marshal()) {
			t.Fatal("credentials changed in a round trip")
		}
		for _, tok := range c.Tokens() {
			if tok.Kind == ipc.KindHDFSDelegation {
				_, _ = ipc.ParseDelegationTokenIdentifier(tok.Identifier)
			}
			_, _ = ipc.DecodeTokenURLString(tok.EncodeURLString())
		}
	})
}

// FuzzTokenURLString: tokens passed as strings by CLIs and web services.
func FuzzTokenURLString(f *testing.F) {
	f.Add((&ipc.Token{Identifier: []byte("id"), Password: []byte("pw"), Kind: ipc.KindHDFSDelegation, Service: "127.0.0.1:9000"}).EncodeURLString())
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ipc.DecodeTokenURLString(s)
		if err != nil {
			return
		}
		back, err := ipc.DecodeTokenURLString(tok.EncodeURLString())
		if err != nil || !bytes.Equal(back.AppendWritable(nil), tok.AppendWritable(nil)) {
			t.Fatalf("token changed in a round trip: %v", err)
		}
	})
}

// FuzzDelegationTokenIdentifier: HDFS delegation token identifiers.
func FuzzDelegationTokenIdentifier(f *testing.F) {
	f.Add((&ipc.DelegationTokenIdentifier{Owner: "alice@EXAMPLE.COM", Renewer: "rm", IssueDate: 1795317294376, MaxDate: 1795922094376, SequenceNumber: 1, MasterKeyID: 2}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ipc.ParseDelegationTokenIdentifier(b)
		if err != nil {
			return
		}
		d2, err := ipc.ParseDelegationTokenIdentifier(d.Marshal())
		if err != nil || *d2 != *d {
			t.Fatalf("identifier changed in a round trip: %v", err)
		}
	})
}
