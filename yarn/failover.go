package yarn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/ipc"
)

// ErrUnreachable is returned when no server answered a call within the
// retry policy; the error names every address tried and its config key.
var ErrUnreachable = errors.New("yarn: server unreachable")

// Endpoint is one server address and where it came from, so errors can name
// the configuration key to fix.
type Endpoint struct {
	// RMID is the HA rm-id ("" without HA).
	RMID string
	// Addr is host:port.
	Addr string
	// Key is the configuration key the address came from, e.g.
	// yarn.resourcemanager.address.rm1.
	Key string
}

func (e Endpoint) String() string {
	if e.Key == "" {
		return e.Addr
	}
	return fmt.Sprintf("%s (%s)", e.Addr, e.Key)
}

// RetryPolicy bounds failover and retries (yarn.client.failover-* and
// yarn.resourcemanager.connect.* in Hadoop).
type RetryPolicy struct {
	// MaxWait bounds the total time spent retrying one call
	// (yarn.resourcemanager.connect.max-wait.ms); 0 means 15 minutes.
	MaxWait time.Duration
	// BaseDelay is the first backoff (yarn.client.failover-sleep-base-ms);
	// 0 means 500 ms. Each further attempt doubles it up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps the backoff (yarn.client.failover-sleep-max-ms); 0 means 15 s.
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxWait <= 0 {
		p.MaxWait = 15 * time.Minute
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 15 * time.Second
	}
	return p
}

// delay is the backoff before attempt n (n ≥ 1), with ±20% jitter.
func (p RetryPolicy) delay(n int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	j := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return d + j
}

// backoff sleeps between the attempts of one call, reusing one timer.
type backoff struct{ timer *time.Timer }

// wait sleeps d, or returns ctx's error if ctx ends first.
func (b *backoff) wait(ctx context.Context, d time.Duration) error {
	if b.timer == nil {
		b.timer = time.NewTimer(d)
	} else {
		b.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.timer.C:
		return nil
	}
}

func (b *backoff) stop() {
	if b.timer != nil {
		b.timer.Stop()
	}
}

// endpointsFromConf lists the addresses of one RM service with the keys
// they came from.
func endpointsFromConf(c *conf.Configuration, svc conf.RMService) ([]Endpoint, error) {
	addrs, err := c.RMAddresses(svc)
	if err != nil {
		return nil, err
	}
	eps := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		eps[i] = Endpoint{RMID: a.RMID, Addr: a.Address, Key: a.Key}
	}
	return eps, nil
}

// connOptions are the ipc settings shared by every endpoint of a caller.
type connOptions struct {
	Peer       string // ipc.PeerRM or ipc.PeerScheduler: names the address in logs
	Protocol   string
	User       string
	Mechanisms []ipc.ClientMechanism
	Kerberos   *Kerberos // GSSAPI after Mechanisms, per endpoint host
	// FallbackToSimpleAllowed is ipc.Options.FallbackToSimpleAllowed.
	FallbackToSimpleAllowed bool
	Dial                    func(ctx context.Context, network, addr string) (net.Conn, error)
	ClientID                []byte
	// CallTimeout bounds each attempt of a call (dial, handshake and
	// call); 0 means none. See AMRMOptions.CallTimeout.
	CallTimeout time.Duration
	Logger      zerolog.Logger
}

// failover sends calls to the active one of several endpoints (RM HA),
// remembering which answered last, rotating on failover errors with
// backoff, and retrying only what RetryDecision allows.
type failover struct {
	eps    []Endpoint
	policy RetryPolicy
	lg     zerolog.Logger

	mu      sync.Mutex
	opts    connOptions
	clients []*ipc.Client
	active  int
}

func newFailover(eps []Endpoint, opts connOptions, policy RetryPolicy) (*failover, error) {
	if len(eps) == 0 {
		return nil, errors.New("yarn: no ResourceManager address configured (set yarn.resourcemanager.address, or yarn.resourcemanager.hostname)")
	}
	for _, e := range eps {
		if _, _, err := net.SplitHostPort(e.Addr); err != nil {
			return nil, fmt.Errorf("yarn: bad address %s: %w (want host:port)", e, err)
		}
	}
	if opts.ClientID == nil {
		opts.ClientID = ipc.NewClientID()
	}
	return &failover{eps: eps, policy: policy.withDefaults(), opts: opts, clients: make([]*ipc.Client, len(eps)),
		lg: opts.Logger.With().Str("component", "yarn").Logger()}, nil
}

func (f *failover) client(i int) (*ipc.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clients[i] == nil {
		c, err := ipc.NewClient(ipc.Options{Addr: f.eps[i].Addr, Peer: f.opts.Peer, Protocol: f.opts.Protocol, User: f.opts.User,
			Mechanisms: withKerberos(f.opts.Mechanisms, f.opts.Kerberos, f.eps[i].Addr), Dial: f.opts.Dial, ClientID: f.opts.ClientID, Logger: f.opts.Logger,
			FallbackToSimpleAllowed: f.opts.FallbackToSimpleAllowed})
		if err != nil {
			return nil, err
		}
		f.clients[i] = c
	}
	return f.clients[i], nil
}

// setMechanisms changes the SASL mechanisms for new connections (a rolled
// AMRMToken); existing connections stay as they are.
func (f *failover) setMechanisms(m []ipc.ClientMechanism) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts.Mechanisms = m
	for i, c := range f.clients {
		if c != nil {
			c.SetMechanisms(withKerberos(m, f.opts.Kerberos, f.eps[i].Addr))
		}
	}
}

// call sends one call, failing over and retrying per RetryDecision until it
// succeeds, fails for good, ctx ends or the policy's MaxWait passes.
func (f *failover) call(ctx context.Context, method string, req, resp proto.Message) error {
	start := time.Now()
	var b backoff
	defer b.stop()
	for attempt := 1; ; attempt++ {
		f.mu.Lock()
		i := f.active
		f.mu.Unlock()
		c, err := f.client(i)
		if err != nil {
			return err
		}
		err = f.attempt(ctx, c, method, req, resp)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, f.eps[i], err)
		}
		action := RetryDecision(err, method)
		if action == Fail {
			return err
		}
		if time.Since(start) >= f.policy.MaxWait {
			return fmt.Errorf("%w: %s: no answer from %s after %d attempts over %s (check the address keys and that the service runs): %w",
				ErrUnreachable, method, f.describe(), attempt, time.Since(start).Round(time.Millisecond), err)
		}
		if action == Failover {
			f.mu.Lock()
			if f.active == i {
				f.active = (i + 1) % len(f.eps)
			}
			f.mu.Unlock()
		}
		d := f.policy.delay(attempt)
		if len(f.eps) > 1 && action == Failover && attempt < len(f.eps) {
			d = 0 // try every endpoint once before backing off
		}
		f.lg.Warn().Err(err).Str("method", method).Int("attempt", attempt).Dur("backoff", d).Str(ipc.AddrField(f.opts.Peer), f.eps[i].Addr).Msg("call failed; retrying")
		if werr := b.wait(ctx, d); werr != nil {
			return fmt.Errorf("%s %s: %w (last error: %v)", method, f.eps[i], werr, err)
		}
	}
}

// attempt sends one call on c within CallTimeout. A call that times out
// closes the connection (a server that stopped answering will not answer
// on it again; Java's client closes it too) and fails as a transport
// failure: RetryDecision treats it as a lost connection.
func (f *failover) attempt(ctx context.Context, c *ipc.Client, method string, req, resp proto.Message) error {
	f.mu.Lock()
	timeout := f.opts.CallTimeout
	f.mu.Unlock()
	if timeout <= 0 {
		return c.Call(ctx, method, req, resp)
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.Call(actx, method, req, resp)
	if err == nil || ctx.Err() != nil || actx.Err() == nil {
		return err
	}
	_ = c.Close()
	var ce *ipc.ConnError
	if errors.As(err, &ce) { // timed out connecting
		return err
	}
	return &ipc.ConnError{Addr: c.Addr(), Op: "read", Err: fmt.Errorf("no response to %s within %s (ipc.client.rpc-timeout.ms): %w", method, timeout, err)}
}

func (f *failover) describe() string {
	if len(f.eps) == 1 {
		return f.eps[0].String()
	}
	s := ""
	for i, e := range f.eps {
		if i > 0 {
			s += ", "
		}
		s += e.String()
	}
	return "[" + s + "]"
}

// Active returns the endpoint that answered last (or will be tried first).
func (f *failover) activeEndpoint() Endpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.eps[f.active]
}

func (f *failover) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clients {
		if c != nil {
			_ = c.Close()
		}
	}
	return nil
}
