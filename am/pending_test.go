package am_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestRunnerSaysWhyTaskManagersArePending: on a 1 GB node that holds the
// AM (256 MB) and one 512 MB TaskManager, the other two TaskManagers
// stay pending because the RM's headroom (256 MB) is below one; the AM
// says so in /v1/status (pending_reason no_room, with the sizes and the
// fix), on its status page and in spindle_am_taskmanagers_pending_reason.
func TestRunnerSaysWhyTaskManagersArePending(t *testing.T) {
	h := newHarness(t, 1, func(o *minicluster.Options) { o.NodeManager.Resource = yarn.Resource{MemoryMB: 1024, VCores: 8} })
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	spec := sleeperSpec(3)
	spec.TaskManagers.MemoryMB = 512
	r := p.runner(spec, []byte("s3cret"), recordingStaging{deleted: make(chan string, 1)})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()

	s := waitRunner(t, ctx, r, "one running, two pending for want of room", func(s amapi.Status) bool {
		return s.Running == 1 && s.Pending == 2 && s.PendingReason == amapi.PendingNoRoom
	})
	require.Contains(t, s.PendingDetail, "2 TaskManager(s) pending: the ResourceManager can give this application 256 MB more")
	require.Contains(t, s.PendingDetail, "a TaskManager needs 512 MB")
	require.Contains(t, s.PendingDetail, "fix: fewer or smaller TaskManagers (-n, -tm)")
	var js amapi.Status
	require.NoError(t, getJSON(ctx, s.TrackingURL+"v1/status", &js))
	require.Equal(t, amapi.PendingNoRoom, js.PendingReason, "in /v1/status")
	require.Contains(t, httpGet(t, ctx, s.TrackingURL), "Pending: 2 TaskManager(s) pending")
	metrics := httpGet(t, ctx, s.TrackingURL+"metrics")
	require.Contains(t, metrics, `spindle_am_taskmanagers_pending_reason{reason="no_room"} 1`)
	for _, other := range []string{amapi.PendingNone, amapi.PendingScheduling, amapi.PendingBlacklisted, amapi.PendingNodeLabel} {
		require.Contains(t, metrics, `spindle_am_taskmanagers_pending_reason{reason="`+other+`"} 0`)
	}

	r.Stop("done here")
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
}
