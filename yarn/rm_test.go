package yarn

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

var fastRetry = RetryPolicy{MaxWait: 2 * time.Second, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}

func newRM(t *testing.T, eps ...Endpoint) *RMClient {
	t.Helper()
	c, err := NewRMClient(RMOptions{Endpoints: eps, User: "alice", Retry: fastRetry, PollInterval: 5 * time.Millisecond,
		Logger: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func ep(addr string) Endpoint { return Endpoint{Addr: addr, Key: "yarn.resourcemanager.address"} }

var app7 = ApplicationID{ClusterTimestamp: 1795317067845, ID: 7}

func report(id ApplicationID, s AppState) *yarnpb.GetApplicationReportResponseProto {
	return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: &yarnpb.ApplicationReportProto{
		ApplicationId: AppIDToProto(id), YarnApplicationState: yarnpb.YarnApplicationStateProto(s).Enum(),
		FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_UNDEFINED.Enum(), User: proto.String("alice"),
		Diagnostics: proto.String("N/A")}}
}

func notFound(id ApplicationID) error {
	return ipc.NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException",
		"Application with id '%s' doesn't exist in RM. Please check that the job submission was successful.", id)
}

func TestGetNewApplicationAndSubmit(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetNewApplicationF = func(context.Context, *yarnpb.GetNewApplicationRequestProto) (*yarnpb.GetNewApplicationResponseProto, error) {
		return &yarnpb.GetNewApplicationResponseProto{ApplicationId: AppIDToProto(app7), MaximumCapability: ResourceToProto(Resource{MemoryMB: 8192, VCores: 4})}, nil
	}
	var submitted atomic.Int32
	var polls atomic.Int32
	rm.SubmitApplicationF = func(_ context.Context, req *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
		submitted.Add(1)
		assert.Equal(t, "spindle", req.GetApplicationSubmissionContext().GetApplicationName())
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	rm.GetApplicationReportF = func(_ context.Context, req *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		// NEW_SAVING twice, then ACCEPTED: submit must wait for it.
		if polls.Add(1) < 3 {
			return report(app7, StateNewSaving), nil
		}
		return report(app7, StateAccepted), nil
	}
	c := newRM(t, ep(rm.Addr()))
	ctx := testutil.Context(t, 20*time.Second)
	id, max, err := c.GetNewApplication(ctx)
	require.NoError(t, err)
	require.Equal(t, app7, id)
	require.Equal(t, "application_1795317067845_0007", id.String())
	require.Equal(t, Resource{MemoryMB: 8192, VCores: 4}, max)

	// Above the maximum: refused before anything is sent, naming the limit.
	err = c.SubmitApplication(ctx, AppSpec{ID: id, Name: "spindle", AMResource: Resource{MemoryMB: 10000, VCores: 1}})
	require.ErrorIs(t, err, ErrAboveMaximum)
	require.Contains(t, err.Error(), "<memory:8192, vCores:4>")
	require.Zero(t, submitted.Load())

	require.NoError(t, c.SubmitApplication(ctx, AppSpec{ID: id, Name: "spindle", AMResource: Resource{MemoryMB: 512, VCores: 1}}))
	require.EqualValues(t, 1, submitted.Load())
	require.EqualValues(t, 3, polls.Load())
}

// After an RM failover the new RM may not know a just-submitted app:
// the client submits it again (the same id is safe to resubmit).
func TestSubmitResubmitsWhenNotFound(t *testing.T) {
	rm := yarntest.NewRM(t)
	var submitted, polls atomic.Int32
	rm.SubmitApplicationF = func(context.Context, *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
		submitted.Add(1)
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		if polls.Add(1) == 1 {
			return nil, notFound(app7)
		}
		return report(app7, StateSubmitted), nil
	}
	c := newRM(t, ep(rm.Addr()))
	require.NoError(t, c.SubmitApplication(testutil.Context(t, 20*time.Second), AppSpec{ID: app7, AMResource: Resource{MemoryMB: 512, VCores: 1}}))
	require.EqualValues(t, 2, submitted.Load())
}

func TestReportNotFoundIsTyped(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		return nil, notFound(app7)
	}
	c := newRM(t, ep(rm.Addr()))
	_, err := c.GetApplicationReport(testutil.Context(t, 20*time.Second), app7)
	require.ErrorIs(t, err, ErrApplicationNotFound)
	var re *ipc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Message, "doesn't exist in RM")
	require.Contains(t, err.Error(), app7.String())
}

func TestKillRepeatsUntilCompleted(t *testing.T) {
	rm := yarntest.NewRM(t)
	var n atomic.Int32
	rm.ForceKillApplicationF = func(_ context.Context, req *yarnpb.KillApplicationRequestProto) (*yarnpb.KillApplicationResponseProto, error) {
		assert.Equal(t, "stopped by test", req.GetDiagnostics())
		return &yarnpb.KillApplicationResponseProto{IsKillCompleted: proto.Bool(n.Add(1) >= 3)}, nil
	}
	c := newRM(t, ep(rm.Addr()))
	require.NoError(t, c.KillApplication(testutil.Context(t, 20*time.Second), app7, "stopped by test"))
	require.EqualValues(t, 3, n.Load())
}

func TestQueriesRoundTrip(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetApplicationsF = func(_ context.Context, req *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
		assert.Equal(t, []yarnpb.YarnApplicationStateProto{yarnpb.YarnApplicationStateProto_RUNNING}, req.GetApplicationStates())
		assert.Equal(t, []string{"SPINDLE"}, req.GetApplicationTypes())
		assert.Equal(t, []string{"team-a"}, req.GetApplicationTags())
		assert.Equal(t, []string{"prod"}, req.GetQueues())
		assert.Equal(t, []string{"alice"}, req.GetUsers())
		return &yarnpb.GetApplicationsResponseProto{Applications: []*yarnpb.ApplicationReportProto{report(app7, StateRunning).ApplicationReport}}, nil
	}
	rm.GetClusterMetricsF = func(context.Context, *yarnpb.GetClusterMetricsRequestProto) (*yarnpb.GetClusterMetricsResponseProto, error) {
		return &yarnpb.GetClusterMetricsResponseProto{ClusterMetrics: &yarnpb.YarnClusterMetricsProto{NumNodeManagers: proto.Int32(2), NumActiveNms: proto.Int32(2)}}, nil
	}
	rm.GetClusterNodesF = func(_ context.Context, req *yarnpb.GetClusterNodesRequestProto) (*yarnpb.GetClusterNodesResponseProto, error) {
		assert.Equal(t, []yarnpb.NodeStateProto{yarnpb.NodeStateProto_NS_RUNNING}, req.GetNodeStates())
		return &yarnpb.GetClusterNodesResponseProto{NodeReports: []*yarnpb.NodeReportProto{{NodeId: NodeIDToProto(NodeID{"localhost", 8041}),
			RackName: proto.String(DefaultRack), Capability: ResourceToProto(Resource{MemoryMB: 8192, VCores: 8}), NodeState: yarnpb.NodeStateProto_NS_RUNNING.Enum()}}}, nil
	}
	rm.GetQueueInfoF = func(_ context.Context, req *yarnpb.GetQueueInfoRequestProto) (*yarnpb.GetQueueInfoResponseProto, error) {
		assert.Equal(t, "default", req.GetQueueName())
		return &yarnpb.GetQueueInfoResponseProto{QueueInfo: &yarnpb.QueueInfoProto{QueueName: proto.String("default"), Capacity: proto.Float32(1),
			State: yarnpb.QueueStateProto_Q_RUNNING.Enum()}}, nil
	}
	rm.GetQueueUserAclsF = func(context.Context, *yarnpb.GetQueueUserAclsInfoRequestProto) (*yarnpb.GetQueueUserAclsInfoResponseProto, error) {
		return &yarnpb.GetQueueUserAclsInfoResponseProto{QueueUserAcls: []*yarnpb.QueueUserACLInfoProto{{QueueName: proto.String("default"),
			UserAcls: []yarnpb.QueueACLProto{yarnpb.QueueACLProto_QACL_SUBMIT_APPLICATIONS, yarnpb.QueueACLProto_QACL_ADMINISTER_QUEUE}}}}, nil
	}
	rm.GetDelegationTokenF = func(_ context.Context, req *commonpb.GetDelegationTokenRequestProto) (*commonpb.GetDelegationTokenResponseProto, error) {
		return &commonpb.GetDelegationTokenResponseProto{Token: (&ipc.Token{Identifier: []byte("i"), Password: []byte("p"), Kind: ipc.KindRMDelegation, Service: ""}).Proto()}, nil
	}
	c := newRM(t, ep(rm.Addr()))
	ctx := testutil.Context(t, 20*time.Second)
	apps, err := c.GetApplications(ctx, AppFilter{States: []AppState{StateRunning}, Types: []string{"SPINDLE"}, Tags: []string{"team-a"}, Queues: []string{"prod"}, Users: []string{"alice"}})
	require.NoError(t, err)
	require.Len(t, apps, 1)
	require.Equal(t, StateRunning, apps[0].State)
	m, err := c.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, m.Active)
	nodes, err := c.GetClusterNodes(ctx, NodeRunning)
	require.NoError(t, err)
	require.Equal(t, "localhost:8041", nodes[0].ID.String())
	require.Equal(t, int64(8192), nodes[0].Capability.MemoryMB)
	q, err := c.GetQueueInfo(ctx, "default", QueueQuery{})
	require.NoError(t, err)
	require.Equal(t, "RUNNING", q.State)
	acls, err := c.GetQueueUserACLs(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"SUBMIT_APPLICATIONS", "ADMINISTER_QUEUE"}, acls[0].ACLs)
	tok, err := c.GetDelegationToken(ctx, "rm")
	require.NoError(t, err)
	require.Equal(t, ipc.KindRMDelegation, tok.Kind)
}

func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// RM HA: a standby RM does not listen, another answers StandbyException;
// the client fails over to the active one and remembers it.
func TestFailoverToActiveRM(t *testing.T) {
	standby := yarntest.NewRM(t, yarntest.Standby())
	active := yarntest.NewRM(t)
	var calls atomic.Int32
	active.GetClusterMetricsF = func(context.Context, *yarnpb.GetClusterMetricsRequestProto) (*yarnpb.GetClusterMetricsResponseProto, error) {
		calls.Add(1)
		return &yarnpb.GetClusterMetricsResponseProto{ClusterMetrics: &yarnpb.YarnClusterMetricsProto{NumNodeManagers: proto.Int32(1)}}, nil
	}
	eps := []Endpoint{
		{RMID: "rm1", Addr: closedAddr(t), Key: "yarn.resourcemanager.address.rm1"},
		{RMID: "rm2", Addr: standby.Addr(), Key: "yarn.resourcemanager.address.rm2"},
		{RMID: "rm3", Addr: active.Addr(), Key: "yarn.resourcemanager.address.rm3"},
	}
	c := newRM(t, eps...)
	ctx := testutil.Context(t, 20*time.Second)
	_, err := c.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.Equal(t, "rm3", c.Active().RMID)
	_, err = c.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, calls.Load())
}

// An unreachable RM gives one error naming the address and its config key
// after bounded retries.
func TestUnreachableRMNamesAddressAndKey(t *testing.T) {
	addr := closedAddr(t)
	c, err := NewRMClient(RMOptions{Endpoints: []Endpoint{{Addr: addr, Key: "yarn.resourcemanager.address"}},
		Retry: RetryPolicy{MaxWait: 100 * time.Millisecond, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}})
	require.NoError(t, err)
	defer c.Close()
	start := time.Now()
	_, err = c.GetClusterMetrics(testutil.Context(t, 20*time.Second))
	require.Error(t, err)
	require.Contains(t, err.Error(), addr)
	require.Contains(t, err.Error(), "yarn.resourcemanager.address")
	var ce *ipc.ConnError
	require.ErrorAs(t, err, &ce)
	require.ErrorIs(t, err, ErrUnreachable)
	require.Less(t, time.Since(start), 5*time.Second)
}

// afterFirstCall reports whether sent holds a whole connection preamble,
// connection context and first call: cutting there loses the call in
// flight.
func afterFirstCall(sent []byte) bool {
	r := bytes.NewReader(sent)
	if _, err := ipc.ReadPreamble(r); err != nil {
		return false
	}
	for range 2 { // the context, then the call
		if _, err := ipc.ReadFrame(r, 0); err != nil {
			return false
		}
	}
	return true
}

// Connection lost mid-call: an idempotent call is retried on a new
// connection; a non-idempotent one would fail (see TestRetryDecision).
func TestConnectionLossMidCallRetriesIdempotent(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		return report(app7, StateRunning), nil
	}
	// The first connection is cut as soon as the client has sent its first
	// call: the call is lost mid-flight.
	d := &testutil.Dialer{}
	d.Once(rm.Addr(), testutil.CutWhen(afterFirstCall))
	c, err := NewRMClient(RMOptions{Endpoints: []Endpoint{ep(rm.Addr())}, User: "alice", Retry: fastRetry, PollInterval: 5 * time.Millisecond,
		Logger: zerolog.New(zerolog.NewTestWriter(t)), Dial: d.Dial})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	r, err := c.GetApplicationReport(testutil.Context(t, 20*time.Second), app7)
	require.NoError(t, err)
	require.Equal(t, StateRunning, r.State)
	require.Len(t, d.Dialed(), 2, "the call went again on a new connection")
}

func TestRetryDecision(t *testing.T) {
	connLost := &ipc.ConnError{Addr: "a", Op: "read", Err: io.EOF}
	refused := &ipc.ConnError{Addr: "a", Op: "dial", Err: errors.New("connection refused")}
	remote := func(cls string) error { return &ipc.RemoteError{Class: cls} }
	for _, tc := range []struct {
		name, method string
		err          error
		want         RetryAction
	}{
		{"refused/allocate", mAllocate, refused, Failover},
		{"lost/allocate", mAllocate, connLost, Fail},
		{"lost/finish", mFinishApplicationMaster, connLost, Fail},
		{"lost/startContainers", mStartContainers, connLost, Fail},
		{"lost/getApplicationReport", mGetApplicationReport, connLost, Failover},
		{"lost/submitApplication", mSubmitApplication, connLost, Failover},
		{"standby/submit", mSubmitApplication, remote(ipc.ClassStandbyException), Failover},
		{"retriable/allocate", mAllocate, remote(ipc.ClassRetriableException), RetrySame},
		{"invalidtoken", mGetApplicationReport, remote(ipc.ClassInvalidToken), Fail},
		{"accesscontrol", mGetApplicationReport, remote(ipc.ClassAccessControl), Fail},
		{"app-exception", mGetApplicationReport, remote(exc + "ApplicationNotFoundException"), Fail},
	} {
		t.Run(tc.name, func(t *testing.T) { require.Equal(t, tc.want, RetryDecision(tc.err, tc.method)) })
	}
}
