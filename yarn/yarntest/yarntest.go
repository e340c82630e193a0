// Package yarntest runs stub ResourceManager, scheduler and NodeManager
// servers for unit tests of the yarn clients' request building and error
// paths: real Hadoop IPC on loopback (ipc/ipctest), one XxxF handler field per
// method, and a loud test failure for any call whose handler is unset. For
// behaviour (scheduling, containers, tokens) use package minicluster instead.
package yarntest

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/ipc/ipctest"
)

// Option adjusts a stub server.
type Option func(*config)

type config struct {
	standby bool
	opts    ipc.ServerOptions
}

// Standby makes every call fail with org.apache.hadoop.ipc.StandbyException,
// as a standby HDFS NameNode or RM admin port answers.
func Standby() Option { return func(c *config) { c.standby = true } }

// RequireToken makes the server demand TOKEN (DIGEST-MD5) authentication
// backed by secrets, as the RM scheduler port and NodeManagers do.
func RequireToken(secrets ipc.SecretManager) Option {
	return func(c *config) {
		c.opts.AllowSimple = false
		c.opts.Mechanisms = []ipc.ServerMechanism{&ipc.TokenServerMechanism{Secrets: secrets}}
	}
}

func newConfig(opts []Option) *config {
	c := &config{opts: ipc.ServerOptions{AllowSimple: true}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// bind adapts a handler field into an ipc.Handler. The field is read at call
// time, so tests may set it after the server started; an unset field fails
// the test.
func bind[Req, Resp proto.Message](t testing.TB, c *config, method string, newReq func() Req, field func() func(context.Context, Req) (Resp, error)) ipc.Handler {
	return ipc.Unary(newReq, func(ctx context.Context, call *ipc.ServerCall, req Req) (proto.Message, error) {
		if c.standby {
			return nil, &ipc.ServerError{Class: ipc.ClassStandbyException, Message: "Operation category READ is not supported in state standby"}
		}
		f := field()
		if f == nil {
			t.Errorf("yarntest: unexpected call to %s (set %sF)", method, method)
			return nil, &ipc.ServerError{Class: ipc.ClassUnsupportedOperation, Message: "yarntest: no handler for " + method}
		}
		return f(ctx, req)
	})
}

// fillUnexpected registers, for every method of sd without a handler in m,
// one that fails the test: an unplanned call is a bug in the client.
func fillUnexpected(t testing.TB, sd protoreflect.ServiceDescriptor, m map[string]ipc.Handler) {
	for i := 0; i < sd.Methods().Len(); i++ {
		name := string(sd.Methods().Get(i).Name())
		if _, ok := m[name]; ok {
			continue
		}
		m[name] = func(ctx context.Context, call *ipc.ServerCall) (proto.Message, error) {
			t.Errorf("yarntest: unexpected call to %s, which the stub does not serve", name)
			return nil, &ipc.ServerError{Class: ipc.ClassUnsupportedOperation, Message: "yarntest: " + name + " not served"}
		}
	}
}

func start(t testing.TB, c *config, protocol string, sd protoreflect.ServiceDescriptor, methods map[string]ipc.Handler) *ipctest.Server {
	fillUnexpected(t, sd, methods)
	s := ipctest.NewServer(t, c.opts)
	s.Register(protocol, &ipc.Service{Version: 1, Methods: methods})
	return s
}
