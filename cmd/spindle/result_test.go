package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Issue #18 item 6: a per-job run's result reaches whoever ran it, in the
// text output under "finished:" and in the finished event's "result"
// (-o json), from the RM's final report (the AM has ended by then). The
// diagnostics keep no trace of the line that carried it. Words keep their
// inner apostrophes ("flink's", never "s"), and a job without --splits
// gets one split per TaskManager of the fleet.
func TestRunPrintsResult(t *testing.T) {
	lc := newLocalCluster(t, 2)
	ctx := lc.ctx(2 * time.Minute)
	words := filepath.Join(t.TempDir(), "words.txt")
	require.NoError(t, os.WriteFile(words, []byte(strings.Repeat("Flink's spindle spins yarn, the yarn\n", 30)), 0o644))

	code, out, errOut := lc.cli(ctx, "run", "-n", "2", "-jm", "256m", "-tm", "256m", "wordcount", words)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "FINISHED/SUCCEEDED\nresult: succeeded: 180 words (5 distinct) in 2 splits of input-words.txt\n")
	require.Contains(t, out, "\n        60 yarn\n")
	require.Contains(t, out, "\n        30 flink's\n")
	require.NotContains(t, out, " s\n")
	require.Regexp(t, `  log: \S+/jobmanager.out on \S+ \(yarn logs -applicationId application_\d+_\d+ -containerId container_\S+ -log_files jobmanager.out\)`, out)
	require.NotContains(t, out, "spindle-result:")

	code, out, errOut = lc.cli(ctx, "run", "-n", "2", "-jm", "256m", "-tm", "256m", "-o", "json", "wordcount", words)
	require.Equal(t, 0, code, errOut)
	evs := events(t, out)
	last := evs[len(evs)-1]
	require.Equal(t, "finished", last["event"])
	require.Equal(t, "SUCCEEDED", last["final_status"])
	require.NotContains(t, last, "diagnostics", "the result line is taken out of the diagnostics")
	res := last["result"].(map[string]any)
	require.Equal(t, "succeeded", res["state"])
	require.Equal(t, "180 words (5 distinct) in 2 splits of input-words.txt", res["summary"])
	require.Equal(t, []any{"      60 yarn", "      30 flink's", "      30 spindle", "      30 spins", "      30 the"}, res["lines"])
	require.Contains(t, res["log"], "jobmanager.out")

	// app status shows it too, from the RM's final report, without the
	// result line in the diagnostics.
	code, out, errOut = lc.cli(ctx, "app", "status", last["app_id"].(string))
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Result:            succeeded: 180 words (5 distinct) in 2 splits of input-words.txt\n")
	require.NotContains(t, out, "spindle-result:")
	code, out, errOut = lc.cli(ctx, "app", "status", "-o", "json", last["app_id"].(string))
	require.Equal(t, 0, code, errOut)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "succeeded", st["result"].(map[string]any)["state"])
	require.NotContains(t, st["diagnostics"], "spindle-result:")
}

// Issue #18 item 11: `session status --wait` waits until every
// TaskManager runs (the demo's status no longer shows "0 running of 2"),
// a word count through the session then has one split per TaskManager,
// and a fleet that cannot complete ends the wait with exit 8, naming how
// far it got; the status without --wait says the fleet is starting.
func TestSessionStatusWaitsForFleet(t *testing.T) {
	lc := newLocalCluster(t, 2)
	ctx := lc.ctx(2 * time.Minute)
	code, _, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "2", "-jm", "256m", "-tm", "256m", "--payload", "example", "-t", lc.words)
	require.Equal(t, 0, code, errOut)
	code, out, errOut := lc.cli(ctx, "session", "status", "--wait", "1m")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `\nTaskManagers: +2 running of 2 \(0 pending, 0 replaced\)\n`, out)
	code, out, errOut = lc.cli(ctx, "example", "wordcount", filepath.Base(lc.words))
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, ": succeeded, 480 words (11 distinct) in 2 splits of words.txt\n")
	code, _, errOut = lc.cli(ctx, "session", "stop")
	require.Equal(t, 0, code, errOut)

	// Three TaskManagers of 7 GB do not fit on two 8 GB nodes with the AM.
	code, _, errOut = lc.cli(ctx, "session", "start", "-d", "-n", "3", "-jm", "256m", "-tm", "7g", "--payload", "example")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = lc.cli(ctx, "session", "status", "--wait", "2s")
	require.Equal(t, exitTimeout, code, errOut)
	require.Regexp(t, `session application_\d+_\d+: [0-2] of 3 TaskManagers running after --wait 2s \([1-3] pending\)`, errOut)
	code, out, errOut = lc.cli(ctx, "session", "status")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `\nTaskManagers: +[0-2] running of 3 \([1-3] pending, 0 replaced\): starting \(`+"`spindle session status --wait 2m`"+` waits for them\)\n`, out)
	code, out, errOut = lc.cli(ctx, "session", "status", "--wait", "-1s")
	require.Equal(t, exitUsage, code, out+errOut)
	code, _, errOut = lc.cli(ctx, "session", "stop")
	require.Equal(t, 0, code, errOut)
}
