package am_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// pump heartbeats every NodeManager but the held one every 50 ms until
// the test ends: with a long regular heartbeat, the test decides when a
// node reports to the RM (a completion reaches the AM only then).
func (h *harness) pump(ctx context.Context, held *atomic.Pointer[minicluster.NodeManager]) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			for _, nm := range h.c.NodeManagers() {
				if nm != held.Load() {
					_ = nm.Heartbeat(ctx)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	h.t.Cleanup(func() { cancel(); wg.Wait() })
}

func tmState(s amapi.Status, id string) (amapi.TaskManagerInfo, bool) {
	for _, tm := range s.TaskManagers {
		if tm.ContainerID == id {
			return tm, true
		}
	}
	return amapi.TaskManagerInfo{}, false
}

func allLive(s amapi.Status) bool {
	for _, tm := range s.TaskManagers {
		if !tm.Live {
			return false
		}
	}
	return len(s.TaskManagers) > 0
}

// TestLivenessReplacesBeforeTheRMReports: the NodeManagers heartbeat only
// when the test says (their interval is a minute). A TaskManager is
// SIGKILLed and its node holds its heartbeats back, so the RM does not
// learn of the exit; the AM does, from the TaskManager's liveness
// connection: its replacement runs while the completion is still
// unreported. Then the node reports: the failure is counted once, with
// the real exit status, and the fleet is at its target, no duplicate.
func TestLivenessReplacesBeforeTheRMReports(t *testing.T) {
	h := newHarness(t, 3, func(o *minicluster.Options) {
		o.NodeManager.HeartbeatInterval = time.Minute
		o.RM.NMExpiry = 2 * time.Minute
	})
	ctx := testutil.Context(t, 90*time.Second)
	var held atomic.Pointer[minicluster.NodeManager]
	h.pump(ctx, &held)
	a := h.submit(ctx, h.sessionSpec(2), fastAM, nil)
	url := a.amURL(ctx, 1)
	s := a.waitStatus(ctx, url, "2 TaskManagers running and live", func(s amapi.Status) bool { return s.Running == 2 && allLive(s) })
	victim, err := yarn.ParseContainerID(s.TaskManagers[0].ContainerID)
	require.NoError(t, err)
	nm := h.nodeOf(victim)
	require.NotNil(t, nm)
	held.Store(nm)
	time.Sleep(100 * time.Millisecond) // a heartbeat of nm in flight ends
	killed := time.Now()
	require.NoError(t, nm.KillContainerProcess(victim, syscall.SIGKILL))
	s2 := a.waitStatus(ctx, url, "a replacement running, the RM not told", func(s amapi.Status) bool {
		tm, ok := tmState(s, victim.String())
		return ok && tm.State == "lost-unconfirmed" && s.Running == 2
	})
	t.Logf("SIGKILL → replacement running, before the RM's report: %v", time.Since(killed).Round(time.Millisecond))
	require.Empty(t, s2.Completions, "the RM has not reported the exit")
	require.Equal(t, 1, s2.LostUnconfirmed)
	require.Equal(t, 1, s2.EarlyDeaths)
	require.Equal(t, 0, s2.Restarts, "not counted before the RM classifies it")
	require.Equal(t, 0, s2.Policy.TotalFailures)

	held.Store(nil) // the node reports the exit
	s3 := a.waitStatus(ctx, url, "the RM's report", func(s amapi.Status) bool { return len(s.Completions) == 1 })
	c := s3.Completions[0]
	require.Equal(t, victim.String(), c.Container)
	require.Equal(t, int32(137), c.ExitStatus, "SIGKILL")
	require.Equal(t, "failed", c.ClassName)
	require.Equal(t, string(am.ReasonReplaceNow), c.DecisionCode, c.Decision)
	require.Equal(t, 1, s3.Restarts)
	require.Equal(t, 1, s3.Policy.TotalFailures)
	require.Equal(t, 0, s3.LostUnconfirmed)
	require.Equal(t, 1, s3.EarlyDeaths)
	require.Len(t, s3.TaskManagers, 2)
	require.Equal(t, 2, s3.Running)
	require.False(t, slices.Contains(tmIDs(s3), victim.String()))

	// A few heartbeats on, nothing more was asked for or started: the AM
	// and two TaskManagers.
	hb := a.waitStatus(ctx, url, "a heartbeat after the report", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.LastHeartbeat.After(*s3.LastHeartbeat)
	})
	a.waitStatus(ctx, url, "another heartbeat", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.LastHeartbeat.After(*hb.LastHeartbeat)
	})
	s4, err := a.status(ctx, url)
	require.NoError(t, err)
	require.Equal(t, 0, s4.Pending)
	require.Equal(t, 2, s4.Running)
	require.Equal(t, 1, s4.Restarts)
	require.Len(t, a.liveContainers(), 3)
	require.Equal(t, int32(3), a.report(ctx).Usage.UsedContainers)

	require.Equal(t, 202, a.stop(ctx, url, a.secret))
	fin := a.waitEnd(ctx)
	require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus, fin.Diagnostics)
}

// amLog is the AM's stderr.
func (a *app) amLog() string {
	for _, nm := range a.h.c.NodeManagers() {
		files, _ := filepath.Glob(filepath.Join(nm.LogDir(), a.id.String(), "*", "am.stderr"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			return string(b)
		}
	}
	return ""
}

// TestLivenessIgnoredWhenTheAMStops: a stop closes every liveness
// connection (the AM stops the TaskManagers): nothing is taken for dead,
// nothing replaced.
func TestLivenessIgnoredWhenTheAMStops(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	a := h.submit(ctx, h.sessionSpec(2), fastAM, nil)
	peak := a.watchLive(ctx)
	url := a.amURL(ctx, 1)
	a.waitStatus(ctx, url, "2 running and live", func(s amapi.Status) bool { return s.Running == 2 && allLive(s) })
	require.Equal(t, 202, a.stop(ctx, url, a.secret))
	fin := a.waitEnd(ctx)
	require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus, fin.Diagnostics)
	eventually(t, ctx, "the AM's last line", func() bool { return strings.Contains(a.amLog(), "application unregistered") })
	log := a.amLog()
	require.NotContains(t, log, "taken for dead")
	require.LessOrEqual(t, peak(), 3)
	require.NotContains(t, log, "liveness connection refused", "the TaskManagers' own connections are trusted")
}

// TestLivenessKillToReplacementAt1sHeartbeat measures SIGKILL of a
// TaskManager → its replacement running at a 1 s NodeManager heartbeat
// (YARN's default), without the liveness connection ($SPINDLE_LIVENESS=
// off: the AM learns of the exit from the RM) and with it. It only logs
// the times; the waits are generous event bounds.
func TestLivenessKillToReplacementAt1sHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	h := newHarness(t, 3, func(o *minicluster.Options) { o.NodeManager.HeartbeatInterval = time.Second })
	const kills = 3
	for _, mode := range []string{"off", "on"} {
		ctx := testutil.Context(t, 90*time.Second)
		spec := h.sessionSpec(2)
		spec.TaskManagers.Env[amapi.EnvLiveness] = mode
		spec.Restart = amapi.RestartPolicy{Window: time.Minute, MaxFailures: 10, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
		a := h.submit(ctx, spec, fastAM, nil)
		url := a.amURL(ctx, 1)
		var took []time.Duration
		for i := range kills {
			s := a.waitStatus(ctx, url, "2 running, the last exit reported", func(s amapi.Status) bool {
				return s.Running == 2 && len(s.TaskManagers) == 2 && len(s.Completions) == i && (mode == "off" || allLive(s))
			})
			victim, err := yarn.ParseContainerID(s.TaskManagers[0].ContainerID)
			require.NoError(t, err)
			nm := h.nodeOf(victim)
			require.NotNil(t, nm)
			var killed time.Time
			// Started at the NodeManager may still mean launching there.
			eventually(t, ctx, "the TaskManager's process to kill", func() bool {
				killed = time.Now()
				return nm.KillContainerProcess(victim, syscall.SIGKILL) == nil
			})
			a.waitStatus(ctx, url, "a replacement running", func(s2 amapi.Status) bool {
				n := 0
				for _, tm := range s2.TaskManagers {
					if tm.State == "running" && !slices.Contains(tmIDs(s), tm.ContainerID) {
						n++
					}
				}
				return n == 1
			})
			took = append(took, time.Since(killed).Round(time.Millisecond))
		}
		t.Logf("liveness %s: SIGKILL → replacement running at a %v NodeManager heartbeat: %v", mode, h.nmHB, took)
		require.Equal(t, 202, a.stop(ctx, url, a.secret))
		fin := a.waitEnd(ctx)
		require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus, fin.Diagnostics)
	}
}
