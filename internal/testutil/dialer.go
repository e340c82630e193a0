package testutil

import (
	"context"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// AnyAddr makes a fault apply to every address.
const AnyAddr = "*"

// Dialer dials loopback for a client under test (its Dial option) and
// injects the faults a network has, between the client and the real
// in-process server: a refused dial, a peer that swallows everything
// (blackhole), a slow dial, and a connection cut, mid-frame if need be
// (STYLE.md §8; etcd's integration Bridge). It also reroutes addresses
// (a NodeId's host:port to a fake's loopback port) and records what was
// dialed. The zero value dials plainly; it is safe for concurrent use.
type Dialer struct {
	// Next opens the real connections; nil uses a net.Dialer.
	Next func(ctx context.Context, network, addr string) (net.Conn, error)

	mu     sync.Mutex
	routes map[string]string
	rules  []rule
	conns  map[*faultConn]struct{}
	dialed []string
}

// Fault is what happens to a dial or to the connection it opens.
type Fault struct {
	refuse    bool
	blackhole bool
	delay     time.Duration
	cutAfter  int // bytes the client may send before the cut; -1: no limit
	cutWhen   func(sent []byte) bool
}

// Refuse fails the dial as a closed port does (ECONNREFUSED).
func Refuse() Fault { return Fault{refuse: true, cutAfter: -1} }

// Blackhole connects to nothing: the dial succeeds, writes are swallowed
// and reads block until the client closes the connection or its read
// deadline passes, as with a peer that stopped answering.
func Blackhole() Fault { return Fault{blackhole: true, cutAfter: -1} }

// Delay holds the dial for d (or until its context ends) before
// connecting.
func Delay(d time.Duration) Fault { return Fault{delay: d, cutAfter: -1} }

// CutAfter lets the client send n bytes on the connection, then cuts it:
// the server receives exactly n bytes (a frame cut short if n falls in
// one), the write that crosses n reports success, and the client's
// further reads and writes fail with a connection reset.
func CutAfter(n int) Fault { return Fault{cutAfter: n} }

// CutWhen cuts the connection at the write after which everything the
// client has sent satisfies sent: that write reports success but never
// reaches the server (a request lost in flight), and the client's further
// reads and writes fail with a connection reset.
func CutWhen(sent func(sent []byte) bool) Fault { return Fault{cutWhen: sent, cutAfter: -1} }

type rule struct {
	addr string
	f    Fault
	once bool
}

// Route makes dials to from connect to to (the fault rules still match
// from, the address the client asked for).
func (d *Dialer) Route(from, to string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.routes == nil {
		d.routes = map[string]string{}
	}
	d.routes[from] = to
}

// Set makes every later dial to addr (AnyAddr: to any address) suffer f,
// until Heal.
func (d *Dialer) Set(addr string, f Fault) { d.add(rule{addr: addr, f: f}) }

// Once makes the next dial to addr (AnyAddr: to any address) suffer f;
// later dials do not.
func (d *Dialer) Once(addr string, f Fault) { d.add(rule{addr: addr, f: f, once: true}) }

func (d *Dialer) add(r rule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = append(d.rules, r)
}

// Heal removes the faults set for addr (AnyAddr: all of them). Open
// connections keep theirs.
func (d *Dialer) Heal(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = slices.DeleteFunc(d.rules, func(r rule) bool { return addr == AnyAddr || r.addr == addr })
}

// Cut cuts every open connection the Dialer made, as a network failure
// would: the client's reads and writes fail with a connection reset and
// the server sees its peer go away.
func (d *Dialer) Cut() {
	d.mu.Lock()
	conns := make([]*faultConn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.cut()
	}
}

// Dialed returns the addresses dialed so far, in order, as the client
// asked for them (before Route).
func (d *Dialer) Dialed() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.dialed)
}

// Dial is the client's Dial option.
func (d *Dialer) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	target := addr
	if to, ok := d.routes[addr]; ok {
		target = to
	}
	f := Fault{cutAfter: -1}
	for i, r := range d.rules {
		if r.addr == addr || r.addr == AnyAddr {
			f = r.f
			if r.once {
				d.rules = slices.Delete(d.rules, i, i+1)
			}
			break
		}
	}
	next := d.Next
	d.mu.Unlock()

	if f.refuse {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: strAddr{network, addr},
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	if f.blackhole {
		return newBlackhole(network, addr), nil
	}
	if next == nil {
		var nd net.Dialer
		next = nd.DialContext
	}
	nc, err := next(ctx, network, target)
	if err != nil {
		return nil, err
	}
	c := &faultConn{Conn: nc, d: d, after: f.cutAfter, when: f.cutWhen}
	d.mu.Lock()
	if d.conns == nil {
		d.conns = map[*faultConn]struct{}{}
	}
	d.conns[c] = struct{}{}
	d.mu.Unlock()
	return c, nil
}

func (d *Dialer) forget(c *faultConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, c)
}

type strAddr struct{ network, addr string }

func (a strAddr) Network() string { return a.network }
func (a strAddr) String() string  { return a.addr }

// faultConn is a real connection that can be cut.
type faultConn struct {
	net.Conn
	d     *Dialer
	after int
	when  func([]byte) bool

	mu      sync.Mutex
	written int
	sent    []byte // kept for when only
	isCut   bool
	closed  bool
}

func (c *faultConn) reset(op string) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(),
		Err: os.NewSyscallError(op, syscall.ECONNRESET)}
}

func (c *faultConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.isCut {
		c.mu.Unlock()
		return 0, c.reset("write")
	}
	pass, cut := len(p), false
	if c.when != nil {
		c.sent = append(c.sent, p...)
		if c.when(c.sent) {
			pass, cut = 0, true
		}
	}
	if c.after >= 0 && c.written+pass > c.after {
		pass, cut = c.after-c.written, true
	}
	c.written += pass
	c.mu.Unlock()
	if pass > 0 {
		if n, err := c.Conn.Write(p[:pass]); err != nil {
			return n, c.translate("write", err)
		}
	}
	if cut {
		c.cut()
	}
	return len(p), nil
}

func (c *faultConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		err = c.translate("read", err)
	}
	return n, err
}

// translate turns the error of a cut connection into the reset a client
// sees when the network cuts it.
func (c *faultConn) translate(op string, err error) error {
	c.mu.Lock()
	isCut, closed := c.isCut, c.closed
	c.mu.Unlock()
	if isCut && !closed {
		return c.reset(op)
	}
	return err
}

func (c *faultConn) cut() {
	c.mu.Lock()
	c.isCut = true
	c.mu.Unlock()
	_ = c.Conn.Close()
	c.d.forget(c)
}

func (c *faultConn) Close() error {
	c.mu.Lock()
	isCut, closed := c.isCut, c.closed
	c.closed = true
	c.mu.Unlock()
	c.d.forget(c)
	err := c.Conn.Close()
	if isCut && !closed {
		return nil // the socket went with the cut
	}
	return err
}

// blackhole is a connection to a peer that never answers.
type blackhole struct {
	local, remote net.Addr

	mu       sync.Mutex
	closed   chan struct{}
	isClosed bool
	readDL   time.Time
	wake     chan struct{} // closed when the read deadline changes
	writeDL  time.Time
}

func newBlackhole(network, addr string) *blackhole {
	return &blackhole{local: strAddr{network, "127.0.0.1:0"}, remote: strAddr{network, addr},
		closed: make(chan struct{}), wake: make(chan struct{})}
}

func (b *blackhole) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: b.remote.Network(), Source: b.local, Addr: b.remote, Err: err}
}

func (b *blackhole) Read([]byte) (int, error) {
	for {
		b.mu.Lock()
		if b.isClosed {
			b.mu.Unlock()
			return 0, b.opErr("read", net.ErrClosed)
		}
		dl, wake := b.readDL, b.wake
		b.mu.Unlock()
		var expired <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			wait := time.Until(dl)
			if wait <= 0 {
				return 0, b.opErr("read", os.ErrDeadlineExceeded)
			}
			t = time.NewTimer(wait)
			expired = t.C
		}
		select {
		case <-b.closed:
		case <-expired:
		case <-wake:
		}
		if t != nil {
			t.Stop()
		}
	}
}

func (b *blackhole) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return 0, b.opErr("write", net.ErrClosed)
	}
	if !b.writeDL.IsZero() && !time.Now().Before(b.writeDL) {
		return 0, b.opErr("write", os.ErrDeadlineExceeded)
	}
	return len(p), nil
}

func (b *blackhole) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.isClosed {
		return b.opErr("close", net.ErrClosed)
	}
	b.isClosed = true
	close(b.closed)
	return nil
}

func (b *blackhole) LocalAddr() net.Addr  { return b.local }
func (b *blackhole) RemoteAddr() net.Addr { return b.remote }

func (b *blackhole) SetDeadline(t time.Time) error {
	_ = b.SetReadDeadline(t)
	return b.SetWriteDeadline(t)
}

func (b *blackhole) SetReadDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readDL = t
	close(b.wake)
	b.wake = make(chan struct{})
	return nil
}

func (b *blackhole) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writeDL = t
	return nil
}
