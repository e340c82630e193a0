package am_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// containersSeen records every container of the application the
// NodeManagers ever ran (they list completed ones until the application
// is cleaned up), sampling every 10 ms.
func (a *app) containersSeen(ctx context.Context) func() []yarn.ContainerID {
	var mu sync.Mutex
	seen := map[yarn.ContainerID]bool{}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			for _, nm := range a.h.c.NodeManagers() {
				for _, id := range nm.Containers() {
					if id.Attempt.App == a.id {
						mu.Lock()
						seen[id] = true
						mu.Unlock()
					}
				}
			}
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { close(done); <-stopped }) }
	a.h.t.Cleanup(stop)
	return func() []yarn.ContainerID {
		stop()
		mu.Lock()
		defer mu.Unlock()
		var out []yarn.ContainerID
		for id := range seen {
			out = append(out, id)
		}
		slices.SortFunc(out, func(a, b yarn.ContainerID) int { return int(a.ID - b.ID) })
		return out
	}
}

// TestFailingTaskManagerEndsTheApplication: a TaskManager command that
// fails at once. The policy replaces the first failure at once, backs off
// after the next ones, and gives up after max_failures: the application
// ends FAILED with a diagnostic naming the limit and the exit code and
// stderr of the last failures, in bounded time and without a container
// storm (the RM handed out no more than target + max_failures TaskManager
// containers).
func TestFailingTaskManagerEndsTheApplication(t *testing.T) {
	h := newHarness(t, 3, nil)
	ctx := testutil.Context(t, 60*time.Second)
	spec := h.sessionSpec(3)
	spec.TaskManagers.Command = "echo 'taskmanager: cannot read its configuration' >&2; exit 3"
	spec.Restart = amapi.RestartPolicy{Window: time.Minute, MaxFailures: 4, InitialBackoff: 200 * time.Millisecond, MaxBackoff: time.Second,
		NodeFailures: 2, Quarantine: time.Minute}
	start := time.Now()
	a := h.submit(ctx, spec, fastAM, nil)
	seen := a.containersSeen(ctx)
	fin := a.waitEnd(ctx)
	took := time.Since(start)
	cs := seen()
	t.Logf("submit → FAILED: %v; containers the NodeManagers ran: %d", took.Round(time.Millisecond), len(cs))
	t.Logf("diagnostics: %s", fin.Diagnostics)
	require.Equal(t, yarn.StateFinished, fin.State, "the AM unregistered itself")
	require.Equal(t, yarn.FinalFailed, fin.FinalStatus)
	require.Contains(t, fin.Diagnostics, "restart policy gave up: 5 TaskManager failures within 1m0s exceed the limit of 4 (max_failures)")
	require.Contains(t, fin.Diagnostics, "exit code 3")
	require.Contains(t, fin.Diagnostics, "taskmanager: cannot read its configuration")
	// No wall-clock bound (it failed under a loaded CI at 50 s): the give-up
	// above proves the end, and the container count below that no storm
	// preceded it.
	// The AM (attempt 1, sequence 1) and at most 3 + 4 TaskManagers.
	var tms []yarn.ContainerID
	for _, id := range cs {
		require.Equal(t, int32(1), id.Attempt.Attempt, "one attempt")
		if id.Seq() != 1 {
			tms = append(tms, id)
		}
	}
	require.LessOrEqual(t, len(tms), 3+4, "no storm: %v", cs)
	require.GreaterOrEqual(t, len(tms), 5, "five failures were needed")
	eventually(t, ctx, "staging directory removed", func() bool {
		_, err := os.Stat(a.stagingDir())
		return os.IsNotExist(err)
	})
}

// TestKilledAMAttemptIsRecovered: the AM process (and with it the
// JobManager, in the same container) is SIGKILLed. The RM starts attempt
// 2, which registers, adopts the three running TaskManagers (the same
// container ids: none is started anew), starts a new JobManager; the
// TaskManagers find it through the RM and the new AM, and a job runs.
func TestKilledAMAttemptIsRecovered(t *testing.T) {
	h := newHarness(t, 3, nil)
	ctx := testutil.Context(t, 90*time.Second)
	a := h.submit(ctx, h.sessionSpec(3), fastAM, nil)
	peak := a.watchLive(ctx)
	url1 := a.amURL(ctx, 1)
	s1 := a.waitStatus(ctx, url1, "3 running", func(s amapi.Status) bool { return s.Running == 3 })
	a.waitJobManagerSees(ctx, s1.JobManager.RESTAddress, tmIDs(s1))

	amc := yarn.ContainerID{Attempt: yarn.AttemptID{App: a.id, Attempt: 1}, ID: 1}
	nm := h.nodeOf(amc)
	require.NotNil(t, nm)
	killed := time.Now()
	require.NoError(t, nm.KillContainerProcess(amc, syscall.SIGKILL))

	url2 := a.amURL(ctx, 2)
	require.NotEqual(t, url1, url2)
	s2 := a.waitStatus(ctx, url2, "the TaskManagers adopted and a JobManager", func(s amapi.Status) bool {
		return s.Running == 3 && s.JobManager.State == "running"
	})
	require.Equal(t, tmIDs(s1), tmIDs(s2), "the same containers")
	require.Equal(t, 3, s2.Adopted)
	for _, tm := range s2.TaskManagers {
		require.True(t, tm.Adopted)
	}
	require.NotEqual(t, s1.JobManager.Address, s2.JobManager.Address, "a new JobManager")
	require.True(t, strings.HasPrefix(s2.AttemptID, "appattempt_") && strings.HasSuffix(s2.AttemptID, "_000002"), s2.AttemptID)
	a.waitJobManagerSees(ctx, s2.JobManager.RESTAddress, tmIDs(s1))
	t.Logf("AM SIGKILL → new JobManager knows all adopted TaskManagers: %v", time.Since(killed).Round(time.Millisecond))
	job := a.runWordCount(ctx, s2.JobManager.RESTAddress, 3)
	for _, by := range job.By {
		require.Contains(t, tmIDs(s1), by, "counted by an adopted TaskManager")
	}
	s2, err := a.status(ctx, url2)
	require.NoError(t, err)
	require.Zero(t, s2.Restarts, "nothing replaced")
	require.Len(t, a.liveContainers(), 4, "AM 2 and the three TaskManagers")
	require.LessOrEqual(t, peak(), 4)

	// The adopted TaskManagers' logs show the move.
	out := a.logFile(mustParse(t, s1.TaskManagers[0].ContainerID), "taskmanager.out")
	require.Contains(t, out, "JobManager moved from "+s1.JobManager.Address+" to "+s2.JobManager.Address)

	require.Equal(t, 202, a.stop(ctx, url2, a.secret))
	require.Equal(t, yarn.FinalSucceeded, a.waitEnd(ctx).FinalStatus)
}

// logFile reads a container's log file from whichever node has it.
func (a *app) logFile(id yarn.ContainerID, name string) string {
	for _, nm := range a.h.c.NodeManagers() {
		if b, err := os.ReadFile(filepath.Join(nm.LogDir(), a.id.String(), id.String(), name)); err == nil {
			return string(b)
		}
	}
	a.h.t.Fatalf("no log %s of %s on any node", name, id)
	return ""
}

func mustParse(t testing.TB, s string) yarn.ContainerID {
	id, err := yarn.ParseContainerID(s)
	require.NoError(t, err)
	return id
}

// TestPerJob: the JobManager's exit ends a per-job application: the
// example word count succeeds (SUCCEEDED, the result in the JobManager's
// log), a JobManager that fails ends it FAILED with its last lines.
func TestPerJob(t *testing.T) {
	h := newHarness(t, 2, nil)
	t.Run("succeeds", func(t *testing.T) {
		ctx := testutil.Context(t, 60*time.Second)
		spec := h.sessionSpec(2)
		spec.Mode = amapi.ModePerJob
		spec.JobManager.Command = []string{"${" + amapi.EnvBinary + "}", "example", "jobmanager", "--job-input", "words.txt"}
		hh := *h
		hh.t = t
		a := hh.submit(ctx, spec, fastAM, nil)
		fin := a.waitEnd(ctx)
		require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus, fin.Diagnostics)
		log := a.logFile(yarn.ContainerID{Attempt: yarn.AttemptID{App: a.id, Attempt: 1}, ID: 1}, "jobmanager.out")
		require.Contains(t, log, `"state":"succeeded"`)
		require.Contains(t, log, `{"word":"the","count":150}`)
		res, rest := amapi.SplitResult(fin.Diagnostics)
		require.NotNil(t, res, "the result rides in the final diagnostics: %q", fin.Diagnostics)
		require.Empty(t, rest)
		require.Equal(t, "succeeded", res.State)
		require.Contains(t, res.Summary, " words (")
		require.Contains(t, res.Lines[0], " the")
		require.Contains(t, res.Log, "jobmanager.out on ")
	})
	t.Run("fails", func(t *testing.T) {
		ctx := testutil.Context(t, 60*time.Second)
		spec := h.sessionSpec(1)
		spec.Mode = amapi.ModePerJob
		spec.JobManager.Command = []string{"sh", "-c", "echo starting the job; sleep 0.5; echo 'the job broke: no input' >&2; exit 4"}
		spec.JobManager.ExitStates, spec.JobManager.LogFile = map[int]string{4: "BROKEN"}, "job.log"
		hh := *h
		hh.t = t
		a := hh.submit(ctx, spec, fastAM, nil)
		fin := a.waitEnd(ctx)
		require.Equal(t, yarn.FinalFailed, fin.FinalStatus)
		require.Contains(t, fin.Diagnostics, "the JobManager exited with code 4; its last output lines:")
		require.Contains(t, fin.Diagnostics, "starting the job")
		require.Contains(t, fin.Diagnostics, "the job broke: no input")
		// No result file: the AM words the result from the exit code
		// (the payload's ExitStates) and names the payload's log.
		res, _ := amapi.SplitResult(fin.Diagnostics)
		require.NotNil(t, res)
		require.Equal(t, amapi.Result{State: "BROKEN", Summary: "the JobManager exited with code 4", Log: res.Log}, *res)
		require.Regexp(t, `/job.log on \S+ \(yarn logs -applicationId `+a.id.String()+` -containerId container_\S+_01_000001 -log_files job.log\)$`, res.Log)
	})
}

// TestSurvivesRMRestartAndRolledKeys: the RM rolls its master keys, then
// restarts (work-preserving: the AM's registration and asks are lost).
// The AM re-registers, keeps its TaskManagers without replacing any, and
// still replaces one killed afterwards (its container from the new RM
// epoch, started with a fresh NMToken).
func TestSurvivesRMRestartAndRolledKeys(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 90*time.Second)
	a := h.submit(ctx, h.sessionSpec(2), fastAM, nil)
	peak := a.watchLive(ctx)
	url := a.amURL(ctx, 1)
	s := a.waitStatus(ctx, url, "2 running", func(s amapi.Status) bool { return s.Running == 2 })

	h.c.RM().RollMasterKeys()
	require.NoError(t, h.c.RM().Restart(ctx, 500*time.Millisecond))
	// Heartbeats across the restart: one that succeeded against the
	// restarted RM, and the one after it, by when the AM has acted on what
	// the new RM told it.
	restarted := time.Now()
	hb := a.waitStatus(ctx, url, "a heartbeat to the restarted RM", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.HeartbeatError == "" && s.LastHeartbeat.After(restarted)
	})
	a.waitStatus(ctx, url, "the heartbeat after it", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.LastHeartbeat.After(*hb.LastHeartbeat)
	})
	s2 := a.waitStatus(ctx, url, "heartbeating again", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.HeartbeatError == "" && time.Since(*s.LastHeartbeat) < 300*time.Millisecond
	})
	require.Equal(t, tmIDs(s), tmIDs(s2), "kept")
	require.Zero(t, s2.Restarts)
	require.Equal(t, amapi.PhaseRunning, s2.Phase)

	victim := mustParse(t, s.TaskManagers[1].ContainerID)
	require.NoError(t, h.nodeOf(victim).KillContainerProcess(victim, syscall.SIGKILL))
	s3 := a.waitStatus(ctx, url, "replaced", func(s amapi.Status) bool { return s.Restarts == 1 && s.Running == 2 })
	for _, id := range tmIDs(s3) {
		if id != s.TaskManagers[0].ContainerID {
			require.Equal(t, int64(1), mustParse(t, id).Epoch(), "allocated by the restarted RM: %s", id)
		}
	}
	require.Equal(t, 202, a.stop(ctx, url, a.secret))
	require.Equal(t, yarn.FinalSucceeded, a.waitEnd(ctx).FinalStatus)
	require.LessOrEqual(t, peak(), 3)
}

// TestNodeManagerLossIsNotAFailure: a NodeManager running a TaskManager
// (not the AM) dies. When the RM declares it LOST its containers complete
// as ABORTED: the AM replaces the TaskManager on another node without
// counting a failure.
func TestNodeManagerLossIsNotAFailure(t *testing.T) {
	h := newHarness(t, 4, func(o *minicluster.Options) { o.RM.NMExpiry = 1500 * time.Millisecond })
	ctx := testutil.Context(t, 90*time.Second)
	a := h.submit(ctx, h.sessionSpec(3), fastAM, nil)
	url := a.amURL(ctx, 1)
	s := a.waitStatus(ctx, url, "3 running", func(s amapi.Status) bool { return s.Running == 3 })
	amNode := h.nodeOf(yarn.ContainerID{Attempt: yarn.AttemptID{App: a.id, Attempt: 1}, ID: 1})
	var victim amapi.TaskManagerInfo
	for _, tm := range s.TaskManagers {
		if tm.Node != amNode.ID().String() {
			victim = tm
		}
	}
	require.NotEmpty(t, victim.ContainerID, "a TaskManager away from the AM's node: %+v", s.TaskManagers)
	dead := h.nodeOf(mustParse(t, victim.ContainerID))
	require.NoError(t, dead.Stop(ctx))
	s2 := a.waitStatus(ctx, url, "replaced elsewhere", func(s amapi.Status) bool {
		return s.Restarts >= 1 && s.Running == 3 && !slices.Contains(tmIDs(s), victim.ContainerID)
	})
	c := s2.Completions[0]
	require.Equal(t, victim.ContainerID, c.Container)
	require.Equal(t, yarn.ExitAborted, c.ExitStatus)
	require.Equal(t, "lost", c.ClassName)
	require.Zero(t, s2.Policy.TotalFailures, "a lost node is not the application's failure")
	for _, tm := range s2.TaskManagers {
		require.NotEqual(t, dead.ID().String(), tm.Node)
	}
	require.Equal(t, 202, a.stop(ctx, url, a.secret))
	require.Equal(t, yarn.FinalSucceeded, a.waitEnd(ctx).FinalStatus)
}
