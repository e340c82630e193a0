package ipc_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// gssSeeds replays the Kerberos captures for fuzz seeds: the first one's
// keys, and every conversation's context and wrap tokens.
type gssSeeds struct {
	x                        *capture.GSSExchange
	initiates, apReps, wraps [][]byte
	fromServer               []bool
}

func loadGSSSeeds(f *testing.F) *gssSeeds {
	dir, err := capture.KerberosDir()
	if err != nil {
		f.Fatal(err)
	}
	kt, err := capture.LoadKeytabs(filepath.Join(dir, "keytabs"))
	if err != nil {
		f.Fatal(err)
	}
	paths, err := capture.All(dir)
	if err != nil {
		f.Fatal(err)
	}
	s := &gssSeeds{}
	for _, p := range paths {
		tr, err := capture.Load(p)
		if err != nil {
			f.Fatal(err)
		}
		c, err := capture.DecodeWithKeys(tr, nil, kt)
		if err != nil {
			f.Fatal(err)
		}
		if c.Mechanism != ipc.MechGSSAPI {
			continue
		}
		x, err := capture.ReplayGSS(c, kt)
		if err != nil {
			f.Fatal(err)
		}
		if s.x == nil || x.QOP == ipc.QOPAuthConf && s.x.QOP != ipc.QOPAuthConf {
			s.x = x
		}
		for _, fr := range c.Client {
			m := &commonpb.RpcSaslProto{}
			if fr.Req.Header.GetCallId() == ipc.CallIDSASL && ipc.Unmarshal(fr.Req.Body, m) == nil && m.GetState() == commonpb.RpcSaslProto_INITIATE {
				s.initiates = append(s.initiates, m.GetToken())
			}
		}
		for _, fr := range c.Server {
			m := &commonpb.RpcSaslProto{}
			if fr.Resp.CallID() == ipc.CallIDSASL && fr.Resp.Body != nil && ipc.Unmarshal(fr.Resp.Body, m) == nil &&
				m.GetState() == commonpb.RpcSaslProto_CHALLENGE && len(m.GetToken()) > 0 && m.GetToken()[0] == 0x60 {
				s.apReps = append(s.apReps, m.GetToken())
			}
		}
		for _, tk := range x.ClientTokens {
			s.wraps, s.fromServer = append(s.wraps, tk.Raw), append(s.fromServer, false)
		}
		for _, tk := range x.ServerTokens {
			s.wraps, s.fromServer = append(s.wraps, tk.Raw), append(s.fromServer, true)
		}
	}
	return s
}

// FuzzGSSAPRep: the client's decoder of the server's context token (GSS
// framing, AP-REP, EncAPRepPart, KRB-ERROR). Errors, never panics.
func FuzzGSSAPRep(f *testing.F) {
	s := loadGSSSeeds(f)
	for _, b := range s.apReps {
		f.Add(b)
	}
	f.Add([]byte{0x60, 0x84, 0xff, 0xff, 0xff, 0xff})
	key := s.x.SessionKey
	f.Fuzz(func(t *testing.T, b []byte) {
		id, msg, err := ipc.ParseGSSInitialToken(b)
		if err != nil {
			return
		}
		if id == [2]byte{2, 0} {
			_, _ = ipc.DecryptAPRep(msg, key)
			_, _ = ipc.DecryptAPRep(msg, types.EncryptionKey{KeyType: 17, KeyValue: make([]byte, 16)})
		}
	})
}

// FuzzGSSUnwrap: RFC 4121 wrap tokens from a peer, in either direction and
// either QOP, keyed with a captured subkey: errors, never panics; a token
// that verifies must not have been altered from a captured one.
func FuzzGSSUnwrap(f *testing.F) {
	s := loadGSSSeeds(f)
	for i, b := range s.wraps {
		f.Add(b, s.fromServer[i], i%2 == 0)
	}
	key := s.x.WrapKey()
	f.Fuzz(func(t *testing.T, b []byte, fromServer, conf bool) {
		l, err := ipc.NewGSSLayer(ipc.GSSLayerConfig{Key: key, Initiator: fromServer, Confidential: conf,
			RecvSeq: seqOf(b)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Unwrap(b); err == nil && len(b) < 28 {
			t.Fatalf("a %d-byte token verified", len(b))
		}
	})
}

// seqOf reads SND_SEQ so the fuzzer reaches the checks after the sequence.
func seqOf(b []byte) uint64 {
	if len(b) < 16 {
		return 0
	}
	var v uint64
	for _, c := range b[8:16] {
		v = v<<8 | uint64(c)
	}
	return v
}

// FuzzKerberosAccept: our acceptor's decoder of the client's AP-REQ and
// security-layer choice, with the captured service keytabs.
func FuzzKerberosAccept(f *testing.F) {
	s := loadGSSSeeds(f)
	for _, b := range s.initiates {
		f.Add(b, s.wraps[0])
	}
	dir, err := capture.KerberosDir()
	if err != nil {
		f.Fatal(err)
	}
	kt, err := keytab.Load(filepath.Join(dir, "keytabs", "rm.keytab"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, initiate, choice []byte) {
		m := &ipc.KerberosServerMechanism{Keytab: kt, Principal: "rm/localhost@EXAMPLE.COM",
			QOPs: []string{ipc.QOPAuthConf}, MaxClockSkew: 50 * 365 * 24 * time.Hour}
		sess, _, err := m.Start()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := sess.Step(initiate); err != nil {
			return
		}
		if _, _, err := sess.Step(nil); err != nil {
			return
		}
		if _, done, err := sess.Step(choice); err == nil && done {
			_, _ = sess.Layer()
		}
	})
}
