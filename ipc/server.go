package ipc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Handler serves one method. It returns the response message, or an error:
// a *ServerError becomes that Java exception (ERROR_APPLICATION unless it
// says otherwise); any other error is sent as java.io.IOException.
type Handler func(ctx context.Context, call *ServerCall) (proto.Message, error)

// Unary adapts a typed function into a Handler that decodes the request.
// A request that does not parse gets an ordinary ERROR, as Hadoop's engine
// parses bodies lazily inside the handler.
func Unary[Req proto.Message](newReq func() Req, f func(ctx context.Context, call *ServerCall, req Req) (proto.Message, error)) Handler {
	return func(ctx context.Context, call *ServerCall) (proto.Message, error) {
		req := newReq()
		if err := Unmarshal(call.Body, req); err != nil {
			return nil, &ServerError{Class: ClassProtobufParse, Message: err.Error()}
		}
		return f(ctx, call, req)
	}
}

// ServerCall describes one incoming call to a Handler.
type ServerCall struct {
	Protocol, Method string
	// User is the authenticated user: the token's user for TOKEN, the
	// context's effective user for SIMPLE, the principal for KERBEROS.
	User string
	// RealUser is set for proxy-user SIMPLE connections.
	RealUser string
	// AuthMethod is SIMPLE, TOKEN or KERBEROS.
	AuthMethod string
	// Body is the raw request message.
	Body []byte
	// CallID and ClientID identify the call (the retry-cache key).
	CallID   int32
	ClientID []byte
	Retry    int32
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
}

// Service is one protocol's method table.
type Service struct {
	// Version is the clientProtocolVersion the protocol accepts (1 for YARN and HDFS).
	Version uint64
	Methods map[string]Handler
}

// ServerOptions configures a Server.
type ServerOptions struct {
	// Mechanisms are the SASL methods offered, in order (TOKEN first, as Hadoop does).
	Mechanisms []ServerMechanism
	// AllowSimple accepts SIMPLE: auth byte 0, or SIMPLE in the SASL offer
	// list. False makes the server demand SASL (the YARN scheduler port and
	// every NodeManager, even on insecure clusters).
	AllowSimple bool
	// MaxFrame bounds request frames (ipc.maximum.data.length); 0 = 128 MiB.
	MaxFrame int
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
	// OnConnect, if set, is called after authentication and the context with
	// the user and protocol; a non-nil error closes the connection FATAL
	// (service-level authorization).
	OnConnect func(user, protocol string) error
}

// Server serves Hadoop IPC. It is the same framing code the client uses.
type Server struct {
	opts     ServerOptions
	lg       zerolog.Logger
	mu       sync.Mutex
	services map[string]*Service
	lns      map[net.Listener]struct{}
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewServer returns a server with no protocols registered.
func NewServer(opts ServerOptions) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		opts:     opts,
		lg:       opts.Logger.With().Str("component", "ipc-server").Logger(),
		services: map[string]*Service{},
		lns:      map[net.Listener]struct{}{},
		conns:    map[net.Conn]struct{}{},
		ctx:      ctx,
		cancel:   cancel,
	}
}

// Register adds (or replaces) a protocol's service.
func (s *Server) Register(protocol string, svc *Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[protocol] = svc
}

// Serve accepts connections on l until Close. It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil // closed before Serve ran: same as closed while serving
	}
	s.lns[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(nc)
			s.mu.Lock()
			delete(s.conns, nc)
			s.mu.Unlock()
		}()
	}
}

// Close stops listening, closes every connection and waits for handlers.
// Idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	for l := range s.lns {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	return nil
}

// serverConn is the state of one accepted connection.
type serverConn struct {
	s          *Server
	nc         net.Conn
	r          io.Reader
	wmu        sync.Mutex
	layer      SecurityLayer
	user       string
	realUser   string
	authMethod string
	protocol   string
	lg         zerolog.Logger
	calls      sync.WaitGroup
}

func (s *Server) serveConn(nc net.Conn) {
	defer nc.Close()
	c := &serverConn{s: s, nc: nc, lg: s.lg.With().Str("remote", nc.RemoteAddr().String()).Logger()}
	br := bufio.NewReader(nc)
	c.r = br
	defer c.calls.Wait()
	p, err := ReadPreamble(br)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			if p.Version != IPCVersion && p.Version != 0 {
				c.fatal(CallIDAuthFailed, ClassVersionMismatch, commonpb.RpcResponseHeaderProto_FATAL_VERSION_MISMATCH,
					fmt.Sprintf("Server IPC version %d cannot communicate with client version %d", IPCVersion, p.Version))
			} else {
				c.fatal(CallIDAuthFailed, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, err.Error())
			}
		}
		return
	}
	if p.AuthProtocol == AuthNone {
		if !s.opts.AllowSimple {
			c.fatal(CallIDAuthFailed, ClassAccessControl, commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED,
				fmt.Sprintf("SIMPLE authentication is not enabled.  Available:%s", s.methodList()))
			return
		}
		c.authMethod = MethodSimple
	} else if err := c.saslAccept(br); err != nil {
		c.lg.Debug().Err(err).Msg("authentication failed")
		return
	}
	if c.layer != nil {
		c.r = &unwrapReader{r: br, max: s.opts.MaxFrame, layer: c.layer, parse: saslFromRequest}
	}
	if err := c.readContext(); err != nil {
		c.lg.Debug().Err(err).Msg("connection context rejected")
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	for {
		f, err := ReadFrame(c.r, s.opts.MaxFrame)
		if err != nil {
			if errors.Is(err, ErrFrameTooLarge) {
				c.fatal(CallIDAuthFailed, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, err.Error())
			}
			return
		}
		req, err := ParseRequest(f)
		if err != nil {
			c.fatal(CallIDAuthFailed, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, err.Error())
			return
		}
		if err := checkRPCHeader(req.Header); err != nil {
			c.fatal(req.Header.GetCallId(), ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, err.Error())
			return
		}
		switch id := req.Header.GetCallId(); {
		case id == CallIDPing:
			continue
		case id == CallIDContext:
			c.fatal(id, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "Connection context already processed")
			return
		case id < 0:
			c.fatal(id, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, fmt.Sprintf("Unknown out of band call #%d", id))
			return
		}
		c.calls.Add(1)
		go func() {
			defer c.calls.Done()
			c.dispatch(ctx, req)
		}()
	}
}

func checkRPCHeader(h *commonpb.RpcRequestHeaderProto) error {
	if h.RpcOp == nil {
		return errors.New("IPC Server: No rpc op in rpcRequestHeader")
	}
	if h.GetRpcOp() != commonpb.RpcRequestHeaderProto_RPC_FINAL_PACKET {
		return fmt.Errorf("IPC Server does not implement rpc header operation %v", h.GetRpcOp())
	}
	if h.RpcKind == nil {
		return errors.New("IPC Server: No rpc kind in rpcRequestHeader")
	}
	return nil
}

func (s *Server) methodList() string {
	var out []string
	for _, m := range s.opts.Mechanisms {
		out = append(out, m.Method())
	}
	if s.opts.AllowSimple {
		out = append(out, MethodSimple)
	}
	return fmt.Sprint(out)
}

func (c *serverConn) readContext() error {
	f, err := ReadFrame(c.r, c.s.opts.MaxFrame)
	if err != nil {
		return err
	}
	req, err := ParseRequest(f)
	if err != nil {
		c.fatal(CallIDAuthFailed, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, err.Error())
		return err
	}
	if id := req.Header.GetCallId(); id != CallIDContext {
		c.fatal(id, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_INVALID_RPC_HEADER, "Connection context not established")
		return fmt.Errorf("ipc: call %d before the connection context", id)
	}
	var ctx commonpb.IpcConnectionContextProto
	if err := Unmarshal(req.Body, &ctx); err != nil {
		c.fatal(CallIDContext, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, err.Error())
		return err
	}
	c.protocol = ctx.GetProtocol()
	ui := ctx.GetUserInfo()
	switch c.authMethod {
	case MethodSimple:
		c.user, c.realUser = ui.GetEffectiveUser(), ui.GetRealUser()
	default:
		if eu := ui.GetEffectiveUser(); eu != "" && eu != c.user {
			if c.authMethod == MethodToken {
				msg := fmt.Sprintf("Authenticated user (%s) doesn't match what the client claims to be (%s)", c.user, eu)
				c.fatal(CallIDContext, ClassAccessControl, commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, msg)
				return errors.New(msg)
			}
			c.realUser, c.user = c.user, eu // Kerberos proxy user
		}
	}
	if c.s.opts.OnConnect != nil {
		if err := c.s.opts.OnConnect(c.user, c.protocol); err != nil {
			c.fatal(CallIDContext, ClassAuthorization, commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, err.Error())
			return err
		}
	}
	return nil
}

// saslAccept runs the server half of the exchange (Server.saslProcess).
func (c *serverConn) saslAccept(br *bufio.Reader) error {
	s := c.s
	recv := func() (*commonpb.RpcSaslProto, error) {
		f, err := ReadFrame(br, s.opts.MaxFrame)
		if err != nil {
			return nil, err
		}
		r, err := ParseRequest(f)
		if err != nil {
			c.fatal(CallIDAuthFailed, ClassIPCException, commonpb.RpcResponseHeaderProto_FATAL_DESERIALIZING_REQUEST, err.Error())
			return nil, err
		}
		if r.Header.GetCallId() != CallIDSASL {
			msg := "Connection context not established"
			if r.Header.GetCallId() == CallIDContext {
				msg = "SASL authentication not complete"
			}
			c.fatal(CallIDAuthFailed, ClassAccessControl, commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, msg)
			return nil, errors.New(msg)
		}
		m := &commonpb.RpcSaslProto{}
		if err := Unmarshal(r.Body, m); err != nil {
			c.fatal(CallIDSASL, ClassSaslException, commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, err.Error())
			return nil, err
		}
		return m, nil
	}
	send := func(m *commonpb.RpcSaslProto) error {
		f, err := AppendFrame(nil, saslResponseHeader(), m)
		if err != nil {
			return err
		}
		_, err = c.nc.Write(f)
		return err
	}
	deny := func(cls, msg string) error {
		c.fatal(CallIDSASL, cls, commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED, msg)
		return errors.New(msg)
	}
	m, err := recv()
	if err != nil {
		return err
	}
	if m.GetState() != commonpb.RpcSaslProto_NEGOTIATE {
		return deny(ClassAccessControl, "SASL negotiation must start with NEGOTIATE")
	}
	if len(s.opts.Mechanisms) == 0 {
		if !s.opts.AllowSimple {
			return deny(ClassAccessControl, "Server is not configured to do any authentication")
		}
		c.authMethod = MethodSimple
		return send(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_SUCCESS.Enum()})
	}
	type started struct {
		mech ServerMechanism
		sess ServerSession
		auth *commonpb.RpcSaslProto_SaslAuth // as offered, without challenge
	}
	var offers []started
	neg := &commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_NEGOTIATE.Enum()}
	for _, mech := range s.opts.Mechanisms {
		sess, ch, err := mech.Start()
		if err != nil {
			return deny(ClassSaslException, err.Error())
		}
		a := &commonpb.RpcSaslProto_SaslAuth{Method: proto.String(mech.Method()), Mechanism: proto.String(mech.Mechanism()),
			Protocol: proto.String(mech.Protocol()), ServerId: proto.String(mech.ServerID())}
		offers = append(offers, started{mech, sess, proto.Clone(a).(*commonpb.RpcSaslProto_SaslAuth)})
		a.Challenge = ch
		neg.Auths = append(neg.Auths, a)
	}
	if s.opts.AllowSimple {
		a := &commonpb.RpcSaslProto_SaslAuth{Method: proto.String(MethodSimple), Mechanism: proto.String("")}
		offers = append(offers, started{auth: proto.Clone(a).(*commonpb.RpcSaslProto_SaslAuth)})
		neg.Auths = append(neg.Auths, a)
	}
	if err := send(neg); err != nil {
		return err
	}
	m, err = recv()
	if err != nil {
		return err
	}
	switch m.GetState() {
	case commonpb.RpcSaslProto_INITIATE:
	case commonpb.RpcSaslProto_NEGOTIATE:
		return deny(ClassAccessControl, "Client already attempted negotiation")
	default:
		return deny(ClassAccessControl, fmt.Sprintf("SASL %v before INITIATE", m.GetState()))
	}
	if len(m.GetAuths()) != 1 {
		return deny(ClassAccessControl, fmt.Sprintf("INITIATE carries %d auths, want 1", len(m.GetAuths())))
	}
	var chosen *started
	for i := range offers {
		if proto.Equal(offers[i].auth, m.GetAuths()[0]) {
			chosen = &offers[i]
			break
		}
	}
	if chosen == nil {
		a := m.GetAuths()[0]
		return deny(ClassAccessControl, fmt.Sprintf("%s authentication is not enabled.  Available:%s", a.GetMethod(), s.methodList()))
	}
	if chosen.mech == nil { // SIMPLE inside SASL: no reply
		c.authMethod = MethodSimple
		return nil
	}
	tok := m.GetToken()
	for {
		reply, done, err := chosen.sess.Step(tok)
		if err != nil {
			var se *ServerError
			if errors.As(err, &se) {
				return deny(se.Class, se.Message)
			}
			return deny(ClassSaslException, err.Error())
		}
		if done {
			if c.layer, err = chosen.sess.Layer(); err != nil {
				return deny(ClassSaslException, err.Error())
			}
			c.user = chosen.sess.User()
			c.authMethod = chosen.mech.Method()
			return send(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_SUCCESS.Enum(), Token: reply})
		}
		if err := send(&commonpb.RpcSaslProto{State: commonpb.RpcSaslProto_CHALLENGE.Enum(), Token: reply}); err != nil {
			return err
		}
		m, err = recv()
		if err != nil {
			return err
		}
		if m.GetState() != commonpb.RpcSaslProto_RESPONSE {
			return deny(ClassAccessControl, fmt.Sprintf("SASL %v, want RESPONSE", m.GetState()))
		}
		tok = m.GetToken()
	}
}

func saslResponseHeader() *commonpb.RpcResponseHeaderProto {
	return &commonpb.RpcResponseHeaderProto{
		CallId:              proto.Uint32(respCallIDSASL),
		Status:              commonpb.RpcResponseHeaderProto_SUCCESS.Enum(),
		ServerIpcVersionNum: proto.Uint32(IPCVersion),
		ClientId:            []byte{},
		RetryCount:          proto.Int32(-1),
	}
}

func (c *serverConn) dispatch(ctx context.Context, req *Request) {
	h := req.Header
	reply := &commonpb.RpcResponseHeaderProto{
		CallId:              proto.Uint32(uint32(h.GetCallId())),
		Status:              commonpb.RpcResponseHeaderProto_SUCCESS.Enum(),
		ServerIpcVersionNum: proto.Uint32(IPCVersion),
		ClientId:            h.GetClientId(),
		RetryCount:          proto.Int32(h.GetRetryCount()),
	}
	fail := func(cls, msg string, code commonpb.RpcResponseHeaderProto_RpcErrorCodeProto) {
		reply.Status = commonpb.RpcResponseHeaderProto_ERROR.Enum()
		reply.ExceptionClassName = proto.String(cls)
		reply.ErrorMsg = proto.String(msg)
		reply.ErrorDetail = code.Enum()
		c.send(reply, nil)
	}
	proto_ := req.Call.GetDeclaringClassProtocolName()
	c.s.mu.Lock()
	svc := c.s.services[proto_]
	c.s.mu.Unlock()
	if svc == nil {
		fail(ClassNoSuchProtocol, "Unknown protocol: "+proto_, commonpb.RpcResponseHeaderProto_ERROR_NO_SUCH_PROTOCOL)
		return
	}
	if v := req.Call.GetClientProtocolVersion(); v != svc.Version {
		fail(ClassVersionMismatch, fmt.Sprintf("Protocol %s version mismatch. (client = %d, server = %d)", proto_, v, svc.Version),
			commonpb.RpcResponseHeaderProto_ERROR_RPC_VERSION_MISMATCH)
		return
	}
	handler := svc.Methods[req.Call.GetMethodName()]
	if handler == nil {
		fail(ClassNoSuchMethod, fmt.Sprintf("Unknown method %s called on %s protocol.", req.Call.GetMethodName(), proto_),
			commonpb.RpcResponseHeaderProto_ERROR_NO_SUCH_METHOD)
		return
	}
	call := &ServerCall{Protocol: proto_, Method: req.Call.GetMethodName(), User: c.user, RealUser: c.realUser, AuthMethod: c.authMethod,
		Body: req.Body, CallID: h.GetCallId(), ClientID: h.GetClientId(), Retry: h.GetRetryCount(), RemoteAddr: c.nc.RemoteAddr()}
	resp, err := handler(ctx, call)
	if err != nil {
		var se *ServerError
		if errors.As(err, &se) {
			code := se.Code
			if code == 0 {
				code = commonpb.RpcResponseHeaderProto_ERROR_APPLICATION
			}
			fail(se.Class, se.Message, code)
			return
		}
		fail(ClassIOException, err.Error(), commonpb.RpcResponseHeaderProto_ERROR_APPLICATION)
		return
	}
	c.send(reply, resp)
}

// send writes one response frame, wrapping it when a layer is active.
func (c *serverConn) send(h *commonpb.RpcResponseHeaderProto, body proto.Message) {
	f, err := AppendFrame(nil, h, body)
	if err != nil {
		c.lg.Warn().Err(err).Msg("encode response")
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.layer != nil {
		if f, err = wrapResponseFrames(nil, c.layer, f); err != nil {
			c.lg.Warn().Err(err).Msg("wrap response")
			return
		}
	}
	_, _ = c.nc.Write(f)
}

// fatal sends a FATAL response (unwrapped during negotiation) and leaves the
// caller to close the connection.
func (c *serverConn) fatal(callID int32, cls string, code commonpb.RpcResponseHeaderProto_RpcErrorCodeProto, msg string) {
	h := &commonpb.RpcResponseHeaderProto{
		CallId:              proto.Uint32(uint32(callID)),
		Status:              commonpb.RpcResponseHeaderProto_FATAL.Enum(),
		ServerIpcVersionNum: proto.Uint32(IPCVersion),
		ExceptionClassName:  proto.String(cls),
		ErrorMsg:            proto.String(msg),
		ErrorDetail:         code.Enum(),
		ClientId:            []byte{},
		RetryCount:          proto.Int32(-1),
	}
	c.send(h, nil)
}
