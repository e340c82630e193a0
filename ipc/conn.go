package ipc

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Options configures a client connection. The zero value of each field is
// documented; Addr and Protocol are required.
type Options struct {
	// Addr is the server's host:port.
	Addr string
	// Peer names what the server is (PeerRM, PeerScheduler,
	// PeerNodeManager, PeerNameNode); the connection logs Addr under
	// AddrField(Peer), e.g. rm_addr or nn_addr. Empty logs it as addr.
	Peer string
	// Protocol is the protocol class named in the connection context and in
	// every call, e.g. "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB".
	Protocol string
	// User is the effective user sent in the connection context for SIMPLE
	// and KERBEROS. Empty sends an empty UserInformationProto.
	User string
	// RealUser, if set, makes User a proxy user of RealUser.
	RealUser string
	// Mechanisms are the SASL methods the client may use, tried against the
	// server's offers in the server's order. Empty means SIMPLE without SASL
	// (auth byte 0), which is what an insecure Java client with no tokens does.
	Mechanisms []ClientMechanism
	// FallbackToSimpleAllowed is ipc.client.fallback-to-simple-auth-allowed
	// (false): whether a client with Mechanisms but none of them SIMPLE
	// may carry on without authentication, and without the integrity or
	// privacy of auth-int/auth-conf, when the server answers NEGOTIATE with
	// SUCCESS (a SIMPLE-only server, or someone in between). False fails
	// Dial with ErrFallbackToSimple before anything else is sent.
	FallbackToSimpleAllowed bool
	// ClientID is the 16-byte client id; nil picks a random one. Share one
	// id across the connections of one logical client, as Java does.
	ClientID []byte
	// CallIDs, if set, is the call-id counter, shared by every connection
	// that uses it, as Java's Client.callIdCounter is shared by all
	// connections of a JVM; nil gives each connection its own counter.
	CallIDs *atomic.Int32
	// CallerContext, if set, is sent in every call header (the yarn CLI sends "CLI").
	CallerContext string
	// Dial opens the transport; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxFrame bounds response frames; 0 means DefaultMaxFrame (128 MiB).
	MaxFrame int
	// PingInterval is how long a read may stay idle while calls are
	// outstanding before a ping is sent (ipc.ping.interval); 0 means 60 s.
	PingInterval time.Duration
	// IdleTimeout closes a connection without outstanding calls after this
	// long (ipc.client.connection.maxidletime); 0 means 10 s, <0 never.
	IdleTimeout time.Duration
	// Logger receives debug logs of each call; the zero value logs nothing.
	Logger zerolog.Logger
}

func (o *Options) validate() error {
	if o.Addr == "" {
		return errors.New("ipc: Options.Addr is empty")
	}
	if o.Protocol == "" {
		return errors.New("ipc: Options.Protocol is empty")
	}
	if o.ClientID != nil && len(o.ClientID) != 16 {
		return fmt.Errorf("ipc: Options.ClientID has %d bytes, want 16", len(o.ClientID))
	}
	return nil
}

// NewClientID returns a random 16-byte client id (Java: a random UUID).
func NewClientID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

type result struct {
	resp *Response
	err  error
}

// Conn is one Hadoop IPC connection: one writer lock, one reader goroutine
// and a table of calls in flight keyed by call id. Conn is safe for
// concurrent use. Close it when done; it also closes itself when idle.
type Conn struct {
	opts     Options
	nc       net.Conn
	clientID []byte
	lg       zerolog.Logger

	wmu   sync.Mutex // guards writes, layer.Wrap and wbuf
	wbuf  []byte
	layer SecurityLayer

	mu       sync.Mutex
	pending  map[int32]chan result
	closeErr error
	closed   bool

	nextID     *atomic.Int32
	lastRead   atomic.Int64 // unix nanos
	lastActive atomic.Int64
	done       chan struct{}
	wg         sync.WaitGroup
	authMethod string
}

// Dial connects, authenticates and sends the connection context.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 60 * time.Second
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 10 * time.Second
	}
	dial := opts.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, &ConnError{Addr: opts.Addr, Op: "dial", Err: err}
	}
	c := &Conn{
		opts:     opts,
		nc:       nc,
		clientID: opts.ClientID,
		lg:       opts.Logger.With().Str("component", "ipc").Str(AddrField(opts.Peer), opts.Addr).Logger(),
		pending:  make(map[int32]chan result),
		done:     make(chan struct{}),
		nextID:   opts.CallIDs,
	}
	if c.nextID == nil {
		c.nextID = new(atomic.Int32)
	}
	if c.clientID == nil {
		c.clientID = NewClientID()
	}
	br := bufio.NewReader(nc)
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	r, err := c.handshake(br)
	stopped := stop()
	_ = nc.SetDeadline(time.Time{})
	if err != nil {
		nc.Close()
		if !stopped || ctx.Err() != nil {
			return nil, &ConnError{Addr: opts.Addr, Op: "handshake", Err: errors.Join(ctx.Err(), err)}
		}
		var re *RemoteError
		if errors.As(err, &re) {
			return nil, &ConnError{Addr: opts.Addr, Op: "sasl", Err: re}
		}
		return nil, &ConnError{Addr: opts.Addr, Op: "handshake", Err: err}
	}
	now := time.Now().UnixNano()
	c.lastRead.Store(now)
	c.lastActive.Store(now)
	c.wg.Add(2)
	go c.readLoop(r)
	go c.keepalive()
	return c, nil
}

// AuthMethod returns the negotiated auth method (SIMPLE, TOKEN, KERBEROS).
func (c *Conn) AuthMethod() string { return c.authMethod }

// handshake writes the preamble, runs SASL if configured and sends the
// connection context. It returns the reader for responses (unwrapping when a
// security layer was negotiated).
func (c *Conn) handshake(br *bufio.Reader) (io.Reader, error) {
	auth := AuthNone
	if len(c.opts.Mechanisms) > 0 {
		auth = AuthSASL
	}
	out := AppendPreamble(nil, Preamble{Version: IPCVersion, AuthProtocol: auth})
	c.authMethod = MethodSimple
	if auth == AuthSASL {
		if _, err := c.nc.Write(out); err != nil {
			return nil, err
		}
		out = out[:0]
		var err error
		if out, err = c.saslConnect(br, out); err != nil {
			return nil, err
		}
	}
	var reader io.Reader = br
	ctxFrame, err := AppendFrame(nil, c.header(CallIDContext, -1), c.connectionContext())
	if err != nil {
		return nil, err
	}
	if c.layer != nil {
		if out, err = wrapRequestFrames(out, c.layer, ctxFrame); err != nil {
			return nil, err
		}
		reader = &unwrapReader{r: br, max: c.opts.MaxFrame, layer: c.layer, parse: saslFromResponse}
	} else {
		out = append(out, ctxFrame...)
	}
	if _, err := c.nc.Write(out); err != nil {
		return nil, err
	}
	return reader, nil
}

func (c *Conn) connectionContext() *commonpb.IpcConnectionContextProto {
	ui := &commonpb.UserInformationProto{}
	if c.authMethod != MethodToken {
		if c.opts.User != "" {
			ui.EffectiveUser = proto.String(c.opts.User)
		}
		if c.opts.RealUser != "" {
			ui.RealUser = proto.String(c.opts.RealUser)
		}
	}
	return &commonpb.IpcConnectionContextProto{UserInfo: ui, Protocol: proto.String(c.opts.Protocol)}
}

func (c *Conn) header(callID int32, retry int32) *commonpb.RpcRequestHeaderProto {
	id := c.clientID
	if callID == CallIDSASL {
		id = nil
	}
	h := RequestHeader(callID, id, retry)
	if c.opts.CallerContext != "" {
		h.CallerContext = &commonpb.RPCCallerContextProto{Context: proto.String(c.opts.CallerContext)}
	}
	return h
}

// saslConnect runs the client algorithm of SaslRpcClient.saslConnect. It
// may leave bytes to send in out (after a SIMPLE INITIATE, which gets no reply).
func (c *Conn) saslConnect(br *bufio.Reader, out []byte) ([]byte, error) {
	send := func(m *commonpb.RpcSaslProto) error {
		f, err := AppendFrame(nil, c.header(CallIDSASL, -1), m)
		if err != nil {
			return err
		}
		_, err = c.nc.Write(f)
		return err
	}
	recv := func() (*commonpb.RpcSaslProto, error) {
		f, err := ReadFrame(br, c.opts.MaxFrame)
		if err != nil {
			return nil, err
		}
		return saslFromResponse(f)
	}
	if err := send(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_NEGOTIATE.Enum()}); err != nil {
		return nil, err
	}
	m, err := recv()
	if err != nil {
		return nil, err
	}
	var sess ClientSession
	switch m.GetState() {
	case commonpb.RpcSaslProto_SUCCESS:
		// A SIMPLE-only server (or someone in between) skips
		// authentication. Hadoop's Client refuses unless
		// ipc.client.fallback-to-simple-auth-allowed; a client that may
		// use SIMPLE anyway loses nothing.
		if !c.opts.FallbackToSimpleAllowed && !c.hasSimple() {
			return nil, ErrFallbackToSimple
		}
		return out, nil // continue unwrapped
	case commonpb.RpcSaslProto_NEGOTIATE:
	default:
		return nil, fmt.Errorf("%w: server answered NEGOTIATE with %v", ErrSASL, m.GetState())
	}
	var offered []string
	for _, a := range m.GetAuths() {
		offered = append(offered, a.GetMethod()+"/"+a.GetMechanism())
		if a.GetMethod() == MethodSimple {
			if c.hasSimple() {
				echo := proto.Clone(a).(*commonpb.RpcSaslProto_SaslAuth)
				echo.Challenge = nil
				f, err := AppendFrame(out, c.header(CallIDSASL, -1), &commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_INITIATE.Enum(), Auths: []*commonpb.RpcSaslProto_SaslAuth{echo}})
				c.authMethod = MethodSimple
				return f, err
			}
			continue
		}
		for _, mech := range c.opts.Mechanisms {
			if mech.Method() != a.GetMethod() || mech.Mechanism() != a.GetMechanism() {
				continue
			}
			s, ok, err := mech.Start(SaslOffer{Method: a.GetMethod(), Mechanism: a.GetMechanism(), Protocol: a.GetProtocol(), ServerID: a.GetServerId(), Challenge: a.GetChallenge()})
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			tok, err := s.Step(a.GetChallenge())
			if err != nil {
				return nil, err
			}
			echo := proto.Clone(a).(*commonpb.RpcSaslProto_SaslAuth)
			echo.Challenge = nil
			if err := send(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_INITIATE.Enum(), Token: tok, Auths: []*commonpb.RpcSaslProto_SaslAuth{echo}}); err != nil {
				return nil, err
			}
			sess = s
			c.authMethod = a.GetMethod()
			break
		}
		if sess != nil {
			break
		}
	}
	if sess == nil {
		return nil, fmt.Errorf("%w: client cannot authenticate via %v (configure a matching token or Kerberos login)", ErrSASL, offered)
	}
	for {
		m, err := recv()
		if err != nil {
			return nil, err
		}
		switch m.GetState() {
		case commonpb.RpcSaslProto_CHALLENGE:
			tok, err := sess.Step(m.GetToken())
			if err != nil {
				return nil, err
			}
			if tok == nil {
				tok = []byte{}
			}
			if err := send(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_RESPONSE.Enum(), Token: tok}); err != nil {
				return nil, err
			}
		case commonpb.RpcSaslProto_SUCCESS:
			if err := sess.Complete(m.GetToken()); err != nil {
				return nil, err
			}
			if c.layer, err = sess.Layer(); err != nil {
				return nil, err
			}
			return out, nil
		default:
			return nil, fmt.Errorf("%w: unexpected %v during authentication", ErrSASL, m.GetState())
		}
	}
}

func (c *Conn) hasSimple() bool {
	for _, m := range c.opts.Mechanisms {
		if m.Method() == MethodSimple {
			return true
		}
	}
	return false
}

// Call sends req as method and decodes the reply into resp. It blocks until
// the reply arrives, ctx ends, or the connection fails. A remote exception
// is returned as *RemoteError; a transport failure as *ConnError.
func (c *Conn) Call(ctx context.Context, method string, req, resp proto.Message) error {
	return c.CallRetry(ctx, method, req, resp, 0)
}

// CallRetry is Call with an explicit retryCount for the header (a retry of
// the same call sends 1, 2, …).
func (c *Conn) CallRetry(ctx context.Context, method string, req, resp proto.Message, retry int32) error {
	id := (c.nextID.Add(1) - 1) & 0x7FFFFFFF
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.closed {
		err := c.closeErr
		c.mu.Unlock()
		return err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	c.lastActive.Store(time.Now().UnixNano())
	start := time.Now()
	if err := c.write(c.header(id, retry), MethodHeader(method, c.opts.Protocol), req); err != nil {
		c.fail(&ConnError{Addr: c.opts.Addr, Op: "write", Err: err})
		<-ch
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closeErr
	}
	select {
	case r := <-ch:
		c.lastActive.Store(time.Now().UnixNano())
		c.lg.Debug().Str("method", method).Int32("call_id", id).Dur("duration", time.Since(start)).Err(r.err).Msg("call")
		if r.err != nil {
			var re *RemoteError
			if errors.As(r.err, &re) && re.Method == "" {
				re.Method = method
			}
			return r.err
		}
		if err := Unmarshal(r.resp.Body, resp); err != nil {
			return fmt.Errorf("%s: decode response: %w", method, err)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("ipc: %s: %w", method, ctx.Err())
	}
}

func (c *Conn) write(msgs ...proto.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	c.wbuf, err = AppendFrame(c.wbuf[:0], msgs...)
	if err != nil {
		return err
	}
	out := c.wbuf
	if c.layer != nil {
		if out, err = wrapRequestFrames(nil, c.layer, c.wbuf); err != nil {
			return err
		}
	}
	_, err = c.nc.Write(out)
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // do not pin a large buffer
	}
	return err
}

func (c *Conn) readLoop(r io.Reader) {
	defer c.wg.Done()
	for {
		f, err := ReadFrame(r, c.opts.MaxFrame)
		if err != nil {
			c.fail(&ConnError{Addr: c.opts.Addr, Op: "read", Err: err})
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
		resp, err := ParseResponse(f)
		if err != nil {
			c.fail(&ConnError{Addr: c.opts.Addr, Op: "read", Err: err})
			return
		}
		id := resp.CallID()
		var res result
		if resp.Header.GetStatus() != commonpb.RpcResponseHeaderProto_SUCCESS {
			re := remoteErrorFromHeader("", resp.Header)
			res.err = re
			if re.Fatal {
				c.fail(&ConnError{Addr: c.opts.Addr, Op: "read", Err: re})
				if id < 0 {
					return
				}
			}
		} else {
			res.resp = resp
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- res
		}
		if res.err != nil && resp.Header.GetStatus() == commonpb.RpcResponseHeaderProto_FATAL {
			return
		}
	}
}

// keepalive sends pings while calls wait on a silent server and closes the
// connection after IdleTimeout without calls. One ticker, no time.After.
func (c *Conn) keepalive() {
	defer c.wg.Done()
	tick := c.opts.PingInterval
	if c.opts.IdleTimeout > 0 && c.opts.IdleTimeout < tick {
		tick = c.opts.IdleTimeout
	}
	t := time.NewTicker(max(tick/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-t.C:
			c.mu.Lock()
			n := len(c.pending)
			c.mu.Unlock()
			if n > 0 {
				if now.Sub(time.Unix(0, c.lastRead.Load())) >= c.opts.PingInterval {
					c.lastRead.Store(now.UnixNano())
					if err := c.write(c.header(CallIDPing, -1)); err != nil {
						c.fail(&ConnError{Addr: c.opts.Addr, Op: "write", Err: err})
						return
					}
				}
				continue
			}
			if c.opts.IdleTimeout > 0 && now.Sub(time.Unix(0, c.lastActive.Load())) >= c.opts.IdleTimeout {
				c.fail(&ConnError{Addr: c.opts.Addr, Op: "close", Err: ErrClosed})
				return
			}
		}
	}
}

// fail closes the connection once and fails every call in flight with err.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = err
	pending := c.pending
	c.pending = map[int32]chan result{}
	c.mu.Unlock()
	close(c.done)
	_ = c.nc.Close()
	for _, ch := range pending {
		ch <- result{err: err}
	}
}

// Closed reports whether the connection is closed or broken.
func (c *Conn) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Done is closed when the connection closes for any reason.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection and waits for its goroutines. Idempotent.
func (c *Conn) Close() error {
	c.fail(&ConnError{Addr: c.opts.Addr, Op: "close", Err: ErrClosed})
	c.wg.Wait()
	return nil
}

// Client is a reconnecting handle on one (address, protocol, user, auth)
// connection: it dials lazily and redials after the connection closed (idle
// timeout, server restart, fatal error). Retrying a failed call is the
// caller's decision (see package yarn's idempotency table).
type Client struct {
	opts Options
	mu   sync.Mutex
	conn *Conn
}

// NewClient validates opts; it does not dial.
func NewClient(opts Options) (*Client, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.ClientID == nil {
		opts.ClientID = NewClientID()
	}
	if opts.CallIDs == nil {
		opts.CallIDs = new(atomic.Int32) // call ids stay unique across redials
	}
	return &Client{opts: opts}, nil
}

// Addr is the server address this client talks to.
func (c *Client) Addr() string { return c.opts.Addr }

// SetMechanisms replaces the SASL mechanisms for future connections (for
// example after the RM rolled the AMRMToken); the current connection stays.
func (c *Client) SetMechanisms(m []ClientMechanism) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.Mechanisms = m
}

func (c *Client) get(ctx context.Context) (*Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil && !c.conn.Closed() {
		return c.conn, nil
	}
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
	conn, err := Dial(ctx, c.opts)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	return conn, nil
}

// Call sends one call on the current connection, dialing first if needed.
func (c *Client) Call(ctx context.Context, method string, req, resp proto.Message) error {
	conn, err := c.get(ctx)
	if err != nil {
		return err
	}
	return conn.Call(ctx, method, req, resp)
}

// Close closes the current connection. Idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		return conn.Close()
	}
	return nil
}
