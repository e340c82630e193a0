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
//
// A call that finds no server answering works in rounds: a round tries
// every endpoint once, back to back. Between rounds it sleeps; while the
// outage is younger than Probe.Window it follows the probe schedule
// (Probe.Base doubling to Probe.Max), after that the long one (BaseDelay
// doubling to MaxDelay), as Hadoop's failover sleeps. The probe catches
// an RM HA election (a standby refuses connections until it wins, which
// takes ZooKeeper's session timeout, 10 s by default) within Probe.Max of
// its end instead of after Hadoop's 30-second sleep. The schedule belongs
// to the client, not to one call: calls made during an outage continue it
// rather than start over, so a client sends at most one round per sleep
// however many calls it has waiting.
type RetryPolicy struct {
	// MaxWait bounds the total time spent retrying one call
	// (yarn.resourcemanager.connect.max-wait.ms); 0 means 15 minutes.
	MaxWait time.Duration
	// BaseDelay is the first long sleep (yarn.client.failover-sleep-base-ms);
	// 0 means 500 ms. Each further round doubles it up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps the long sleep (yarn.client.failover-sleep-max-ms); 0 means 15 s.
	MaxDelay time.Duration
	// Probe is the fast schedule at the start of an outage.
	Probe ProbeSchedule
}

// ProbeSchedule is the fast retry schedule at the start of an outage.
type ProbeSchedule struct {
	// Off disables probing: the long schedule applies from the first
	// round. RMOptionsFromConf sets it when the configuration sets
	// yarn.client.failover-sleep-base-ms or -max-ms.
	Off bool
	// Base is the first sleep between rounds; 0 means DefaultProbe.Base.
	Base time.Duration
	// Max caps the sleep; 0 means DefaultProbe.Max.
	Max time.Duration
	// Window is how long into an outage the probe schedule applies; 0
	// means DefaultProbe.Window.
	Window time.Duration
}

// DefaultProbe is the probe schedule unless the configuration sets
// Hadoop's failover sleeps: rounds 200 ms, 400 ms, 800 ms, then every
// 1.5 s (±10%) for the first minute of an outage. With two rm-ids that is
// at most two connection attempts per 1.35 s per client (about 90 over
// the minute), then Hadoop's long schedule (30 s by default).
var DefaultProbe = ProbeSchedule{Base: 200 * time.Millisecond, Max: 1500 * time.Millisecond, Window: time.Minute}

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
	if p.Probe.Base <= 0 {
		p.Probe.Base = DefaultProbe.Base
	}
	if p.Probe.Max <= 0 {
		p.Probe.Max = DefaultProbe.Max
	}
	if p.Probe.Window <= 0 {
		p.Probe.Window = DefaultProbe.Window
	}
	return p
}

// delay is the backoff before attempt n (n ≥ 1), with ±10% jitter.
func (p RetryPolicy) delay(n int) time.Duration {
	return expDelay(p.BaseDelay, p.MaxDelay, n)
}

// roundDelay is the sleep after round n (n ≥ 1) of an outage that began
// elapsed ago, or after the long schedule's round longN (n ≥ 1) once the
// probe window is over.
func (p RetryPolicy) roundDelay(n, longN int, elapsed time.Duration) (d time.Duration, probing bool) {
	if !p.Probe.Off && elapsed < p.Probe.Window {
		return expDelay(p.Probe.Base, p.Probe.Max, n), true
	}
	return expDelay(p.BaseDelay, p.MaxDelay, longN), false
}

// expDelay is base doubled n-1 times, capped at maxDelay, with ±10% jitter.
func expDelay(base, maxDelay time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
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
// the policy's rounds, and retrying only what RetryDecision allows.
type failover struct {
	eps    []Endpoint
	policy RetryPolicy
	lg     zerolog.Logger

	mu      sync.Mutex
	opts    connOptions
	clients []*ipc.Client
	active  int
	out     outage
}

// outage is the client's retry schedule while no endpoint answers; the
// zero value means the last call got through.
type outage struct {
	since      time.Time // first failure
	rounds     int       // rounds completed
	longRounds int       // rounds completed on the long schedule
	inRound    int       // endpoints tried in the current round
	next       time.Time // no attempt before this
	probing    bool      // the last sleep was from the probe schedule
	lastErr    string
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
		wait := time.Until(f.out.next)
		f.mu.Unlock()
		if wait > 0 {
			if werr := b.wait(ctx, wait); werr != nil {
				return fmt.Errorf("%s %s: %w (waiting for the ResourceManager: %s)", method, f.eps[i], werr, f.lastError())
			}
		}
		c, err := f.client(i)
		if err != nil {
			return err
		}
		err = f.attempt(ctx, c, method, req, resp)
		if err == nil {
			f.answered(i)
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
		f.failed(i, action, method, err)
	}
}

// failed records a failed attempt on endpoint i in the client's outage
// schedule: a failover error moves on to the next endpoint at once until
// every endpoint had its try (a round); a finished round, or an error to
// retry on the same endpoint, sets the sleep before the next attempt.
func (f *failover) failed(i int, action RetryAction, method string, err error) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.out.since.IsZero() {
		f.out.since = now
	}
	f.out.lastErr = err.Error()
	endRound := action == RetrySame
	if action == Failover && f.active == i {
		f.active = (i + 1) % len(f.eps)
		f.out.inRound++
		endRound = f.out.inRound >= len(f.eps)
	}
	if !endRound {
		f.lg.Debug().Err(err).Str("method", method).Str(ipc.AddrField(f.opts.Peer), f.eps[i].Addr).Msg("call failed; trying the next ResourceManager")
		return
	}
	f.out.rounds++
	f.out.inRound = 0
	wasProbing := f.out.probing
	d, probing := f.policy.roundDelay(f.out.rounds, f.out.longRounds+1, now.Sub(f.out.since))
	if !probing {
		f.out.longRounds++
	}
	f.out.probing = probing
	f.out.next = now.Add(d)
	ev := f.lg.Debug()
	switch {
	case f.out.rounds == 1:
		ev = f.lg.Warn()
		if probing {
			ev = ev.Dur("probing_for", f.policy.Probe.Window)
		}
	case wasProbing && !probing:
		ev = f.lg.Warn().Dur("unreachable_for", now.Sub(f.out.since).Round(time.Millisecond))
	}
	ev.Err(err).Str("method", method).Str(ipc.AddrField(f.opts.Peer), f.eps[i].Addr).Str("endpoints", f.describe()).Int("round", f.out.rounds).Dur("backoff", d).
		Msg("no ResourceManager answered; retrying")
}

// answered ends an outage: the next failure starts a new schedule.
func (f *failover) answered(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.out.since.IsZero() {
		return
	}
	f.lg.Info().Str(ipc.AddrField(f.opts.Peer), f.eps[i].Addr).Str("rm_id", f.eps[i].RMID).
		Dur("unreachable_for", time.Since(f.out.since).Round(time.Millisecond)).Int("rounds", f.out.rounds).Msg("ResourceManager answering again")
	f.out = outage{}
}

func (f *failover) lastError() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.lastErr
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
