package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/session"
)

// TestSessionStartWaitsOnAMShare is issue #20's "must show": the queue's
// AM share (maximum-am-resource-percent, YARN's default 0.1: 896 MB of
// the one 8 GB node) is held by a running session's 512 MB AM, so a
// second session's AM does not fit. Its start shows why and the fix in
// the report that first carries the RM's diagnostics (the waiting event
// comes with the accepted event, before any further report), and
// --timeout ends the wait with exit 8: the application killed, its
// staging removed, its record forgotten.
func TestSessionStartWaitsOnAMShare(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)

	code, out, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "512m", "-tm", "256m", "-nm", "first",
		"--payload", "example", "--output", "json")
	require.Equal(t, 0, code, errOut)
	first := events(t, out)[0]["app_id"].(string)
	t.Cleanup(func() { lc.cli(lc.ctx(time.Minute), "session", "stop", first) })

	code, out, errOut = lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "512m", "-tm", "256m", "-nm", "second",
		"--payload", "example", "--timeout", "3s", "--output", "json")
	require.Equal(t, exitTimeout, code, "stdout %s\nstderr %s", out, errOut)
	evs := events(t, out)
	require.Equal(t, []string{"submitted", "accepted", "waiting", "finished"}, names(evs), "one waiting event: the diagnostics did not change")
	second := evs[0]["app_id"].(string)
	w := evs[2]
	require.Equal(t, launch.ReasonAMResourceLimit, w["reason"])
	require.Equal(t, "ACCEPTED", w["state"])
	require.Contains(t, w["diagnostics"], "Application is added to the scheduler and is not yet activated. Queue's AM resource limit exceeded.",
		"the RM's raw words")
	require.Contains(t, w["diagnostics"], "Queue Resource Limit for AM = <memory:896, vCores:1>")
	require.Equal(t, "YARN will not start the AM yet: ApplicationMasters in queue default may hold 896 MB in all "+
		"(its maximum-am-resource-percent), they hold 512 MB, and this AM needs 512 MB", w["message"])
	for _, fix := range []string{"yarn.scheduler.capacity.maximum-am-resource-percent", "yarn.scheduler.capacity.root.default.maximum-am-resource-percent",
		"-jm 384m or less", "--queue"} {
		require.Contains(t, w["fix"], fix)
	}
	require.Equal(t, "KILLED", evs[3]["state"])

	require.Contains(t, errOut, second+" did not run within --timeout 3s (it was waiting: YARN will not start the AM yet")
	require.Contains(t, errOut, "it was killed and its staging removed")
	require.Equal(t, "KILLED", lc.app(second)["state"], "killed")
	require.NotContains(t, lc.stagedApps(), second, "its staging removed (gc would list a killed application's)")
	b, err := os.ReadFile(filepath.Join(lc.home, session.PropertiesFileName(testUser)))
	if err == nil {
		require.NotContains(t, string(b), second, "its record forgotten")
	}
}

// TestSessionStatusSaysWhyTaskManagersArePending: two 7 GB TaskManagers
// and the AM do not fit on one 8 GB node; the AM's reason for the one
// left pending (no room: the RM's headroom is below a TaskManager)
// reaches `session status` (JSON and text) and the --wait timeout's
// message.
func TestSessionStatusSaysWhyTaskManagersArePending(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)
	code, _, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "2", "-jm", "256m", "-tm", "7g", "--payload", "example")
	require.Equal(t, 0, code, errOut)
	t.Cleanup(func() { lc.cli(lc.ctx(time.Minute), "session", "stop") })
	var st map[string]any
	testutil.Eventually(t, func() bool {
		code, out, _ := lc.cli(ctx, "session", "status", "-o", "json")
		st = nil
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st["taskmanagers_running"] == float64(1) &&
			st["taskmanagers_pending_reason"] == amapi.PendingNoRoom
	}, 30*time.Second, 100*time.Millisecond, "status %v", st)
	require.Equal(t, "1 TaskManager(s) pending: the ResourceManager can give this application 768 MB more (its queue's limit or the cluster's "+
		"free resources, whichever is less) and a TaskManager needs 7168 MB; they start as other containers end; fix: fewer or smaller "+
		"TaskManagers (-n, -tm), or another queue (--queue)", st["taskmanagers_pending_detail"])
	code, out, errOut := lc.cli(ctx, "session", "status")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `\nPending: +1 TaskManager\(s\) pending: the ResourceManager can give this application 768 MB more`, out)
	code, _, errOut = lc.cli(ctx, "session", "status", "--wait", "1s")
	require.Equal(t, exitTimeout, code, errOut)
	require.Contains(t, errOut, "1 of 2 TaskManagers running after --wait 1s (1 pending); the AM says: 1 TaskManager(s) pending: the ResourceManager can give")
}

// TestPrintWaiting: the text form of a waiting event is the message and
// the fix, each on a line of its own.
func TestPrintWaiting(t *testing.T) {
	var b strings.Builder
	(&printer{w: &b}).event(launch.Event{Event: launch.EventWaiting, Reason: launch.ReasonAMResourceLimit, Message: "the why", Fix: "the fix"})
	require.Equal(t, "waiting: the why\n  fix: the fix\n", b.String())
}

// TestLocalUpAMShareFlag: --max-am-resource-percent takes a fraction, as
// YARN's key does, and refuses anything else before starting.
func TestLocalUpAMShareFlag(t *testing.T) {
	for _, v := range []string{"0", "1.5", "-0.1"} {
		var out, errb testutil.Buffer
		code := run(testutil.Context(t, 10*time.Second), []string{"spindle", "local", "up", "--dir", t.TempDir(), "--max-am-resource-percent", v},
			&out, &errb, func(string) (string, bool) { return "", false })
		require.Equal(t, exitUsage, code, v)
		require.Contains(t, errb.String(), "--max-am-resource-percent "+v+": want a fraction in (0, 1]")
	}
}

// TestAttachedSessionSaysWhyTaskManagersArePending: an attached session
// whose second 7 GB TaskManager has no room on the one 8 GB node prints
// the AM's reason as a waiting event once (not at every report), then
// Ctrl-C stops it as usual.
func TestAttachedSessionSaysWhyTaskManagersArePending(t *testing.T) {
	lc := newLocalCluster(t, 1)
	out, interrupt, done := lc.cliAsync("session", "start", "-n", "2", "-jm", "256m", "-tm", "7g", "--output", "json")
	waitFor(t, out, `"reason":"taskmanagers_no_room"`)
	interrupt()
	require.Equal(t, 0, exitOf(t, done), out.String())
	evs := events(t, out.String())
	require.Equal(t, []string{"submitted", "accepted", "running", "waiting", "finished"}, names(evs))
	w := evs[3]
	require.Equal(t, launch.ReasonTaskManagersPrefix+amapi.PendingNoRoom, w["reason"])
	require.Equal(t, "RUNNING", w["state"])
	require.Contains(t, w["message"], "1 TaskManager(s) pending: the ResourceManager can give this application 768 MB more")
	require.Equal(t, "fewer or smaller TaskManagers (-n, -tm), or another queue (--queue)", w["fix"])
}
