// Package ipc is Spindle's Hadoop RPC transport: the `hrpc` preamble, the
// connection context, call framing, call-id demultiplexing, SASL (SIMPLE,
// TOKEN via DIGEST-MD5 and KERBEROS via GSSAPI with RFC 4121 wrap tokens, each
// with auth, auth-int and auth-conf, client and server side), the SASL WRAP framing, tokens and
// credentials files, and the mapping of RemoteExceptions to *RemoteError.
//
// The same pure codec (frame.go) serves the client (Conn, Client) and the
// server (Server), the way one transport file serves both ends in grpc-go.
//
// # What it must never do
//
// ipc knows methods only as strings: it never imports the YARN or HDFS
// protobuf packages, never retries a call on its own (retry decisions depend
// on method idempotency, which package yarn owns) and never logs token,
// password or SASL bytes.
//
// # Lifecycle
//
// Dial returns a Conn that is authenticated and has sent its connection
// context. A Conn has one reader goroutine and one keepalive goroutine; both
// are joined by Close, which is idempotent. A Conn closes itself when idle
// (Options.IdleTimeout) and fails every call in flight when the transport
// breaks; Client redials on the next call.
//
// # Logging
//
// Loggers come from Options.Logger and ServerOptions.Logger (zero value:
// nothing is logged). Client connections log with component=ipc and the
// server's address under a field named for what the server is:
// AddrField(Options.Peer), which is "<peer>_addr" — rm_addr for the
// ResourceManager's client port (PeerRM), scheduler_addr for its scheduler
// port (PeerScheduler), nm_addr for a NodeManager (PeerNodeManager) and
// nn_addr for a NameNode (PeerNameNode) — or plain addr when Peer is
// empty. Package yarn logs its retries with the same field names.
//
// # Errors
//
//   - *RemoteError: the server threw a Java exception (status ERROR or FATAL).
//   - *ConnError: dial, handshake, SASL, read or write failed; every call in
//     flight on that connection gets it.
//   - ErrFrameTooLarge, ErrMalformed, ErrDigest, ErrCredentials wrap decode
//     failures of untrusted bytes.
package ipc
