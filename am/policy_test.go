package am

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		exit int32
		want ExitClass
	}{
		{0, ExitClassSucceeded},
		{1, ExitClassFailed},
		{137, ExitClassFailed}, // SIGKILL from outside: the process died
		{143, ExitClassFailed},
		{yarn.ExitKilledExceededPMem, ExitClassFailed},
		{yarn.ExitKilledExceededVMem, ExitClassFailed},
		{yarn.ExitInvalid, ExitClassFailed},
		{yarn.ExitKilledForExcessLogs, ExitClassFailed},
		{yarn.ExitAborted, ExitClassLost},
		{yarn.ExitPreempted, ExitClassLost},
		{yarn.ExitDisksFailed, ExitClassLost},
		{yarn.ExitKilledByResourceManager, ExitClassLost},
		{yarn.ExitKilledByContainerScheduler, ExitClassLost},
		{yarn.ExitKilledAfterAppCompletion, ExitClassLost},
		{yarn.ExitKilledByAppMaster, ExitClassKilledByAM},
	} {
		t.Run(yarn.ExitStatusText(tc.exit), func(t *testing.T) {
			require.Equal(t, tc.want, Classify(tc.exit))
			// Lost and killed-by-AM are exactly what yarn.ExitIsFailure
			// does not hold against the application.
			require.Equal(t, tc.want == ExitClassFailed, yarn.ExitIsFailure(tc.exit))
		})
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fail(at time.Duration, node string, exit int32) amapi.Failure {
	return amapi.Failure{At: t0.Add(at), Container: fmt.Sprintf("container_1_0001_01_%06d", int(at/time.Second)+2), Node: node, ExitStatus: exit,
		Diagnostics: "[2026-01-02 03:04:05.000]Exception from container-launch.\nExit code: 3\n[2026-01-02 03:04:05.000]boom: no such file\n"}
}

func TestTrackerBackoffDoublesFromTheSecondFailure(t *testing.T) {
	tr := NewTracker("TaskManager", amapi.RestartPolicy{Window: time.Minute, MaxFailures: 5, InitialBackoff: time.Second,
		MaxBackoff: 4 * time.Second, Jitter: -1, NodeFailures: -1}, nil)
	var delays []time.Duration
	var codes []ReasonCode
	for i := range 5 {
		d := tr.Failure(fail(time.Duration(i)*time.Second, "n1", 3))
		require.False(t, d.GiveUp, d.Reason)
		codes = append(codes, d.Code)
		delays = append(delays, d.Delay)
	}
	require.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}, delays)
	require.Equal(t, []ReasonCode{ReasonReplaceNow, ReasonBackoff, ReasonBackoff, ReasonBackoff, ReasonBackoff}, codes)
	require.Equal(t, t0.Add(4*time.Second+4*time.Second), tr.HoldUntil(), "the hold is the latest failure plus its delay")

	d := tr.Failure(fail(5*time.Second, "n1", 3))
	require.True(t, d.GiveUp)
	require.Equal(t, ReasonGiveUp, d.Code)
	require.Contains(t, d.Reason, "restart policy gave up: 6 TaskManager failures within 1m0s exceed the limit of 5 (max_failures)")
	require.Contains(t, d.Reason, "exit code 3")
	require.Contains(t, d.Reason, "boom: no such file", "the NodeManager's diagnostics, condensed")
	require.NotContains(t, d.Reason, "Exception from container-launch", "boilerplate dropped")
	require.True(t, strings.Index(d.Reason, "_000007") < strings.Index(d.Reason, "_000006"), "newest failure first: %s", d.Reason)
	require.Equal(t, lastKept, strings.Count(d.Reason, "container_"), "the last %d failures", lastKept)
}

func TestTrackerWindowForgets(t *testing.T) {
	tr := NewTracker("TaskManager", amapi.RestartPolicy{Window: time.Minute, MaxFailures: 1, InitialBackoff: time.Second, Jitter: -1}, nil)
	require.Zero(t, tr.Failure(fail(0, "n1", 1)).Delay)
	d := tr.Failure(fail(61*time.Second, "n1", 1))
	require.False(t, d.GiveUp, "the first failure left the window: %s", d.Reason)
	require.Zero(t, d.Delay)
	require.Equal(t, 1, tr.State(t0.Add(61*time.Second)).FailuresInWindow)
	require.Equal(t, 2, tr.State(t0.Add(61*time.Second)).TotalFailures)
	require.True(t, tr.Failure(fail(62*time.Second, "n1", 1)).GiveUp)
}

func TestTrackerJitterStaysWithinBounds(t *testing.T) {
	for _, tc := range []struct {
		rnd  float64
		want time.Duration
	}{{0, 800 * time.Millisecond}, {0.5, time.Second}, {0.999999, 1200 * time.Millisecond}} {
		t.Run(fmt.Sprint(tc.rnd), func(t *testing.T) {
			tr := NewTracker("TaskManager", amapi.RestartPolicy{InitialBackoff: time.Second, Jitter: 0.2}, func() float64 { return tc.rnd })
			tr.Failure(fail(0, "", 1))
			d := tr.Failure(fail(time.Second, "", 1))
			require.InDelta(t, float64(tc.want), float64(d.Delay), float64(time.Millisecond))
		})
	}
}

func TestTrackerQuarantinesAndReleasesNodes(t *testing.T) {
	tr := NewTracker("TaskManager", amapi.RestartPolicy{Window: time.Minute, MaxFailures: 10, NodeFailures: 2, Quarantine: 5 * time.Minute, Jitter: -1}, nil)
	require.Empty(t, tr.Failure(fail(0, "a", 1)).Quarantine)
	require.Empty(t, tr.Failure(fail(time.Second, "b", 1)).Quarantine)
	d := tr.Failure(fail(2*time.Second, "a", 1))
	require.Equal(t, "a", d.Quarantine)
	require.Equal(t, t0.Add(2*time.Second+5*time.Minute), d.QuarantineUntil)
	require.Contains(t, d.Reason, "node a quarantined for 5m0s after 2 failures there")
	require.Empty(t, tr.Failure(fail(3*time.Second, "a", 1)).Quarantine, "already quarantined")

	st := tr.State(t0.Add(3 * time.Second))
	require.Equal(t, []amapi.Quarantine{{Node: "a", Until: d.QuarantineUntil}}, st.Quarantined)
	require.Equal(t, d.QuarantineUntil, tr.NextRelease())
	require.Empty(t, tr.Release(d.QuarantineUntil.Add(-time.Millisecond)))
	require.Equal(t, []string{"a"}, tr.Release(d.QuarantineUntil))
	require.Empty(t, tr.Release(d.QuarantineUntil.Add(time.Hour)), "released once")
	require.True(t, tr.NextRelease().IsZero())
}

func TestTrackerNeverGivesUpWithNegativeLimit(t *testing.T) {
	tr := NewTracker("JobManager", amapi.RestartPolicy{MaxFailures: -1, InitialBackoff: time.Millisecond, MaxBackoff: time.Second, Jitter: -1}, nil)
	var d Decision
	for i := range 100 {
		d = tr.Failure(fail(time.Duration(i)*time.Millisecond, "", 1))
		require.False(t, d.GiveUp)
	}
	require.Equal(t, time.Second, d.Delay, "capped")
	require.Contains(t, d.Reason, "JobManager failure 100 of at most -1")
}

func TestTrackerDefaults(t *testing.T) {
	p := NewTracker("TaskManager", amapi.RestartPolicy{}, nil).Policy()
	require.Equal(t, amapi.RestartPolicy{Window: 5 * time.Minute, MaxFailures: 10, InitialBackoff: time.Second, MaxBackoff: time.Minute,
		Jitter: 0.2, NodeFailures: 3, Quarantine: 10 * time.Minute}, p)
}

func TestOneLine(t *testing.T) {
	diag := "[2026-01-02 03:04:05.000]Exception from container-launch.\nContainer id: container_1_0001_01_000002\nExit code: 3\n" +
		"[2026-01-02 03:04:05.000]Container exited with a non-zero exit code 3. Error file: prelaunch.err.\n" +
		"Last 4096 bytes of prelaunch.err :\nLast 4096 bytes of stderr :\ncannot open words.txt\n\n" +
		"[2026-01-02 03:04:05.000]Container exited with a non-zero exit code 3. Error file: prelaunch.err.\n" +
		"Last 4096 bytes of prelaunch.err :\nLast 4096 bytes of stderr :\ncannot open words.txt\n\n"
	require.Equal(t, "cannot open words.txt", amapi.OneLine(diag, 100))
	require.Equal(t, "Container killed on request. Exit code is 137 | Killed by external signal",
		amapi.OneLine("[2026-01-02 03:04:05.000]Container killed on request. Exit code is 137\n[2026-01-02 03:04:05.000]Killed by external signal\n", 100))
	require.Equal(t, "abc…", amapi.OneLine("abcdef", 3))
}

func TestLineRingKeepsTheLastLines(t *testing.T) {
	r := newLineRing(3)
	for i := range 5 {
		fmt.Fprintf(r, "line %d\n", i)
	}
	fmt.Fprint(r, "partial")
	require.Equal(t, "line 2\nline 3\nline 4\npartial", r.String())
}
