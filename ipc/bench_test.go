package ipc

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// benchConn starts a server with the given QOP (or SIMPLE) and dials it.
func benchConn(b *testing.B, qop, cipher string) *Conn {
	opts := ServerOptions{AllowSimple: qop == ""}
	if qop != "" {
		opts.Mechanisms = []ServerMechanism{&TokenServerMechanism{Secrets: mapSecrets{"id": "pw"}, QOPs: []string{qop}}}
	}
	opts.Logger = zerolog.Nop()
	s := NewServer(opts)
	s.Register(testProtocol, echoService())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	co := Options{Addr: l.Addr().String(), Protocol: testProtocol, User: "u"}
	if qop != "" {
		co.Mechanisms = []ClientMechanism{&TokenMechanism{Token: &Token{Identifier: []byte("id"), Password: []byte("pw")}, Cipher: cipher}}
	}
	c, err := Dial(testutil.Context(b, time.Minute), co)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkCall is one small call round trip on loopback (latency).
func BenchmarkCall(b *testing.B) {
	c := benchConn(b, "", "")
	ctx := testutil.Context(b, 10*time.Minute)
	req := &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String("r")}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Call(ctx, "getDelegationToken", req, &commonpb.GetDelegationTokenResponseProto{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallParallel is many goroutines multiplexed on one connection
// (the AM heartbeating while it launches containers).
func BenchmarkCallParallel(b *testing.B) {
	c := benchConn(b, "", "")
	ctx := testutil.Context(b, 10*time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String("r")}
		for pb.Next() {
			if err := c.Call(ctx, "getDelegationToken", req, &commonpb.GetDelegationTokenResponseProto{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkQOP is the throughput of 64 KiB calls (echoed back) under each
// protection level: what integrity and privacy cost over SIMPLE.
func BenchmarkQOP(b *testing.B) {
	payload := strings.Repeat("x", 64<<10)
	for _, tc := range []struct{ name, qop, cipher string }{
		{"simple", "", ""}, {"auth", QOPAuth, ""}, {"auth-int", QOPAuthInt, ""},
		{"auth-conf-rc4", QOPAuthConf, "rc4"}, {"auth-conf-3des", QOPAuthConf, "3des"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := benchConn(b, tc.qop, tc.cipher)
			ctx := testutil.Context(b, 10*time.Minute)
			req := &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String(payload)}
			b.SetBytes(2 * int64(len(payload))) // request and echoed response
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.Call(ctx, "getDelegationToken", req, &commonpb.GetDelegationTokenResponseProto{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
