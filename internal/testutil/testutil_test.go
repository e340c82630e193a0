package testutil_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestBufferConcurrentWrites(t *testing.T) {
	var b testutil.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "w%d-%d\n", i, j)
				_ = b.String() // reads race with writes
			}
		})
	}
	wg.Wait()
	require.Equal(t, 800, strings.Count(b.String(), "\n"))
	require.Contains(t, b.String(), "w7-99\n")
	got := b.Bytes()
	got[0] = 'X' // a copy
	require.Equal(t, byte('w'), b.String()[0])
}

func TestContextTimesOutAndEndsWithTheTest(t *testing.T) {
	start := time.Now()
	ctx := testutil.Context(t, 50*time.Millisecond)
	dl, ok := ctx.Deadline()
	require.True(t, ok)
	require.WithinDuration(t, start.Add(50*time.Millisecond), dl, 40*time.Millisecond)
	<-ctx.Done()
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)

	var sub context.Context
	t.Run("sub", func(t *testing.T) {
		sub = testutil.Context(t, time.Hour)
		require.NoError(t, sub.Err())
	})
	require.ErrorIs(t, sub.Err(), context.Canceled, "cancelled at the subtest's cleanup")
}

// fatalTB records Fatal instead of ending the test.
type fatalTB struct {
	testing.TB
	fatal string
}

func (f *fatalTB) Helper()           {}
func (f *fatalTB) Fatal(args ...any) { f.fatal = fmt.Sprint(args...) }

func TestBuildOnce(t *testing.T) {
	p := testutil.Build(t, "./testdata/hello", "bin/hello")
	require.True(t, strings.HasSuffix(p, "/bin/hello"), p)
	out, err := exec.Command(p).Output()
	require.NoError(t, err)
	require.Equal(t, "hello from a test binary\n", string(out))
	st, err := os.Stat(p)
	require.NoError(t, err)

	require.Equal(t, p, testutil.Build(t, "./testdata/hello", "bin/hello"), "built once")
	st2, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, st.ModTime(), st2.ModTime(), "not rebuilt")
	other := testutil.Build(t, "./testdata/hello", "hello")
	require.NotEqual(t, p, other, "another output path is another build")

	f := &fatalTB{TB: t}
	testutil.Build(f, "./testdata/broken", "broken")
	require.Contains(t, f.fatal, "go build -o broken ./testdata/broken")
	require.Contains(t, f.fatal, "undefined: undefined")
	f.fatal = ""
	testutil.Build(f, "./testdata/broken", "broken")
	require.Contains(t, f.fatal, "undefined: undefined", "the failure is reported to each caller")

	require.NoError(t, testutil.RemoveBuilds())
	require.NoFileExists(t, p)
	require.NoFileExists(t, other)
	p2 := testutil.Build(t, "./testdata/hello", "bin/hello")
	require.FileExists(t, p2, "a build after RemoveBuilds builds afresh")
}

// echoServer accepts connections, records what each received and echoes
// it back; received(i) is everything connection i got until it ended.
type echoServer struct {
	l    net.Listener
	mu   sync.Mutex
	got  []*bytes.Buffer
	done []chan struct{}
	wg   sync.WaitGroup
}

func newEchoServer(t *testing.T) *echoServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &echoServer{l: l}
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			buf, done := &bytes.Buffer{}, make(chan struct{})
			s.got, s.done = append(s.got, buf), append(s.done, done)
			s.mu.Unlock()
			s.wg.Go(func() {
				defer close(done)
				defer c.Close()
				p := make([]byte, 1024)
				for {
					n, err := c.Read(p)
					s.mu.Lock()
					buf.Write(p[:n])
					s.mu.Unlock()
					if err != nil {
						return
					}
					if _, err := c.Write(p[:n]); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *echoServer) addr() string { return s.l.Addr().String() }

func (s *echoServer) conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// received waits until connection i has ended and returns what it got.
func (s *echoServer) received(t *testing.T, i int) string {
	t.Helper()
	require.Eventually(t, func() bool { return s.conns() > i }, 5*time.Second, time.Millisecond)
	s.mu.Lock()
	done := s.done[i]
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("connection %d did not end", i)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[i].String()
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

func requireReset(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, syscall.ECONNRESET)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
}

func TestDialerPlainRouteAndDialed(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Route("nm-a.example.com:8041", s.addr())
	c, err := d.Dial(ctx, "tcp", "nm-a.example.com:8041")
	require.NoError(t, err)
	roundTrip(t, c, "hello")
	require.NoError(t, c.Close())
	c, err = d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err)
	roundTrip(t, c, "again")
	require.NoError(t, c.Close())
	require.Equal(t, []string{"nm-a.example.com:8041", s.addr()}, d.Dialed())
	require.Equal(t, "hello", s.received(t, 0))
}

func TestDialerRefuse(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Set("down:1", testutil.Refuse())
	d.Route("down:1", s.addr())
	_, err := d.Dial(ctx, "tcp", "down:1")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.ErrorContains(t, err, "dial tcp down:1: connect: connection refused")
	require.Zero(t, s.conns(), "nothing reached the server")

	d.Heal("down:1")
	c, err := d.Dial(ctx, "tcp", "down:1")
	require.NoError(t, err)
	roundTrip(t, c, "healed")
	require.NoError(t, c.Close())
}

func TestDialerOnceAndAnyAddr(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Once(testutil.AnyAddr, testutil.Refuse())
	_, err := d.Dial(ctx, "tcp", s.addr())
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	c, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err, "only the first dial was refused")
	require.NoError(t, c.Close())

	d.Set(testutil.AnyAddr, testutil.Refuse())
	_, err = d.Dial(ctx, "tcp", "elsewhere:1")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	d.Heal(testutil.AnyAddr)
	c, err = d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err)
	require.NoError(t, c.Close())
}

func TestDialerDelay(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Set(s.addr(), testutil.Delay(100*time.Millisecond))
	start := time.Now()
	c, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
	roundTrip(t, c, "late")
	require.NoError(t, c.Close())

	d.Heal(s.addr())
	d.Set(s.addr(), testutil.Delay(time.Hour))
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = d.Dial(short, "tcp", s.addr())
	require.ErrorIs(t, err, context.DeadlineExceeded, "the dial's context ends the delay")
}

func TestDialerBlackhole(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Set(s.addr(), testutil.Blackhole())
	c, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err)
	require.Equal(t, s.addr(), c.RemoteAddr().String())
	n, err := c.Write([]byte("into the void"))
	require.NoError(t, err)
	require.Equal(t, 13, n)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())

	// A read blocked without a deadline ends when the client closes.
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	errc := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); errc <- err }()
	require.NoError(t, c.Close())
	require.ErrorIs(t, <-errc, net.ErrClosed)
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
	require.Zero(t, s.conns(), "nothing reached the server")
}

func TestDialerBlackholeDeadlineMovedWhileReading(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Set(testutil.AnyAddr, testutil.Blackhole())
	c, err := d.Dial(ctx, "tcp", "rm:8032")
	require.NoError(t, err)
	defer c.Close()
	errc := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); errc <- err }()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	require.ErrorIs(t, <-errc, os.ErrDeadlineExceeded)
}

func TestDialerCutAfterMidFrame(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Set(s.addr(), testutil.CutAfter(10))
	c, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, "1234")
	n, err := c.Write([]byte("56789abcdef")) // crosses byte 10
	require.NoError(t, err)
	require.Equal(t, 11, n)
	require.Equal(t, "123456789a", s.received(t, 0), "the server got exactly 10 bytes, then its peer went away")
	_, err = io.ReadAll(c)
	requireReset(t, err)
	_, err = c.Write([]byte("more"))
	requireReset(t, err)
}

func TestDialerCutWhen(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	d.Once(s.addr(), testutil.CutWhen(func(sent []byte) bool { return bytes.Contains(sent, []byte("CALL")) }))
	c, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err)
	defer c.Close()
	roundTrip(t, c, "header;")
	_, err = c.Write([]byte("CALL"))
	require.NoError(t, err, "the lost write looks sent")
	require.Equal(t, "header;", s.received(t, 0), "the matching write never reached the server")
	_, err = c.Read(make([]byte, 1))
	requireReset(t, err)

	c2, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err, "Once: the next connection is whole")
	roundTrip(t, c2, "CALL")
	require.NoError(t, c2.Close())
}

func TestDialerCutAll(t *testing.T) {
	s := newEchoServer(t)
	ctx := testutil.Context(t, 10*time.Second)
	var d testutil.Dialer
	var conns []net.Conn
	for range 3 {
		c, err := d.Dial(ctx, "tcp", s.addr())
		require.NoError(t, err)
		roundTrip(t, c, "up")
		conns = append(conns, c)
	}
	closed := conns[2]
	require.NoError(t, closed.Close())
	errc := make(chan error, 1)
	go func() { _, err := conns[0].Read(make([]byte, 1)); errc <- err }()
	d.Cut()
	requireReset(t, <-errc)
	for i := range 3 {
		require.Equal(t, "up", s.received(t, i), "the server saw connection %d end", i)
	}
	_, err := conns[1].Write([]byte("x"))
	requireReset(t, err)
	_, err = closed.Read(make([]byte, 1))
	require.True(t, errors.Is(err, net.ErrClosed), "a connection the client closed stays closed, not reset: %v", err)
	for _, c := range conns[:2] {
		require.NoError(t, c.Close())
	}
	c, err := d.Dial(ctx, "tcp", s.addr())
	require.NoError(t, err, "new connections after a Cut work")
	roundTrip(t, c, "back")
	require.NoError(t, c.Close())
}
