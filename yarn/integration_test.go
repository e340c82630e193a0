//go:build integration

package yarn

import (
	"context"
	"os"
	"os/user"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// realRM connects to the ResourceManager named by $HADOOP_CONF_DIR.
func realRM(t *testing.T) *RMClient {
	dir := os.Getenv("HADOOP_CONF_DIR")
	if dir == "" {
		t.Skip("HADOOP_CONF_DIR is not set: no real YARN to test against")
	}
	c, err := conf.Load(dir, conf.Options{Env: os.LookupEnv})
	require.NoError(t, err)
	opts, err := RMOptionsFromConf(c)
	require.NoError(t, err)
	opts.User = os.Getenv("HADOOP_USER_NAME")
	if opts.User == "" {
		u, err := user.Current()
		require.NoError(t, err)
		opts.User = u.Username
	}
	opts.Retry = RetryPolicy{MaxWait: 10 * time.Second}
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t))
	rm, err := NewRMClient(opts)
	require.NoError(t, err)
	t.Cleanup(func() { rm.Close() })
	return rm
}

func waitState(ctx context.Context, t *testing.T, rm *RMClient, id ApplicationID, want AppState) AppReport {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := rm.GetApplicationReport(ctx, id)
		require.NoError(t, err)
		if r.State == want {
			return r
		}
		require.False(t, r.State.Terminal() && r.State != want, "application ended %s/%s: %s", r.State, r.FinalStatus, r.Diagnostics)
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not reach %s (last: %s)", id, want, r.State)
		case <-tick.C:
		}
	}
}

// TestRealRM runs the RM client against a real ResourceManager: nodes,
// metrics, a new application, a submission whose AM is /bin/sleep, its kill.
// (YARN reports RUNNING only once an AM registers; /bin/sleep never does,
// so the AM container being launched shows as ACCEPTED with an attempt.)
func TestRealRM(t *testing.T) {
	rm := realRM(t)
	ctx := testutil.Context(t, 2*time.Minute)

	m, err := rm.GetClusterMetrics(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, m.NodeManagers, int32(1))
	nodes, err := rm.GetClusterNodes(ctx, NodeRunning)
	require.NoError(t, err)
	require.NotEmpty(t, nodes)
	t.Logf("%d node managers; first %s with %s", m.NodeManagers, nodes[0].ID, nodes[0].Capability)

	q, err := rm.GetQueueInfo(ctx, "default", QueueQuery{})
	require.NoError(t, err)
	require.Equal(t, "RUNNING", q.State)
	_, err = rm.GetQueueUserACLs(ctx)
	require.NoError(t, err)

	id, max, err := rm.GetNewApplication(ctx)
	require.NoError(t, err)
	require.Positive(t, max.MemoryMB)
	t.Logf("new application %s, maximum %s", id, max)

	err = rm.SubmitApplication(ctx, AppSpec{
		ID: id, Name: "spindle-integration-sleep", Type: "SPINDLE-IT", Tags: []string{"spindle-it"},
		AM:          ContainerLaunchContext{Commands: []string{"/bin/sleep 600 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"}},
		AMResource:  Resource{MemoryMB: 256, VCores: 1},
		MaxAttempts: 1,
	})
	require.NoError(t, err)
	r := waitState(ctx, t, rm, id, StateAccepted)
	require.Equal(t, "spindle-integration-sleep", r.Name)

	apps, err := rm.GetApplications(ctx, AppFilter{Types: []string{"SPINDLE-IT"}})
	require.NoError(t, err)
	found := false
	for _, a := range apps {
		found = found || a.ID == id
	}
	require.True(t, found, "getApplications by type finds %s", id)

	require.NoError(t, rm.KillApplication(ctx, id, "spindle integration test"))
	r = waitState(ctx, t, rm, id, StateKilled)
	require.Equal(t, FinalKilled, r.FinalStatus)
	t.Logf("killed: %s", r.Diagnostics)

	_, err = rm.GetApplicationReport(ctx, ApplicationID{ClusterTimestamp: id.ClusterTimestamp, ID: 9999})
	require.ErrorIs(t, err, ErrApplicationNotFound)
}

// buildAM compiles testdata/itam and describes it as a file:// resource
// with the size and modification time the NodeManager checks.
func buildAM(t *testing.T) LocalResource {
	bin := testutil.Build(t, "./testdata/itam", "itam")
	st, err := os.Stat(bin)
	require.NoError(t, err)
	return LocalResource{URL: URL{Scheme: "file", File: bin, Port: -1}, Size: st.Size(), Timestamp: st.ModTime().UnixMilli(),
		Type: File, Visibility: Application}
}

func schedulerAddr(t *testing.T) string {
	c, err := conf.Load(os.Getenv("HADOOP_CONF_DIR"), conf.Options{Env: os.LookupEnv})
	require.NoError(t, err)
	a, err := c.RMAddresses(conf.RMScheduler)
	require.NoError(t, err)
	return a[0].Address
}

func submitAM(ctx context.Context, t *testing.T, rm *RMClient, mode string) ApplicationID {
	am := buildAM(t)
	id, _, err := rm.GetNewApplication(ctx)
	require.NoError(t, err)
	require.NoError(t, rm.SubmitApplication(ctx, AppSpec{
		ID: id, Name: "spindle-integration-" + mode, Type: "SPINDLE-IT",
		AM: ContainerLaunchContext{
			Commands:       []string{"./itam 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr"},
			Environment:    map[string]string{"SPINDLE_IT_SCHEDULER": schedulerAddr(t), "SPINDLE_IT_MODE": mode},
			LocalResources: map[string]LocalResource{"itam": am},
		},
		AMResource:  Resource{MemoryMB: 256, VCores: 1},
		MaxAttempts: 1,
	}))
	return id
}

// TestRealAMWorker: our Go AM registers with the real RM (DIGEST-MD5 with
// the AMRMToken the RM put in its container), asks for a container, starts
// it through the real NodeManager (DIGEST-MD5 with the NMToken), sees it
// complete with exit status 7, and finishes SUCCEEDED.
func TestRealAMWorker(t *testing.T) {
	rm := realRM(t)
	ctx := testutil.Context(t, 3*time.Minute)
	id := submitAM(ctx, t, rm, "worker")
	waitState(ctx, t, rm, id, StateRunning)
	r := waitState(ctx, t, rm, id, StateFinished)
	require.Equal(t, FinalSucceeded, r.FinalStatus, r.Diagnostics)
	require.Contains(t, r.Diagnostics, "exit status 7")
	t.Logf("%s: %s", id, r.Diagnostics)
}

// TestRealAMKilled: a registered AM shows RUNNING; a kill ends it KILLED.
func TestRealAMKilled(t *testing.T) {
	rm := realRM(t)
	ctx := testutil.Context(t, 3*time.Minute)
	id := submitAM(ctx, t, rm, "sleep")
	r := waitState(ctx, t, rm, id, StateRunning)
	require.NotEqual(t, "N/A", r.Host)
	require.NoError(t, rm.KillApplication(ctx, id, "spindle integration test"))
	r = waitState(ctx, t, rm, id, StateKilled)
	require.Equal(t, FinalKilled, r.FinalStatus)
}
