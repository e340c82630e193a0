package yarn

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// These tests replay the DistributedShell ApplicationMaster of
// shared/fixtures/hadoop-3.3.6/distshell-run: the stub servers answer with
// the captured responses, our clients are driven through the typed API the
// way the Java AM was, and every request they send must equal the captured
// request field by field (proto.Equal on the decoded bodies) and byte for
// byte. The stubs demand the real tokens of the capture, so SASL DIGEST-MD5
// runs with the captured AMRMToken and NMToken passwords.

// capturedExchange is one captured call: the decoded request and reply
// bodies and the raw request bytes.
type capturedExchange struct {
	req, resp proto.Message
	raw       []byte
}

// loadExchanges decodes every call of a transcript, grouped by method.
func loadExchanges(t *testing.T, file string, types map[string][2]func() proto.Message) map[string][]capturedExchange {
	t.Helper()
	dir, err := capture.Dir()
	require.NoError(t, err)
	tr, err := capture.Load(filepath.Join(dir, file))
	require.NoError(t, err)
	conv, err := capture.Decode(tr, nil)
	require.NoError(t, err)
	out := map[string][]capturedExchange{}
	for _, c := range conv.Calls() {
		mk, ok := types[c.Method()]
		require.True(t, ok, "unexpected method %s in %s", c.Method(), file)
		require.NotNil(t, c.Reply, "%s has no reply", c.Method())
		ex := capturedExchange{req: mk[0](), resp: mk[1](), raw: c.Request.Req.Body}
		require.NoError(t, ipc.Unmarshal(c.Request.Req.Body, ex.req))
		require.NoError(t, ipc.Unmarshal(c.Reply.Resp.Body, ex.resp))
		out[c.Method()] = append(out[c.Method()], ex)
	}
	return out
}

var amMessages = map[string][2]func() proto.Message{
	mRegisterApplicationMaster: {func() proto.Message { return &yarnpb.RegisterApplicationMasterRequestProto{} }, func() proto.Message { return &yarnpb.RegisterApplicationMasterResponseProto{} }},
	mAllocate:                  {func() proto.Message { return &yarnpb.AllocateRequestProto{} }, func() proto.Message { return &yarnpb.AllocateResponseProto{} }},
	mFinishApplicationMaster:   {func() proto.Message { return &yarnpb.FinishApplicationMasterRequestProto{} }, func() proto.Message { return &yarnpb.FinishApplicationMasterResponseProto{} }},
}

var nmMessages = map[string][2]func() proto.Message{
	mStartContainers:      {func() proto.Message { return &yarnpb.StartContainersRequestProto{} }, func() proto.Message { return &yarnpb.StartContainersResponseProto{} }},
	mGetContainerStatuses: {func() proto.Message { return &yarnpb.GetContainerStatusesRequestProto{} }, func() proto.Message { return &yarnpb.GetContainerStatusesResponseProto{} }},
	mStopContainers:       {func() proto.Message { return &yarnpb.StopContainersRequestProto{} }, func() proto.Message { return &yarnpb.StopContainersResponseProto{} }},
}

// requireSame compares what we sent with what Java sent: decoded, then as
// bytes (both sides write fields in number order).
func requireSame(t *testing.T, want capturedExchange, got proto.Message, what string) {
	t.Helper()
	require.True(t, proto.Equal(want.req, got), "%s differs\ncaptured:\n%s\nours:\n%s", what, prototext.Format(want.req), prototext.Format(got))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(got)
	require.NoError(t, err)
	require.Equal(t, want.raw, b, "%s: same message, different bytes", what)
}

// recorder serves captured replies in order and keeps what it received.
type recorder[Req, Resp proto.Message] struct {
	mu      sync.Mutex
	replies []capturedExchange
	got     []Req
}

func (r *recorder[Req, Resp]) serve(_ context.Context, req Req) (Resp, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var zero Resp
	if len(r.got) >= len(r.replies) {
		return zero, ipc.NewServerError(ipc.ClassIOException, "capture has only %d replies", len(r.replies))
	}
	r.got = append(r.got, req)
	return r.replies[len(r.got)-1].resp.(Resp), nil
}

func (r *recorder[Req, Resp]) received() []Req {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func distshellAMRMToken(t *testing.T) *ipc.Token {
	dir, err := capture.Dir()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "distshell-run", "am-container_tokens.bin"))
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	tok, err := AMRMTokenFromCredentials(creds)
	require.NoError(t, err)
	return tok
}

// TestAMRMMatchesDistributedShell replays am-rm.txt: register; a first
// heartbeat before any request; two requests of 256 MB / 1 vcore at
// priority 0, allocation request id 0 (ask 2); then, as the containers
// arrive, ask 1 and ask 0; the RM's third container, which nobody wanted,
// released in the next heartbeat; quiet heartbeats; finish, repeated until
// the RM confirms.
func TestAMRMMatchesDistributedShell(t *testing.T) {
	ex := loadExchanges(t, "distshell-run/am-rm.txt", amMessages)
	require.Len(t, ex[mRegisterApplicationMaster], 1)
	require.Len(t, ex[mAllocate], 8)
	require.Len(t, ex[mFinishApplicationMaster], 2)

	tok := distshellAMRMToken(t)
	sec := newSecrets(tok)
	am := yarntest.NewAM(t, yarntest.RequireToken(sec))
	reg := &recorder[*yarnpb.RegisterApplicationMasterRequestProto, *yarnpb.RegisterApplicationMasterResponseProto]{replies: ex[mRegisterApplicationMaster]}
	alloc := &recorder[*yarnpb.AllocateRequestProto, *yarnpb.AllocateResponseProto]{replies: ex[mAllocate]}
	fin := &recorder[*yarnpb.FinishApplicationMasterRequestProto, *yarnpb.FinishApplicationMasterResponseProto]{replies: ex[mFinishApplicationMaster]}
	am.RegisterApplicationMasterF, am.AllocateF, am.FinishApplicationMasterF = reg.serve, alloc.serve, fin.serve
	c := newAMRMClient(t, []string{am.Addr()}, tok)
	ctx := testutil.Context(t, 20*time.Second)

	r, err := c.Register(ctx, "vm/127.0.0.1", -1, "")
	require.NoError(t, err)
	requireSame(t, ex[mRegisterApplicationMaster][0], reg.received()[0], "registerApplicationMaster")
	require.Equal(t, Resource{MemoryMB: 8192, VCores: 4}, r.MaxCapability)
	require.Equal(t, "default", r.Queue)

	var allocated, excess []Container
	var completed []ContainerStatus
	for i := range ex[mAllocate] {
		if i == 1 {
			// DistributedShell adds its requests after the first heartbeat.
			for range 2 {
				require.NoError(t, c.AddRequest(ContainerRequest{Resource: Resource{MemoryMB: 256, VCores: 1}, Priority: 0, AllocationRequestID: 0}))
			}
		}
		res, err := c.Allocate(ctx, 0)
		require.NoError(t, err, "allocate %d", i)
		requireSame(t, ex[mAllocate][i], alloc.received()[i], fmt.Sprintf("allocate %d", i))
		allocated = append(allocated, res.Allocated...)
		excess = append(excess, res.Excess...)
		completed = append(completed, res.Completed...)
	}
	require.NoError(t, c.Finish(ctx, FinalSucceeded, "", ""))
	require.Len(t, fin.received(), 2, "isUnregistered false, then true")
	for i, got := range fin.received() {
		requireSame(t, ex[mFinishApplicationMaster][i], got, "finishApplicationMaster")
	}

	// What the typed results say about the run.
	ids := func(cs []Container) (out []string) {
		for _, c := range cs {
			out = append(out, c.ID.String())
		}
		return out
	}
	require.Equal(t, []string{"container_1795317067845_0002_01_000002", "container_1795317067845_0002_01_000003"}, ids(allocated))
	require.Equal(t, []string{"container_1795317067845_0002_01_000004"}, ids(excess))
	require.Len(t, completed, 3)
	require.Equal(t, ExitAborted, completed[0].ExitStatus)
	require.Equal(t, "Container released by application", completed[0].Diagnostics)
	require.Equal(t, ExitSuccess, completed[1].ExitStatus)
	require.Equal(t, map[string]string{"HOST": "vm", "IPS": "127.0.0.1"}, completed[1].Attributes)
	require.Zero(t, c.PendingRequests())
	require.Equal(t, []int{0}, sec.usedBy(tok), "one connection, authenticated with the real AMRMToken")

	// The tokens of the run, decoded.
	amrm, err := ParseAMRMTokenIdentifier(tok.Identifier)
	require.NoError(t, err)
	require.Equal(t, "appattempt_1795317067845_0002_000001", amrm.Attempt.String())

	node := NodeID{Host: "localhost", Port: 8041}
	nmTok := c.NMTokens().Get(node)
	require.NotNil(t, nmTok, "the NMToken is stored under the NodeId")
	require.Equal(t, ipc.KindNMToken, nmTok.Kind)
	require.Equal(t, "127.0.0.1:8041", nmTok.Service, "while its service is ip:port")
	nmID, err := ParseNMTokenIdentifier(nmTok.Identifier)
	require.NoError(t, err)
	require.Equal(t, amrm.Attempt, nmID.Attempt)
	require.Equal(t, node, nmID.Node)
	require.Equal(t, "root", nmID.Submitter)

	for i, ct := range append(slices.Clone(allocated), excess...) {
		id, err := ParseContainerTokenIdentifier(ct.Token.Identifier)
		require.NoError(t, err)
		require.Equal(t, ct.ID, id.Container)
		require.Equal(t, "localhost:8041", id.NMAddress)
		require.Equal(t, "root", id.Submitter)
		require.Equal(t, Resource{MemoryMB: 256, VCores: 1}, id.Resource)
		require.Equal(t, ContainerTypeTask, id.Type)
		require.Equal(t, Guaranteed, id.ExecutionType)
		require.EqualValues(t, 0, id.AllocationRequestID)
		require.EqualValues(t, 1795317067845, id.RMIdentifier, "the RM's start time")
		require.True(t, id.Expiry.After(id.CreationTime), "container %d: expiry after creation", i)
		require.Equal(t, "127.0.0.1:8041", ct.Token.Service)
	}
}

// TestNMMatchesDistributedShell replays the AM's NodeManager calls
// (am-nm-*.txt) through NMClient: each stub demands the real NMToken that
// the allocate responses of am-rm.txt carried, and each request we send —
// the start with the container token and launch context, the status query
// and the stop — must equal the captured one.
func TestNMMatchesDistributedShell(t *testing.T) {
	// The NMToken and containers from the allocate responses.
	amEx := loadExchanges(t, "distshell-run/am-rm.txt", amMessages)
	store := &NMTokens{}
	containers := map[ContainerID]Container{}
	for _, e := range amEx[mAllocate] {
		resp := e.resp.(*yarnpb.AllocateResponseProto)
		for _, t := range resp.GetNmTokens() {
			nt := nmTokenFromProto(t)
			store.Set(nt.Node, nt.Token)
		}
		for _, p := range resp.GetAllocatedContainers() {
			ct := containerFromProto(p)
			containers[ct.ID] = ct
		}
	}
	node := NodeID{Host: "localhost", Port: 8041}
	require.NotNil(t, store.Get(node))

	for i := 1; i <= 7; i++ {
		file := fmt.Sprintf("distshell-run/am-nm-%d.txt", i)
		t.Run(filepath.Base(file), func(t *testing.T) {
			ex := loadExchanges(t, file, nmMessages)
			nm := yarntest.NewNM(t, yarntest.RequireToken(newSecrets(store.Get(node))))
			start := &recorder[*yarnpb.StartContainersRequestProto, *yarnpb.StartContainersResponseProto]{replies: ex[mStartContainers]}
			stop := &recorder[*yarnpb.StopContainersRequestProto, *yarnpb.StopContainersResponseProto]{replies: ex[mStopContainers]}
			status := &recorder[*yarnpb.GetContainerStatusesRequestProto, *yarnpb.GetContainerStatusesResponseProto]{replies: ex[mGetContainerStatuses]}
			nm.StartContainersF, nm.StopContainersF, nm.GetContainerStatusesF = start.serve, stop.serve, status.serve
			d := &testutil.Dialer{}
			d.Route(node.String(), nm.Addr())
			c, err := NewNMClient(NMOptions{Tokens: store, Dial: d.Dial, Logger: amLogger(t)})
			require.NoError(t, err)
			defer c.Close()
			ctx := testutil.Context(t, 20*time.Second)
			for _, e := range ex[mStartContainers] {
				want := e.req.(*yarnpb.StartContainersRequestProto)
				var reqs []StartRequest
				for _, s := range want.GetStartContainerRequest() {
					tokID, err := ParseContainerTokenIdentifier(s.GetContainerToken().GetIdentifier())
					require.NoError(t, err)
					ct, ok := containers[tokID.Container]
					require.True(t, ok, "container %s was allocated in am-rm.txt", tokID.Container)
					launch, err := clcFromProto(s.GetContainerLaunchContext())
					require.NoError(t, err)
					reqs = append(reqs, StartRequest{Container: ct, Launch: launch})
				}
				res, err := c.StartContainers(ctx, reqs)
				require.NoError(t, err)
				require.NoError(t, res.Err())
				got := start.received()[len(start.received())-1]
				// Java writes environment and local resources in HashMap
				// order, Spindle in key order: compare them as sets. Java
				// also sends its default container_retry_context
				// (NEVER_RETRY), which ContainerLaunchContext does not model;
				// the NodeManager reads an absent one as NEVER_RETRY.
				sortCLCs(want)
				for _, s := range want.GetStartContainerRequest() {
					rc := s.GetContainerLaunchContext().GetContainerRetryContext()
					require.Equal(t, yarnpb.ContainerRetryPolicyProto_NEVER_RETRY, rc.GetRetryPolicy())
					s.GetContainerLaunchContext().ContainerRetryContext = nil
				}
				requireSameIgnoringBytes(t, want, got, "startContainers")
			}
			for _, e := range ex[mGetContainerStatuses] {
				want := e.req.(*yarnpb.GetContainerStatusesRequestProto)
				var ids []ContainerID
				for _, p := range want.GetContainerId() {
					ids = append(ids, ContainerIDFromProto(p))
				}
				res, err := c.GetContainerStatuses(ctx, node, ids)
				require.NoError(t, err)
				requireSame(t, e, status.received()[len(status.received())-1], "getContainerStatuses")
				require.Len(t, res.Statuses, len(ids))
			}
			for _, e := range ex[mStopContainers] {
				want := e.req.(*yarnpb.StopContainersRequestProto)
				var ids []ContainerID
				for _, p := range want.GetContainerId() {
					ids = append(ids, ContainerIDFromProto(p))
				}
				res, err := c.StopContainers(ctx, node, ids)
				require.NoError(t, err)
				requireSame(t, e, stop.received()[len(stop.received())-1], "stopContainers")
				require.NoError(t, res.Err())
			}
			require.Equal(t, []string{node.String()}, d.Dialed(), "dialled the NodeId, not the token's service")
		})
	}
}

func sortCLCs(r *yarnpb.StartContainersRequestProto) {
	for _, s := range r.GetStartContainerRequest() {
		clc := s.GetContainerLaunchContext()
		slices.SortFunc(clc.Environment, func(a, b *yarnpb.StringStringMapProto) int { return strings.Compare(a.GetKey(), b.GetKey()) })
		slices.SortFunc(clc.LocalResources, func(a, b *yarnpb.StringLocalResourceMapProto) int { return strings.Compare(a.GetKey(), b.GetKey()) })
		slices.SortFunc(clc.ServiceData, func(a, b *yarnpb.StringBytesMapProto) int { return strings.Compare(a.GetKey(), b.GetKey()) })
	}
}

func requireSameIgnoringBytes(t *testing.T, want, got proto.Message, what string) {
	t.Helper()
	require.True(t, proto.Equal(want, got), "%s differs\ncaptured:\n%s\nours:\n%s", what, prototext.Format(want), prototext.Format(got))
}
