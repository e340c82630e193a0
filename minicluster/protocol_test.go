package minicluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

func remoteError(t testing.TB, err error) *ipc.RemoteError {
	t.Helper()
	var re *ipc.RemoteError
	require.True(t, errors.As(err, &re), "want a remote exception, got %v", err)
	return re
}

func rawRegister(t testing.TB, ctx context.Context, conn *ipc.Conn) *yarnpb.RegisterApplicationMasterResponseProto {
	t.Helper()
	var resp yarnpb.RegisterApplicationMasterResponseProto
	require.NoError(t, conn.Call(ctx, "registerApplicationMaster", &yarnpb.RegisterApplicationMasterRequestProto{
		Host: proto.String("am-host"), RpcPort: proto.Int32(-1), TrackingUrl: proto.String("")}, &resp))
	return &resp
}

func rawAllocate(ctx context.Context, conn *ipc.Conn, req *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
	var resp yarnpb.AllocateResponseProto
	if req.BlacklistRequest == nil {
		req.BlacklistRequest = &yarnpb.ResourceBlacklistRequestProto{}
	}
	err := conn.Call(ctx, "allocate", req, &resp)
	return &resp, err
}

func anyAsk(priority int32, mem int64, n int32) *yarnpb.ResourceRequestProto {
	return &yarnpb.ResourceRequestProto{Priority: &yarnpb.PriorityProto{Priority: proto.Int32(priority)}, ResourceName: proto.String("*"),
		Capability: yarn.ResourceToProto(yarn.Resource{MemoryMB: mem, VCores: 1}), NumContainers: proto.Int32(n), RelaxLocality: proto.Bool(true),
		AllocationRequestId: proto.Int64(0)}
}

// TestAuthentication: the scheduler port accepts nothing but a valid
// AMRMToken over DIGEST-MD5, each NodeManager nothing but an NMToken the RM
// issued for it, while the client port takes SIMPLE.
func TestAuthentication(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	p := submitPuppet(t, ctx, c, rmc, nil)

	call := func(addr, protocol string, mech ipc.ClientMechanism, method string, req, resp proto.Message) error {
		opts := ipc.Options{Addr: addr, Protocol: protocol, User: testUser, IdleTimeout: -1}
		if mech != nil {
			opts.Mechanisms = []ipc.ClientMechanism{mech}
		}
		conn, err := ipc.Dial(ctx, opts)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Call(ctx, method, req, resp)
	}
	allocate := func(mech ipc.ClientMechanism) error {
		return call(c.RM().SchedulerAddr(), yarn.ProtocolAM, mech, "allocate", &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(0)},
			&yarnpb.AllocateResponseProto{})
	}

	t.Run("client port takes SIMPLE", func(t *testing.T) {
		nodes, err := rmc.GetClusterNodes(ctx)
		require.NoError(t, err)
		require.Len(t, nodes, 2)
	})
	t.Run("scheduler port refuses SIMPLE", func(t *testing.T) {
		re := remoteError(t, allocate(nil))
		require.True(t, re.Fatal)
		require.Equal(t, ipc.ClassAccessControl, re.Class)
		require.Equal(t, "SIMPLE authentication is not enabled.  Available:[TOKEN]", re.Message)
	})
	t.Run("scheduler port refuses a wrong password", func(t *testing.T) {
		forged := *p.token
		forged.Password = make([]byte, len(p.token.Password))
		re := remoteError(t, allocate(&ipc.TokenMechanism{Token: &forged}))
		require.True(t, re.Fatal)
	})
	t.Run("scheduler port refuses an attempt it never issued", func(t *testing.T) {
		bogus := yarn.AttemptID{App: yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}, Attempt: 1}
		k := newMasterKey(0)
		id := mustMarshal(&yarnpb.AMRMTokenIdentifierProto{AppAttemptId: yarn.AttemptIDToProto(bogus), KeyId: proto.Int32(k.id)})
		re := remoteError(t, allocate(&ipc.TokenMechanism{Token: &ipc.Token{Identifier: id, Password: k.password(id), Kind: ipc.KindAMRMToken}}))
		require.Equal(t, ipc.ClassInvalidToken, re.Class)
		require.Equal(t, bogus.String()+" not found in AMRMTokenSecretManager.", re.Message)
	})
	t.Run("scheduler port takes the AMRMToken", func(t *testing.T) {
		conn := p.raw(ctx)
		require.Equal(t, ipc.MethodToken, conn.AuthMethod())
		reg := rawRegister(t, ctx, conn)
		require.Equal(t, "default", reg.GetQueue())
	})

	nm := c.NodeManager(0)
	status := func(mech ipc.ClientMechanism) error {
		return call(nm.Addr(), yarn.ProtocolContainer, mech, "getContainerStatuses", &yarnpb.GetContainerStatusesRequestProto{},
			&yarnpb.GetContainerStatusesResponseProto{})
	}
	t.Run("node refuses SIMPLE", func(t *testing.T) {
		re := remoteError(t, status(nil))
		require.Equal(t, "SIMPLE authentication is not enabled.  Available:[TOKEN]", re.Message)
	})
	t.Run("node refuses the AMRMToken", func(t *testing.T) {
		re := remoteError(t, status(&ipc.TokenMechanism{Token: p.token}))
		require.Equal(t, ipc.ClassInvalidToken, re.Class)
	})
	t.Run("node refuses an NMToken signed with another key", func(t *testing.T) {
		tok := createNMToken(newMasterKey(0), p.att, nm.ID(), testUser)
		re := remoteError(t, status(&ipc.TokenMechanism{Token: tok}))
		require.Equal(t, ipc.ClassInvalidToken, re.Class)
		require.Equal(t, fmt.Sprintf("Given NMToken for application : %s seems to have been generated illegally.", p.att), re.Message)
	})
	t.Run("node refuses an NMToken for another node", func(t *testing.T) {
		tok := createNMToken(c.RM().nmKeys.cur(), p.att, c.NodeManager(1).ID(), testUser)
		re := remoteError(t, status(&ipc.TokenMechanism{Token: tok}))
		require.Contains(t, re.Message, "is not valid for current node manager.expected : "+nm.ID().String())
	})
	t.Run("node takes an NMToken the RM issued", func(t *testing.T) {
		tok := createNMToken(c.RM().nmKeys.cur(), p.att, nm.ID(), testUser)
		require.NoError(t, status(&ipc.TokenMechanism{Token: tok}))
	})
	p.exit(0)
}

// TestContainerTokenChecks: the NodeManager starts only containers whose
// token the RM signed, for its own application, not twice.
func TestContainerTokenChecks(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	p := submitPuppet(t, ctx, c, rmc, nil)
	amrm := p.client()
	_, err := amrm.Register(ctx, "am-host", -1, "")
	require.NoError(t, err)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	got := allocateUntil(t, ctx, amrm, "one container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	ct := got.Allocated[0]
	nmc := p.nmClient(amrm)

	tampered := ct
	tok := *ct.Token
	tok.Password = append([]byte(nil), tok.Password...)
	tok.Password[0] ^= 1
	tampered.Token = &tok
	res, err := nmc.StartContainers(ctx, []yarn.StartRequest{{Container: tampered, Launch: yarn.ContainerLaunchContext{Commands: []string{"true"}}}})
	require.NoError(t, err)
	var ce *yarn.ContainerError
	require.True(t, errors.As(res.Failed[ct.ID], &ce), "%v", res.Failed)
	require.Contains(t, res.Failed[ct.ID].Error(), "Invalid container token used for starting container on : "+ct.Node.String())

	startAll(t, ctx, nmc, []yarn.Container{ct}, "sleep 30")
	res, err = nmc.StartContainers(ctx, []yarn.StartRequest{{Container: ct, Launch: yarn.ContainerLaunchContext{Commands: []string{"true"}}}})
	require.NoError(t, err)
	require.Contains(t, res.Failed[ct.ID].Error(), fmt.Sprintf("Container %s already is running on this node!!", ct.ID))
	p.exit(0)
}

// TestInvalidResourceRequest: above the maximum allocation the RM answers
// InvalidResourceRequestException worded as YARN words it, both on
// allocate and on submit.
func TestInvalidResourceRequest(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	p := submitPuppet(t, ctx, c, rmc, nil)
	conn := p.raw(ctx)
	reg := rawRegister(t, ctx, conn)
	require.Equal(t, yarn.Resource{MemoryMB: 8192, VCores: 4}, yarn.ResourceFromProto(reg.GetMaximumCapability()))
	_, err := rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(0), Ask: []*yarnpb.ResourceRequestProto{anyAsk(0, 9000, 1)}})
	re := remoteError(t, err)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException", re.Class)
	require.Equal(t, "Invalid resource request! Cannot allocate containers as requested resource is greater than maximum allowed allocation. "+
		"Requested resource type=[memory-mb], Requested resource=<memory:9000, vCores:1>, maximum allowed allocation=<memory:8192, vCores:4>, "+
		"please note that maximum allowed allocation is calculated by scheduler based on maximum resource of registered NodeManagers, "+
		"which might be less than configured maximum allocation=<memory:8192, vCores:4>", re.Message)
	require.False(t, re.Fatal)
	// The attempt goes on: the next allocate with the same response id works.
	_, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(0)})
	require.NoError(t, err)

	t.Run("submit", func(t *testing.T) {
		cc, err := ipc.Dial(ctx, ipc.Options{Addr: c.RM().ClientAddr(), Protocol: yarn.ProtocolClient, User: testUser, IdleTimeout: -1})
		require.NoError(t, err)
		defer cc.Close()
		var nresp yarnpb.GetNewApplicationResponseProto
		require.NoError(t, cc.Call(ctx, "getNewApplication", &yarnpb.GetNewApplicationRequestProto{}, &nresp))
		sub := &yarnpb.ApplicationSubmissionContextProto{ApplicationId: nresp.ApplicationId, AmContainerSpec: &yarnpb.ContainerLaunchContextProto{},
			AmContainerResourceRequest: []*yarnpb.ResourceRequestProto{{ResourceName: proto.String("*"), NumContainers: proto.Int32(1),
				Capability: yarn.ResourceToProto(yarn.Resource{MemoryMB: 1024, VCores: 6})}}}
		err = cc.Call(ctx, "submitApplication", &yarnpb.SubmitApplicationRequestProto{ApplicationSubmissionContext: sub}, &yarnpb.SubmitApplicationResponseProto{})
		re := remoteError(t, err)
		require.Equal(t, "org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException", re.Class)
		require.Contains(t, re.Message, "Requested resource type=[vcores], Requested resource=<memory:1024, vCores:6>, maximum allowed allocation=<memory:8192, vCores:4>")
	})
	p.exit(0)
}

// TestAllocateSemantics: response ids (the cached last response, stale
// ids), register rules, absolute ask counts decremented on allocation,
// minimum-allocation rounding, NMTokens once per node, headroom.
func TestAllocateSemantics(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) { o.NodeManager.Resource = yarn.Resource{MemoryMB: 16384, VCores: 16} })
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	p := submitPuppet(t, ctx, c, rmc, nil)
	conn := p.raw(ctx)

	_, err := rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(0)})
	re := remoteError(t, err)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException", re.Class)

	rawRegister(t, ctx, conn)
	var resp yarnpb.RegisterApplicationMasterResponseProto
	re = remoteError(t, conn.Call(ctx, "registerApplicationMaster", &yarnpb.RegisterApplicationMasterRequestProto{}, &resp))
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException", re.Class)
	require.Equal(t, "Application Master is already registered : "+p.app.String(), re.Message)

	// Ask for 2 containers of 1500 MB: rounded up to 2048 MB, 1 vcore.
	rid := int32(0)
	r, err := rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid), Ask: []*yarnpb.ResourceRequestProto{anyAsk(0, 1500, 2)}})
	require.NoError(t, err)
	require.Equal(t, int32(1), r.GetResponseId())
	rid = r.GetResponseId()
	var got []*yarnpb.ContainerProto
	var nmTokens int
	for len(got) < 2 {
		r, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid)})
		require.NoError(t, err)
		require.Equal(t, rid+1, r.GetResponseId())
		rid = r.GetResponseId()
		got = append(got, r.GetAllocatedContainers()...)
		nmTokens += len(r.GetNmTokens())
		if len(got) < 2 {
			require.NoError(t, p.nm.Heartbeat(ctx)) // the scheduler assigns on node heartbeats
		}
	}
	require.Len(t, got, 2)
	require.Equal(t, 1, nmTokens, "one NMToken for the one node, the first time")
	for i, ct := range got {
		require.Equal(t, yarn.Resource{MemoryMB: 2048, VCores: 1}, yarn.ResourceFromProto(ct.GetResource()))
		require.Equal(t, int64(i+2), yarn.ContainerIDFromProto(ct.GetId()).ID, "container ids follow the AM's 000001")
		require.Equal(t, ipc.KindContainerToken, ct.GetContainerToken().GetKind())
		id, err := yarn.ParseContainerTokenIdentifier(ct.GetContainerToken().GetIdentifier())
		require.NoError(t, err)
		require.Equal(t, yarn.ContainerTypeTask, id.Type)
		require.Equal(t, testUser, id.Submitter)
		require.Equal(t, p.nm.ID().String(), id.NMAddress)
	}
	// headroom: 16384 - AM 1024 - 2*2048
	require.Equal(t, int64(16384-1024-4096), r.GetLimit().GetMemory())

	// A repeat of the last request gets the cached response, unchanged.
	again, err := rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid - 1)})
	require.NoError(t, err)
	require.True(t, proto.Equal(r, again), "cached response")
	_, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid - 2)})
	re = remoteError(t, err)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.InvalidApplicationMasterRequestException", re.Class)
	require.Equal(t, fmt.Sprintf("Invalid responseId in AllocateRequest from application attempt: %s, expect responseId to be %d", p.att, rid+1), re.Message)

	// The table entry was decremented to 0; asking for 1 (an absolute
	// count) gets exactly one more, and heartbeats without asks get none.
	r, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid), Ask: []*yarnpb.ResourceRequestProto{anyAsk(0, 1500, 1)}})
	require.NoError(t, err)
	rid = r.GetResponseId()
	more := len(r.GetAllocatedContainers())
	// The scheduler assigns on node heartbeats: after each of these, a
	// container beyond the one asked for would be in the next allocate.
	for range 5 {
		require.NoError(t, p.nm.Heartbeat(ctx))
		r, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid)})
		require.NoError(t, err)
		rid = r.GetResponseId()
		more += len(r.GetAllocatedContainers())
		require.Empty(t, r.GetNmTokens(), "no second NMToken for the same node")
	}
	require.Equal(t, 1, more)

	// Releasing a container: completed once, ABORTED, YARN's wording.
	released := got[0].GetId()
	r, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid), Release: []*yarnpb.ContainerIdProto{released}})
	require.NoError(t, err)
	rid = r.GetResponseId()
	require.Len(t, r.GetCompletedContainerStatuses(), 1)
	st := r.GetCompletedContainerStatuses()[0]
	require.True(t, proto.Equal(released, st.GetContainerId()))
	require.Equal(t, yarnpb.ContainerStateProto_C_COMPLETE, st.GetState())
	require.Equal(t, "Container released by application", st.GetDiagnostics())
	require.Equal(t, int32(-100), st.GetExitStatus())

	// A foreign container cannot be released.
	foreign := yarn.ContainerIDToProto(yarn.ContainerID{Attempt: yarn.AttemptID{App: yarn.ApplicationID{ClusterTimestamp: 1, ID: 9}, Attempt: 1}, ID: 2})
	_, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(rid), Release: []*yarnpb.ContainerIdProto{foreign}})
	re = remoteError(t, err)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.InvalidContainerReleaseException", re.Class)

	// Finish: false first, then true; unregistering twice is harmless.
	var fin yarnpb.FinishApplicationMasterResponseProto
	freq := &yarnpb.FinishApplicationMasterRequestProto{FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_SUCCEEDED.Enum()}
	require.NoError(t, conn.Call(ctx, "finishApplicationMaster", freq, &fin))
	require.False(t, fin.GetIsUnregistered())
	require.NoError(t, conn.Call(ctx, "finishApplicationMaster", freq, &fin))
	require.True(t, fin.GetIsUnregistered())
	rep, err := rmc.GetApplicationReport(ctx, p.app)
	require.NoError(t, err)
	require.Equal(t, yarn.StateFinished, rep.State)
	require.Equal(t, yarn.FinalSucceeded, rep.FinalStatus)
	p.exit(0)
}

// TestUnmanagedAM: an unmanaged AM gets its AMRMToken from the
// application report (field 19) and runs outside the cluster.
func TestUnmanagedAM(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	id := submit(t, ctx, rmc, yarn.AppSpec{UnmanagedAM: true})
	rep := waitReport(t, ctx, rmc, id, "the AMRMToken", func(r yarn.AppReport) bool { return r.AMRMToken != nil })
	require.True(t, rep.Unmanaged)
	amrm, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: c.RM().SchedulerAddr()}}, Token: rep.AMRMToken,
		FinishInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer amrm.Close()
	_, err = amrm.Register(ctx, "outside", 4242, "http://outside/")
	require.NoError(t, err)
	rep = waitState(t, ctx, rmc, id, yarn.StateRunning)
	require.Equal(t, "outside", rep.Host)
	require.Equal(t, int32(4242), rep.RPCPort)
	require.Equal(t, "http://outside/", rep.OriginalTrackingURL)
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	rep = waitState(t, ctx, rmc, id, yarn.StateFinished)
	require.Equal(t, yarn.FinalSucceeded, rep.FinalStatus)
	require.Nil(t, rep.AMRMToken, "no token once the attempt is over")
}

// TestContainerAllocationExpiry: a container the AM never starts is taken
// back after the allocation expiry interval.
func TestContainerAllocationExpiry(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) { o.RM.ContainerAllocationExpiry = 300 * time.Millisecond })
	ctx := testutil.Context(t, 30*time.Second)
	p, amrm, _ := registered(t, ctx, c, nil)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	acc = allocateUntil(t, ctx, amrm, "its expiry", func(a *yarn.AllocateResult) bool { return completedOf(a, acc.Allocated) == 1 })
	require.Equal(t, yarn.ExitAborted, acc.Completed[0].ExitStatus)
	require.Equal(t, "Container expired since it was unused", acc.Completed[0].Diagnostics)
	p.exit(0)
}

// TestMasterKeyRoll: after the RM rolls its keys the AM gets a new
// AMRMToken in its next allocate; new connections use it; the old token
// stays valid until the next roll; NMTokens are re-issued.
func TestMasterKeyRoll(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx := testutil.Context(t, 30*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	c.RM().RollMasterKeys()
	r, err := amrm.Allocate(ctx, 0)
	require.NoError(t, err)
	require.NotNil(t, r.AMRMToken)
	oldID, err := yarn.ParseAMRMTokenIdentifier(p.token.Identifier)
	require.NoError(t, err)
	newID, err := yarn.ParseAMRMTokenIdentifier(r.AMRMToken.Identifier)
	require.NoError(t, err)
	require.NotEqual(t, oldID.KeyID, newID.KeyID)
	require.Equal(t, p.att, newID.Attempt)
	p.raw(ctx) // the old token still authenticates
	p.token = r.AMRMToken
	conn := p.raw(ctx)
	// A repeat of the client's last request: answered from the cache,
	// without disturbing the client's own sequence.
	_, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(0)})
	require.NoError(t, err)

	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	require.Len(t, acc.NMTokens, 1, "a new NMToken after the roll")
	startAll(t, ctx, nmc, acc.Allocated, "true")
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
}

// TestPrivacyQOP: with hadoop.rpc.protection=privacy the scheduler port
// and the nodes wrap every message (DIGEST-MD5 auth-conf), the AM launch
// included.
func TestPrivacyQOP(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) {
		o.RM.QOPs = []string{"auth-conf"}
		o.NodeManager.QOPs = []string{"auth-conf"}
	})
	ctx := testutil.Context(t, 30*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	startAll(t, ctx, nmc, acc.Allocated, "true")
	acc = allocateUntil(t, ctx, amrm, "its completion", func(a *yarn.AllocateResult) bool { return completedOf(a, acc.Allocated) == 1 })
	require.Equal(t, int32(0), acc.Completed[0].ExitStatus)
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
}
