package am_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// haHarness is a harness on an RM HA pair whose client configuration
// keeps Hadoop's retry defaults, as a real cluster's yarn-site.xml does:
// no failover sleeps set (both follow the 30 s retry interval), so the
// clients probe for the election. election is the pair's ElectionDelay
// (negative: the test fails over itself).
func haHarness(t testing.TB, nodes int, election time.Duration, mod func(*minicluster.Options), yarnSite func(map[string]string)) *harness {
	return newHarnessConf(t, nodes, func(o *minicluster.Options) {
		o.RM.HA = &minicluster.HAOptions{ElectionDelay: election}
		if mod != nil {
			mod(o)
		}
	}, func(y map[string]string) {
		delete(y, "yarn.resourcemanager.connect.retry-interval.ms")
		delete(y, "yarn.client.failover-sleep-base-ms")
		delete(y, "yarn.client.failover-sleep-max-ms")
		y["yarn.resourcemanager.connect.max-wait.ms"] = "120000"
		if yarnSite != nil {
			yarnSite(y)
		}
	})
}

// waitRegistered waits until the RM holds a registration of att made
// after since, and returns its time.
func (h *harness) waitRegistered(ctx context.Context, att yarn.AttemptID, since time.Time) time.Time {
	var at time.Time
	testutil.Eventually(h.t, func() bool {
		var ok bool
		at, ok = h.c.RM().AttemptRegisteredAt(att)
		return ok && !at.Before(since)
	}, time.Until(deadline(ctx)), 5*time.Millisecond, "%s registered again after %s", att, since)
	return at
}

func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return d
}

// killContainer SIGKILLs a container's process once its NodeManager has
// started it (running for the AM may still be launching there).
func (h *harness) killContainer(id yarn.ContainerID) {
	nm := h.nodeOf(id)
	testutil.Eventually(h.t, func() bool { return nm.KillContainerProcess(id, syscall.SIGKILL) == nil }, 30*time.Second, 5*time.Millisecond,
		"the process of %s to kill", id)
}

// TestSessionAcrossRMFailover: the active RM dies and a TaskManager dies
// while no RM answers. The AM keeps its fleet, sees the death itself,
// and once the standby is active re-registers with it on its own (its
// scheduler connection follows the rm-ids in yarn-site.xml), resends its
// asks, and the replacement runs. The session then stops cleanly through
// the new active RM.
func TestSessionAcrossRMFailover(t *testing.T) {
	h := haHarness(t, 2, -1, nil, nil)
	ctx := testutil.Context(t, 120*time.Second)
	a := h.submit(ctx, h.sessionSpec(2), fastAM, nil)
	url := a.amURL(ctx, 1)
	s := a.waitStatus(ctx, url, "2 running and connected", func(s amapi.Status) bool { return s.Running == 2 && allLive(s) })
	att := yarn.AttemptID{App: a.id, Attempt: 1}

	killed, err := h.c.RM().KillActive()
	require.NoError(t, err)
	require.Equal(t, "rm1", killed)
	kept, victim := s.TaskManagers[0].ContainerID, mustParse(t, s.TaskManagers[1].ContainerID)
	h.killContainer(victim)
	// Seen through the liveness connection: lost until the RM confirms,
	// and a replacement asked for at once (pending: no RM to send it to).
	s2 := a.waitStatus(ctx, url, "the death seen while no RM answers", func(s amapi.Status) bool {
		return s.Running == 1 && s.LostUnconfirmed == 1 && s.Pending == 1
	})
	require.Equal(t, amapi.PhaseRunning, s2.Phase)
	require.Contains(t, tmIDs(s2), kept)

	require.NoError(t, h.c.RM().TransitionToActive(ctx, "rm2"))
	_, activeSince := h.c.RM().ActiveID()
	h.waitRegistered(ctx, att, activeSince)
	s3 := a.waitStatus(ctx, url, "replaced through rm2", func(s amapi.Status) bool {
		return s.Running == 2 && !slices.Contains(tmIDs(s), victim.String())
	})
	require.Contains(t, tmIDs(s3), kept, "the fleet was kept")
	for _, id := range tmIDs(s3) {
		if id != kept {
			require.Equal(t, int64(1), mustParse(t, id).Epoch(), "allocated by rm2: %s", id)
		}
	}
	require.Equal(t, 202, a.stop(ctx, url, a.secret))
	require.Equal(t, yarn.FinalSucceeded, a.waitEnd(ctx).FinalStatus)
}

// TestPerJobFinishesAcrossRMFailover: the job of a per-job application
// ends while no RM answers; the AM's unregistration waits for the
// election, registers again with the new active RM and unregisters with
// the job's outcome: SUCCEEDED for exit 0, FAILED with the JobManager's
// last lines for exit 4. The pair fails over twice, rm1 → rm2 → rm1.
func TestPerJobFinishesAcrossRMFailover(t *testing.T) {
	h := haHarness(t, 2, -1, nil, nil)
	for _, tc := range []struct {
		name, script, to string
		want             yarn.FinalStatus
		diag             string
	}{
		{"succeeds", "echo the job ran; exit 0", "rm2", yarn.FinalSucceeded, ""},
		{"fails", "echo the job broke >&2; exit 4", "rm1", yarn.FinalFailed, "the job broke"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testutil.Context(t, 90*time.Second)
			gate := filepath.Join(t.TempDir(), "go")
			spec := h.sessionSpec(1)
			spec.Mode = amapi.ModePerJob
			spec.JobManager.Command = []string{"sh", "-c", "while [ ! -e " + gate + " ]; do sleep 0.05; done; " + tc.script}
			hh := *h
			hh.t = t
			a := hh.submit(ctx, spec, fastAM, nil)
			url := a.amURL(ctx, 1)
			a.waitStatus(ctx, url, "the TaskManager running", func(s amapi.Status) bool { return s.Running == 1 })

			_, err := h.c.RM().KillActive()
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(gate, nil, 0o644)) // the job ends while no RM answers
			a.waitStatus(ctx, url, "the AM finishing", func(s amapi.Status) bool { return s.Phase != amapi.PhaseRunning })
			require.NoError(t, h.c.RM().TransitionToActive(ctx, tc.to))
			fin := a.waitEnd(ctx)
			require.Equal(t, tc.want, fin.FinalStatus, fin.Diagnostics)
			require.Contains(t, fin.Diagnostics, tc.diag)
			for _, id := range h.c.RM().HAIDs() {
				if id != tc.to {
					require.NoError(t, h.c.RM().StartStandby(id))
				}
			}
		})
	}
}
