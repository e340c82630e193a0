package am_test

import (
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
