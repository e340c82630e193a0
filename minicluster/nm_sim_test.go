package minicluster

import (
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// simPlan is what the simulated containers of a test do, by container id.
type simPlan struct {
	mu       sync.Mutex
	lifetime map[int64]time.Duration
	exit     map[int64]int32
}

func (p *simPlan) options(delay time.Duration) *SimulateOptions {
	return &SimulateOptions{LaunchDelay: delay,
		Lifetime: func(id yarn.ContainerID) time.Duration {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.lifetime[id.ID]
		},
		ExitStatus: func(id yarn.ContainerID) int32 {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.exit[id.ID]
		}}
}

// TestSimulatedContainerExitStatuses is TestContainerExitStatuses with
// simulated containers: the AM hears the same exit statuses and
// diagnostics for containers whose command exits 0 or 3 after its
// lifetime, that die of an external SIGKILL, are stopped by the AM or
// released; the AM container (the puppet) still runs as a process, the
// simulated ones run none and leave no directories.
func TestSimulatedContainerExitStatuses(t *testing.T) {
	plan := &simPlan{lifetime: map[int64]time.Duration{}, exit: map[int64]int32{}}
	c := newTestCluster(t, 1, func(o *Options) { o.NodeManager.Simulate = plan.options(0) })
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	for i := 0; i < 5; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	}
	acc := allocateUntil(t, ctx, amrm, "5 containers", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 5 })
	cs := acc.Allocated
	plan.mu.Lock()
	plan.lifetime[cs[0].ID.ID], plan.exit[cs[0].ID.ID] = 300*time.Millisecond, 0
	plan.lifetime[cs[1].ID.ID], plan.exit[cs[1].ID.ID] = 300*time.Millisecond, 3
	plan.mu.Unlock()
	var reqs []yarn.StartRequest
	for _, ct := range cs {
		reqs = append(reqs, yarn.StartRequest{Container: ct, Launch: yarn.ContainerLaunchContext{Commands: []string{"not a command at all"},
			LocalResources: map[string]yarn.LocalResource{"missing": {URL: yarn.URL{Scheme: "file", File: "/nonexistent/file", Port: -1}, Size: 1, Type: yarn.File, Visibility: yarn.Application}}}})
	}
	res, err := nmc.StartContainers(ctx, reqs)
	require.NoError(t, err)
	require.NoError(t, res.Err())
	nm := c.NodeManager(0)
	amInfo, ok := nm.Container(yarn.ContainerID{Attempt: cs[0].ID.Attempt, ID: 1})
	require.True(t, ok)
	require.NotZero(t, amInfo.PID, "the AM container runs as a process")
	eventually(t, ctx, "3 simulated containers running", func() bool {
		st, err := nmc.GetContainerStatuses(ctx, cs[0].Node, []yarn.ContainerID{cs[2].ID, cs[3].ID, cs[4].ID})
		require.NoError(t, err)
		k := 0
		for _, s := range st.Statuses {
			if s.State == yarn.ContainerRunning {
				k++
			}
		}
		return k == 3
	})
	for _, ct := range cs {
		info, ok := nm.Container(ct.ID)
		require.True(t, ok)
		require.Zero(t, info.PID)
		require.NoDirExists(t, info.WorkDir)
	}
	require.NoError(t, nm.KillContainerProcess(cs[2].ID, syscall.SIGKILL))
	stop, err := nmc.StopContainers(ctx, cs[3].Node, []yarn.ContainerID{cs[3].ID})
	require.NoError(t, err)
	require.NoError(t, stop.Err())
	amrm.Release(cs[4].ID)

	done := requireFiveEndings(t, ctx, amrm, cs)
	eventually(t, ctx, "released container complete on the node", func() bool {
		i, _ := nm.Container(cs[4].ID)
		return i.State == yarn.ContainerComplete
	})
	st, err := nmc.GetContainerStatuses(ctx, cs[0].Node, []yarn.ContainerID{cs[1].ID, cs[3].ID})
	require.NoError(t, err)
	require.Len(t, st.Statuses, 2)
	for _, s := range st.Statuses {
		require.Equal(t, yarn.ContainerComplete, s.State)
		require.Equal(t, done[s.ID].ExitStatus, s.ExitStatus, "the node and the RM agree")
	}
	require.Error(t, nm.KillContainerProcess(cs[0].ID, syscall.SIGKILL), "a completed container cannot be signalled")
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
}

// TestSimulatedContainerLaunchDelay: a simulated container is NEW for the
// launch delay; one stopped then never runs and completes with the
// AM's kill status; Match can simulate a chosen subset.
func TestSimulatedContainerLaunchDelay(t *testing.T) {
	plan := &simPlan{lifetime: map[int64]time.Duration{}, exit: map[int64]int32{}}
	c := newTestCluster(t, 1, func(o *Options) {
		o.NodeManager.Simulate = plan.options(time.Hour)
		o.NodeManager.Simulate.Match = func(id yarn.ContainerID, am bool) bool { return !am && id.ID%2 == 0 }
	})
	ctx := testutil.Context(t, 60*time.Second)
	p, amrm, nmc := registered(t, ctx, c, nil)
	for i := 0; i < 2; i++ {
		require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	}
	acc := allocateUntil(t, ctx, amrm, "2 containers", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 2 })
	cs := acc.Allocated
	startAll(t, ctx, nmc, cs, "exec sleep 60")
	var sim, real yarn.Container
	for _, ct := range cs {
		if ct.ID.ID%2 == 0 {
			sim = ct
		} else {
			real = ct
		}
	}
	_, info := waitRunning(t, ctx, c, real.ID)
	require.NotZero(t, info.PID, "not matched: a process")
	st, err := nmc.GetContainerStatuses(ctx, sim.Node, []yarn.ContainerID{sim.ID})
	require.NoError(t, err)
	require.Len(t, st.Statuses, 1)
	require.Equal(t, yarn.ContainerNew, st.Statuses[0].State, "still launching")
	stop, err := nmc.StopContainers(ctx, sim.Node, []yarn.ContainerID{sim.ID, real.ID})
	require.NoError(t, err)
	require.NoError(t, stop.Err())
	acc = allocateUntil(t, ctx, amrm, "2 completions", func(a *yarn.AllocateResult) bool { return completedOf(a, cs) == 2 })
	done := completedByID(acc)
	require.Equal(t, yarn.ExitKilledByAppMaster, done[sim.ID].ExitStatus)
	require.Equal(t, "[TS]Container killed by the ApplicationMaster.\n", stamped(done[sim.ID].Diagnostics), "never launched")
	require.Equal(t, yarn.ExitKilledByAppMaster, done[real.ID].ExitStatus)
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
}
