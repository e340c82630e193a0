package ipc

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Java exception classes the IPC layer itself raises or recognises
// (org.apache.hadoop.ipc.* and org.apache.hadoop.security.*).
const (
	ClassRemoteException       = "org.apache.hadoop.ipc.RemoteException"
	ClassVersionMismatch       = "org.apache.hadoop.ipc.RPC$VersionMismatch"
	ClassNoSuchProtocol        = "org.apache.hadoop.ipc.RpcNoSuchProtocolException"
	ClassNoSuchMethod          = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	ClassIPCException          = "org.apache.hadoop.ipc.IpcException"
	ClassRPCServerException    = "org.apache.hadoop.ipc.RpcServerException"
	ClassStandbyException      = "org.apache.hadoop.ipc.StandbyException"
	ClassRetriableException    = "org.apache.hadoop.ipc.RetriableException"
	ClassAccessControl         = "org.apache.hadoop.security.AccessControlException"
	ClassAuthorization         = "org.apache.hadoop.security.authorize.AuthorizationException"
	ClassInvalidToken          = "org.apache.hadoop.security.token.SecretManager$InvalidToken"
	ClassSaslException         = "javax.security.sasl.SaslException"
	ClassIOException           = "java.io.IOException"
	ClassProtobufParse         = "com.google.protobuf.InvalidProtocolBufferException"
	ClassUnsupportedOperation  = "java.lang.UnsupportedOperationException"
	ClassIllegalArgument       = "java.lang.IllegalArgumentException"
	ClassConnectionCtxNotReady = ClassIPCException
)

// RemoteError is a Java exception returned by the server (status ERROR or
// FATAL). Callers use errors.As to reach it; package yarn maps Class to its
// sentinels.
type RemoteError struct {
	// Method is the RPC method, empty for connection-level failures.
	Method string
	// Class is the Java exception class name, e.g.
	// org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException.
	Class string
	// Message is the exception message (Hadoop sends message and, for
	// non-terse exceptions, the stack trace).
	Message string
	// Code is the RpcErrorCodeProto value (0 when the server sent none).
	Code int32
	// Fatal reports status FATAL: the server closes the connection.
	Fatal bool
}

func (e *RemoteError) Error() string {
	msg := e.Message
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] // the first line; the stack trace stays in Message
	}
	if e.Method != "" {
		return fmt.Sprintf("ipc: %s: %s: %s", e.Method, e.Class, msg)
	}
	return fmt.Sprintf("ipc: %s: %s", e.Class, msg)
}

// remoteErrorFromHeader builds a RemoteError from a non-SUCCESS response header.
func remoteErrorFromHeader(method string, h *commonpb.RpcResponseHeaderProto) *RemoteError {
	cls := h.GetExceptionClassName()
	if cls == "" {
		cls = ClassRemoteException
	}
	return &RemoteError{
		Method:  method,
		Class:   cls,
		Message: h.GetErrorMsg(),
		Code:    int32(h.GetErrorDetail()),
		Fatal:   h.GetStatus() == commonpb.RpcResponseHeaderProto_FATAL,
	}
}

// ServerError is what an ipc.Server handler returns to send a Java exception
// to the client. Any other error is sent as java.io.IOException.
type ServerError struct {
	Class   string
	Message string
	// Code defaults to ERROR_APPLICATION.
	Code commonpb.RpcResponseHeaderProto_RpcErrorCodeProto
}

func (e *ServerError) Error() string { return e.Class + ": " + e.Message }

// NewServerError returns a ServerError for class with a formatted message.
func NewServerError(class, format string, args ...any) *ServerError {
	return &ServerError{Class: class, Message: fmt.Sprintf(format, args...)}
}

// ConnError is a transport failure: dial, EOF, SASL, a bad frame. Every call
// in flight on the connection fails with it.
type ConnError struct {
	Addr string
	Op   string // "dial", "handshake", "sasl", "read", "write", "close"
	Err  error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("ipc: %s %s: %v", e.Op, e.Addr, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// ErrClosed is returned by calls on a closed connection or client.
var ErrClosed = errors.New("ipc: connection closed")

// IsRemoteClass reports whether err carries a RemoteError of class cls.
func IsRemoteClass(err error, cls string) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Class == cls
}
