package ipc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// downgradeServer is a raw fake server that answers the client's SASL
// NEGOTIATE with SUCCESS, as a SIMPLE-only Hadoop server (or a
// man-in-the-middle) does, and then records everything the client sends
// until it closes the connection.
type downgradeServer struct {
	addr string
	got  chan []byte // everything one connection received, preamble included
}

func startDowngradeServer(t *testing.T) *downgradeServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &downgradeServer{addr: l.Addr().String(), got: make(chan []byte, 4)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			s.serve(nc)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return s
}

func (s *downgradeServer) serve(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	var rec bytes.Buffer
	defer func() { s.got <- rec.Bytes() }()
	br := bufio.NewReader(io.TeeReader(nc, &rec))
	if _, err := ReadPreamble(br); err != nil {
		return
	}
	if _, err := ReadFrame(br, 1<<16); err != nil { // NEGOTIATE
		return
	}
	hdr := &commonpb.RpcResponseHeaderProto{CallId: proto.Uint32(respCallIDSASL), Status: commonpb.RpcResponseHeaderProto_SUCCESS.Enum()}
	f, _ := AppendFrame(nil, hdr, &commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_SUCCESS.Enum()})
	if _, err := nc.Write(f); err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, br) // record until the client closes
}

// requireOnlyNegotiate checks that the server received the preamble and a
// single SASL NEGOTIATE frame: no connection context, no call, and nothing
// of the token.
func requireOnlyNegotiate(t *testing.T, got []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.False(t, bytes.Contains(got, []byte(s)), "the client sent %q to a server that skipped authentication", s)
	}
	r := bytes.NewReader(got)
	_, err := ReadPreamble(r)
	require.NoError(t, err)
	f, err := ReadFrame(r, 0)
	require.NoError(t, err)
	m, err := saslFromRequest(f)
	require.NoError(t, err)
	require.Equal(t, commonpb.RpcSaslProto_NEGOTIATE, m.GetState())
	rest, _ := io.ReadAll(r)
	require.Empty(t, rest, "the client sent more than NEGOTIATE: %d bytes (connection context or a call)", len(rest))
}

// A server that answers NEGOTIATE with SUCCESS asks the client to skip
// authentication (and with it auth-int/auth-conf). A client configured for
// TOKEN or KERBEROS refuses, as Hadoop's Client does unless
// ipc.client.fallback-to-simple-auth-allowed is true, and sends nothing more.
func TestFallbackToSimpleRefused(t *testing.T) {
	kdc, _ := newFakeKDC(t)
	tok := &Token{Identifier: []byte("token-identifier-1"), Password: []byte("token-password-1"), Kind: KindAMRMToken}
	for _, tc := range []struct {
		name string
		mech ClientMechanism
	}{
		{"TOKEN", &TokenMechanism{Token: tok}},
		{"TOKEN/auth-conf", &TokenMechanism{Token: tok, QOPs: []string{QOPAuthConf}}},
		{"KERBEROS", fakeClientMech(t, kdc, "alice")},
		{"KERBEROS/auth-conf", func() ClientMechanism {
			m := fakeClientMech(t, kdc, "alice")
			m.QOPs = []string{QOPAuthConf}
			return m
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startDowngradeServer(t)
			ctx := testutil.Context(t, 10*time.Second)
			c, err := Dial(ctx, Options{Addr: srv.addr, Protocol: testProtocol, User: "alice", Mechanisms: []ClientMechanism{tc.mech}})
			if err == nil {
				// The unfixed client carries on in the clear: show the call goes out.
				cctx := testutil.Context(t, 300*time.Millisecond)
				_, _ = call(cctx, c, "renewer-in-the-clear")
				c.Close()
			}
			requireOnlyNegotiate(t, <-srv.got, string(tok.Identifier), string(tok.Password), "renewer-in-the-clear")
			require.ErrorIs(t, err, ErrFallbackToSimple)
			require.ErrorIs(t, err, ErrSASL, "cmd maps ErrSASL (through yarn.ErrAuthentication) to exit 5")
			var ce *ConnError
			require.ErrorAs(t, err, &ce)
			require.Contains(t, err.Error(), "ipc.client.fallback-to-simple-auth-allowed")
		})
	}
}

// FallbackToSimpleAllowed (ipc.client.fallback-to-simple-auth-allowed=true)
// lets a secure client talk to a SIMPLE-only server, as in Hadoop.
func TestFallbackToSimpleAllowed(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true}) // SIMPLE only: answers NEGOTIATE with SUCCESS
	ctx := testutil.Context(t, 10*time.Second)
	tok := &Token{Identifier: []byte("id-1"), Password: []byte("secret"), Kind: KindAMRMToken}
	opts := Options{Addr: addr, Protocol: testProtocol, User: "alice", Mechanisms: []ClientMechanism{&TokenMechanism{Token: tok}}}
	_, err := Dial(ctx, opts)
	require.ErrorIs(t, err, ErrFallbackToSimple)

	opts.FallbackToSimpleAllowed = true
	c, err := Dial(ctx, opts)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, MethodSimple, c.AuthMethod())
	resp, err := call(ctx, c, "r")
	require.NoError(t, err)
	require.Equal(t, "alice", resp.GetToken().GetKind())
	require.False(t, errors.Is(err, ErrFallbackToSimple))
}
