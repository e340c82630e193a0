package yarn

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// ---------------------------------------------------------------------------
// Helpers shared by the AMRM, NM, token and capture tests.
// ---------------------------------------------------------------------------

func amLogger(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// tokenSecrets is the server side of TOKEN authentication: the passwords
// of the tokens it accepts, and the identifiers clients authenticated with.
type tokenSecrets struct {
	mu   sync.Mutex
	pw   map[string][]byte
	used [][]byte
}

func newSecrets(toks ...*ipc.Token) *tokenSecrets {
	s := &tokenSecrets{pw: map[string][]byte{}}
	for _, t := range toks {
		s.add(t)
	}
	return s
}

func (s *tokenSecrets) add(t *ipc.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pw[string(t.Identifier)] = t.Password
}

func (s *tokenSecrets) revoke(t *ipc.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pw, string(t.Identifier))
}

func (s *tokenSecrets) Retrieve(id []byte) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pw, ok := s.pw[string(id)]
	if !ok {
		return nil, "", &ipc.ServerError{Class: ipc.ClassInvalidToken, Message: "Given token is not known or has expired"}
	}
	s.used = append(s.used, id)
	user := "unknown"
	if a, err := ParseAMRMTokenIdentifier(id); err == nil {
		user = a.Attempt.String()
	}
	return pw, user, nil
}

// usedBy reports which of toks authenticated each connection, in order.
func (s *tokenSecrets) usedBy(toks ...*ipc.Token) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, id := range s.used {
		out = append(out, slices.IndexFunc(toks, func(t *ipc.Token) bool { return string(t.Identifier) == string(id) }))
	}
	return out
}

func mintAMRMToken(t *testing.T, attempt AttemptID, keyID int32) *ipc.Token {
	id, err := proto.Marshal(&yarnpb.AMRMTokenIdentifierProto{AppAttemptId: AttemptIDToProto(attempt), KeyId: proto.Int32(keyID)})
	require.NoError(t, err)
	return &ipc.Token{Identifier: id, Password: []byte(fmt.Sprintf("amrm-password-%d", keyID)), Kind: ipc.KindAMRMToken}
}

var amFastRetry = RetryPolicy{MaxWait: time.Second, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}

func newAMRMClient(t *testing.T, addrs []string, tok *ipc.Token, mods ...func(*AMRMOptions)) *AMRMClient {
	t.Helper()
	var eps []Endpoint
	for i, a := range addrs {
		eps = append(eps, Endpoint{RMID: fmt.Sprintf("rm%d", i+1), Addr: a, Key: "yarn.resourcemanager.scheduler.address"})
	}
	o := AMRMOptions{Scheduler: eps, Token: tok, Retry: amFastRetry, FinishInterval: 5 * time.Millisecond, Logger: amLogger(t)}
	for _, m := range mods {
		m(&o)
	}
	c, err := NewAMRMClient(o)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func remoteErr(class, format string, args ...any) error {
	return ipc.NewServerError("org.apache.hadoop.yarn.exceptions."+class, format, args...)
}

// ---------------------------------------------------------------------------
// fakeRM: a small model of the RM's ApplicationMasterService and scheduler
// behind a yarntest.AM, with Hadoop's response-id, ask and release rules.
// ---------------------------------------------------------------------------

type fakeRM struct {
	t      testing.TB
	maxCap Resource

	mu         sync.Mutex
	registered bool
	registers  int
	lastID     int32
	lastResp   *yarnpb.AllocateResponseProto
	replays    int
	asks       map[string]*yarnpb.ResourceRequestProto // "p/a/name" → the RM's current entry
	blacklist  map[string]bool
	requests   []*yarnpb.AllocateRequestProto // processed requests, in order
	seq        int64
	live       map[int64]bool // containers the AM holds
	outAlloc   []*yarnpb.ContainerProto
	outDone    []*yarnpb.ContainerStatusProto
	nmTokens   map[string]bool
	// onAllocate runs after a request was applied and before the reply
	// is built, without the lock: it may schedule or act as the AM.
	onAllocate func(n int, req *yarnpb.AllocateRequestProto)
}

func newFakeRM(t testing.TB, am *yarntest.AM) *fakeRM {
	f := &fakeRM{t: t, maxCap: Resource{MemoryMB: 8192, VCores: 4}, asks: map[string]*yarnpb.ResourceRequestProto{},
		blacklist: map[string]bool{}, live: map[int64]bool{}, nmTokens: map[string]bool{}}
	am.RegisterApplicationMasterF = f.register
	am.AllocateF = f.allocate
	return f
}

func askKeyString(p int32, a int64, name string) string { return fmt.Sprintf("p%d/a%d/%s", p, a, name) }

func (f *fakeRM) register(_ context.Context, req *yarnpb.RegisterApplicationMasterRequestProto) (*yarnpb.RegisterApplicationMasterResponseProto, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registered {
		return nil, remoteErr("InvalidApplicationMasterRequestException", "Application Master is already registered : application_1795317067845_0002")
	}
	f.registered, f.lastID, f.lastResp = true, 0, nil
	f.registers++
	return &yarnpb.RegisterApplicationMasterResponseProto{MaximumCapability: ResourceToProto(f.maxCap), Queue: proto.String("default")}, nil
}

func (f *fakeRM) allocate(_ context.Context, req *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
	f.mu.Lock()
	if !f.registered {
		f.mu.Unlock()
		return nil, remoteErr("ApplicationMasterNotRegisteredException", "AM is not registered for known application attempt: appattempt_1795317067845_0002_000001 or RM had restarted after AM registered. AM should re-register.")
	}
	if f.lastResp != nil && req.GetResponseId()+1 == f.lastID {
		f.replays++
		r := f.lastResp
		f.mu.Unlock()
		return r, nil // an old heartbeat: the cached response, request unread
	}
	if req.GetResponseId() != f.lastID {
		f.mu.Unlock()
		return nil, remoteErr("InvalidApplicationMasterRequestException", "Invalid responseId in AllocateRequest from application attempt: expected %d, got %d", f.lastID, req.GetResponseId())
	}
	f.requests = append(f.requests, proto.Clone(req).(*yarnpb.AllocateRequestProto))
	n := len(f.requests)
	for _, a := range req.GetAsk() {
		f.asks[askKeyString(a.GetPriority().GetPriority(), a.GetAllocationRequestId(), a.GetResourceName())] = proto.Clone(a).(*yarnpb.ResourceRequestProto)
	}
	for _, id := range req.GetRelease() {
		if f.live[id.GetId()] {
			delete(f.live, id.GetId())
			f.outDone = append(f.outDone, &yarnpb.ContainerStatusProto{ContainerId: id, State: yarnpb.ContainerStateProto_C_COMPLETE.Enum(),
				Diagnostics: proto.String("Container released by application"), ExitStatus: proto.Int32(ExitAborted)})
		}
	}
	for _, h := range req.GetBlacklistRequest().GetBlacklistAdditions() {
		f.blacklist[h] = true
	}
	for _, h := range req.GetBlacklistRequest().GetBlacklistRemovals() {
		delete(f.blacklist, h)
	}
	hook := f.onAllocate
	f.mu.Unlock()
	if hook != nil {
		hook(n, req)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastID++
	resp := &yarnpb.AllocateResponseProto{ResponseId: proto.Int32(f.lastID), AllocatedContainers: f.outAlloc,
		CompletedContainerStatuses: f.outDone, NumClusterNodes: proto.Int32(3), Limit: ResourceToProto(Resource{MemoryMB: 4096, VCores: 4})}
	for _, c := range f.outAlloc {
		node := NodeIDFromProto(c.GetNodeId())
		if !f.nmTokens[node.String()] {
			f.nmTokens[node.String()] = true
			resp.NmTokens = append(resp.NmTokens, &yarnpb.NMTokenProto{NodeId: c.GetNodeId(), Token: (&ipc.Token{
				Identifier: []byte("nm-" + node.String()), Password: []byte("pw"), Kind: ipc.KindNMToken, Service: "127.0.0.1:8041"}).Proto()})
		}
	}
	f.outAlloc, f.outDone = nil, nil
	f.lastResp = resp
	return resp, nil
}

// schedule allocates up to n containers on host from the "*" entries the
// RM holds, decrementing them as the scheduler does; it returns how many.
func (f *fakeRM) schedule(n int, host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := 0
	for _, k := range slices.Sorted(maps.Keys(f.asks)) {
		a := f.asks[k]
		if a.GetResourceName() != AnyHost {
			continue
		}
		for got < n && a.GetNumContainers() > 0 {
			a.NumContainers = proto.Int32(a.GetNumContainers() - 1)
			f.seq++
			f.live[f.seq] = true
			f.outAlloc = append(f.outAlloc, &yarnpb.ContainerProto{
				Id: ContainerIDToProto(ContainerID{Attempt: att1, ID: f.seq}), NodeId: NodeIDToProto(NodeID{Host: host, Port: 8041}),
				NodeHttpAddress: proto.String(host + ":8042"), Resource: a.GetCapability(), Priority: a.GetPriority(),
				ContainerToken:      (&ipc.Token{Identifier: []byte(fmt.Sprintf("ct-%d", f.seq)), Password: []byte("pw"), Kind: ipc.KindContainerToken, Service: "127.0.0.1:8041"}).Proto(),
				AllocationRequestId: proto.Int64(a.GetAllocationRequestId())})
			got++
		}
	}
	return got
}

// restart forgets the registration and the asks, as an RM restart or
// failover does (containers survive: work-preserving recovery).
func (f *fakeRM) restart() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered, f.lastResp = false, nil
	clear(f.asks)
	clear(f.blacklist)
}

// outstanding is the RM's view of the asks with containers still wanted.
func (f *fakeRM) outstanding() map[string]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int32{}
	for k, a := range f.asks {
		if a.GetNumContainers() > 0 {
			m[k] = a.GetNumContainers()
		}
	}
	return m
}

func (f *fakeRM) liveContainers() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.live))
}

func (f *fakeRM) request(i int) *yarnpb.AllocateRequestProto {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[i]
}

func (f *fakeRM) numRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func clientOutstanding(c *AMRMClient) map[string]int32 {
	m := map[string]int32{}
	for _, a := range c.OutstandingAsks() {
		m[askKeyString(a.Priority, a.AllocationRequestID, a.ResourceName)] = a.NumContainers
	}
	return m
}

// tokenAM starts a stub scheduler port that demands the AMRMToken, as the
// real one does, and a client holding that token.
func tokenAM(t *testing.T, mods ...func(*AMRMOptions)) (*yarntest.AM, *AMRMClient, *tokenSecrets) {
	tok := mintAMRMToken(t, att1, 1)
	sec := newSecrets(tok)
	am := yarntest.NewAM(t, yarntest.RequireToken(sec))
	return am, newAMRMClient(t, []string{am.Addr()}, tok, mods...), sec
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

func TestAMRMOptionsFromConf(t *testing.T) {
	c := conf.New(conf.Options{})
	c.Set("yarn.resourcemanager.ha.enabled", "true", conf.Source{})
	c.Set("yarn.resourcemanager.ha.rm-ids", "rm1,rm2", conf.Source{})
	c.Set("yarn.resourcemanager.hostname.rm1", "rm-a", conf.Source{})
	c.Set("yarn.resourcemanager.scheduler.address.rm2", "rm-b:9030", conf.Source{})
	c.Set("hadoop.rpc.protection", "privacy,authentication", conf.Source{})
	o, err := AMRMOptionsFromConf(c)
	require.NoError(t, err)
	require.Len(t, o.Scheduler, 2)
	require.Equal(t, Endpoint{RMID: "rm1", Addr: "rm-a:8030", Key: "yarn.resourcemanager.hostname.rm1"}, o.Scheduler[0])
	require.Equal(t, "rm-b:9030", o.Scheduler[1].Addr)
	require.Equal(t, "yarn.resourcemanager.scheduler.address.rm2", o.Scheduler[1].Key)
	require.Equal(t, []string{"auth-conf", "auth"}, o.QOPs)
	require.Nil(t, o.Token, "the caller adds the token")
}

func TestNewAMRMClientValidates(t *testing.T) {
	tok := mintAMRMToken(t, att1, 1)
	_, err := NewAMRMClient(AMRMOptions{Token: tok})
	require.ErrorContains(t, err, "yarn.resourcemanager.scheduler.address")
	_, err = NewAMRMClient(AMRMOptions{Scheduler: []Endpoint{{Addr: "127.0.0.1:8030"}}})
	require.ErrorContains(t, err, "AMRMTokenFromCredentials")
	_, err = NewAMRMClient(AMRMOptions{Scheduler: []Endpoint{{Addr: "127.0.0.1:8030"}}, Token: &ipc.Token{Kind: ipc.KindNMToken}})
	require.ErrorContains(t, err, "want YARN_AM_RM_TOKEN")
	_, err = NewAMRMClient(AMRMOptions{Scheduler: []Endpoint{{Addr: "no-port"}}, Token: tok})
	require.ErrorContains(t, err, "no-port")
}

// Register over real SASL TOKEN authentication: the request carries host,
// port and URL; the response's capability, queue, ACLs, containers and
// NMTokens of previous attempts come back typed, and the tokens land in
// the store keyed by NodeId.
func TestRegister(t *testing.T) {
	am, c, sec := tokenAM(t)
	prev := &yarnpb.ContainerProto{Id: ContainerIDToProto(ContainerID{Attempt: AttemptID{App: att1.App, Attempt: 1}, ID: 5}),
		NodeId: NodeIDToProto(NodeID{Host: "node-a", Port: 8041}), Resource: ResourceToProto(small), Priority: &yarnpb.PriorityProto{Priority: proto.Int32(0)}}
	nmTok := &ipc.Token{Identifier: []byte("nm-id"), Password: []byte("nm-pw"), Kind: ipc.KindNMToken, Service: "10.0.0.1:8041"}
	var got *yarnpb.RegisterApplicationMasterRequestProto
	am.RegisterApplicationMasterF = func(_ context.Context, req *yarnpb.RegisterApplicationMasterRequestProto) (*yarnpb.RegisterApplicationMasterResponseProto, error) {
		got = req
		return &yarnpb.RegisterApplicationMasterResponseProto{
			MaximumCapability: ResourceToProto(Resource{MemoryMB: 8192, VCores: 4}), Queue: proto.String("root.prod"),
			ClientToAmTokenMasterKey:       []byte("k"),
			Application_ACLs:               []*yarnpb.ApplicationACLMapProto{{AccessType: yarnpb.ApplicationAccessTypeProto_APPACCESS_VIEW_APP.Enum(), Acl: proto.String("alice")}},
			ContainersFromPreviousAttempts: []*yarnpb.ContainerProto{prev},
			NmTokensFromPreviousAttempts:   []*yarnpb.NMTokenProto{{NodeId: NodeIDToProto(NodeID{Host: "node-a", Port: 8041}), Token: nmTok.Proto()}},
		}, nil
	}
	r, err := c.Register(testutil.Context(t, 20*time.Second), "am-host", 4242, "http://am-host:8080/")
	require.NoError(t, err)
	require.Equal(t, "am-host", got.GetHost())
	require.EqualValues(t, 4242, got.GetRpcPort())
	require.Equal(t, "http://am-host:8080/", got.GetTrackingUrl())

	require.Equal(t, Resource{MemoryMB: 8192, VCores: 4}, r.MaxCapability)
	require.Equal(t, "root.prod", r.Queue)
	require.Equal(t, map[ACLType]string{ViewApp: "alice"}, r.ACLs)
	require.Len(t, r.ContainersFromPreviousAttempts, 1)
	require.Equal(t, "container_1795317067845_0002_01_000005", r.ContainersFromPreviousAttempts[0].ID.String())
	require.Equal(t, []NMToken{{Node: NodeID{Host: "node-a", Port: 8041}, Token: nmTok}}, r.NMTokensFromPreviousAttempts)
	require.Equal(t, nmTok, c.NMTokens().Get(NodeID{Host: "node-a", Port: 8041}))
	max, ok := c.MaxCapability()
	require.True(t, ok)
	require.Equal(t, r.MaxCapability, max)
	require.Equal(t, []int{0}, sec.usedBy(c.Token()), "authenticated with the AMRMToken")
}

func TestRegisterErrorsAreTyped(t *testing.T) {
	for _, tc := range []struct {
		class string
		want  error
	}{
		{"InvalidApplicationMasterRequestException", ErrInvalidAMRequest},
		{"ApplicationAttemptNotFoundException", ErrAttemptNotFound},
	} {
		t.Run(tc.class, func(t *testing.T) {
			am, c, _ := tokenAM(t)
			am.RegisterApplicationMasterF = func(context.Context, *yarnpb.RegisterApplicationMasterRequestProto) (*yarnpb.RegisterApplicationMasterResponseProto, error) {
				return nil, remoteErr(tc.class, "Application Master is already registered : application_1795317067845_0002")
			}
			_, err := c.Register(testutil.Context(t, 20*time.Second), "h", -1, "")
			require.ErrorIs(t, err, tc.want)
			var re *ipc.RemoteError
			require.ErrorAs(t, err, &re)
			require.Equal(t, "org.apache.hadoop.yarn.exceptions."+tc.class, re.Class)
		})
	}
}

// A token the RM does not know fails authentication at once, typed, and
// is not retried.
func TestUnknownAMRMTokenIsRefused(t *testing.T) {
	sec := newSecrets() // knows nothing
	am := yarntest.NewAM(t, yarntest.RequireToken(sec))
	c := newAMRMClient(t, []string{am.Addr()}, mintAMRMToken(t, att1, 9))
	start := time.Now()
	_, err := c.Register(testutil.Context(t, 20*time.Second), "h", -1, "")
	require.ErrorIs(t, err, ErrInvalidToken)
	require.Less(t, time.Since(start), 500*time.Millisecond)
}

// HA: the first rm-id's scheduler port is closed (a standby does not
// listen); the client fails over to the active one.
func TestSchedulerFailover(t *testing.T) {
	tok := mintAMRMToken(t, att1, 1)
	am := yarntest.NewAM(t, yarntest.RequireToken(newSecrets(tok)))
	newFakeRM(t, am)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	l.Close()
	c := newAMRMClient(t, []string{closed, am.Addr()}, tok)
	ctx := testutil.Context(t, 20*time.Second)
	_, err = c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	_, err = c.Allocate(ctx, 0)
	require.NoError(t, err)
}

func TestAllocateBeforeRegisterAndAfterFinish(t *testing.T) {
	am, c, _ := tokenAM(t)
	newFakeRM(t, am)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Allocate(ctx, 0)
	require.ErrorIs(t, err, ErrAMNotRegistered)
	require.ErrorContains(t, err, "before Register")
	am.FinishApplicationMasterF = func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
		return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(true)}, nil
	}
	_, err = c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	require.NoError(t, c.Finish(ctx, FinalSucceeded, "", ""))
	_, err = c.Allocate(ctx, 0)
	require.ErrorContains(t, err, "after Finish")
}

// Each allocate echoes the response id of the last reply, whatever the RM
// chose (including its wrap at 2^31-1), and register resets it to 0.
func TestAllocateEchoesResponseID(t *testing.T) {
	am, c, _ := tokenAM(t)
	am.RegisterApplicationMasterF = func(context.Context, *yarnpb.RegisterApplicationMasterRequestProto) (*yarnpb.RegisterApplicationMasterResponseProto, error) {
		return &yarnpb.RegisterApplicationMasterResponseProto{MaximumCapability: ResourceToProto(big)}, nil
	}
	replies := []int32{1, 0x7FFFFFFF, 0, 1}
	var sent []int32
	am.AllocateF = func(_ context.Context, req *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
		sent = append(sent, req.GetResponseId())
		assert.NotNil(t, req.BlacklistRequest, "Java always sends the blacklist request")
		assert.NotNil(t, req.Progress)
		return &yarnpb.AllocateResponseProto{ResponseId: proto.Int32(replies[len(sent)-1])}, nil
	}
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	for range replies {
		_, err := c.Allocate(ctx, 0.5)
		require.NoError(t, err)
	}
	require.Equal(t, []int32{0, 1, 0x7FFFFFFF, 0}, sent)
}

// Every part of an allocate response comes back as Go types; NMTokens are
// stored per NodeId and overwritten on every receipt; a rolled AMRMToken
// is reported and kept.
func TestAllocateResult(t *testing.T) {
	am, c, sec := tokenAM(t)
	newFakeRM(t, am)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	require.NoError(t, c.AddRequest(ContainerRequest{Resource: small}))

	nodeA := NodeID{Host: "node-a", Port: 8041}
	tokA1 := &ipc.Token{Identifier: []byte("a1"), Password: []byte("p"), Kind: ipc.KindNMToken, Service: "10.0.0.1:8041"}
	tokA2 := &ipc.Token{Identifier: []byte("a2"), Password: []byte("q"), Kind: ipc.KindNMToken, Service: "10.0.0.1:8041"}
	rolled := mintAMRMToken(t, att1, 2)
	sec.add(rolled)
	cid := func(n int64) *yarnpb.ContainerIdProto { return ContainerIDToProto(ContainerID{Attempt: att1, ID: n}) }
	calls := 0
	am.AllocateF = func(_ context.Context, req *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
		calls++
		resp := &yarnpb.AllocateResponseProto{ResponseId: proto.Int32(req.GetResponseId() + 1)}
		if calls == 1 {
			resp.AllocatedContainers = []*yarnpb.ContainerProto{{Id: cid(2), NodeId: NodeIDToProto(nodeA), Resource: ResourceToProto(small),
				Priority: &yarnpb.PriorityProto{Priority: proto.Int32(0)}, AllocationRequestId: proto.Int64(0),
				ContainerToken: (&ipc.Token{Identifier: []byte("ct"), Password: []byte("pw"), Kind: ipc.KindContainerToken, Service: "10.0.0.1:8041"}).Proto()}}
			resp.CompletedContainerStatuses = []*yarnpb.ContainerStatusProto{{ContainerId: cid(1), State: yarnpb.ContainerStateProto_C_COMPLETE.Enum(),
				ExitStatus: proto.Int32(ExitPreempted), Diagnostics: proto.String("preempted")}}
			resp.UpdatedNodes = []*yarnpb.NodeReportProto{{NodeId: NodeIDToProto(NodeID{Host: "node-b", Port: 8041}), NodeState: yarnpb.NodeStateProto_NS_LOST.Enum()}}
			resp.Preempt = &yarnpb.PreemptionMessageProto{
				StrictContract: &yarnpb.StrictPreemptionContractProto{Container: []*yarnpb.PreemptionContainerProto{{Id: cid(7)}}},
				Contract: &yarnpb.PreemptionContractProto{Container: []*yarnpb.PreemptionContainerProto{{Id: cid(8)}},
					Resource: []*yarnpb.PreemptionResourceRequestProto{{Resource: resourceRequestToProto(1, AnyHost, big, 2, true, "", proto.Int64(0))}}}}
			resp.Limit = ResourceToProto(Resource{MemoryMB: 1000, VCores: 3})
			resp.NumClusterNodes = proto.Int32(5)
			resp.NmTokens = []*yarnpb.NMTokenProto{{NodeId: NodeIDToProto(nodeA), Token: tokA1.Proto()}}
			resp.AmRmToken = rolled.Proto()
			resp.ApplicationPriority = &yarnpb.PriorityProto{Priority: proto.Int32(3)}
			resp.ContainersFromPreviousAttempts = []*yarnpb.ContainerProto{{Id: cid(9), NodeId: NodeIDToProto(nodeA)}}
		} else {
			resp.NmTokens = []*yarnpb.NMTokenProto{{NodeId: NodeIDToProto(nodeA), Token: tokA2.Proto()}}
		}
		return resp, nil
	}
	r, err := c.Allocate(ctx, 0.25)
	require.NoError(t, err)
	require.Len(t, r.Allocated, 1)
	require.Equal(t, nodeA, r.Allocated[0].Node)
	require.Equal(t, ipc.KindContainerToken, r.Allocated[0].Token.Kind)
	require.Empty(t, r.Excess)
	require.Equal(t, []ContainerStatus{{ID: ContainerID{Attempt: att1, ID: 1}, State: ContainerComplete, ExitStatus: ExitPreempted, Diagnostics: "preempted"}}, r.Completed)
	require.Len(t, r.UpdatedNodes, 1)
	require.Equal(t, NodeLost, r.UpdatedNodes[0].State)
	require.Equal(t, &Preemption{Strict: []ContainerID{{Attempt: att1, ID: 7}}, Contract: []ContainerID{{Attempt: att1, ID: 8}},
		Resources: []ResourceAsk{{Priority: 1, ResourceName: AnyHost, Capability: big, NumContainers: 2, RelaxLocality: true}}}, r.Preemption)
	require.Equal(t, Resource{MemoryMB: 1000, VCores: 3}, r.Headroom)
	require.EqualValues(t, 5, r.NumClusterNodes)
	require.EqualValues(t, 3, r.ApplicationPriority)
	require.Equal(t, []NMToken{{Node: nodeA, Token: tokA1}}, r.NMTokens)
	require.Equal(t, tokA1, c.NMTokens().Get(nodeA))
	require.Equal(t, rolled, r.AMRMToken)
	require.Equal(t, rolled, c.Token())
	require.Len(t, r.PreviousAttemptContainers, 1)
	require.Equal(t, AMCommandNone, r.Command)
	require.Zero(t, c.PendingRequests())

	r, err = c.Allocate(ctx, 0.5)
	require.NoError(t, err)
	require.Nil(t, r.AMRMToken)
	require.Equal(t, tokA2, c.NMTokens().Get(nodeA), "a new NMToken for a node replaces the old one")
}

// A request above the maximum from registration is refused before it is
// sent, naming the limit.
func TestAddRequestAboveMaximumIsRefused(t *testing.T) {
	am, c, _ := tokenAM(t)
	rm := newFakeRM(t, am)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	err = c.AddRequest(ContainerRequest{Resource: Resource{MemoryMB: 16384, VCores: 1}})
	require.ErrorIs(t, err, ErrAboveMaximum)
	require.ErrorContains(t, err, "<memory:8192, vCores:4>")
	err = c.AddRequest(ContainerRequest{Resource: Resource{MemoryMB: 1024, VCores: 8}})
	require.ErrorIs(t, err, ErrAboveMaximum)
	_, err = c.Allocate(ctx, 0)
	require.NoError(t, err)
	require.Empty(t, rm.request(0).GetAsk())
}

// The whole loop against the model scheduler: the RM allocates whenever it
// likes, including while a request is being withdrawn during a heartbeat.
// After every heartbeat the RM's outstanding asks equal the client's; the
// run ends with the AM holding exactly the containers it wanted, every
// excess container released, and nothing outstanding.
func TestAskSequenceAgainstScheduler(t *testing.T) {
	am, c, _ := tokenAM(t)
	rm := newFakeRM(t, am)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	plain := ContainerRequest{Resource: small}
	var kept []Container
	excess := 0
	type step struct {
		name     string
		add      int
		remove   int
		before   int // containers the scheduler hands out before the heartbeat reaches it
		inFlight func()
	}
	steps := []step{
		{name: "ask four", add: 4},
		{name: "two arrive", before: 2},
		{name: "quiet"},
		{name: "withdraw one while the RM allocates both left", inFlight: func() {
			require.True(t, c.RemoveRequest(plain))
			rm.schedule(5, "node-b")
		}},
		{name: "the zero reaches the RM"},
		{name: "ask two more", add: 2},
		{name: "RM allocates one, AM withdraws one in flight, RM allocates again", before: 1, inFlight: func() {
			require.True(t, c.RemoveRequest(plain))
			rm.schedule(5, "node-c")
		}},
		{name: "settle"},
		{name: "settle again"},
	}
	wanted := 0
	for i, st := range steps {
		for range st.add {
			require.NoError(t, c.AddRequest(plain))
			wanted++
		}
		for range st.remove {
			require.True(t, c.RemoveRequest(plain))
			wanted--
		}
		if st.inFlight != nil {
			wanted--
		}
		rm.schedule(st.before, "node-a")
		rm.mu.Lock()
		rm.onAllocate = func(n int, _ *yarnpb.AllocateRequestProto) {
			if st.inFlight != nil {
				st.inFlight()
			}
		}
		rm.mu.Unlock()
		r, err := c.Allocate(ctx, 0)
		require.NoError(t, err, st.name)
		kept = append(kept, r.Allocated...)
		excess += len(r.Excess)
		rm.mu.Lock()
		rm.onAllocate = nil
		rm.mu.Unlock()
		// The RM's table equals the client's, except for what the client
		// changed since this heartbeat left (the in-flight steps), which
		// the next heartbeat carries.
		if st.inFlight == nil {
			require.Equal(t, clientOutstanding(c), rm.outstanding(), "step %d %s", i, st.name)
		}
	}
	require.Equal(t, wanted, len(kept), "the AM holds exactly what it wanted")
	require.Positive(t, excess)
	var keptIDs []int64
	for _, k := range kept {
		keptIDs = append(keptIDs, k.ID.ID)
	}
	slices.Sort(keptIDs)
	require.Equal(t, keptIDs, rm.liveContainers(), "every excess container went back to the RM")
	require.Empty(t, rm.outstanding())
	require.Empty(t, clientOutstanding(c))
	require.Zero(t, c.PendingRequests())
}

// After an RM restart or failover allocate fails with
// ApplicationMasterNotRegisteredException: the client registers again and
// its next allocate (response id 0) carries the whole outstanding ask, the
// releases not yet confirmed and the whole blacklist.
func TestResyncAfterRMRestart(t *testing.T) {
	am, c, _ := tokenAM(t)
	rm := newFakeRM(t, am)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, c.AddRequest(ContainerRequest{Resource: small}))
	}
	require.NoError(t, c.AddRequest(ContainerRequest{Resource: big, Priority: 1, Nodes: []string{"node-z"}, RelaxLocality: true}))
	require.NoError(t, c.Blacklist([]string{"bad-1", "bad-2"}, nil))
	_, err = c.Allocate(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, 1, rm.schedule(1, "node-a"))
	r, err := c.Allocate(ctx, 0)
	require.NoError(t, err)
	require.Len(t, r.Allocated, 1)
	require.NoError(t, c.Blacklist(nil, []string{"bad-2"}))
	c.Release(ContainerID{Attempt: att1, ID: 77}) // the RM restarts before it sees this one
	_, err = c.Allocate(ctx, 0)
	require.NoError(t, err)
	before := rm.numRequests()
	want := clientOutstanding(c)
	require.Equal(t, want, rm.outstanding())

	rm.restart()
	r, err = c.Allocate(ctx, 0.5)
	require.NoError(t, err)
	require.True(t, r.Resynced)
	require.Equal(t, 2, rm.registers)
	require.Equal(t, before+1, rm.numRequests())
	req := rm.request(before)
	require.EqualValues(t, 0, req.GetResponseId())
	var asks []string
	for _, a := range req.GetAsk() {
		asks = append(asks, askString(a))
	}
	require.Equal(t, []string{"p0/a0/*=2", "p1/a0/*=1", "p1/a0//default-rack=1", "p1/a0/node-z=1"}, asks)
	require.Equal(t, []string{"bad-1"}, req.GetBlacklistRequest().GetBlacklistAdditions())
	var rel []int64
	for _, id := range req.GetRelease() {
		rel = append(rel, id.GetId())
	}
	require.Equal(t, []int64{77}, rel, "a release the RM never confirmed is sent again")
	require.Equal(t, want, rm.outstanding())
	// And the protocol continues from the new response id.
	_, err = c.Allocate(ctx, 0.5)
	require.NoError(t, err)
	require.EqualValues(t, 1, rm.request(before+1).GetResponseId())
	require.Empty(t, rm.request(before+1).GetAsk())
}

// Old RMs said AM_RESYNC and AM_SHUTDOWN in the response instead.
func TestAMCommands(t *testing.T) {
	t.Run("resync", func(t *testing.T) {
		am, c, _ := tokenAM(t)
		rm := newFakeRM(t, am)
		ctx := testutil.Context(t, 20*time.Second)
		_, err := c.Register(ctx, "h", -1, "")
		require.NoError(t, err)
		require.NoError(t, c.AddRequest(ContainerRequest{Resource: small}))
		_, err = c.Allocate(ctx, 0)
		require.NoError(t, err)
		inner := am.AllocateF
		once := true
		am.AllocateF = func(ctx context.Context, req *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
			if once {
				once = false
				rm.restart()
				return &yarnpb.AllocateResponseProto{AMCommand: yarnpb.AMCommandProto_AM_RESYNC.Enum(), ResponseId: proto.Int32(0)}, nil
			}
			return inner(ctx, req)
		}
		r, err := c.Allocate(ctx, 0)
		require.NoError(t, err)
		require.True(t, r.Resynced)
		require.Equal(t, 2, rm.registers)
		require.Equal(t, map[string]int32{"p0/a0/*": 1}, rm.outstanding())
	})
	t.Run("shutdown", func(t *testing.T) {
		am, c, _ := tokenAM(t)
		newFakeRM(t, am)
		ctx := testutil.Context(t, 20*time.Second)
		_, err := c.Register(ctx, "h", -1, "")
		require.NoError(t, err)
		am.AllocateF = func(context.Context, *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
			return &yarnpb.AllocateResponseProto{AMCommand: yarnpb.AMCommandProto_AM_SHUTDOWN.Enum(), ResponseId: proto.Int32(1)}, nil
		}
		_, err = c.Allocate(ctx, 0)
		require.ErrorIs(t, err, ErrAMShutdown)
	})
}

// Remote exceptions from allocate are typed; what the failed request
// carried is sent again with the next one.
func TestAllocateRemoteErrors(t *testing.T) {
	for _, tc := range []struct {
		class string
		want  error
	}{
		{"ApplicationAttemptNotFoundException", ErrAttemptNotFound},
		{"InvalidApplicationMasterRequestException", ErrInvalidAMRequest},
		{"InvalidResourceRequestException", ErrInvalidResourceRequest},
		{"InvalidContainerReleaseException", ErrInvalidContainerRelease},
	} {
		t.Run(tc.class, func(t *testing.T) {
			am, c, _ := tokenAM(t)
			rm := newFakeRM(t, am)
			ctx := testutil.Context(t, 20*time.Second)
			_, err := c.Register(ctx, "h", -1, "")
			require.NoError(t, err)
			require.NoError(t, c.AddRequest(ContainerRequest{Resource: small}))
			c.Release(ContainerID{Attempt: att1, ID: 3})
			require.NoError(t, c.Blacklist([]string{"bad"}, nil))
			inner := am.AllocateF
			am.AllocateF = func(context.Context, *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
				return nil, remoteErr(tc.class, "refused")
			}
			_, err = c.Allocate(ctx, 0)
			require.ErrorIs(t, err, tc.want)
			am.AllocateF = inner
			_, err = c.Allocate(ctx, 0)
			require.NoError(t, err)
			req := rm.request(0)
			require.Len(t, req.GetAsk(), 1)
			require.Len(t, req.GetRelease(), 1)
			require.Equal(t, []string{"bad"}, req.GetBlacklistRequest().GetBlacklistAdditions())
		})
	}
}

// The connection dies after the RM processed an allocate but before the
// reply arrived. The client does not know whether the RM saw it; the RM
// answers the repeat of that response id from its cache without reading
// it, so a request withdrawn meanwhile must go out once more after that.
func TestAllocateConnectionLostMidCall(t *testing.T) {
	tok := mintAMRMToken(t, att1, 1)
	am := yarntest.NewAM(t, yarntest.RequireToken(newSecrets(tok)))
	rm := newFakeRM(t, am)
	d := &testutil.Dialer{}
	c := newAMRMClient(t, []string{am.Addr()}, tok, func(o *AMRMOptions) { o.Dial = d.Dial })
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	req := ContainerRequest{Resource: small}
	require.NoError(t, c.AddRequest(req))
	rm.onAllocate = func(n int, _ *yarnpb.AllocateRequestProto) {
		if n == 1 {
			d.Cut() // the reply to the first allocate is lost
		}
	}
	_, err = c.Allocate(ctx, 0)
	var ce *ipc.ConnError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, map[string]int32{"p0/a0/*": 1}, rm.outstanding(), "the RM did process it")
	// The cut happens inside the handler; let it finish (cache its
	// response) before the repeat, as the real RM has when a reply is lost.
	require.Eventually(t, func() bool {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		return rm.lastID == 1 && rm.lastResp != nil
	}, 5*time.Second, time.Millisecond)

	require.True(t, c.RemoveRequest(req))
	// The repeat may race the client noticing the dead connection.
	for i := 0; ; i++ {
		_, err = c.Allocate(ctx, 0)
		if err == nil || i == 3 {
			break
		}
		require.ErrorAs(t, err, &ce)
	}
	require.NoError(t, err)
	require.Equal(t, 1, rm.replays, "answered from the RM's cache")
	require.Equal(t, map[string]int32{"p0/a0/*": 1}, rm.outstanding(), "the cancel has not reached the RM yet")
	_, err = c.Allocate(ctx, 0)
	require.NoError(t, err)
	require.Empty(t, rm.outstanding(), "the cancel was sent again and applied")
	require.Len(t, d.Dialed(), 2)
}

// After the RM rolls its master key, the allocate response carries a new
// AMRMToken; new connections authenticate with it (the old one no longer
// works), the current one stays.
func TestRolledAMRMTokenUsedByNextConnection(t *testing.T) {
	old := mintAMRMToken(t, att1, 1)
	rolled := mintAMRMToken(t, att1, 2)
	sec := newSecrets(old)
	am := yarntest.NewAM(t, yarntest.RequireToken(sec))
	rm := newFakeRM(t, am)
	d := &testutil.Dialer{}
	c := newAMRMClient(t, []string{am.Addr()}, old, func(o *AMRMOptions) { o.Dial = d.Dial })
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	inner := am.AllocateF
	am.AllocateF = func(ctx context.Context, req *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
		resp, err := inner(ctx, req)
		if req.GetResponseId() == 0 {
			sec.add(rolled)
			resp = proto.Clone(resp).(*yarnpb.AllocateResponseProto)
			resp.AmRmToken = rolled.Proto()
			rm.mu.Lock()
			rm.lastResp = resp
			rm.mu.Unlock()
		}
		return resp, err
	}
	r, err := c.Allocate(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, rolled, r.AMRMToken)
	_, err = c.Allocate(ctx, 0) // same connection, still authenticated with the old key
	require.NoError(t, err)
	require.Equal(t, []int{0}, sec.usedBy(old, rolled))

	sec.revoke(old)
	d.Cut()
	for i := 0; ; i++ {
		_, err = c.Allocate(ctx, 0)
		if err == nil || i == 3 {
			break
		}
	}
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, sec.usedBy(old, rolled), "the new connection used the rolled token")
}

// Finish repeats until the RM says the final state is stored.
func TestFinishRepeatsUntilUnregistered(t *testing.T) {
	am, c, _ := tokenAM(t)
	newFakeRM(t, am)
	var reqs []*yarnpb.FinishApplicationMasterRequestProto
	am.FinishApplicationMasterF = func(_ context.Context, req *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
		reqs = append(reqs, req)
		return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(len(reqs) == 3)}, nil
	}
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	require.NoError(t, c.Finish(ctx, FinalFailed, "container exited with 3", "http://history/app"))
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		require.Equal(t, yarnpb.FinalApplicationStatusProto_APP_FAILED, r.GetFinalApplicationStatus())
		require.Equal(t, "container exited with 3", r.GetDiagnostics())
		require.Equal(t, "http://history/app", r.GetTrackingUrl())
	}
}

func TestFinishResyncsAndRetries(t *testing.T) {
	t.Run("not registered", func(t *testing.T) {
		am, c, _ := tokenAM(t)
		rm := newFakeRM(t, am)
		ctx := testutil.Context(t, 20*time.Second)
		_, err := c.Register(ctx, "h", -1, "")
		require.NoError(t, err)
		rm.restart()
		am.FinishApplicationMasterF = func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
			rm.mu.Lock()
			defer rm.mu.Unlock()
			if !rm.registered {
				return nil, remoteErr("ApplicationMasterNotRegisteredException", "not registered")
			}
			return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(true)}, nil
		}
		require.NoError(t, c.Finish(ctx, FinalSucceeded, "", ""))
		require.Equal(t, 2, rm.registers)
	})
	t.Run("connection lost", func(t *testing.T) {
		tok := mintAMRMToken(t, att1, 1)
		am := yarntest.NewAM(t, yarntest.RequireToken(newSecrets(tok)))
		newFakeRM(t, am)
		d := &testutil.Dialer{}
		c := newAMRMClient(t, []string{am.Addr()}, tok, func(o *AMRMOptions) { o.Dial = d.Dial })
		var calls atomic.Int32
		am.FinishApplicationMasterF = func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
			if calls.Add(1) == 1 {
				d.Cut()
			}
			return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(true)}, nil
		}
		ctx := testutil.Context(t, 20*time.Second)
		_, err := c.Register(ctx, "h", -1, "")
		require.NoError(t, err)
		require.NoError(t, c.Finish(ctx, FinalSucceeded, "", ""))
		require.GreaterOrEqual(t, calls.Load(), int32(2))
	})
	t.Run("refused", func(t *testing.T) {
		am, c, _ := tokenAM(t)
		newFakeRM(t, am)
		ctx := testutil.Context(t, 20*time.Second)
		_, err := c.Register(ctx, "h", -1, "")
		require.NoError(t, err)
		var calls atomic.Int32
		am.FinishApplicationMasterF = func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
			calls.Add(1)
			return nil, remoteErr("ApplicationAttemptNotFoundException", "gone")
		}
		require.ErrorIs(t, c.Finish(ctx, FinalSucceeded, "", ""), ErrAttemptNotFound)
		require.EqualValues(t, 1, calls.Load())
	})
	t.Run("never confirmed", func(t *testing.T) {
		am, c, _ := tokenAM(t)
		newFakeRM(t, am)
		ctx := testutil.Context(t, 20*time.Second)
		_, err := c.Register(ctx, "h", -1, "")
		require.NoError(t, err)
		am.FinishApplicationMasterF = func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
			return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(false)}, nil
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err = c.Finish(short, FinalSucceeded, "", "")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, "had not confirmed")
	})
}

// Requests, removals, releases and blacklist changes from other
// goroutines while the heartbeat runs (the AM launches while it
// heartbeats). Run with -race. Once quiet, the RM's asks equal the
// client's and every container the AM keeps was wanted.
func TestConcurrentUseWhileHeartbeating(t *testing.T) {
	am, c, _ := tokenAM(t)
	rm := newFakeRM(t, am)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.Register(ctx, "h", -1, "")
	require.NoError(t, err)
	rm.onAllocate = func(n int, _ *yarnpb.AllocateRequestProto) { rm.schedule(n%3, fmt.Sprintf("node-%d", n%4)) }
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var added, removed atomic.Int32
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ContainerRequest{Resource: small, Priority: int32(g % 2)}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%2 == 1 {
					if c.RemoveRequest(r) {
						removed.Add(1)
					}
				} else if c.AddRequest(r) == nil {
					added.Add(1)
				}
				if i%5 == 0 {
					_ = c.Blacklist([]string{fmt.Sprintf("bad-%d", i%3)}, []string{fmt.Sprintf("bad-%d", (i+1)%3)})
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
	}
	var kept []Container
	var excess int
	for range 40 {
		r, err := c.Allocate(ctx, 0.1)
		require.NoError(t, err)
		kept = append(kept, r.Allocated...)
		excess += len(r.Excess)
	}
	close(stop)
	wg.Wait()
	rm.mu.Lock()
	rm.onAllocate = nil
	rm.mu.Unlock()
	for range 2 {
		r, err := c.Allocate(ctx, 0.1)
		require.NoError(t, err)
		kept = append(kept, r.Allocated...)
		excess += len(r.Excess)
	}
	require.Equal(t, clientOutstanding(c), rm.outstanding())
	require.Equal(t, int(added.Load()-removed.Load()), len(kept)+c.PendingRequests(), "kept + still wanted = asked for")
	require.Len(t, rm.liveContainers(), len(kept), "every excess container was released")
	t.Logf("kept %d, excess %d, pending %d", len(kept), excess, c.PendingRequests())
}
