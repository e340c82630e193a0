package ipc_test

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// replayConn is a net.Conn whose reads come from a fixed server stream and
// whose writes are dropped.
type replayConn struct {
	r *bytes.Reader
}

func (c *replayConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }

func saslResponseFrame(m *commonpb.RpcSaslProto) []byte {
	hdr := &commonpb.RpcResponseHeaderProto{CallId: proto.Uint32(uint32(0xFFFFFFDF)), Status: commonpb.RpcResponseHeaderProto_SUCCESS.Enum()}
	f, _ := ipc.AppendFrame(nil, hdr, m)
	return f
}

// FuzzClientSASL feeds server byte streams to the client side of the
// connection set-up (SaslRpcClient.saslConnect): NEGOTIATE offers,
// DIGEST-MD5 challenges, SUCCESS at any point, remote exceptions, garbage.
// Seeds are the server halves of the Hadoop 3.3.6 captures. Dial must
// fail or succeed, never panic; it must never accept a server that skipped
// authentication; and it must allocate no more than a bound linear in the
// input.
func FuzzClientSASL(f *testing.F) {
	for _, tr := range captures(f) {
		f.Add(tr.Server[:min(len(tr.Server), 8<<10)], uint8(0))
	}
	f.Add(saslResponseFrame(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_SUCCESS.Enum()}), uint8(0))
	f.Add(saslResponseFrame(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_SUCCESS.Enum()}), uint8(1))
	f.Add(saslResponseFrame(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_NEGOTIATE.Enum(), Auths: []*commonpb.RpcSaslProto_SaslAuth{{
		Method: proto.String("TOKEN"), Mechanism: proto.String("DIGEST-MD5"), Protocol: proto.String(""), ServerId: proto.String("default"),
		Challenge: []byte(`realm="default",nonce="abc",qop="auth,auth-int,auth-conf",charset=utf-8,cipher="3des,rc4",algorithm=md5-sess`),
	}}}), uint8(2))
	f.Add(append([]byte{0, 1, 0, 0}, bytes.Repeat([]byte{0}, 1<<16)...), uint8(0))

	tok := &ipc.Token{Identifier: []byte("fuzz-identifier"), Password: []byte("fuzz-password"), Kind: ipc.KindAMRMToken}
	const maxFrame = 1 << 16
	f.Fuzz(func(t *testing.T, server []byte, mode uint8) {
		opts := ipc.Options{Addr: "nn:8020", Protocol: "p", User: "alice", MaxFrame: maxFrame, IdleTimeout: -1,
			Mechanisms:              []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok}},
			FallbackToSimpleAllowed: mode%2 == 1,
			Dial: func(context.Context, string, string) (net.Conn, error) {
				return &replayConn{r: bytes.NewReader(server)}, nil
			},
		}
		if mode%4 >= 2 {
			opts.Mechanisms[0] = &ipc.TokenMechanism{Token: tok, QOPs: []string{ipc.QOPAuthConf}, Rand: bytes.NewReader(make([]byte, 64))}
		}
		ctx := testutil.Context(t, 5*time.Second)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := ipc.Dial(ctx, opts)
		runtime.ReadMemStats(&after)
		if err == nil {
			if c.AuthMethod() == ipc.MethodSimple && !opts.FallbackToSimpleAllowed {
				t.Fatal("the client accepted a server that skipped authentication")
			}
			_ = c.Close()
		}
		// Each frame is at most maxFrame and at most the input; parsing it
		// costs a small multiple. The constant covers the client's own
		// state (buffers, DIGEST-MD5 ciphers, protobuf messages).
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(32*len(server)+2<<20); got > limit {
			t.Fatalf("Dial allocated %d bytes for %d bytes from the server (limit %d)", got, len(server), limit)
		}
	})
}
