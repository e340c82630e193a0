package minicluster

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/proc"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

var diagStamp = regexp.MustCompile(`\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\]`)

// stamped replaces the NodeManager's diagnostic timestamps with [TS].
func stamped(s string) string { return diagStamp.ReplaceAllString(s, "[TS]") }

// registered starts a puppet AM and registers it with Spindle's client.
func registered(t *testing.T, ctx context.Context, c *Cluster, mod func(*yarn.AppSpec)) (*puppet, *yarn.AMRMClient, *yarn.NMClient) {
	t.Helper()
	p := submitPuppet(t, ctx, c, rmClient(t, c), mod)
	amrm := p.client()
	_, err := amrm.Register(ctx, "am-host", -1, "")
	require.NoError(t, err)
	return p, amrm, p.nmClient(amrm)
}

// completedOf counts the completions of the given containers (an AM also
// hears of the excess containers its client released).
func completedOf(acc *yarn.AllocateResult, cs []yarn.Container) int {
	want := map[yarn.ContainerID]bool{}
	for _, c := range cs {
		want[c.ID] = true
	}
	k := 0
	for _, s := range acc.Completed {
		if want[s.ID] {
			k++
		}
	}
	return k
}

func completedByID(acc *yarn.AllocateResult) map[yarn.ContainerID]yarn.ContainerStatus {
	m := map[yarn.ContainerID]yarn.ContainerStatus{}
	for _, s := range acc.Completed {
		m[s.ID] = s
	}
	return m
}

// TestContainerExitStatuses: what an AM hears about containers that exit
// 0, exit 3, die of an external SIGKILL, are stopped by the AM or released,
// worded exactly as in the 3.3.6 captures.
func TestContainerExitStatuses(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	for i := 0; i < 5; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	}
	acc := allocateUntil(t, ctx, amrm, "5 containers", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 5 })
	cs := acc.Allocated
	cmds := []string{"true", "exit 3", "sleep 60", "sleep 60", "sleep 60"}
	var reqs []yarn.StartRequest
	for i, ct := range cs {
		reqs = append(reqs, yarn.StartRequest{Container: ct, Launch: yarn.ContainerLaunchContext{Commands: []string{cmds[i] + " 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"}}})
	}
	res, err := nmc.StartContainers(ctx, reqs)
	require.NoError(t, err)
	require.NoError(t, res.Err())
	nm, info := waitRunning(t, ctx, c, cs[2].ID)
	waitRunning(t, ctx, c, cs[3].ID)
	waitRunning(t, ctx, c, cs[4].ID)
	require.NoError(t, nm.KillContainerProcess(cs[2].ID, syscall.SIGKILL))
	stop, err := nmc.StopContainers(ctx, cs[3].Node, []yarn.ContainerID{cs[3].ID})
	require.NoError(t, err)
	require.NoError(t, stop.Err())
	amrm.Release(cs[4].ID)

	done := requireFiveEndings(t, ctx, amrm, cs)
	require.False(t, proc.GroupAlive(info.PID))
	eventually(t, ctx, "released container's process gone", func() bool {
		i, _ := c.NodeManager(0).Container(cs[4].ID)
		return i.State == yarn.ContainerComplete
	})

	// The AM gives up with YARN's DistributedShell wording; the report
	// carries its diagnostics.
	diag := "Application Failure: desired = 5, completed = 5, allocated = 5, failed = 4, diagnostics = " + done[cs[1].ID].Diagnostics
	require.NoError(t, amrm.Finish(ctx, yarn.FinalFailed, diag, ""))
	rep, err := p.rmc.GetApplicationReport(ctx, p.app)
	require.NoError(t, err)
	require.Equal(t, yarn.StateFinished, rep.State)
	require.Equal(t, yarn.FinalFailed, rep.FinalStatus)
	require.Equal(t, diag, rep.Diagnostics)
	require.Equal(t, "am-host", rep.Host)
	p.exit(0)
}

// TestForceKill: forceKillApplication answers false, then true once the
// kill is done; the report says KILLED/KILLED with YARN's diagnostics; the
// AM and its containers are gone and the attempt is unknown to the
// scheduler port.
func TestForceKill(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx := testutil.Context(t, 30*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	startAll(t, ctx, nmc, acc.Allocated, "sleep 60")
	_, worker := waitRunning(t, ctx, c, acc.Allocated[0].ID)
	_, am := waitRunning(t, ctx, c, p.am)
	conn := p.raw(ctx)

	cc := rawClient(t, ctx, c)
	kill := &yarnpb.KillApplicationRequestProto{ApplicationId: yarn.AppIDToProto(p.app)}
	var kr yarnpb.KillApplicationResponseProto
	require.NoError(t, cc.Call(ctx, "forceKillApplication", kill, &kr))
	require.False(t, kr.GetIsKillCompleted())
	require.NoError(t, cc.Call(ctx, "forceKillApplication", kill, &kr))
	require.True(t, kr.GetIsKillCompleted())

	rep, err := p.rmc.GetApplicationReport(ctx, p.app)
	require.NoError(t, err)
	require.Equal(t, yarn.StateKilled, rep.State)
	require.Equal(t, yarn.FinalKilled, rep.FinalStatus)
	require.Equal(t, fmt.Sprintf("Application %s was killed by user %s at 127.0.0.1", p.app, testUser), rep.Diagnostics)
	require.Equal(t, "N/A", rep.Host)
	require.Equal(t, float32(1), rep.Progress)
	require.Equal(t, "http://localhost:8088/cluster/app/"+p.app.String(), rep.TrackingURL)
	require.False(t, rep.FinishTime.IsZero())

	eventually(t, ctx, "processes gone", func() bool { return !proc.GroupAlive(worker.PID) && !proc.GroupAlive(am.PID) })
	_, err = rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(1)})
	re := remoteError(t, err)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.ApplicationAttemptNotFoundException", re.Class)
	require.Equal(t, fmt.Sprintf("Application attempt %s doesn't exist in ApplicationMasterService cache.", p.att), re.Message)

	// With diagnostics (3.x), through Spindle's client.
	p2 := submitPuppet(t, ctx, c, p.rmc, nil)
	require.NoError(t, p.rmc.KillApplication(ctx, p2.app, "enough"))
	rep, err = p.rmc.GetApplicationReport(ctx, p2.app)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("Application %s was killed by user %s at 127.0.0.1 with diagnostic message: enough", p2.app, testUser), rep.Diagnostics)
}

// rawClient is a bare SIMPLE connection to the client port.
func rawClient(t testing.TB, ctx context.Context, c *Cluster) *ipc.Conn {
	cc, err := ipc.Dial(ctx, ipc.Options{Addr: c.RM().ClientAddr(), Protocol: yarn.ProtocolClient, User: testUser, IdleTimeout: -1})
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestAMLivenessExpiry: an AM that stops heartbeating fails its attempt
// after the expiry interval; the next attempt starts; when the last one
// expires too the application fails with YARN's diagnostics.
func TestAMLivenessExpiry(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) { o.RM.AMExpiry = 700 * time.Millisecond })
	ctx := testutil.Context(t, 30*time.Second)
	p, amrm, _ := registered(t, ctx, c, nil)
	_, err := amrm.Allocate(ctx, 0)
	require.NoError(t, err)
	_, am1 := waitRunning(t, ctx, c, p.am)
	// Silence: attempt 1 expires, attempt 2 is launched.
	p.waitAttempt(ctx, 2)
	rep, err := p.rmc.GetApplicationReport(ctx, p.app)
	require.NoError(t, err)
	require.Equal(t, yarn.AttemptID{App: p.app, Attempt: 2}, rep.CurrentAttempt)
	require.Contains(t, []yarn.AppState{yarn.StateAccepted, yarn.StateRunning}, rep.State)
	eventually(t, ctx, "attempt 1's AM killed", func() bool { return !proc.GroupAlive(am1.PID) })
	_, err = amrm.Allocate(ctx, 0)
	require.ErrorIs(t, err, yarn.ErrAttemptNotFound, "the expired attempt is gone")

	fin := waitState(t, ctx, p.rmc, p.app, yarn.StateFailed)
	require.Equal(t, yarn.FinalFailed, fin.FinalStatus)
	require.Equal(t, fmt.Sprintf("Application %s failed 2 times due to ApplicationMaster for attempt %s timed out. Failing the application.",
		p.app, yarn.AttemptID{App: p.app, Attempt: 2}), fin.Diagnostics)
}

// TestAMExitNextAttemptKeepsContainers: the AM container exits non-zero;
// the attempt fails with YARN's diagnostics; with
// keep-containers-across-attempts the worker keeps running and the next
// attempt gets it, with an NMToken, in its register response.
func TestAMExitNextAttemptKeepsContainers(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, func(s *yarn.AppSpec) { s.KeepContainersAcrossAttempts = true })
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	worker := acc.Allocated[0]
	startAll(t, ctx, nmc, []yarn.Container{worker}, "sleep 60")
	wnm, winfo := waitRunning(t, ctx, c, worker.ID)

	p.exit(1)
	p.waitAttempt(ctx, 2)
	// The failed attempt's report carries YARN's AM-exit diagnostics.
	att1 := yarn.AttemptID{App: p.app, Attempt: 1}
	var ar yarnpb.GetApplicationAttemptReportResponseProto
	require.NoError(t, rawClient(t, ctx, c).Call(ctx, "getApplicationAttemptReport",
		&yarnpb.GetApplicationAttemptReportRequestProto{ApplicationAttemptId: yarn.AttemptIDToProto(att1)}, &ar))
	rep := ar.GetApplicationAttemptReport()
	require.Equal(t, yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_FAILED, rep.GetYarnApplicationAttemptState())
	require.True(t, strings.HasPrefix(stamped(rep.GetDiagnostics()), fmt.Sprintf(
		"AM Container for %s exited with  exitCode: 1\nFailing this attempt.Diagnostics: [TS]Exception from container-launch.\nContainer id: %s\nExit code: 1\n\n",
		att1, yarn.ContainerID{Attempt: att1, ID: 1})), rep.GetDiagnostics())
	require.True(t, strings.HasSuffix(rep.GetDiagnostics(), "For more detailed output, check the application tracking page: http://localhost:8088/cluster/app/"+
		p.app.String()+" Then click on links to logs of each attempt.\n"), rep.GetDiagnostics())

	amrm2 := p.client()
	reg, err := amrm2.Register(ctx, "am-host-2", -1, "")
	require.NoError(t, err)
	require.Len(t, reg.ContainersFromPreviousAttempts, 1)
	require.Equal(t, worker.ID, reg.ContainersFromPreviousAttempts[0].ID)
	require.Len(t, reg.NMTokensFromPreviousAttempts, 1)
	require.Equal(t, worker.Node, reg.NMTokensFromPreviousAttempts[0].Node)
	still, ok := wnm.Container(worker.ID)
	require.True(t, ok)
	require.Equal(t, winfo.PID, still.PID, "the worker kept running")
	require.Equal(t, yarn.ContainerRunning, still.State)

	nmc2 := p.nmClient(amrm2)
	stop, err := nmc2.StopContainers(ctx, worker.Node, []yarn.ContainerID{worker.ID})
	require.NoError(t, err)
	require.NoError(t, stop.Err())
	acc = allocateUntil(t, ctx, amrm2, "the kept worker's completion", func(a *yarn.AllocateResult) bool { return len(a.Completed) == 1 })
	require.Equal(t, worker.ID, acc.Completed[0].ID)
	require.Equal(t, yarn.ExitKilledByAppMaster, acc.Completed[0].ExitStatus)
	require.NoError(t, amrm2.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
	fin := waitState(t, ctx, p.rmc, p.app, yarn.StateFinished)
	require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus)
}

// TestAMExitWithoutKeepKillsContainers: without keep-containers the failed
// attempt's containers are killed.
func TestAMExitWithoutKeepKillsContainers(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx := testutil.Context(t, 30*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	startAll(t, ctx, nmc, acc.Allocated, "sleep 60")
	_, w := waitRunning(t, ctx, c, acc.Allocated[0].ID)
	p.exit(7)
	p.waitAttempt(ctx, 2)
	eventually(t, ctx, "worker killed", func() bool { return !proc.GroupAlive(w.PID) })
	amrm2 := p.client()
	reg, err := amrm2.Register(ctx, "am-host", -1, "")
	require.NoError(t, err)
	require.Empty(t, reg.ContainersFromPreviousAttempts)
	p.exit(7)
	fin := waitState(t, ctx, p.rmc, p.app, yarn.StateFailed)
	require.True(t, strings.HasPrefix(fin.Diagnostics, fmt.Sprintf("Application %s failed 2 times due to AM Container for %s exited with  exitCode: 7\n",
		p.app, yarn.AttemptID{App: p.app, Attempt: 2})), fin.Diagnostics)
	require.True(t, strings.HasSuffix(fin.Diagnostics, ". Failing the application."))
}

// TestRMRestart: after a (work-preserving) ResourceManager restart, an AM
// that allocates without registering again gets
// ApplicationMasterNotRegisteredException; Spindle's client re-registers
// and resends its asks by itself; running containers survive and new ones
// carry the RM's epoch.
func TestRMRestart(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	first := acc.Allocated[0]
	startAll(t, ctx, nmc, []yarn.Container{first}, "sleep 60")
	_, w := waitRunning(t, ctx, c, first.ID)
	oldTS := c.RM().ClusterTimestamp()

	require.NoError(t, c.RM().Restart(ctx, 100*time.Millisecond))
	conn := p.raw(ctx)
	_, err := rawAllocate(ctx, conn, &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(5)})
	re := remoteError(t, err)
	require.Equal(t, "org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException", re.Class)
	require.Equal(t, fmt.Sprintf("AM is not registered for known application attempt: %s or RM had restarted after AM registered.  AM should re-register.", p.att), re.Message)

	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	r, err := amrm.Allocate(ctx, 0.5)
	require.NoError(t, err)
	require.True(t, r.Resynced)
	acc = allocateUntil(t, ctx, amrm, "a container after the restart", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	second := acc.Allocated[0]
	require.Equal(t, int64(1), second.ID.Epoch())
	require.True(t, strings.HasPrefix(second.ID.String(), "container_e01_"), second.ID.String())
	require.True(t, proc.GroupAlive(w.PID), "the container survived the restart")

	stop, err := nmc.StopContainers(ctx, first.Node, []yarn.ContainerID{first.ID})
	require.NoError(t, err)
	require.NoError(t, stop.Err())
	allocateUntil(t, ctx, amrm, "the old container's completion", func(a *yarn.AllocateResult) bool { return completedOf(a, []yarn.Container{first}) == 1 })

	// New applications carry the new cluster timestamp.
	id, _, err := p.rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	require.Greater(t, id.ClusterTimestamp, oldTS)
	require.Equal(t, int32(1), id.ID)
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
}

// TestNodeManagerRestart: a restarted NodeManager comes back empty; the
// containers it ran are reported to the AM as lost.
func TestNodeManagerRestart(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	target := c.NodeManager(1)
	if target == p.nm {
		target = c.NodeManager(0) // keep the AM's node up
	}
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}, Nodes: []string{target.ID().Host}}))
	acc := allocateUntil(t, ctx, amrm, "a container on node 1", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	ct := acc.Allocated[0]
	require.Equal(t, target.ID(), ct.Node)
	startAll(t, ctx, nmc, []yarn.Container{ct}, "sleep 60")
	_, w := waitRunning(t, ctx, c, ct.ID)

	require.NoError(t, target.Stop(ctx))
	require.False(t, proc.GroupAlive(w.PID), "stopping a node kills its containers")
	require.NoError(t, target.Start(ctx))
	acc = allocateUntil(t, ctx, amrm, "the lost container", func(a *yarn.AllocateResult) bool { return len(a.Completed) == 1 })
	require.Equal(t, ct.ID, acc.Completed[0].ID)
	require.Equal(t, yarn.ExitAborted, acc.Completed[0].ExitStatus)
	require.Equal(t, "Container released on a *lost* node", acc.Completed[0].Diagnostics)
	require.Empty(t, target.Containers())
}

// TestNodeManagerLost: a node that stops heartbeating is LOST after the
// expiry interval: the AM gets the node in updated_nodes and its
// containers as lost; when it comes back it is RUNNING again.
func TestNodeManagerLost(t *testing.T) {
	c := newTestCluster(t, 2, func(o *Options) { o.RM.NMExpiry = 1500 * time.Millisecond })
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	target := c.NodeManager(1)
	if target == p.nm {
		target = c.NodeManager(0) // keep the AM's node alive
	}
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}, Nodes: []string{target.ID().Host}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	startAll(t, ctx, nmc, acc.Allocated, "sleep 60")
	waitRunning(t, ctx, c, acc.Allocated[0].ID)

	require.NoError(t, target.Stop(ctx))
	acc = allocateUntil(t, ctx, amrm, "the node lost", func(a *yarn.AllocateResult) bool { return len(a.Completed) == 1 && len(a.UpdatedNodes) == 1 })
	require.Equal(t, "Container released on a *lost* node", acc.Completed[0].Diagnostics)
	require.Equal(t, yarn.ExitAborted, acc.Completed[0].ExitStatus)
	require.Equal(t, target.ID(), acc.UpdatedNodes[0].ID)
	require.Equal(t, yarn.NodeLost, acc.UpdatedNodes[0].State)
	require.Equal(t, int32(1), acc.NumClusterNodes)
	m, err := p.rmc.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.Equal(t, int32(1), m.Lost)
	require.Equal(t, int32(1), m.Active)

	require.NoError(t, target.Start(ctx))
	acc = allocateUntil(t, ctx, amrm, "the node back", func(a *yarn.AllocateResult) bool { return len(a.UpdatedNodes) == 1 })
	require.Equal(t, yarn.NodeRunning, acc.UpdatedNodes[0].State)
	nodes, err := p.rmc.GetClusterNodes(ctx, yarn.NodeRunning)
	require.NoError(t, err)
	require.Len(t, nodes, 2)
}

// TestUnhealthyNode: a node whose health check fails is taken out of
// scheduling; the AM hears of it and of the containers it lost there, and
// new containers go elsewhere.
func TestUnhealthyNode(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	bad := c.NodeManager(1)
	if bad == p.nm {
		bad = c.NodeManager(0)
	}
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}, Nodes: []string{bad.ID().Host}}))
	acc := allocateUntil(t, ctx, amrm, "a container", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 })
	startAll(t, ctx, nmc, acc.Allocated, "sleep 60")
	_, w := waitRunning(t, ctx, c, acc.Allocated[0].ID)

	bad.SetHealthy(false, "1/1 local-dirs usable space is below configured utilization percentage/no more usable space")
	acc = allocateUntil(t, ctx, amrm, "the node unhealthy", func(a *yarn.AllocateResult) bool { return len(a.Completed) == 1 && len(a.UpdatedNodes) == 1 })
	require.Equal(t, yarn.NodeUnhealthy, acc.UpdatedNodes[0].State)
	require.Equal(t, "1/1 local-dirs usable space is below configured utilization percentage/no more usable space", acc.UpdatedNodes[0].HealthReport)
	require.Equal(t, "Container released on a *lost* node", acc.Completed[0].Diagnostics)
	eventually(t, ctx, "the container killed", func() bool { return !proc.GroupAlive(w.PID) })

	for i := 0; i < 2; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	}
	acc = allocateUntil(t, ctx, amrm, "2 containers", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 2 })
	for _, ct := range acc.Allocated {
		require.NotEqual(t, bad.ID(), ct.Node)
	}
	m, err := p.rmc.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.Equal(t, int32(1), m.Unhealthy)
}

// TestLocalization: archives are unpacked and symlinked; a resource whose
// modification time changed, a missing one, and an injected failure fail
// the container with YARN's diagnostics and exit status -1000.
func TestLocalization(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	_, amrm, nmc := registered(t, ctx, c, nil)
	tmp := t.TempDir()
	file := filepath.Join(tmp, "data.txt")
	require.NoError(t, os.WriteFile(file, []byte("payload\n"), 0o644))
	archive := filepath.Join(tmp, "bundle.tgz")
	writeTgz(t, archive, map[string]string{"lib/inner.txt": "inside\n"})

	stale := fileResource(t, file)
	stale.Timestamp -= 1000
	missing := fileResource(t, file)
	missing.URL.File = filepath.Join(tmp, "nope.txt")
	arch := fileResource(t, archive)
	arch.Type = yarn.Archive
	launches := []yarn.ContainerLaunchContext{
		{Commands: []string{"cat data.txt bundle/lib/inner.txt 1><LOG_DIR>/stdout"}, LocalResources: map[string]yarn.LocalResource{
			"data.txt": fileResource(t, file), "bundle": arch}},
		{Commands: []string{"true"}, LocalResources: map[string]yarn.LocalResource{"data.txt": stale}},
		{Commands: []string{"true"}, LocalResources: map[string]yarn.LocalResource{"nope.txt": missing}},
		{Commands: []string{"true"}, LocalResources: map[string]yarn.LocalResource{"data.txt": fileResource(t, file)}},
	}
	for range launches {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	}
	acc := allocateUntil(t, ctx, amrm, "containers", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == len(launches) })
	// The first start localizes data.txt for the application; the fourth
	// would reuse it, so the injected fault hits the failing ones' turn:
	// start them one by one.
	for i, ct := range acc.Allocated {
		if i == 3 {
			c.NodeManager(0).FailNextLocalization("Injected failure: connection reset")
			ls := launches[3]
			ls.LocalResources = map[string]yarn.LocalResource{"other": fileResource(t, archive)}
			launches[3] = ls
		}
		res, err := nmc.StartContainers(ctx, []yarn.StartRequest{{Container: ct, Launch: launches[i]}})
		require.NoError(t, err)
		require.NoError(t, res.Err())
		eventually(t, ctx, "container done", func() bool {
			info, _ := c.NodeManager(0).Container(ct.ID)
			return info.State == yarn.ContainerComplete
		})
	}
	acc2 := allocateUntil(t, ctx, amrm, "completions", func(a *yarn.AllocateResult) bool { return completedOf(a, acc.Allocated) == len(launches) })
	done := completedByID(acc2)
	cs := acc.Allocated
	require.Equal(t, int32(0), done[cs[0].ID].ExitStatus, done[cs[0].ID].Diagnostics)
	out, err := os.ReadFile(filepath.Join(c.NodeManager(0).LogDir(), cs[0].ID.Attempt.App.String(), cs[0].ID.String(), "stdout"))
	require.NoError(t, err)
	require.Equal(t, "payload\ninside\n", string(out))

	fileURL := "file:" + file
	ts := fileResource(t, file).Timestamp
	for i, want := range []string{
		fmt.Sprintf("java.io.IOException: Resource %s changed on src filesystem (expected %d, was %d\n", fileURL, stale.Timestamp, ts),
		fmt.Sprintf("java.io.FileNotFoundException: File file:%s does not exist\n", missing.URL.File),
		"java.io.IOException: Injected failure: connection reset\n",
	} {
		s := done[cs[i+1].ID]
		require.Equal(t, yarn.ExitInvalid, s.ExitStatus)
		require.Regexp(t, `^\[TS\]Failed to download resource \{ \{ file:/\S+, -?\d+, (FILE|ARCHIVE), null \},pending,\[\(`+regexp.QuoteMeta(cs[i+1].ID.String())+`\)\],\d+,DOWNLOADING\}\n`,
			stamped(s.Diagnostics))
		require.True(t, strings.HasSuffix(s.Diagnostics, want), "%q does not end with %q", s.Diagnostics, want)
	}
}

func writeTgz(t *testing.T, path string, files map[string]string) {
	f, err := os.Create(path)
	require.NoError(t, err)
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	require.NoError(t, f.Close())
}

// requireFiveEndings waits for the five containers' completions and checks
// each one's exit status and diagnostics, in YARN's words: exit 0, exit 3,
// an external SIGKILL, a stop by the AM, a release. Real and simulated
// containers must end alike.
func requireFiveEndings(t *testing.T, ctx context.Context, amrm *yarn.AMRMClient, cs []yarn.Container) map[yarn.ContainerID]yarn.ContainerStatus {
	t.Helper()
	acc := allocateUntil(t, ctx, amrm, "5 completions", func(a *yarn.AllocateResult) bool { return completedOf(a, cs) == 5 })
	require.Equal(t, 5, completedOf(acc, cs), "each completion reported once")
	done := completedByID(acc)
	for _, s := range done {
		require.Equal(t, yarn.ContainerComplete, s.State)
	}
	require.Equal(t, int32(0), done[cs[0].ID].ExitStatus)
	require.Equal(t, "", done[cs[0].ID].Diagnostics)

	require.Equal(t, int32(3), done[cs[1].ID].ExitStatus)
	exit3 := "[TS]Container exited with a non-zero exit code 3. Error file: prelaunch.err.\nLast 4096 bytes of prelaunch.err :\nLast 4096 bytes of stderr :\n\n\n"
	require.Equal(t, "[TS]Exception from container-launch.\nContainer id: "+cs[1].ID.String()+"\nExit code: 3\n\n"+exit3+exit3,
		stamped(done[cs[1].ID].Diagnostics))

	require.Equal(t, int32(137), done[cs[2].ID].ExitStatus)
	require.Equal(t, "[TS]Container killed on request. Exit code is 137\n[TS]Container exited with a non-zero exit code 137. \n[TS]Killed by external signal\n",
		stamped(done[cs[2].ID].Diagnostics))

	require.Equal(t, yarn.ExitKilledByAppMaster, done[cs[3].ID].ExitStatus)
	require.Equal(t, "[TS]Container killed by the ApplicationMaster.\n[TS]Container killed on request. Exit code is 143\n[TS]Container exited with a non-zero exit code 143. \n",
		stamped(done[cs[3].ID].Diagnostics))

	require.Equal(t, yarn.ExitAborted, done[cs[4].ID].ExitStatus)
	require.Equal(t, "Container released by application", done[cs[4].ID].Diagnostics)
	return done
}
