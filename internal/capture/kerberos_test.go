package capture_test

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
)

// TestKerberosReplay opens every GSSAPI conversation of the Kerberos
// captures with the fixtures' service keytabs: ticket, authenticator,
// AP-REP, then every wrap token in both directions, and checks what the
// README documents about the JDK's behaviour.
func TestKerberosReplay(t *testing.T) {
	dir, err := capture.KerberosDir()
	require.NoError(t, err)
	kt, err := capture.LoadKeytabs(filepath.Join(dir, "keytabs"))
	require.NoError(t, err)
	paths, err := capture.All(dir)
	require.NoError(t, err)
	sort.Strings(paths)

	var convs, tokens, sealed, layerMsgs, innerFrames int
	qops := map[string]int{}
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		tr, err := capture.Load(p)
		require.NoError(t, err)
		plain, err := capture.Decode(tr, nil)
		require.NoError(t, err, rel)
		if plain.Mechanism != ipc.MechGSSAPI {
			continue
		}
		convs++
		c, err := capture.DecodeWithKeys(tr, nil, kt)
		require.NoError(t, err, rel)
		require.False(t, c.Opaque, rel)
		x, err := capture.ReplayGSS(c, kt)
		require.NoError(t, err, rel)

		suffix := filepath.Dir(rel)[strings.LastIndex(filepath.Dir(rel), "-")+1:]
		want := map[string]string{"auth": ipc.QOPAuth, "integrity": ipc.QOPAuthInt, "privacy": ipc.QOPAuthConf}[suffix]
		require.Equal(t, want, x.QOP, rel)
		require.Equal(t, want, c.QOP, rel)
		qops[x.QOP]++

		// README: mutual-required, flags 0x3e, aes256 subkey, no acceptor subkey.
		require.True(t, x.MutualRequired, rel)
		require.Equal(t, uint32(0x3e), x.GSSFlags, rel)
		require.EqualValues(t, 18, x.SessionKey.KeyType, rel)
		require.EqualValues(t, 18, x.Subkey.KeyType, rel)
		require.Len(t, x.Subkey.KeyValue, 32, rel)
		require.Empty(t, x.AcceptorSubkey.KeyValue, rel)
		if strings.HasPrefix(filepath.Base(rel), "rm-nn") {
			require.Equal(t, "rm/localhost@EXAMPLE.COM", x.Client, rel)
		} else {
			require.Equal(t, "alice@EXAMPLE.COM", x.Client, rel)
		}
		require.Contains(t, []string{"rm/localhost@EXAMPLE.COM", "nn/localhost@EXAMPLE.COM"}, x.Service, rel)

		// Security-layer messages: the server offers exactly the configured
		// bit with 65536; the client answers 0 for auth, 65536 otherwise.
		bit := map[string]byte{ipc.QOPAuth: 1, ipc.QOPAuthInt: 2, ipc.QOPAuthConf: 4}[want]
		require.Equal(t, []byte{bit, 1, 0, 0}, x.Offer, rel)
		if want == ipc.QOPAuth {
			require.Equal(t, []byte{1, 0, 0, 0}, x.Choice, rel)
		} else {
			require.Equal(t, []byte{bit, 1, 0, 0}, x.Choice, rel)
		}
		for _, tk := range append(append([]capture.GSSToken{}, x.ClientTokens...), x.ServerTokens...) {
			tokens++
			require.Zero(t, tk.RRC, rel)
			if tk.Layer {
				layerMsgs++
				require.False(t, tk.Sealed, "%s: security-layer messages are never sealed", rel)
				require.Len(t, tk.Raw, 32, rel)
				continue
			}
			require.Equal(t, want == ipc.QOPAuthConf, tk.Sealed, rel)
			if tk.Sealed {
				sealed++
				require.Zero(t, tk.EC, rel)
				require.Len(t, tk.Raw, len(tk.Plain)+60, rel)
			} else {
				require.EqualValues(t, 12, tk.EC, rel)
				require.Len(t, tk.Raw, len(tk.Plain)+28, rel)
			}
		}
		require.Equal(t, x.ClientSeq, x.ClientTokens[0].Seq, rel)
		require.Equal(t, x.ServerSeq, x.ServerTokens[0].Seq, rel)
		if want == ipc.QOPAuth {
			require.Len(t, x.ClientTokens, 1, rel)
			require.Len(t, x.ServerTokens, 1, rel)
			continue
		}
		// Wrapped: the context and every call and reply parse as frames.
		require.True(t, c.Wrapped, rel)
		require.NotEmpty(t, c.InnerClient, rel)
		require.NotEmpty(t, c.InnerServer, rel)
		require.Equal(t, ipc.CallIDContext, c.InnerClient[0].Req.Header.GetCallId(), rel)
		require.NotEmpty(t, c.Calls(), rel)
		for _, call := range c.Calls() {
			require.NotNil(t, call.Reply, "%s: %s has no reply", rel, call.Method())
		}
		// Each server WRAP holds exactly one response frame.
		require.Len(t, c.InnerServer, len(x.ServerTokens)-1, rel)
		innerFrames += len(c.InnerClient) + len(c.InnerServer)
	}
	t.Logf("%d GSSAPI conversations %v: %d wrap tokens verified (%d security-layer messages, %d sealed), %d inner frames",
		convs, qops, tokens, layerMsgs, sealed, innerFrames)
	require.Equal(t, 28, convs)
}
