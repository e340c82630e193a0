// Package ipctest runs an in-process Hadoop IPC server for tests: the real
// ipc.Server on 127.0.0.1:0, closed when the test ends, optionally
// recording the bytes each side sent. Package yarntest builds stub RMs and
// NMs on it; the mini cluster uses ipc.Server directly.
package ipctest

import (
	"bytes"
	"net"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/ipc"
)

// Server is an ipc.Server listening on loopback.
type Server struct {
	*ipc.Server
	l    net.Listener
	done chan error
	rec  *Recorder
}

// NewServer starts a server with opts (logging to the test log) and
// registers t.Cleanup to close it and check that Serve returned cleanly.
func NewServer(t testing.TB, opts ipc.ServerOptions) *Server {
	t.Helper()
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ipctest: listen: %v", err)
	}
	s := &Server{Server: ipc.NewServer(opts), done: make(chan error, 1), rec: &Recorder{}}
	s.l = &recordingListener{Listener: l, rec: s.rec}
	go func() { s.done <- s.Serve(s.l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-s.done; err != nil {
			t.Errorf("ipctest: Serve: %v", err)
		}
	})
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.l.Addr().String() }

// Sent returns every byte the server wrote, over all connections, in order.
func (s *Server) Sent() []byte { return s.rec.Bytes() }

// Recorder collects bytes written to connections.
type Recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Bytes returns a copy of what was recorded.
func (r *Recorder) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

func (r *Recorder) write(b []byte) {
	r.mu.Lock()
	r.buf.Write(b)
	r.mu.Unlock()
}

// Conn wraps nc so that everything written to it is also recorded.
func (r *Recorder) Conn(nc net.Conn) net.Conn { return &recordingConn{Conn: nc, rec: r} }

type recordingListener struct {
	net.Listener
	rec *Recorder
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.rec.Conn(c), nil
}

type recordingConn struct {
	net.Conn
	rec *Recorder
}

// Write records b before sending it: once the peer has read the bytes, a
// test may compare the record at once, so it must already hold them.
func (c *recordingConn) Write(b []byte) (int, error) {
	c.rec.write(b)
	return c.Conn.Write(b)
}
