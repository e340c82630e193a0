package am_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// The in-process tests run an am.Runner inside the test binary (so -race
// and goleak watch it) as the AM of an application whose AM container is
// a placeholder: the Runner authenticates with the AMRMToken the
// NodeManager wrote into that container's container_tokens, exactly what
// the AM process in the container would hold.

// placeholderAM is the AM container's command: wait until told to exit.
// The $ is escaped: the command lands unescaped in bash -c "…".
const placeholderAM = `while [ ! -s stop-am ]; do sleep 0.05; done; exit \$(cat stop-am)`

type inProcess struct {
	h       *harness
	id      yarn.ApplicationID
	amc     yarn.ContainerID
	host    string
	workDir string
	tokens  []byte
}

// submitPlaceholder submits an application whose AM container waits, and
// returns what an AM in it would know.
func (h *harness) submitPlaceholder(ctx context.Context) *inProcess {
	t := h.t
	t.Helper()
	id, _, err := h.rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	require.NoError(t, h.rmc.SubmitApplication(ctx, yarn.AppSpec{ID: id, Name: t.Name(), AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		KeepContainersAcrossAttempts: true, AM: yarn.ContainerLaunchContext{Commands: []string{placeholderAM}}}))
	p := &inProcess{h: h, id: id, amc: yarn.ContainerID{Attempt: yarn.AttemptID{App: id, Attempt: 1}, ID: 1}}
	eventually(t, ctx, "the AM container running", func() bool {
		nm := h.nodeOf(p.amc)
		if nm == nil {
			return false
		}
		info, _ := nm.Container(p.amc)
		b, err := os.ReadFile(filepath.Join(info.WorkDir, "container_tokens"))
		if err != nil || info.State != yarn.ContainerRunning {
			return false
		}
		p.tokens, p.host, p.workDir = b, nm.ID().Host, info.WorkDir
		return true
	})
	t.Cleanup(func() { _ = os.WriteFile(filepath.Join(p.workDir, "stop-am"), []byte("0"), 0o644) })
	return p
}

func (p *inProcess) runner(spec amapi.Spec, secret []byte, staging am.Staging, mods ...func(*am.Options)) *am.Runner {
	t := p.h.t
	creds, err := am.ParseCredentials(p.tokens)
	require.NoError(t, err)
	dir := t.TempDir()
	opts := am.Options{Spec: spec, Container: p.amc, Host: p.host, Credentials: creds, StopSecret: secret, Staging: staging,
		AMRM: yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: p.h.c.RM().SchedulerAddr()}}, FinishInterval: 20 * time.Millisecond,
			Retry: yarn.RetryPolicy{MaxWait: 10 * time.Second, BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}},
		WorkDir: dir, LogDir: dir, Environ: []string{"PATH=" + os.Getenv("PATH")},
		HeartbeatFast: 50 * time.Millisecond, HeartbeatIdle: 200 * time.Millisecond, StopTimeout: 2 * time.Second, Logger: testLogger(t)}
	for _, m := range mods {
		m(&opts)
	}
	r, err := am.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

func sleeperSpec(n int) amapi.Spec {
	return amapi.Spec{Mode: amapi.ModeSession,
		JobManager:   amapi.ProcessSpec{Command: []string{"sh", "-c", "echo jobmanager on $SPINDLE_JM_ADDRESS; exec sleep 60"}},
		TaskManagers: amapi.TaskManagerSpec{Count: n, MemoryMB: 128, Command: "exec sleep 60"},
		Restart:      amapi.RestartPolicy{Window: time.Minute, MaxFailures: 3, InitialBackoff: 100 * time.Millisecond}}
}

type recordingStaging struct{ deleted chan string }

func (s recordingStaging) Delete(_ context.Context, appID string) error {
	s.deleted <- appID
	return nil
}

func waitRunner(t *testing.T, ctx context.Context, r *am.Runner, what string, ok func(amapi.Status) bool) amapi.Status {
	t.Helper()
	for {
		s := r.Status()
		if ok(s) {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; status %+v", what, ctx.Err(), s)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestRunnerKillAndStop runs the fleet loop in-process: two TaskManagers
// run, a killed one is replaced, a wrong stop secret is refused, Stop ends
// the application SUCCEEDED, the staging directory is deleted and Run
// returns nil.
func TestRunnerKillAndStop(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	st := recordingStaging{deleted: make(chan string, 1)}
	r := p.runner(sleeperSpec(2), []byte("s3cret"), st, func(o *am.Options) {
		o.Credentials.AddToken("ha-hdfs:ns1", &ipc.Token{Kind: "HDFS_DELEGATION_TOKEN", Service: "ha-hdfs:ns1", Identifier: []byte("id"), Password: []byte("pw")})
	})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()

	s := waitRunner(t, ctx, r, "2 running", func(s amapi.Status) bool { return s.Running == 2 })
	require.Equal(t, amapi.PhaseRunning, s.Phase)
	require.NotZero(t, s.JobManager.PID)

	// What a TaskManager container got: the AM's tokens without the
	// AMRMToken, its container id as resource id, the JobManager's address.
	tm := mustParse(t, s.TaskManagers[0].ContainerID)
	var info minicluster.ContainerInfo
	eventually(t, ctx, "the TaskManager's process running", func() bool {
		info, _ = h.nodeOf(tm).Container(tm)
		return info.State == yarn.ContainerRunning && info.PID > 0
	})
	b, err := os.ReadFile(filepath.Join(info.WorkDir, "container_tokens"))
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	require.Nil(t, creds.TokenOfKind(ipc.KindAMRMToken), "never the AMRMToken")
	require.Equal(t, []string{"ha-hdfs:ns1"}, creds.Aliases())
	script, err := os.ReadFile(filepath.Join(info.WorkDir, "launch_container.sh"))
	require.NoError(t, err)
	require.Contains(t, string(script), `export SPINDLE_RESOURCE_ID="`+tm.String()+`"`)
	require.Contains(t, string(script), `export SPINDLE_JM_ADDRESS="`+s.JobManager.Address+`"`)
	require.Contains(t, string(script), `export SPINDLE_APP_ID="`+p.id.String()+`"`)
	victim := mustParse(t, s.TaskManagers[0].ContainerID)
	require.NoError(t, h.nodeOf(victim).KillContainerProcess(victim, syscall.SIGKILL))
	s = waitRunner(t, ctx, r, "replaced", func(s amapi.Status) bool {
		return s.Restarts == 1 && s.Running == 2 && !slices.Contains(tmIDs(s), victim.String())
	})

	page := httpGet(t, ctx, s.TrackingURL)
	require.Contains(t, page, "<h2>TaskManagers: 2 running of 2</h2>")
	require.Contains(t, page, "exit code 137")
	require.Contains(t, page, "1 replaced")
	metrics := httpGet(t, ctx, s.TrackingURL+"metrics")
	for _, m := range []string{"spindle_am_taskmanagers_running 2", "spindle_am_taskmanagers_target 2", "spindle_am_taskmanagers_pending 0",
		"spindle_am_taskmanagers_failed_total 1", "spindle_am_taskmanagers_restarted_total 1", "spindle_am_containers_allocated_total 3",
		"spindle_am_heartbeat_latency_seconds_count", "process_resident_memory_bytes"} {
		require.Contains(t, metrics, m)
	}
	var jmInfo amapi.JobManagerInfo
	require.NoError(t, getJSON(ctx, s.TrackingURL+"v1/jobmanager", &jmInfo))
	require.Equal(t, s.JobManager.Address, jmInfo.Address)
	require.Equal(t, p.host, strings.Split(jmInfo.Address, ":")[0])

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TrackingURL+"v1/stop", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer s3cre")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, amapi.PhaseRunning, r.Status().Phase)

	r.Stop("done here")
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Run did not return")
	}
	f, ok := r.Final()
	require.True(t, ok)
	require.Equal(t, am.Final{Status: yarn.FinalSucceeded, Diagnostics: "done here"}, f)
	require.Equal(t, p.id.String(), <-st.deleted)
	rep, err := h.rmc.GetApplicationReport(ctx, p.id)
	require.NoError(t, err)
	require.Equal(t, yarn.FinalSucceeded, rep.FinalStatus)
	<-r.Done()
}

// TestRunnerShutdownLeavesTheApplication: cancelling Run's context is a
// shutdown: Run returns the context's error, the JobManager is stopped,
// the TaskManagers keep running and the application stays RUNNING and
// registered; nothing is deleted.
func TestRunnerShutdownLeavesTheApplication(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	st := recordingStaging{deleted: make(chan string, 1)}
	r := p.runner(sleeperSpec(2), nil, st)
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(rctx) }()
	s := waitRunner(t, ctx, r, "2 running", func(s amapi.Status) bool { return s.Running == 2 })
	jm := s.JobManager.PID
	// The AM counts a TaskManager running once its NodeManager accepted the
	// start; wait for the NodeManagers to run them too, so that the check
	// after the shutdown sees what the shutdown left, not a localization.
	testutil.Eventually(t, func() bool {
		for _, id := range tmIDs(s) {
			if info, _ := h.nodeOf(mustParse(t, id)).Container(mustParse(t, id)); info.State != yarn.ContainerRunning {
				return false
			}
		}
		return true
	}, 20*time.Second, 10*time.Millisecond, "the NodeManagers run both TaskManagers")
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	_, ok := r.Final()
	require.False(t, ok)
	require.Equal(t, amapi.PhaseShutdown, r.Status().Phase)
	require.ErrorIs(t, syscall.Kill(jm, 0), syscall.ESRCH, "the JobManager is gone")
	for _, id := range tmIDs(s) {
		nm := h.nodeOf(mustParse(t, id))
		info, _ := nm.Container(mustParse(t, id))
		require.Equal(t, yarn.ContainerRunning, info.State, "TaskManagers keep running for the next attempt")
	}
	rep, err := h.rmc.GetApplicationReport(ctx, p.id)
	require.NoError(t, err)
	require.Equal(t, yarn.StateRunning, rep.State)
	select {
	case id := <-st.deleted:
		t.Fatalf("staging of %s deleted on a shutdown", id)
	default:
	}
}

// TestRunnerRejectsBadSpecs checks New's validation.
func TestRunnerRejectsBadSpecs(t *testing.T) {
	good := sleeperSpec(1)
	for _, tc := range []struct {
		name string
		mod  func(*amapi.Spec)
		want string
	}{
		{"mode", func(s *amapi.Spec) { s.Mode = "forever" }, `mode "forever"`},
		{"no jobmanager", func(s *amapi.Spec) { s.JobManager.Command = nil }, "jobmanager.command is empty"},
		{"no memory", func(s *amapi.Spec) { s.TaskManagers.MemoryMB = 0 }, "memory_mb must be positive"},
		{"label and nodes", func(s *amapi.Spec) { s.TaskManagers.NodeLabel, s.TaskManagers.Nodes = "gpu", []string{"h1"} }, "node_label cannot be combined"},
		{"bad file", func(s *amapi.Spec) { s.TaskManagers.Files = map[string]amapi.LocalFile{"x": {URL: "relative/path"}} }, `files["x"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.TaskManagers.Files = nil
			tc.mod(&s)
			b, err := s.Marshal()
			require.NoError(t, err)
			_, err = amapi.ParseSpec(b)
			require.ErrorContains(t, err, tc.want)
			_, err = am.New(am.Options{Spec: s, Container: yarn.ContainerID{ID: 1}, Host: "h"})
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, err := am.New(am.Options{Spec: good})
	require.ErrorContains(t, err, "Options.Container is unset")
	require.ErrorContains(t, err, "Options.Credentials is nil")
	_, err = amapi.ParseSpec([]byte(`{"mode":"session","surprise":1}`))
	require.ErrorContains(t, err, `unknown field "surprise"`)
}

// TestLocalFileResource maps the JSON form to YARN's LocalResource.
func TestLocalFileResource(t *testing.T) {
	for _, tc := range []struct {
		in   amapi.LocalFile
		want yarn.LocalResource
	}{
		{amapi.LocalFile{URL: "hdfs://nn:8020/user/u/.spindle/app/x.jar", Size: 3, Timestamp: 4},
			yarn.LocalResource{URL: yarn.URL{Scheme: "hdfs", Host: "nn", Port: 8020, File: "/user/u/.spindle/app/x.jar"}, Size: 3, Timestamp: 4, Type: yarn.File, Visibility: yarn.Application}},
		{amapi.LocalFile{URL: "hdfs://ns1/p/flink.zip", Type: "ARCHIVE", Visibility: "PRIVATE"},
			yarn.LocalResource{URL: yarn.URL{Scheme: "hdfs", Host: "ns1", Port: -1, File: "/p/flink.zip"}, Type: yarn.Archive, Visibility: yarn.Private}},
		{amapi.LocalFile{URL: "file:///tmp/a b", Visibility: "PUBLIC"},
			yarn.LocalResource{URL: yarn.URL{Scheme: "file", Port: -1, File: "/tmp/a b"}, Type: yarn.File, Visibility: yarn.Public}},
	} {
		t.Run(tc.in.URL, func(t *testing.T) {
			got, err := tc.in.Resource()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	_, err := amapi.LocalFile{URL: "hdfs://nn/x", Type: "TARBALL"}.Resource()
	require.ErrorContains(t, err, "want FILE or ARCHIVE")
}

// TestRunnerCountsTaskManagersThatEndByThemselves: a TaskManager that
// exits 0 is not lost to the cluster; replacing it for ever would be a
// container storm, so it counts against the policy like a failure.
func TestRunnerCountsTaskManagersThatEndByThemselves(t *testing.T) {
	h := newHarness(t, 2, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	spec := sleeperSpec(2)
	spec.TaskManagers.Command = "exit 0"
	spec.Restart = amapi.RestartPolicy{Window: time.Minute, MaxFailures: 2, InitialBackoff: 50 * time.Millisecond}
	r := p.runner(spec, nil, nil)
	require.NoError(t, r.Run(ctx))
	f, ok := r.Final()
	require.True(t, ok)
	require.Equal(t, yarn.FinalFailed, f.Status)
	require.Contains(t, f.Diagnostics, "restart policy gave up: 3 TaskManager failures within 1m0s exceed the limit of 2")
	require.Contains(t, f.Diagnostics, ": SUCCESS")
	s := r.Status()
	require.Equal(t, amapi.PhaseFinished, s.Phase)
	require.LessOrEqual(t, s.Restarts, 2)
}

// TestRunnerLaunchesNodesIndependently: starting containers on a
// NodeManager that takes two seconds to answer does not hold back the
// TaskManagers of the other nodes.
func TestRunnerLaunchesNodesIndependently(t *testing.T) {
	h := newHarness(t, 3, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	slow := h.c.NodeManager(0)
	d := &testutil.Dialer{}
	d.Set(slow.Addr(), testutil.Delay(2*time.Second))
	r := p.runner(sleeperSpec(6), nil, nil, func(o *am.Options) { o.NM.Dial = d.Dial })
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(rctx) }()
	waitRunner(t, ctx, r, "others running while the slow node still starts", func(s amapi.Status) bool {
		slowLaunching, othersRunning := false, false
		for _, tm := range s.TaskManagers {
			onSlow := tm.Node == slow.ID().String()
			slowLaunching = slowLaunching || (onSlow && tm.State == "launching")
			othersRunning = othersRunning || (!onSlow && tm.State == "running")
		}
		return slowLaunching && othersRunning
	})
	waitRunner(t, ctx, r, "all 6 running", func(s amapi.Status) bool { return s.Running == 6 })
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
}

// TestRunnerAttemptEndedByRM: when the RM no longer knows the attempt
// (here: the application was killed), the heartbeat fails with
// ErrAttemptNotFound and Run returns it without unregistering.
func TestRunnerAttemptEndedByRM(t *testing.T) {
	h := newHarness(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	r := p.runner(sleeperSpec(1), nil, nil)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	waitRunner(t, ctx, r, "1 running", func(s amapi.Status) bool { return s.Running == 1 })
	require.NoError(t, h.rmc.KillApplication(ctx, p.id, "killed by the test"))
	err := <-errc
	require.ErrorIs(t, err, yarn.ErrAttemptNotFound)
	require.ErrorContains(t, err, "the ResourceManager ended this attempt")
	_, ok := r.Final()
	require.False(t, ok)
	require.Equal(t, amapi.PhaseShutdown, r.Status().Phase)
}

func httpGet(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// TestRunnerQuarantinesABadNode: TaskManagers fail on one node only. With
// K = 1 the node is blacklisted at the RM after its first failure, the
// fleet fills up on the other nodes, and when the quarantine is over the
// node comes off the blacklist.
func TestRunnerQuarantinesABadNode(t *testing.T) {
	h := newHarness(t, 3, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	bad := h.c.NodeManager(0).ID()
	spec := sleeperSpec(6)
	// The command lands unescaped in bash -c "…": escape the $.
	spec.TaskManagers.Command = `[ \$NM_HOST = ` + bad.Host + ` ] && exit 5; exec sleep 60`
	spec.Restart = amapi.RestartPolicy{Window: time.Minute, MaxFailures: 20, InitialBackoff: 100 * time.Millisecond, NodeFailures: 1, Quarantine: 4 * time.Second}
	r := p.runner(spec, nil, nil)
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- r.Run(rctx) }()
	s := waitRunner(t, ctx, r, "the bad node quarantined and the fleet full elsewhere", func(s amapi.Status) bool {
		if len(s.Policy.Quarantined) != 1 || s.Running != 6 {
			return false
		}
		for _, tm := range s.TaskManagers {
			if tm.Node == bad.String() {
				return false
			}
		}
		return true
	})
	require.Equal(t, bad.Host, s.Policy.Quarantined[0].Node)
	quarantined := false
	for _, c := range s.Completions {
		quarantined = quarantined || c.QuarantinedNode == bad.Host
	}
	require.True(t, quarantined, "%+v", s.Completions)
	for _, c := range s.Completions {
		require.Equal(t, bad.Host, c.Node)
		require.Equal(t, int32(5), c.ExitStatus)
	}
	waitRunner(t, ctx, r, "the quarantine over", func(s amapi.Status) bool { return len(s.Policy.Quarantined) == 0 })
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
}
