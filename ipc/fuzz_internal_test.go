package ipc

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// FuzzDigestUnwrap: wrapped payloads from a peer under auth-int and
// auth-conf (3des and rc4): errors, never panics.
func FuzzDigestUnwrap(f *testing.F) {
	f.Add([]byte("68656c6c6f20776f726c64ca343344dee60f6cb4b0000100000000"), uint8(0))
	f.Add(bytes.Repeat([]byte{0}, 22), uint8(1))
	f.Add(bytes.Repeat([]byte{1}, 30), uint8(2))
	ha1 := bytes.Repeat([]byte{7}, 16)
	f.Fuzz(func(t *testing.T, b []byte, mode uint8) {
		qop, cipher := QOPAuthInt, ""
		switch mode % 3 {
		case 1:
			qop, cipher = QOPAuthConf, "3des"
		case 2:
			qop, cipher = QOPAuthConf, "rc4"
		}
		l, err := newDigestLayer(ha1, qop, cipher, false)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = l.Unwrap(b)
	})
}

// FuzzServerConn feeds arbitrary bytes to a server connection, after a
// valid preamble or not: the server answers or closes, never panics or hangs.
func FuzzServerConn(f *testing.F) {
	f.Add([]byte("hrpc\x09\x00\x00"))
	f.Add([]byte("hrpc\x09\x00\xdf\x00\x00\x00\x0e\x0a\x08\x02\x10\x00\x18\x41\x22\x00\x28\x01\x02\x10\x01"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	s := NewServer(ServerOptions{AllowSimple: true, MaxFrame: 1 << 16, Mechanisms: []ServerMechanism{&TokenServerMechanism{Secrets: noSecrets{}}}})
	s.Register("p", &Service{Version: 1, Methods: map[string]Handler{}})
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		a, z := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.serveConn(z)
		}()
		go func() {
			_ = a.SetDeadline(time.Now().Add(time.Second))
			_, _ = a.Write(b)
			_ = a.Close()
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("server connection did not finish")
		}
	})
}

type noSecrets struct{}

func (noSecrets) Retrieve([]byte) ([]byte, string, error) {
	return nil, "", &ServerError{Class: ClassInvalidToken, Message: "no"}
}
