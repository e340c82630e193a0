package am_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/am/example"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// fastAM are the `spindle am` flags of the tests: heartbeats well below
// the NodeManagers' 250 ms.
const fastAM = "--heartbeat-fast 50ms --heartbeat-idle 200ms"

// jmTaskManagers lists the TaskManagers registered with the example
// JobManager.
func jmTaskManagers(ctx context.Context, rest string) ([]example.TaskManagerInfo, error) {
	var out []example.TaskManagerInfo
	err := getJSON(ctx, "http://"+rest+"/taskmanagers", &out)
	return out, err
}

func (a *app) waitJobManagerSees(ctx context.Context, rest string, ids []string) {
	t := a.h.t
	t.Helper()
	slices.Sort(ids)
	var got []string
	for {
		tms, err := jmTaskManagers(ctx, rest)
		if err == nil {
			got = got[:0]
			for _, tm := range tms {
				got = append(got, tm.ID)
			}
			if slices.Equal(got, ids) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the JobManager at %s to know %v: %v (it knows %v, last error %v)", rest, ids, ctx.Err(), got, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tmIDs(s amapi.Status) []string {
	var ids []string
	for _, tm := range s.TaskManagers {
		ids = append(ids, tm.ContainerID)
	}
	return ids
}

// runWordCount runs a job on the session's JobManager and checks its
// counts against a local count of the whole file.
func (a *app) runWordCount(ctx context.Context, rest string, splits int) example.Job {
	t := a.h.t
	t.Helper()
	resp, err := http.Post("http://"+rest+"/jobs", "application/json", strings.NewReader(`{"input":"words.txt","splits":`+strconv.Itoa(splits)+`}`))
	require.NoError(t, err)
	var job example.Job
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&job))
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	for job.State == "running" {
		select {
		case <-ctx.Done():
			t.Fatalf("job %s: %v", job.ID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		require.NoError(t, getJSON(ctx, "http://"+rest+"/jobs/"+job.ID, &job))
	}
	require.Equal(t, "succeeded", job.State, job.Error)
	want := map[string]int{}
	n, err := example.CountSplit(a.h.words, 0, 1, want)
	require.NoError(t, err)
	require.Equal(t, n, job.Words)
	require.Equal(t, want, job.Counts)
	require.Equal(t, example.WordCount{Word: "the", Count: 150}, job.Top[0])
	return job
}

// TestSessionReplacesAKilledTaskManager is the fleet's basic promise: four
// TaskManagers run and register with the JobManager; one is SIGKILLed on
// its node; a replacement runs within two NodeManager heartbeats of the
// AM hearing of it, the status JSON shows the restart and its exit, the
// JobManager has four TaskManagers again, a job runs on them, and the
// cluster never ran more containers than AM + 4.
func TestSessionReplacesAKilledTaskManager(t *testing.T) {
	h := newHarness(t, 4, nil)
	ctx := testutil.Context(t, 90*time.Second)
	a := h.submit(ctx, h.sessionSpec(4), fastAM, nil)
	peak := a.watchLive(ctx)
	url := a.amURL(ctx, 1)
	start := time.Now()
	s := a.waitStatus(ctx, url, "4 TaskManagers running", func(s amapi.Status) bool { return s.Running == 4 })
	t.Logf("registered → 4 TaskManagers running: %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, amapi.PhaseRunning, s.Phase)
	require.Equal(t, float32(1), s.Progress)
	require.NotEmpty(t, s.JobManager.Address)
	a.waitJobManagerSees(ctx, s.JobManager.RESTAddress, tmIDs(s))
	eventuallyReport(t, ctx, a, "progress 1 at the RM", func(r yarn.AppReport) bool { return r.Progress == 1 })

	victim, err := yarn.ParseContainerID(s.TaskManagers[0].ContainerID)
	require.NoError(t, err)
	nm := h.nodeOf(victim)
	require.NotNil(t, nm)
	killed := time.Now()
	require.NoError(t, nm.KillContainerProcess(victim, syscall.SIGKILL))
	s2 := a.waitStatus(ctx, url, "a replacement running", func(s amapi.Status) bool {
		return s.Restarts == 1 && s.Running == 4 && !slices.Contains(tmIDs(s), victim.String())
	})
	took := time.Since(killed)
	require.Len(t, s2.Completions, 1)
	c := s2.Completions[0]
	require.Equal(t, victim.String(), c.Container)
	require.Equal(t, int32(137), c.ExitStatus, "SIGKILL")
	require.Equal(t, "failed", c.ClassName)
	require.Equal(t, string(am.ReasonReplaceNow), c.DecisionCode, c.Decision)
	require.Contains(t, c.Decision, "TaskManager failure 1 of at most 5", "the prose names the count and the limit")
	require.Equal(t, 1, s2.Policy.FailuresInWindow)
	var repl amapi.TaskManagerInfo
	for _, tm := range s2.TaskManagers {
		if !slices.Contains(tmIDs(s), tm.ContainerID) {
			repl = tm
		}
	}
	heard := repl.Since.Sub(c.At)
	t.Logf("SIGKILL → replacement running: %v; AM heard of the exit → replacement running: %v (NodeManager heartbeat %v)",
		took.Round(time.Millisecond), heard.Round(time.Millisecond), h.nmHB)
	require.LessOrEqual(t, heard, 2*h.nmHB, "from the AM hearing of the exit to the replacement running")
	require.LessOrEqual(t, took, 2*h.nmHB+200*time.Millisecond+300*time.Millisecond,
		"kill → running: two NodeManager heartbeats, the AM's idle heartbeat and slack")
	a.waitJobManagerSees(ctx, s.JobManager.RESTAddress, tmIDs(s2))

	job := a.runWordCount(ctx, s.JobManager.RESTAddress, 4)
	require.Len(t, job.By, 4)

	// The RM's view: the AM and four TaskManagers, no more, ever.
	r := a.report(ctx)
	require.NotNil(t, r.Usage)
	require.Equal(t, int32(5), r.Usage.UsedContainers)
	require.Len(t, a.liveContainers(), 5)

	require.Equal(t, http.StatusAccepted, a.stop(ctx, url, a.secret))
	fin := a.waitEnd(ctx)
	require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus, fin.Diagnostics)
	require.LessOrEqual(t, peak(), 5, "live containers at any time")
}

func eventuallyReport(t *testing.T, ctx context.Context, a *app, what string, ok func(yarn.AppReport) bool) {
	t.Helper()
	a.waitReport(ctx, what, ok)
}

// TestStopNeedsTheStopSecret: a stop without the secret, or with another,
// gets 403 and changes nothing; with the secret the AM stops the
// TaskManagers and the JobManager, unregisters SUCCEEDED with the
// request's diagnostics and removes the staging directory.
func TestStopNeedsTheStopSecret(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	a := h.submit(ctx, h.sessionSpec(2), fastAM, nil)
	url := a.amURL(ctx, 1)
	a.waitStatus(ctx, url, "2 running", func(s amapi.Status) bool { return s.Running == 2 })
	_, err := os.Stat(a.stagingDir())
	require.NoError(t, err, "staged")

	require.Equal(t, http.StatusForbidden, a.stop(ctx, url, nil))
	require.Equal(t, http.StatusForbidden, a.stop(ctx, url, []byte("not-the-secret")))
	require.Equal(t, http.StatusForbidden, a.stop(ctx, url, append(bytes.Clone(a.secret), 'x')))
	// A stop the AM had accepted would be taken by its loop at its next
	// wake-up, before the heartbeat after it: two heartbeats later it shows.
	refused := time.Now()
	hb := a.waitStatus(ctx, url, "a heartbeat after the refusals", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.LastHeartbeat.After(refused) || s.Phase != amapi.PhaseRunning
	})
	a.waitStatus(ctx, url, "another heartbeat", func(s amapi.Status) bool {
		return s.LastHeartbeat != nil && s.LastHeartbeat.After(*hb.LastHeartbeat) || s.Phase != amapi.PhaseRunning
	})
	s, err := a.status(ctx, url)
	require.NoError(t, err)
	require.Equal(t, amapi.PhaseRunning, s.Phase)
	require.Equal(t, 2, s.Running)
	require.Equal(t, yarn.StateRunning, a.report(ctx).State)

	stopAt := time.Now()
	require.Equal(t, http.StatusAccepted, a.stop(ctx, url, a.secret))
	fin := a.waitEnd(ctx)
	t.Logf("stop → unregistered: %v", time.Since(stopAt).Round(time.Millisecond))
	require.Equal(t, yarn.StateFinished, fin.State)
	require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus)
	require.Equal(t, "test says stop", fin.Diagnostics)
	eventually(t, ctx, "staging directory removed", func() bool {
		_, err := os.Stat(a.stagingDir())
		return os.IsNotExist(err)
	})
	eventually(t, ctx, "no container left", func() bool { return len(a.liveContainers()) == 0 })
}

func eventually(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
