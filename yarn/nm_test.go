package yarn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

func mintNMToken(t *testing.T, node NodeID, keyID int32) *ipc.Token {
	id, err := proto.Marshal(&yarnpb.NMTokenIdentifierProto{AppAttemptId: AttemptIDToProto(att1), NodeId: NodeIDToProto(node),
		AppSubmitter: proto.String("alice"), KeyId: proto.Int32(keyID)})
	require.NoError(t, err)
	// The service is ip:port, deliberately unreachable here: the client
	// must dial the NodeId.
	return &ipc.Token{Identifier: id, Password: []byte(fmt.Sprintf("nm-pw-%s-%d", node, keyID)), Kind: ipc.KindNMToken,
		Service: fmt.Sprintf("192.0.2.1:%d", node.Port)}
}

// nmCluster is a few stub NodeManagers known by host names that the test
// dialer resolves, each demanding its NMToken.
type nmCluster struct {
	t      *testing.T
	sec    *tokenSecrets
	tokens *NMTokens
	d      *testutil.Dialer
}

func newNMCluster(t *testing.T) *nmCluster {
	return &nmCluster{t: t, sec: newSecrets(), tokens: &NMTokens{}, d: &testutil.Dialer{}}
}

// node starts a stub NodeManager named host and hands out its token.
func (cl *nmCluster) node(host string) (*yarntest.NM, NodeID) {
	nm := yarntest.NewNM(cl.t, yarntest.RequireToken(cl.sec))
	_, port, err := net.SplitHostPort(nm.Addr())
	require.NoError(cl.t, err)
	var p int32
	_, err = fmt.Sscan(port, &p)
	require.NoError(cl.t, err)
	id := NodeID{Host: host, Port: p}
	cl.d.Route(id.String(), nm.Addr())
	tok := mintNMToken(cl.t, id, 1)
	cl.sec.add(tok)
	cl.tokens.Set(id, tok)
	return nm, id
}

func (cl *nmCluster) client(mods ...func(*NMOptions)) *NMClient {
	o := NMOptions{Tokens: cl.tokens, Dial: cl.d.Dial, Logger: amLogger(cl.t),
		Retry: RetryPolicy{MaxWait: 100 * time.Millisecond, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}}
	for _, m := range mods {
		m(&o)
	}
	c, err := NewNMClient(o)
	require.NoError(cl.t, err)
	cl.t.Cleanup(func() { c.Close() })
	return c
}

func allocatedOn(node NodeID, seq int64) Container {
	return Container{ID: ContainerID{Attempt: att1, ID: seq}, Node: node, Resource: small,
		Token: &ipc.Token{Identifier: []byte(fmt.Sprintf("ct-%d", seq)), Password: []byte("pw"), Kind: ipc.KindContainerToken, Service: "192.0.2.1:1"}}
}

func seqs(ids []*yarnpb.ContainerIdProto) []int64 {
	var out []int64
	for _, id := range ids {
		out = append(out, id.GetId())
	}
	return out
}

func failedOn(id *yarnpb.ContainerIdProto, cls, msg string, cause *yarnpb.SerializedExceptionProto) *yarnpb.ContainerExceptionMapProto {
	return &yarnpb.ContainerExceptionMapProto{ContainerId: id, Exception: &yarnpb.SerializedExceptionProto{
		ClassName: proto.String(cls), Message: proto.String(msg), Trace: proto.String("at org.apache.hadoop..."), Cause: cause}}
}

func TestNewNMClientNeedsTokens(t *testing.T) {
	_, err := NewNMClient(NMOptions{})
	require.ErrorContains(t, err, "Tokens")
}

// Containers on two nodes: one startContainers per node, each carrying its
// containers in order with their container tokens and launch contexts, on
// a connection to the NodeId authenticated with that node's NMToken; one
// container fails on its own and is reported with its Java class.
func TestStartContainersBatchedPerNode(t *testing.T) {
	cl := newNMCluster(t)
	nmA, a := cl.node("nm-a.example.com")
	nmB, b := cl.node("nm-b.example.com")
	var mu sync.Mutex
	got := map[string]*yarnpb.StartContainersRequestProto{}
	nmA.StartContainersF = func(_ context.Context, req *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error) {
		mu.Lock()
		got["a"] = req
		mu.Unlock()
		return &yarnpb.StartContainersResponseProto{
			SucceededRequests: []*yarnpb.ContainerIdProto{ContainerIDToProto(ContainerID{Attempt: att1, ID: 2})},
			FailedRequests: []*yarnpb.ContainerExceptionMapProto{failedOn(ContainerIDToProto(ContainerID{Attempt: att1, ID: 3}),
				"org.apache.hadoop.yarn.exceptions.YarnException", "Container container_1795317067845_0002_01_000003 already is running on this node!!",
				&yarnpb.SerializedExceptionProto{ClassName: proto.String("org.apache.hadoop.security.token.SecretManager.InvalidToken"), Message: proto.String("expired")})},
			ServicesMetaData: []*yarnpb.StringBytesMapProto{{Key: proto.String("mapreduce_shuffle"), Value: []byte{0, 0, 0x34, 0x56}}},
		}, nil
	}
	nmB.StartContainersF = func(_ context.Context, req *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error) {
		mu.Lock()
		got["b"] = req
		mu.Unlock()
		return &yarnpb.StartContainersResponseProto{SucceededRequests: []*yarnpb.ContainerIdProto{ContainerIDToProto(ContainerID{Attempt: att1, ID: 4})}}, nil
	}
	c := cl.client()
	launch := ContainerLaunchContext{Commands: []string{"env > out"}, Environment: map[string]string{"B": "2", "A": "1"}}
	res, err := c.StartContainers(testutil.Context(t, 20*time.Second), []StartRequest{
		{Container: allocatedOn(a, 2), Launch: launch},
		{Container: allocatedOn(b, 4), Launch: launch},
		{Container: allocatedOn(a, 3), Launch: launch},
	})
	require.NoError(t, err)

	require.Len(t, got["a"].GetStartContainerRequest(), 2)
	require.Len(t, got["b"].GetStartContainerRequest(), 1)
	first := got["a"].GetStartContainerRequest()[0]
	require.Equal(t, "ct-2", string(first.GetContainerToken().GetIdentifier()))
	require.Equal(t, ipc.KindContainerToken, first.GetContainerToken().GetKind())
	require.True(t, proto.Equal(clcToProto(launch), first.GetContainerLaunchContext()))
	require.Equal(t, "ct-3", string(got["a"].GetStartContainerRequest()[1].GetContainerToken().GetIdentifier()))

	sortContainerIDs(res.Succeeded)
	require.Equal(t, []ContainerID{{Attempt: att1, ID: 2}, {Attempt: att1, ID: 4}}, res.Succeeded)
	require.Len(t, res.Failed, 1)
	err3 := res.Failed[ContainerID{Attempt: att1, ID: 3}]
	var ce *ContainerError
	require.ErrorAs(t, err3, &ce)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.YarnException", ce.Class)
	require.Equal(t, a, ce.Node)
	require.ErrorIs(t, err3, ErrYARN)
	require.ErrorIs(t, err3, ErrInvalidToken, "the cause's class matches too (canonical nested name)")
	require.Contains(t, err3.Error(), "already is running")
	require.ErrorIs(t, res.Err(), ErrYARN)
	require.Equal(t, map[string][]byte{"mapreduce_shuffle": {0, 0, 0x34, 0x56}}, res.ServicesMetaData)

	// Dialled by NodeId (host:port), never by the tokens' ip:port service.
	require.ElementsMatch(t, []string{a.String(), b.String()}, cl.d.Dialed())
	require.Len(t, cl.sec.usedBy(cl.tokens.Get(a), cl.tokens.Get(b)), 2)
	require.ElementsMatch(t, []int{0, 1}, cl.sec.usedBy(cl.tokens.Get(a), cl.tokens.Get(b)))
}

// A node that cannot be reached, one that refuses the whole call, and one
// without an NMToken fail their own containers only.
func TestStartContainersNodeFailures(t *testing.T) {
	cl := newNMCluster(t)
	nmOK, ok := cl.node("ok")
	nmBad, bad := cl.node("bad-token")
	down := NodeID{Host: "down", Port: 1}
	cl.d.Set(down.String(), testutil.Refuse())
	cl.tokens.Set(down, mintNMToken(t, down, 1))
	unknown := NodeID{Host: "never-seen", Port: 2}

	nmOK.StartContainersF = func(_ context.Context, req *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error) {
		return &yarnpb.StartContainersResponseProto{SucceededRequests: []*yarnpb.ContainerIdProto{ContainerIDToProto(ContainerID{Attempt: att1, ID: 2})}}, nil
	}
	nmBad.StartContainersF = func(context.Context, *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error) {
		return nil, &ipc.ServerError{Class: ipc.ClassInvalidToken, Message: "NMToken for application attempt : appattempt_1795317067845_0002_000001 was used for starting container with container token issued for application attempt : appattempt_1795317067845_0003_000001"}
	}
	c := cl.client()
	res, err := c.StartContainers(testutil.Context(t, 20*time.Second), []StartRequest{
		{Container: allocatedOn(ok, 2)}, {Container: allocatedOn(bad, 3)}, {Container: allocatedOn(down, 4)},
		{Container: allocatedOn(down, 5)}, {Container: allocatedOn(unknown, 6)},
	})
	require.NoError(t, err)
	require.Equal(t, []ContainerID{{Attempt: att1, ID: 2}}, res.Succeeded)
	require.Len(t, res.Failed, 4)
	require.ErrorIs(t, res.Failed[ContainerID{Attempt: att1, ID: 3}], ErrInvalidToken)
	for _, seq := range []int64{4, 5} {
		var ce *ipc.ConnError
		require.ErrorAs(t, res.Failed[ContainerID{Attempt: att1, ID: seq}], &ce)
		require.Equal(t, "dial", ce.Op)
		require.ErrorContains(t, res.Failed[ContainerID{Attempt: att1, ID: seq}], "down:1")
	}
	require.ErrorIs(t, res.Failed[ContainerID{Attempt: att1, ID: 6}], ErrNoNMToken)
	require.ErrorContains(t, res.Failed[ContainerID{Attempt: att1, ID: 6}], "never-seen:2")
	// A container a node did not mention is not silently lost.
	nmOK.StartContainersF = func(context.Context, *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error) {
		return &yarnpb.StartContainersResponseProto{}, nil
	}
	res, err = c.StartContainers(testutil.Context(t, 20*time.Second), []StartRequest{{Container: allocatedOn(ok, 7)}})
	require.NoError(t, err)
	require.ErrorContains(t, res.Failed[ContainerID{Attempt: att1, ID: 7}], "neither the succeeded nor the failed list")
}

func TestStartContainersRejectsBadInput(t *testing.T) {
	cl := newNMCluster(t)
	n := NodeID{Host: "n", Port: 1} // nothing listens: nothing may be sent
	cl.tokens.Set(n, mintNMToken(t, n, 1))
	c := cl.client()
	noToken := allocatedOn(n, 2)
	noToken.Token = nil
	noNode := allocatedOn(n, 3)
	noNode.Node = NodeID{}
	for name, reqs := range map[string][]StartRequest{
		"no token":  {{Container: noToken}},
		"no node":   {{Container: noNode}},
		"no id":     {{Container: Container{Node: n, Token: &ipc.Token{}}}},
		"duplicate": {{Container: allocatedOn(n, 4)}, {Container: allocatedOn(n, 4)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.StartContainers(testutil.Context(t, 20*time.Second), reqs)
			require.Error(t, err)
		})
	}
	require.Empty(t, cl.d.Dialed(), "nothing was sent")
}

func TestStopContainersAndStatuses(t *testing.T) {
	cl := newNMCluster(t)
	nm, n := cl.node("n")
	id := func(s int64) ContainerID { return ContainerID{Attempt: att1, ID: s} }
	nm.StopContainersF = func(_ context.Context, req *yarnpb.StopContainersRequestProto) (*yarnpb.StopContainersResponseProto, error) {
		assert.Equal(t, []int64{2, 3}, seqs(req.GetContainerId()))
		return &yarnpb.StopContainersResponseProto{SucceededRequests: req.GetContainerId()[:1],
			FailedRequests: []*yarnpb.ContainerExceptionMapProto{failedOn(req.GetContainerId()[1], "org.apache.hadoop.yarn.exceptions.ContainerNotFoundException", "Container container_1795317067845_0002_01_000003 is not handled by this NodeManager", nil)}}, nil
	}
	nm.GetContainerStatusesF = func(_ context.Context, req *yarnpb.GetContainerStatusesRequestProto) (*yarnpb.GetContainerStatusesResponseProto, error) {
		return &yarnpb.GetContainerStatusesResponseProto{
			Status: []*yarnpb.ContainerStatusProto{{ContainerId: req.GetContainerId()[0], State: yarnpb.ContainerStateProto_C_RUNNING.Enum(),
				ExitStatus: proto.Int32(ExitInvalid), Diagnostics: proto.String(""),
				ContainerAttributes: []*yarnpb.StringStringMapProto{{Key: proto.String("HOST"), Value: proto.String("n")}}}},
			FailedRequests: []*yarnpb.ContainerExceptionMapProto{failedOn(req.GetContainerId()[1], "org.apache.hadoop.yarn.exceptions.InvalidContainerException", "no", nil)},
		}, nil
	}
	c := cl.client()
	ctx := testutil.Context(t, 20*time.Second)
	res, err := c.StopContainers(ctx, n, []ContainerID{id(2), id(3)})
	require.NoError(t, err)
	require.Equal(t, []ContainerID{id(2)}, res.Succeeded)
	require.ErrorIs(t, res.Failed[id(3)], ErrContainerNotFound)

	st, err := c.GetContainerStatuses(ctx, n, []ContainerID{id(2), id(5)})
	require.NoError(t, err)
	require.Equal(t, []ContainerStatus{{ID: id(2), State: ContainerRunning, ExitStatus: ExitInvalid, Attributes: map[string]string{"HOST": "n"}}}, st.Statuses)
	require.ErrorIs(t, st.Failed[id(5)], ErrInvalidContainer)

	// A failure of the whole call is the returned error.
	nm.StopContainersF = func(context.Context, *yarnpb.StopContainersRequestProto) (*yarnpb.StopContainersResponseProto, error) {
		return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.YarnException", "boom")
	}
	_, err = c.StopContainers(ctx, n, []ContainerID{id(2)})
	require.ErrorIs(t, err, ErrYARN)
	require.ErrorContains(t, err, n.String())
}

// When the RM sends a new NMToken for a node (its key rolled), the next
// connection to that node authenticates with it.
func TestNMTokenReplacedForNewConnections(t *testing.T) {
	cl := newNMCluster(t)
	nm, n := cl.node("n")
	nm.GetContainerStatusesF = func(context.Context, *yarnpb.GetContainerStatusesRequestProto) (*yarnpb.GetContainerStatusesResponseProto, error) {
		return &yarnpb.GetContainerStatusesResponseProto{}, nil
	}
	c := cl.client()
	ctx := testutil.Context(t, 20*time.Second)
	old := cl.tokens.Get(n)
	_, err := c.GetContainerStatuses(ctx, n, nil)
	require.NoError(t, err)

	rolled := mintNMToken(t, n, 2)
	cl.sec.add(rolled)
	cl.tokens.Set(n, rolled) // what AMRMClient does with allocate's nm_tokens
	_, err = c.GetContainerStatuses(ctx, n, nil)
	require.NoError(t, err, "the open connection stays")
	require.Equal(t, []int{0}, cl.sec.usedBy(old, rolled))

	cl.sec.revoke(old)
	cl.d.Cut()
	for i := 0; ; i++ {
		_, err = c.GetContainerStatuses(ctx, n, nil)
		if err == nil || i == 3 {
			break
		}
	}
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, cl.sec.usedBy(old, rolled))
}

// A NodeManager still registering answers NMNotYetReadyException: the
// call is retried; other refusals are not.
func TestNMNotYetReadyIsRetried(t *testing.T) {
	cl := newNMCluster(t)
	nm, n := cl.node("n")
	var calls atomic.Int32
	nm.GetContainerStatusesF = func(context.Context, *yarnpb.GetContainerStatusesRequestProto) (*yarnpb.GetContainerStatusesResponseProto, error) {
		if calls.Add(1) < 3 {
			return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.NMNotYetReadyException", "Rejecting new containers as NodeManager has not yet connected with ResourceManager")
		}
		return &yarnpb.GetContainerStatusesResponseProto{}, nil
	}
	c := cl.client(func(o *NMOptions) { o.Retry.MaxWait = 5 * time.Second })
	_, err := c.GetContainerStatuses(testutil.Context(t, 20*time.Second), n, nil)
	require.NoError(t, err)
	require.EqualValues(t, 3, calls.Load())
}

func TestNMClientClosed(t *testing.T) {
	cl := newNMCluster(t)
	nm, n := cl.node("n")
	nm.GetContainerStatusesF = func(context.Context, *yarnpb.GetContainerStatusesRequestProto) (*yarnpb.GetContainerStatusesResponseProto, error) {
		return &yarnpb.GetContainerStatusesResponseProto{}, nil
	}
	c := cl.client()
	_, err := c.GetContainerStatuses(testutil.Context(t, 20*time.Second), n, nil)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err = c.GetContainerStatuses(testutil.Context(t, 20*time.Second), n, nil)
	require.ErrorIs(t, err, ipc.ErrClosed)
}

func TestContainerErrorClassNames(t *testing.T) {
	for cls, want := range map[string]error{
		"org.apache.hadoop.security.token.SecretManager.InvalidToken":           ErrInvalidToken,
		"org.apache.hadoop.security.token.SecretManager$InvalidToken":           ErrInvalidToken,
		"org.apache.hadoop.yarn.exceptions.InvalidContainerException":           ErrInvalidContainer,
		"org.apache.hadoop.yarn.exceptions.NMNotYetReadyException":              ErrNMNotYetReady,
		"org.apache.hadoop.yarn.exceptions.InvalidAuxServiceException":          ErrInvalidAuxService,
		"org.apache.hadoop.yarn.server.nodemanager.SomethingElse.Nested.Deeper": nil,
	} {
		e := &ContainerError{Class: cls}
		for _, s := range []error{ErrInvalidToken, ErrInvalidContainer, ErrNMNotYetReady, ErrInvalidAuxService} {
			require.Equal(t, s == want, errors.Is(e, s), "%s is %v", cls, s)
		}
	}
}
