package ipctest_test

import (
	"context"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/ipc/ipctest"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

func TestMain(m *testing.M) { testutil.Main(m) }

const clientProtocol = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"

func newMsg(t *testing.T, d protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
	require.NoError(t, err)
	return mt.New().Interface()
}

// TestReplayClientRM plays the client half of distshell-run/client-rm.txt
// (the real Java YARN client) through our ipc client against our ipc
// server, whose handlers answer with the replies the real RM gave. Both byte
// streams must equal the capture exactly: our client writes what the Java
// client wrote, and our server writes what the real RM wrote.
func TestReplayClientRM(t *testing.T) {
	dir, err := capture.Dir()
	require.NoError(t, err)
	tr, err := capture.Load(filepath.Join(dir, "distshell-run", "client-rm.txt"))
	require.NoError(t, err)
	conv, err := capture.Decode(tr, nil)
	require.NoError(t, err)
	calls := conv.Calls()
	require.Len(t, calls, len(conv.Client)-1) // every frame after the context is a call

	svc := yarnpb.File_yarnpb_applicationclient_protocol_proto.Services().Get(0)
	// Queue the captured replies per method, in order.
	type reply struct {
		req   []byte
		frame *capture.Frame
	}
	queue := map[string][]reply{}
	for _, c := range calls {
		require.NotNil(t, c.Reply, c.Method())
		queue[c.Method()] = append(queue[c.Method()], reply{c.Request.Req.Body, c.Reply})
	}
	methods := map[string]ipc.Handler{}
	for name := range queue {
		md := svc.Methods().ByName(protoreflect.Name(name))
		require.NotNil(t, md, name)
		methods[name] = func(ctx context.Context, call *ipc.ServerCall) (proto.Message, error) {
			next := queue[name][0]
			queue[name] = queue[name][1:]
			require.Equal(t, next.req, call.Body, "%s: request bytes differ from the Java client's", name)
			require.Equal(t, "root", call.User)
			h := next.frame.Resp.Header
			if h.GetStatus() != commonpb.RpcResponseHeaderProto_SUCCESS {
				return nil, &ipc.ServerError{Class: h.GetExceptionClassName(), Message: h.GetErrorMsg(), Code: h.GetErrorDetail()}
			}
			resp := newMsg(t, md.Output())
			require.NoError(t, proto.Unmarshal(next.frame.Resp.Body, resp))
			return resp, nil
		}
	}
	srv := ipctest.NewServer(t, ipc.ServerOptions{AllowSimple: true})
	srv.Register(clientProtocol, &ipc.Service{Version: 1, Methods: methods})

	var ctxProto commonpb.IpcConnectionContextProto
	require.NoError(t, proto.Unmarshal(conv.Client[0].Req.Body, &ctxProto))
	clientRec := &ipctest.Recorder{}
	var callIDs atomic.Int32
	ctx := testutil.Context(t, 20*time.Second)
	conn, err := ipc.Dial(ctx, ipc.Options{
		Addr:     srv.Addr(),
		Protocol: ctxProto.GetProtocol(),
		User:     ctxProto.GetUserInfo().GetEffectiveUser(),
		ClientID: conv.Client[0].Req.Header.GetClientId(),
		CallIDs:  &callIDs,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return clientRec.Conn(nc), nil
		},
	})
	require.NoError(t, err)
	for i, c := range calls {
		md := svc.Methods().ByName(protoreflect.Name(c.Method()))
		req, resp := newMsg(t, md.Input()), newMsg(t, md.Output())
		require.NoError(t, proto.Unmarshal(c.Request.Req.Body, req))
		// The Java client's ids come from one JVM-wide counter, so they skip.
		callIDs.Store(c.Request.Req.Header.GetCallId())
		err := conn.Call(ctx, c.Method(), req, resp)
		h := c.Reply.Resp.Header
		if h.GetStatus() != commonpb.RpcResponseHeaderProto_SUCCESS {
			var re *ipc.RemoteError
			require.ErrorAs(t, err, &re, "call %d %s", i, c.Method())
			require.Equal(t, h.GetExceptionClassName(), re.Class)
			require.Equal(t, h.GetErrorMsg(), re.Message)
			require.Equal(t, int32(h.GetErrorDetail()), re.Code)
			continue
		}
		require.NoError(t, err, "call %d %s", i, c.Method())
		want := newMsg(t, md.Output())
		require.NoError(t, proto.Unmarshal(c.Reply.Resp.Body, want))
		require.True(t, proto.Equal(want, resp), "call %d %s", i, c.Method())
	}
	require.NoError(t, conn.Close())
	require.Equal(t, tr.Client, clientRec.Bytes(), "our client's bytes differ from the Java client's")
	require.Equal(t, tr.Server, srv.Sent(), "our server's bytes differ from the real RM's")
	t.Logf("replayed %d calls; %d client and %d server bytes identical", len(calls), len(tr.Client), len(tr.Server))
}
