package ipc_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

type gssCapture struct {
	rel  string
	conv *capture.Conversation
	x    *capture.GSSExchange
}

// gssCaptures replays every GSSAPI conversation of the Kerberos fixtures.
func gssCaptures(t *testing.T) ([]gssCapture, string) {
	t.Helper()
	dir, err := capture.KerberosDir()
	require.NoError(t, err)
	kt, err := capture.LoadKeytabs(filepath.Join(dir, "keytabs"))
	require.NoError(t, err)
	paths, err := capture.All(dir)
	require.NoError(t, err)
	sort.Strings(paths)
	var out []gssCapture
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		tr, err := capture.Load(p)
		require.NoError(t, err)
		c, err := capture.DecodeWithKeys(tr, nil, kt)
		require.NoError(t, err, rel)
		if c.Mechanism != ipc.MechGSSAPI {
			continue
		}
		x, err := capture.ReplayGSS(c, kt)
		require.NoError(t, err, rel)
		out = append(out, gssCapture{rel: rel, conv: c, x: x})
	}
	require.Len(t, out, 28)
	return out, dir
}

// confounders feeds the captured tokens' confounders back to Wrap, in order.
func confounders(toks []capture.GSSToken) *bytes.Reader {
	var b []byte
	for _, tk := range toks {
		b = append(b, tk.Confounder...)
	}
	return bytes.NewReader(b)
}

// TestGSSLayerAgainstCaptures proves our RFC 4121 layer is byte-compatible
// with the JDK: it unwraps every captured token in both directions (the
// security-layer messages and all WRAP payloads), and re-wrapping each
// captured plaintext with the same key, sequence number and (for sealed
// tokens) the same confounder reproduces Java's bytes exactly.
func TestGSSLayerAgainstCaptures(t *testing.T) {
	caps, _ := gssCaptures(t)
	var unwrapped, rewrapped int
	for _, gc := range caps {
		x := gc.x
		conf := x.QOP == ipc.QOPAuthConf
		for _, dir := range []struct {
			toks        []capture.GSSToken
			senderIsIni bool
			sendSeq     uint64
		}{
			{x.ClientTokens, true, x.ClientSeq},
			{x.ServerTokens, false, x.ServerSeq},
		} {
			// Security-layer message: always unsealed.
			layerMsg := dir.toks[0]
			require.True(t, layerMsg.Layer)
			rx, err := ipc.NewGSSLayer(ipc.GSSLayerConfig{Key: x.WrapKey(), Initiator: !dir.senderIsIni, RecvSeq: dir.sendSeq})
			require.NoError(t, err)
			got, err := rx.Unwrap(layerMsg.Raw)
			require.NoError(t, err, gc.rel)
			require.Equal(t, layerMsg.Plain, got, gc.rel)
			tx, err := ipc.NewGSSLayer(ipc.GSSLayerConfig{Key: x.WrapKey(), Initiator: dir.senderIsIni, SendSeq: dir.sendSeq})
			require.NoError(t, err)
			again, err := tx.Wrap(layerMsg.Plain)
			require.NoError(t, err)
			require.Equal(t, layerMsg.Raw, again, "%s: security-layer token differs from Java's", gc.rel)
			unwrapped++
			rewrapped++

			// Data tokens, continuing the sequence.
			data := dir.toks[1:]
			rx, err = ipc.NewGSSLayer(ipc.GSSLayerConfig{Key: x.WrapKey(), Initiator: !dir.senderIsIni, Confidential: conf, RecvSeq: dir.sendSeq + 1})
			require.NoError(t, err)
			tx, err = ipc.NewGSSLayer(ipc.GSSLayerConfig{Key: x.WrapKey(), Initiator: dir.senderIsIni, Confidential: conf, SendSeq: dir.sendSeq + 1, Rand: confounders(data)})
			require.NoError(t, err)
			for i, tk := range data {
				got, err := rx.Unwrap(tk.Raw)
				require.NoError(t, err, "%s token %d", gc.rel, i)
				require.Equal(t, tk.Plain, got, "%s token %d", gc.rel, i)
				again, err := tx.Wrap(tk.Plain)
				require.NoError(t, err)
				require.Equal(t, tk.Raw, again, "%s token %d: our wrap differs from Java's", gc.rel, i)
				unwrapped++
				rewrapped++
			}
			// A replayed token is refused: the sequence moved on.
			if len(data) > 0 {
				_, err := rx.Unwrap(data[0].Raw)
				require.ErrorIs(t, err, ipc.ErrGSSToken)
				require.ErrorContains(t, err, "sequence number")
			}
		}
	}
	t.Logf("%d conversations: %d tokens unwrapped by ipc's layer, %d re-wrapped byte for byte", len(caps), unwrapped, rewrapped)
}

// TestGSSInnerFramesParse runs the unwrapped WRAP payloads of the
// integrity and privacy captures through ipc.ParseRequest/ParseResponse via
// the same unwrap stream the connection uses.
func TestGSSInnerFramesParse(t *testing.T) {
	caps, _ := gssCaptures(t)
	n, errs := 0, 0
	for _, gc := range caps {
		if gc.x.QOP == ipc.QOPAuth {
			continue
		}
		for _, f := range gc.conv.InnerClient {
			r, err := ipc.ParseRequest(f.Raw)
			require.NoError(t, err, gc.rel)
			require.NotNil(t, r.Header)
			n++
		}
		for _, f := range gc.conv.InnerServer {
			r, err := ipc.ParseResponse(f.Raw)
			require.NoError(t, err, gc.rel)
			if r.Header.GetStatus() != commonpb.RpcResponseHeaderProto_SUCCESS {
				// distshell's getResourceProfiles on a cluster without profiles.
				require.Equal(t, "org.apache.hadoop.yarn.exceptions.YARNFeatureNotEnabledException", r.Header.GetExceptionClassName(), gc.rel)
				errs++
			}
			n++
		}
		require.Equal(t, ipc.CallIDContext, gc.conv.InnerClient[0].Req.Header.GetCallId())
	}
	require.Positive(t, n)
	require.Equal(t, 2, errs) // distshell-secure-{integrity,privacy}/client-rm.txt
}

// TestKerberosServerAcceptsJavaClient feeds each captured Java initiator's
// tokens to our acceptor: it must accept the AP-REQ with the service keytab,
// verify Java's security-layer choice and unwrap every WRAP Java sent.
func TestKerberosServerAcceptsJavaClient(t *testing.T) {
	caps, dir := gssCaptures(t)
	accepted, unwrapped := 0, 0
	for _, gc := range caps {
		svc := "rm"
		if gc.x.Service == "nn/localhost@EXAMPLE.COM" {
			svc = "nn"
		}
		kt, err := keytab.Load(filepath.Join(dir, "keytabs", svc+".keytab"))
		require.NoError(t, err)
		var seq [4]byte
		binary.BigEndian.PutUint32(seq[:], uint32(gc.x.ServerSeq))
		m := &ipc.KerberosServerMechanism{
			Keytab: kt, Principal: gc.x.Service, QOPs: []string{gc.x.QOP},
			MaxClockSkew: 50 * 365 * 24 * time.Hour,                            // the captured tickets have long expired
			Rand:         io.MultiReader(bytes.NewReader(seq[:]), rand.Reader), // Java's seq-number
		}
		require.Equal(t, svc, m.Protocol())
		require.Equal(t, "localhost", m.ServerID())
		sess, ch, err := m.Start()
		require.NoError(t, err)
		require.Nil(t, ch)

		var initiate, javaRep []byte
		for _, f := range gc.conv.Client {
			if f.Req.Header.GetCallId() != ipc.CallIDSASL {
				continue
			}
			msg := &commonpb.RpcSaslProto{}
			require.NoError(t, ipc.Unmarshal(f.Req.Body, msg))
			if msg.GetState() == commonpb.RpcSaslProto_INITIATE {
				initiate = msg.GetToken()
			}
		}
		for _, f := range gc.conv.Server {
			msg := &commonpb.RpcSaslProto{}
			if f.Resp.CallID() == ipc.CallIDSASL && f.Resp.Body != nil {
				require.NoError(t, ipc.Unmarshal(f.Resp.Body, msg))
				if msg.GetState() == commonpb.RpcSaslProto_CHALLENGE && javaRep == nil {
					javaRep = msg.GetToken()
				}
			}
		}
		rep, done, err := sess.Step(initiate)
		require.NoError(t, err, gc.rel)
		require.False(t, done)
		// Our AP-REP is Java's but for the random confounder: same framing
		// and lengths, and the same EncAPRepPart plaintext.
		require.Len(t, rep, len(javaRep), gc.rel)
		require.Equal(t, javaRep[:len(javaRep)-66], rep[:len(rep)-66], gc.rel)
		ours, java := apRepPlain(t, rep, gc.x.SessionKey), apRepPlain(t, javaRep, gc.x.SessionKey)
		require.Equal(t, java, ours, gc.rel)
		offer, done, err := sess.Step([]byte{})
		require.NoError(t, err)
		require.False(t, done)
		require.Len(t, offer, 32)
		final, done, err := sess.Step(gc.x.ClientTokens[0].Raw)
		require.NoError(t, err, gc.rel)
		require.True(t, done)
		require.Nil(t, final)
		require.Equal(t, gc.x.Client, sess.User())
		accepted++
		layer, err := sess.Layer()
		require.NoError(t, err)
		if gc.x.QOP == ipc.QOPAuth {
			require.Nil(t, layer)
			continue
		}
		require.NotNil(t, layer)
		for i, tk := range gc.x.ClientTokens[1:] {
			got, err := layer.Unwrap(tk.Raw)
			require.NoError(t, err, "%s token %d", gc.rel, i)
			require.Equal(t, tk.Plain, got)
			unwrapped++
		}

		// The same AP-REQ again is a replay.
		sess2, _, err := m.Start()
		require.NoError(t, err)
		_, _, err = sess2.Step(initiate)
		require.ErrorIs(t, err, ipc.ErrKerberos)
		require.ErrorContains(t, err, "replayed authenticator")
	}
	t.Logf("accepted %d Java AP-REQs; unwrapped %d Java client WRAP tokens", accepted, unwrapped)
}

func apRepPlain(t *testing.T, tok []byte, key types.EncryptionKey) []byte {
	t.Helper()
	id, msg, err := ipc.ParseGSSInitialToken(tok)
	require.NoError(t, err)
	require.Equal(t, [2]byte{2, 0}, id)
	var rep messages.APRep
	require.NoError(t, rep.Unmarshal(msg))
	require.Zero(t, rep.EncPart.KVNO)
	b, err := crypto.DecryptEncPart(rep.EncPart, key, keyusage.AP_REP_ENCPART)
	require.NoError(t, err)
	return b
}
