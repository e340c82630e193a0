package ipc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

const testProtocol = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"

type mapSecrets map[string]string // identifier → password

func (m mapSecrets) Retrieve(id []byte) ([]byte, string, error) {
	pw, ok := m[string(id)]
	if !ok {
		return nil, "", &ServerError{Class: ClassInvalidToken, Message: "token not found"}
	}
	return []byte(pw), "user-of-" + string(id), nil
}

// echoService answers "getDelegationToken" with the caller's user as the
// token kind, so tests can see who the server thinks called.
func echoService() *Service {
	return &Service{Version: 1, Methods: map[string]Handler{
		"getDelegationToken": Unary(func() *commonpb.GetDelegationTokenRequestProto { return &commonpb.GetDelegationTokenRequestProto{} },
			func(ctx context.Context, call *ServerCall, req *commonpb.GetDelegationTokenRequestProto) (proto.Message, error) {
				if req.GetRenewer() == "fail" {
					return nil, NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "Application with id 'x' doesn't exist in RM.")
				}
				if req.GetRenewer() == "slow" {
					select {
					case <-time.After(200 * time.Millisecond):
					case <-ctx.Done():
					}
				}
				t := &Token{Identifier: []byte(req.GetRenewer()), Password: []byte{}, Kind: call.User, Service: call.AuthMethod}
				return &commonpb.GetDelegationTokenResponseProto{Token: t.Proto()}, nil
			}),
	}}
}

func startServer(t *testing.T, opts ServerOptions) string {
	t.Helper()
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t))
	s := NewServer(opts)
	s.Register(testProtocol, echoService())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, s.Close())
		require.NoError(t, <-done)
	})
	return l.Addr().String()
}

// callResult is what a call made on another goroutine returned.
type callResult struct {
	renewer string
	resp    *commonpb.GetDelegationTokenResponseProto
	err     error
}

func call(ctx context.Context, c interface {
	Call(context.Context, string, proto.Message, proto.Message) error
}, renewer string) (*commonpb.GetDelegationTokenResponseProto, error) {
	resp := &commonpb.GetDelegationTokenResponseProto{}
	err := c.Call(ctx, "getDelegationToken", &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String(renewer)}, resp)
	return resp, err
}

func TestSimpleWithoutSASL(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true})
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "alice"})
	require.NoError(t, err)
	defer c.Close()
	resp, err := call(ctx, c, "r")
	require.NoError(t, err)
	require.Equal(t, "alice", resp.GetToken().GetKind())
	require.Equal(t, MethodSimple, resp.GetToken().GetService())
}

func TestDigestEachQOP(t *testing.T) {
	for _, tc := range []struct{ qop, cipher string }{
		{QOPAuth, ""}, {QOPAuthInt, ""},
		{QOPAuthConf, "3des"}, {QOPAuthConf, "rc4"}, {QOPAuthConf, "des"}, {QOPAuthConf, "rc4-56"}, {QOPAuthConf, "rc4-40"},
	} {
		t.Run(tc.qop+"/"+tc.cipher, func(t *testing.T) {
			addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{
				&TokenServerMechanism{Secrets: mapSecrets{"id-1": "secret"}, QOPs: []string{tc.qop}},
			}})
			ctx := testutil.Context(t, time.Minute) // a hang guard, not a speed check
			tok := &Token{Identifier: []byte("id-1"), Password: []byte("secret"), Kind: KindAMRMToken}
			mech := &TokenMechanism{Token: tok, Cipher: tc.cipher}
			c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, Mechanisms: []ClientMechanism{mech}})
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, MethodToken, c.AuthMethod())
			if tc.qop == QOPAuthConf {
				require.Equal(t, tc.cipher, c.layer.(*digestLayer).cipherName)
			}
			// Concurrent calls; one is larger than a wrap chunk (65510 bytes),
			// so it travels as two WRAP messages each way.
			// The calls run on goroutines; their results are checked here.
			var wg sync.WaitGroup
			big := string(bytes.Repeat([]byte("x"), 70000))
			results := make(chan callResult, 6)
			for i := 0; i < 6; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					renewer := "r"
					if i == 0 {
						renewer = big
					}
					resp, err := call(ctx, c, renewer)
					results <- callResult{renewer, resp, err}
				}(i)
			}
			wg.Wait()
			close(results)
			for r := range results {
				require.NoError(t, r.err)
				require.Equal(t, "user-of-id-1", r.resp.GetToken().GetKind())
				require.Equal(t, r.renewer, string(r.resp.GetToken().GetIdentifier()))
			}
		})
	}
}

func TestDigestWrongPassword(t *testing.T) {
	addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{&TokenServerMechanism{Secrets: mapSecrets{"id-1": "secret"}}}})
	ctx := testutil.Context(t, 10*time.Second)
	tok := &Token{Identifier: []byte("id-1"), Password: []byte("wrong"), Kind: KindAMRMToken}
	_, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, Mechanisms: []ClientMechanism{&TokenMechanism{Token: tok}}})
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ClassSaslException, re.Class)
	require.True(t, re.Fatal)
	var ce *ConnError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "sasl", ce.Op)

	tok = &Token{Identifier: []byte("unknown"), Password: []byte("x"), Kind: KindAMRMToken}
	_, err = Dial(ctx, Options{Addr: addr, Protocol: testProtocol, Mechanisms: []ClientMechanism{&TokenMechanism{Token: tok}}})
	require.True(t, IsRemoteClass(err, ClassInvalidToken), "%v", err)
}

// The YARN scheduler port and NodeManagers refuse SIMPLE, like Hadoop.
func TestSimpleRefusedWhenTokenRequired(t *testing.T) {
	addr := startServer(t, ServerOptions{Mechanisms: []ServerMechanism{&TokenServerMechanism{Secrets: mapSecrets{}}}})
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "alice"})
	if err == nil {
		_, err = call(ctx, c, "r")
		c.Close()
	}
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ClassAccessControl, re.Class)
	require.Contains(t, re.Message, "SIMPLE authentication is not enabled.  Available:[TOKEN]")
}

func TestRemoteErrorsAndUnknownMethod(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true})
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "u"})
	require.NoError(t, err)
	defer c.Close()
	_, err = call(ctx, c, "fail")
	var re *RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", re.Class)
	require.Equal(t, "getDelegationToken", re.Method)
	require.False(t, re.Fatal)
	// the connection survives an ERROR
	_, err = call(ctx, c, "ok")
	require.NoError(t, err)

	err = c.Call(ctx, "noSuchMethod", &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String("x")}, &commonpb.GetDelegationTokenResponseProto{})
	require.True(t, IsRemoteClass(err, ClassNoSuchMethod), "%v", err)
}

func TestCallContextCancel(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true})
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "u"})
	require.NoError(t, err)
	defer c.Close()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = call(short, c, "slow")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// the late reply is dropped and the connection stays usable
	_, err = call(ctx, c, "ok")
	require.NoError(t, err)
}

func TestConnLossFailsCallsInFlight(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := l.Accept()
		if err == nil {
			accepted <- nc
		}
	}()
	ctx := testutil.Context(t, 10*time.Second)
	c, err := Dial(ctx, Options{Addr: l.Addr().String(), Protocol: testProtocol, User: "u"})
	require.NoError(t, err)
	defer c.Close()
	srv := <-accepted
	errc := make(chan error, 1)
	go func() { _, err := call(ctx, c, "x"); errc <- err }()
	_, err = ReadPreamble(srv)
	require.NoError(t, err)
	_, err = ReadFrame(srv, 0) // context
	require.NoError(t, err)
	_, err = ReadFrame(srv, 0) // the call is on the wire and in flight
	require.NoError(t, err)
	srv.Close()
	err = <-errc
	var ce *ConnError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "read", ce.Op)
	require.True(t, c.Closed())
}

func TestIdleCloseAndClientRedial(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true})
	ctx := testutil.Context(t, 10*time.Second)
	cl, err := NewClient(Options{Addr: addr, Protocol: testProtocol, User: "u", IdleTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer cl.Close()
	_, err = call(ctx, cl, "a")
	require.NoError(t, err)
	first := cl.conn
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("idle connection was not closed")
	}
	_, err = call(ctx, cl, "b")
	require.NoError(t, err)
	require.NotSame(t, first, cl.conn)
}

func TestDialRefusedIsConnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	_, err = Dial(testutil.Context(t, 10*time.Second), Options{Addr: addr, Protocol: testProtocol})
	var ce *ConnError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "dial", ce.Op)
	require.Equal(t, addr, ce.Addr)
	require.False(t, errors.Is(err, ErrClosed))
}

// A call that waits on a silent server makes the client send pings
// (callId -4) every PingInterval, as Java does with ipc.ping.interval.
func TestPingWhileWaiting(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true})
	ctx := testutil.Context(t, 10*time.Second)
	var sent testutil.Buffer
	c, err := Dial(ctx, Options{Addr: addr, Protocol: testProtocol, User: "u", PingInterval: 30 * time.Millisecond,
		Dial: func(ctx context.Context, network, a string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, a)
			return &teeConn{Conn: nc, out: &sent}, err
		}})
	require.NoError(t, err)
	defer c.Close()
	_, err = call(ctx, c, "slow") // the handler takes 200 ms
	require.NoError(t, err)
	ping, err := AppendFrame(nil, RequestHeader(CallIDPing, c.clientID, -1))
	require.NoError(t, err)
	require.GreaterOrEqual(t, bytes.Count(sent.Bytes(), ping), 2, "expected pings during a 200 ms call with a 30 ms ping interval")
}

// teeConn copies what the client writes to out.
type teeConn struct {
	net.Conn
	out *testutil.Buffer
}

func (c *teeConn) Write(b []byte) (int, error) {
	_, _ = c.out.Write(b)
	return c.Conn.Write(b)
}

// A connection logs its server's address under the field its Peer names:
// rm_addr only for the ResourceManager.
func TestConnLogsPeerAddress(t *testing.T) {
	addr := startServer(t, ServerOptions{AllowSimple: true})
	for _, tc := range []struct{ peer, field string }{
		{PeerRM, "rm_addr"}, {PeerScheduler, "scheduler_addr"}, {PeerNodeManager, "nm_addr"}, {PeerNameNode, "nn_addr"}, {"", "addr"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			var buf bytes.Buffer
			ctx := testutil.Context(t, 10*time.Second)
			c, err := Dial(ctx, Options{Addr: addr, Peer: tc.peer, Protocol: testProtocol, User: "alice", Logger: zerolog.New(&buf).Level(zerolog.DebugLevel)})
			require.NoError(t, err)
			_, err = call(ctx, c, "r")
			require.NoError(t, err)
			require.NoError(t, c.Close())
			require.Contains(t, buf.String(), `"`+tc.field+`":"`+addr+`"`)
			if tc.peer != PeerRM {
				require.NotContains(t, buf.String(), "rm_addr")
			}
		})
	}
}
