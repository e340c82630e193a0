package am_test

import (
	"bytes"
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestSessionJobManagerExitZeroIsAFailure: in a session, a JobManager
// that exits 0 by itself (Flink's unauthenticated REST DELETE /cluster
// does that) does not end the application: it is a failure under the
// JobManager's restart policy, the JobManager is restarted, nothing is
// unregistered or deleted. Only the authenticated stop ends the session.
func TestSessionJobManagerExitZeroIsAFailure(t *testing.T) {
	h := newHarness(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	st := recordingStaging{deleted: make(chan string, 1)}
	spec := sleeperSpec(1)
	// Exits 0 at its first start, runs at the next (its working directory
	// is the AM's).
	spec.JobManager.Command = []string{"sh", "-c", "if [ -e jm-started ]; then exec sleep 60; fi; touch jm-started; exit 0"}
	r := p.runner(spec, []byte("s3cret"), st)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()

	s := waitRunner(t, ctx, r, "the JobManager restarted after its exit 0", func(s amapi.Status) bool {
		return s.JobManager.Restarts == 1 && s.JobManager.State == "running" || s.Phase == amapi.PhaseStopping || s.Phase == amapi.PhaseFinished
	})
	require.Equal(t, amapi.PhaseRunning, s.Phase, "the session goes on")
	require.Equal(t, 1, s.JobManagerPolicy.TotalFailures)
	require.Equal(t, int32(0), s.JobManagerPolicy.LastFailures[0].ExitStatus)
	rep, err := h.rmc.GetApplicationReport(ctx, p.id)
	require.NoError(t, err)
	require.Equal(t, yarn.StateRunning, rep.State)
	select {
	case id := <-st.deleted:
		t.Fatalf("staging of %s deleted after a JobManager exit", id)
	default:
	}

	r.Stop("stopped with the secret")
	require.NoError(t, <-errc)
	f, ok := r.Final()
	require.True(t, ok)
	require.Equal(t, am.Final{Status: yarn.FinalSucceeded, Diagnostics: "stopped with the secret"}, f)
	require.Equal(t, p.id.String(), <-st.deleted)
}

// TestSessionJobManagerAlwaysExitingZeroFails: a session JobManager that
// exits 0 at every start uses up the restart policy: the application
// ends FAILED, not SUCCEEDED.
func TestSessionJobManagerAlwaysExitingZeroFails(t *testing.T) {
	h := newHarness(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	spec := sleeperSpec(1)
	spec.JobManager.Command = []string{"sh", "-c", "exit 0"}
	spec.Restart = amapi.RestartPolicy{Window: time.Minute, MaxFailures: 2, InitialBackoff: 50 * time.Millisecond}
	r := p.runner(spec, nil, nil)
	require.NoError(t, r.Run(ctx))
	f, ok := r.Final()
	require.True(t, ok)
	require.Equal(t, yarn.FinalFailed, f.Status, f.Diagnostics)
	require.Contains(t, f.Diagnostics, "JobManager failures")
}

// live lists the application's containers the NodeManagers run.
func (p *inProcess) live() []yarn.ContainerID {
	var out []yarn.ContainerID
	for _, nm := range p.h.c.NodeManagers() {
		for _, id := range nm.Containers() {
			if info, ok := nm.Container(id); ok && id.Attempt.App == p.id && info.State != yarn.ContainerComplete {
				out = append(out, id)
			}
		}
	}
	return out
}

// TestRunnerSurvivesConnectionsCutMidAllocate: the connection to the RM
// is cut while an allocate is in flight (the request never reaches the
// RM), again on every new connection for a while, while a TaskManager
// dies: the AM keeps running, resends, and ends with exactly its two
// TaskManagers: none lost, none allocated twice.
func TestRunnerSurvivesConnectionsCutMidAllocate(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	d := &testutil.Dialer{}
	r := p.runner(sleeperSpec(2), nil, nil, func(o *am.Options) { o.AMRM.Dial = d.Dial })
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(rctx) }()
	s := waitRunner(t, ctx, r, "2 running", func(s amapi.Status) bool { return s.Running == 2 })

	d.Set(testutil.AnyAddr, testutil.CutWhen(func(sent []byte) bool { return bytes.Contains(sent, []byte("allocate")) }))
	d.Cut()
	victim := mustParse(t, s.TaskManagers[0].ContainerID)
	require.NoError(t, h.nodeOf(victim).KillContainerProcess(victim, syscall.SIGKILL))
	testutil.Eventually(t, func() bool {
		select {
		case err := <-errc:
			t.Fatalf("the AM ended after a cut allocate: %v", err)
		default:
		}
		return len(d.Dialed()) >= 4
	}, 20*time.Second, 10*time.Millisecond, "allocates cut on three new connections")
	d.Heal(testutil.AnyAddr)
	s = waitRunner(t, ctx, r, "the victim replaced", func(s amapi.Status) bool {
		return s.Restarts == 1 && s.Running == 2 && !slices.Contains(tmIDs(s), victim.String()) || s.Phase != amapi.PhaseRunning
	})
	require.Equal(t, amapi.PhaseRunning, s.Phase, s.HeartbeatError)
	// Nothing allocated twice, nothing left over: the AM and two
	// TaskManagers, for a few heartbeats.
	hb := r.Status().LastHeartbeat
	for range 3 {
		prev := *hb
		testutil.Eventually(t, func() bool {
			require.Len(t, p.live(), 3)
			s := r.Status()
			if s.LastHeartbeat != nil && s.LastHeartbeat.After(prev) {
				hb = s.LastHeartbeat
				return true
			}
			return false
		}, 20*time.Second, 5*time.Millisecond, "the next heartbeat")
	}
	s = r.Status()
	require.Equal(t, 2, s.Running)
	require.Equal(t, 0, s.Pending)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
}

// TestRunnerHandlesAStopWhileTheRMIsBlackholed: the RM stops answering
// (its host vanished: connections open, nothing comes back). Each
// allocate attempt gives up after the call timeout, the loop is not
// held by it: a stop request is handled at once (the TaskManagers are
// stopped), and once the RM answers again the AM unregisters SUCCEEDED.
func TestRunnerHandlesAStopWhileTheRMIsBlackholed(t *testing.T) {
	h := newHarness(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	d := &testutil.Dialer{}
	st := recordingStaging{deleted: make(chan string, 1)}
	r := p.runner(sleeperSpec(1), nil, st, func(o *am.Options) { o.AMRM.Dial = d.Dial; o.AMRM.CallTimeout = 300 * time.Millisecond })
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	waitRunner(t, ctx, r, "1 running", func(s amapi.Status) bool { return s.Running == 1 })

	d.Set(testutil.AnyAddr, testutil.Blackhole())
	d.Cut()
	n := len(d.Dialed())
	// Every attempt ends after the call timeout and dials again.
	testutil.Eventually(t, func() bool { return len(d.Dialed()) >= n+3 }, 5*time.Second, 10*time.Millisecond,
		"allocate attempts bounded by the call timeout")
	stopAt := time.Now()
	r.Stop("stopped while the RM is away")
	waitRunner(t, ctx, r, "stopping", func(s amapi.Status) bool { return s.Phase == amapi.PhaseStopping })
	require.Less(t, time.Since(stopAt), 2*time.Second, "the stop waited for the allocate")
	eventually(t, ctx, "the TaskManager stopped", func() bool { return len(p.live()) == 1 })
	d.Heal(testutil.AnyAddr)
	require.NoError(t, <-errc)
	f, ok := r.Final()
	require.True(t, ok)
	require.Equal(t, am.Final{Status: yarn.FinalSucceeded, Diagnostics: "stopped while the RM is away"}, f)
	require.Equal(t, p.id.String(), <-st.deleted)
}
