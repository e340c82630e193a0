package capture_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

func TestNoUnknownAndRoundTrip(t *testing.T) {
	extra := protowire.AppendTag(nil, 99, protowire.VarintType)
	extra = protowire.AppendVarint(extra, 1)
	auth := &commonpb.RpcSaslProto_SaslAuth{Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5")}
	auth.ProtoReflect().SetUnknown(extra)
	m := &commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_NEGOTIATE.Enum(), Auths: []*commonpb.RpcSaslProto_SaslAuth{{Method: proto.String("SIMPLE"), Mechanism: proto.String("")}, auth}}
	err := capture.NoUnknown(m.ProtoReflect())
	require.ErrorContains(t, err, "RpcSaslProto.auths[1] (")
	require.ErrorContains(t, err, "RpcSaslProto.SaslAuth): #99(wiretype 0)")

	raw, err := proto.Marshal(m)
	require.NoError(t, err)
	require.ErrorContains(t, capture.RoundTrip(raw, &commonpb.RpcSaslProto{}), "unknown fields")

	// Same content, non-canonical order: decodes cleanly, re-encodes differently.
	ok := &commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_SUCCESS.Enum(), Token: []byte("x")}
	canon, err := proto.MarshalOptions{Deterministic: true}.Marshal(ok)
	require.NoError(t, err)
	require.NoError(t, capture.RoundTrip(canon, &commonpb.RpcSaslProto{}))
	swapped := append(protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), []byte("x")), canon[:2]...)
	require.ErrorContains(t, capture.RoundTrip(swapped, &commonpb.RpcSaslProto{}), "re-encoding differs")
}

// TestCapturesCalls runs the shared checks over every transcript: call-id
// bookkeeping and the IPC layer's messages, with every credentials file's
// passwords and the fixtures' keytabs, so GSSAPI auth-int and auth-conf
// conversations are opened (and every wrap token verified) too.
func TestCapturesCalls(t *testing.T) {
	dir, err := capture.Dir()
	require.NoError(t, err)
	creds, err := capture.CredentialFiles(dir)
	require.NoError(t, err)
	require.Len(t, creds, 9)
	keys := capture.Keyring{}
	for _, c := range creds {
		for _, tok := range c.Tokens() {
			keys.Add(tok)
		}
	}
	kt, err := capture.KerberosKeytabs()
	require.NoError(t, err)
	paths, err := capture.All(dir)
	require.NoError(t, err)
	var gssWrapped int
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		require.NoError(t, err)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			tr, err := capture.Load(p)
			require.NoError(t, err)
			c, err := capture.DecodeWithKeys(tr, keys.Password, kt)
			require.NoError(t, err)
			if c.Mechanism == ipc.MechGSSAPI && c.Wrapped {
				require.False(t, c.Opaque)
				gssWrapped++
			}
			if c.Opaque && c.Mechanism == ipc.MechDigestMD5 { // an NMToken: its password is in am-rm.txt
				require.Contains(t, filepath.Base(p), "-nm-")
				return
			}
			for _, fs := range [][]capture.Frame{c.Client, c.Server, c.InnerClient, c.InnerServer} {
				for _, f := range fs {
					_, err := capture.CheckIPC(f)
					require.NoError(t, err)
				}
			}
			ctx, err := c.Context()
			require.NoError(t, err)
			require.NotNil(t, ctx)
			require.NotEmpty(t, ctx.GetProtocol())
			calls, err := c.CheckedCalls()
			require.NoError(t, err)
			require.NotEmpty(t, calls)
		})
	}
	require.Equal(t, 19, gssWrapped, "GSSAPI auth-int and auth-conf conversations opened")
}
