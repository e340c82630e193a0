package minicluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestLocalityAndBlacklist: strict node and rack requests land where they
// ask; a blacklisted host gets nothing; off-switch requests spread over
// the nodes that are left.
func TestLocalityAndBlacklist(t *testing.T) {
	c := newTestCluster(t, 2, func(o *Options) { o.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1} })
	ctx := testutil.Context(t, 60*time.Second)
	_, amrm, _ := registered(t, ctx, c, nil)
	n0, n1 := c.NodeManager(0).ID(), c.NodeManager(1).ID()
	res := yarn.Resource{MemoryMB: 128, VCores: 1}

	for i := 0; i < 3; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: res, Priority: 1, Nodes: []string{n1.Host}}))
	}
	acc := allocateUntil(t, ctx, amrm, "3 node-local containers", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 3 })
	for _, ct := range acc.Allocated {
		require.Equal(t, n1, ct.Node, "strict node locality")
		require.Equal(t, int32(1), ct.Priority)
	}

	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: res, Priority: 2, Racks: []string{DefaultRack}}))
	acc = allocateUntil(t, ctx, amrm, "a rack-local container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	require.Contains(t, []yarn.NodeID{n0, n1}, acc.Allocated[0].Node)

	require.NoError(t, amrm.Blacklist([]string{n1.Host}, nil))
	for i := 0; i < 4; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: res, Priority: 3}))
	}
	acc = allocateUntil(t, ctx, amrm, "4 containers off the blacklisted host", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 4 })
	for _, ct := range acc.Allocated {
		require.Equal(t, n0, ct.Node, "blacklisted host skipped")
	}

	require.NoError(t, amrm.Blacklist(nil, []string{n1.Host}))
	require.NoError(t, amrm.Blacklist([]string{n0.Host}, nil))
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: res, Priority: 4}))
	acc = allocateUntil(t, ctx, amrm, "a container after un-blacklisting", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	require.Equal(t, n1, acc.Allocated[0].Node)
}

// TestDelayScheduling: a relaxed node-local request for a node without
// room falls back to another node only after the locality delay.
func TestDelayScheduling(t *testing.T) {
	c := newTestCluster(t, 2, func(o *Options) {
		o.NodeManager.Resource = yarn.Resource{MemoryMB: 2048, VCores: 8}
		o.RM.MaxAllocation = yarn.Resource{MemoryMB: 2048, VCores: 4}
	})
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, _ := registered(t, ctx, c, nil)
	full := c.NodeManager(0)
	if full != p.nm {
		full = c.NodeManager(1)
	}
	// The AM's node has 1024 MB left; ask for 2048 there, relaxed.
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 2048, VCores: 1}, Nodes: []string{full.ID().Host}, RelaxLocality: true}))
	acc := allocateUntil(t, ctx, amrm, "a relaxed container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	require.NotEqual(t, full.ID(), acc.Allocated[0].Node)
}

// TestQueues: an unknown queue fails the application as the capacity
// scheduler does; a queue's maximum capacity bounds what its applications
// get, and the headroom says so.
func TestQueues(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) {
		o.RM.Queues = []QueueOptions{{Name: "default", Capacity: 75}, {Name: "small", Capacity: 25, MaxCapacity: 25}, {Name: "closed", Stopped: true}}
	})
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 60*time.Second)

	closed, err := rmc.GetQueueInfo(ctx, "closed", yarn.QueueQuery{})
	require.NoError(t, err)
	require.Equal(t, "STOPPED", closed.State)
	sid, _, err := rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	err = rmc.SubmitApplication(ctx, yarn.AppSpec{ID: sid, Queue: "closed", AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"true"}}})
	require.ErrorContains(t, err, "Queue root.closed is STOPPED. Cannot accept submission of application: "+sid.String())

	id, _, err := rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	err = rmc.SubmitApplication(ctx, yarn.AppSpec{ID: id, Queue: "nope", AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		AM: yarn.ContainerLaunchContext{Commands: []string{"true"}}})
	require.ErrorContains(t, err, "to unknown queue: nope", "the RM accepts the call and fails the application")
	rep := waitState(t, ctx, rmc, id, yarn.StateFailed)
	require.Equal(t, fmt.Sprintf("Application %s submitted by user %s to unknown queue: nope", id, testUser), rep.Diagnostics)

	// small: 25% of 8192 = 2048 MB: the AM (1024) and one more 1024 container.
	_, amrm, _ := registered(t, ctx, c, func(s *yarn.AppSpec) { s.Queue = "small" })
	for i := 0; i < 3; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 512, VCores: 1}}))
	}
	acc := allocateUntil(t, ctx, amrm, "one container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	// The scheduler assigns containers on node heartbeats: after one from
	// every node, a container the queue wrongly allowed would be there.
	for _, nm := range c.NodeManagers() {
		require.NoError(t, nm.Heartbeat(ctx))
	}
	r, err := amrm.Allocate(ctx, 0)
	require.NoError(t, err)
	require.Empty(t, r.Allocated, "the queue is at its maximum capacity")
	require.Equal(t, int64(0), r.Headroom.MemoryMB)
	require.Len(t, acc.Allocated, 1)

	qi, err := rmc.GetQueueInfo(ctx, "small", yarn.QueueQuery{})
	require.NoError(t, err)
	require.Equal(t, "small", qi.Name)
	require.InDelta(t, 0.25, qi.Capacity, 1e-6)
	require.InDelta(t, 1.0, qi.CurrentCapacity, 1e-6)
	acls, err := rmc.GetQueueUserACLs(ctx)
	require.NoError(t, err)
	require.Len(t, acls, 4)
}

// TestClusterReports: the reports the yarn CLI reads.
func TestClusterReports(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	nodes, err := rmc.GetClusterNodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	for i, n := range nodes {
		require.Equal(t, c.NodeManager(i).ID(), n.ID)
		require.Equal(t, DefaultRack, n.Rack)
		require.Equal(t, yarn.NodeRunning, n.State)
		require.Equal(t, yarn.Resource{MemoryMB: 8192, VCores: 8}, n.Capability)
		require.Equal(t, n.ID.Host+":8042", n.HTTPAddress)
	}
	m, err := rmc.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.Equal(t, int32(2), m.Active)
	require.Equal(t, int32(2), m.NodeManagers)

	p := submitPuppet(t, ctx, c, rmc, func(s *yarn.AppSpec) { s.Type = "SPINDLE"; s.Tags = []string{"t1"} })
	waitState(t, ctx, rmc, p.app, yarn.StateAccepted)
	// ACCEPTED passes through "Scheduler has assigned a container for AM"
	// before the NodeManager launches it, as in YARN.
	var rep yarn.AppReport
	require.Eventually(t, func() bool {
		rep, err = rmc.GetApplicationReport(ctx, p.app)
		return err == nil && rep.Diagnostics == "AM container is launched, waiting for AM container to Register with RM"
	}, 10*time.Second, 10*time.Millisecond, "last diagnostics: %q", rep.Diagnostics)
	require.Equal(t, yarn.StateAccepted, rep.State)
	apps, err := rmc.GetApplications(ctx, yarn.AppFilter{Types: []string{"spindle"}, States: []yarn.AppState{yarn.StateAccepted}})
	require.NoError(t, err)
	require.Len(t, apps, 1)
	require.Equal(t, p.app, apps[0].ID)
	apps, err = rmc.GetApplications(ctx, yarn.AppFilter{States: []yarn.AppState{yarn.StateFinished}})
	require.NoError(t, err)
	require.Empty(t, apps)
	_, err = rmc.GetApplicationReport(ctx, yarn.ApplicationID{ClusterTimestamp: 1, ID: 1})
	require.ErrorIs(t, err, yarn.ErrApplicationNotFound)

	// The fields of the 3.3.6 capture that a client prints.
	cc := rawClient(t, ctx, c)
	var resp yarnpb.GetApplicationReportResponseProto
	require.NoError(t, cc.Call(ctx, "getApplicationReport", &yarnpb.GetApplicationReportRequestProto{ApplicationId: yarn.AppIDToProto(p.app)}, &resp))
	r := resp.GetApplicationReport()
	require.Equal(t, "http://localhost:8088/proxy/"+p.app.String()+"/", r.GetTrackingUrl())
	require.Equal(t, "N/A", r.GetOriginalTrackingUrl())
	require.Equal(t, "<Not set>", r.GetAppNodeLabelExpression())
	require.Equal(t, "<DEFAULT_PARTITION>", r.GetAmNodeLabelExpression())
	require.Equal(t, "UNLIMITED", r.GetAppTimeouts()[0].GetApplicationTimeout().GetExpireTime())
	require.Equal(t, yarnpb.LogAggregationStatusProto_LOG_DISABLED, r.GetLogAggregationStatus())
	require.Equal(t, int32(1), r.GetAppResource_Usage().GetNumUsedContainers())
	var pr yarnpb.GetAllResourceProfilesResponseProto
	re := remoteError(t, cc.Call(ctx, "getResourceProfiles", &yarnpb.GetAllResourceProfilesRequestProto{}, &pr))
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.YARNFeatureNotEnabledException", re.Class)
	var nr yarnpb.GetNewApplicationResponseProto
	require.NoError(t, cc.Call(ctx, "getNewApplication", &yarnpb.GetNewApplicationRequestProto{}, &nr))
	require.True(t, proto.Equal(yarn.ResourceToProto(yarn.Resource{MemoryMB: 8192, VCores: 4}), nr.GetMaximumCapability()))
	p.exit(0)
}

// TestLocalMode: StartLocal writes a configuration any Hadoop client can
// use, prints one line, and Close removes what it made.
func TestLocalMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "local")
	ctx := testutil.Context(t, 30*time.Second)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() {
		errc <- RunLocal(runCtx, LocalOptions{Dir: dir, Nodes: 2, Out: pw, Logger: testLogger(t),
			NodeManager: NMOptions{HeartbeatInterval: 50 * time.Millisecond}})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "export HADOOP_CONF_DIR="+filepath.Join(dir, "conf"))
	go io.Copy(io.Discard, pr) //nolint:errcheck

	cfg, err := conf.Load(filepath.Join(dir, "conf"), conf.Options{})
	require.NoError(t, err)
	fs, err := cfg.Get("fs.defaultFS")
	require.NoError(t, err)
	require.Equal(t, "file:///", fs)
	ropts, err := yarn.RMOptionsFromConf(cfg)
	require.NoError(t, err)
	ropts.User = testUser
	rmc, err := yarn.NewRMClient(ropts)
	require.NoError(t, err)
	defer rmc.Close()
	nodes, err := rmc.GetClusterNodes(ctx)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	aopts, err := yarn.AMRMOptionsFromConf(cfg)
	require.NoError(t, err)
	require.NotEmpty(t, aopts.Scheduler)
	b, err := os.ReadFile(filepath.Join(dir, "conf", "yarn-site.xml"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(b), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"))

	stop()
	require.NoError(t, <-errc)
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing left behind, DIR included: local mode made it")
}
