package am_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// The end-to-end tests run the real spindle binary as the AM of a mini
// cluster: built once per test binary, staged through package hdfs into
// a file:/// staging directory, and shipped to the AM container (and the
// TaskManagers) as a file:// LocalResource, with the spec and the stop
// secret, exactly as a submitter does.

const testUser = "spindle"

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// spindleBinary builds cmd/spindle once per test binary
// ($SPINDLE_TEST_BINARY names a prebuilt one instead).
func spindleBinary(t testing.TB) string {
	if p := os.Getenv("SPINDLE_TEST_BINARY"); p != "" {
		return p
	}
	return testutil.Build(t, "github.com/spindle-yarn/spindle/cmd/spindle", "spindle")
}

// harness is a mini cluster with a client configuration directory and a
// file:/// staging area.
type harness struct {
	t       testing.TB
	c       *minicluster.Cluster
	rmc     *yarn.RMClient
	confDir string
	home    string
	stager  *hdfs.Stager
	nmHB    time.Duration
	words   string // a local text file the jobs count
}

func newHarness(t testing.TB, nodes int, mod func(*minicluster.Options)) *harness {
	t.Helper()
	return newHarnessConf(t, nodes, mod, nil)
}

// newHarnessConf is newHarness with yarnSite changing the client
// configuration (yarn-site.xml) before it is written.
func newHarnessConf(t testing.TB, nodes int, mod func(*minicluster.Options), yarnSiteMod func(map[string]string)) *harness {
	t.Helper()
	dir := t.TempDir()
	opts := minicluster.Options{Nodes: nodes, Dir: filepath.Join(dir, "cluster"), Logger: testLogger(t)}
	opts.NodeManager.HeartbeatInterval = 250 * time.Millisecond
	opts.NodeManager.SigkillDelay = 100 * time.Millisecond
	opts.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1}
	opts.RM.AMExpiry = 10 * time.Second
	opts.RM.NMExpiry = 10 * time.Second
	if mod != nil {
		mod(&opts)
	}
	ctx := testutil.Context(t, 30*time.Second)
	c, err := minicluster.New(ctx, opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	h := &harness{t: t, c: c, confDir: filepath.Join(dir, "conf"), home: filepath.Join(dir, "home"), nmHB: opts.NodeManager.HeartbeatInterval}
	require.NoError(t, os.MkdirAll(h.confDir, 0o755))
	require.NoError(t, os.MkdirAll(h.home, 0o755))
	yarnSite := c.ClientConfig()
	// Fail over and retry quickly: the RM restarts in tests take a second.
	yarnSite["yarn.resourcemanager.connect.max-wait.ms"] = "20000"
	yarnSite["yarn.resourcemanager.connect.retry-interval.ms"] = "100"
	yarnSite["yarn.client.failover-sleep-base-ms"] = "50"
	yarnSite["yarn.client.failover-sleep-max-ms"] = "500"
	if yarnSiteMod != nil {
		yarnSiteMod(yarnSite)
	}
	require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(h.confDir, "yarn-site.xml"), yarnSite))
	require.NoError(t, minicluster.WriteHadoopXML(filepath.Join(h.confDir, "core-site.xml"), map[string]string{"fs.defaultFS": "file:///"}))
	eps := []yarn.Endpoint{{Addr: c.RM().ClientAddr()}}
	if ids := c.RM().HAIDs(); ids != nil {
		eps = nil
		for _, id := range ids {
			addr, _, err := c.RM().HAAddrs(id)
			require.NoError(t, err)
			eps = append(eps, yarn.Endpoint{RMID: id, Addr: addr})
		}
	}
	h.rmc, err = yarn.NewRMClient(yarn.RMOptions{Endpoints: eps, User: testUser,
		PollInterval: 20 * time.Millisecond, Retry: yarn.RetryPolicy{MaxWait: 20 * time.Second, BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { h.rmc.Close() })
	h.stager, err = hdfs.New(ctx, hdfs.Options{FS: "file:///", Home: h.home, User: testUser})
	require.NoError(t, err)
	h.words = filepath.Join(dir, "words.txt")
	require.NoError(t, os.WriteFile(h.words, []byte(wordsText), 0o644))
	return h
}

// wordsText is the input of the word count jobs.
var wordsText = strings.Repeat("the quick brown fox jumps over the lazy dog\nand the dog sleeps\n\nspindle spins yarn\n", 50)

// app is a submitted application.
type app struct {
	h      *harness
	id     yarn.ApplicationID
	secret []byte
	spec   amapi.Spec
}

// sessionSpec is the example payload as a session of n TaskManagers.
func (h *harness) sessionSpec(n int) amapi.Spec {
	return amapi.Spec{
		Mode:       amapi.ModeSession,
		JobManager: amapi.ProcessSpec{Command: []string{"${" + amapi.EnvBinary + "}", "example", "jobmanager", "--taskmanager-timeout", "3s"}},
		TaskManagers: amapi.TaskManagerSpec{Count: n, MemoryMB: 128, Command: "./spindle example taskmanager --heartbeat 100ms",
			Env: map[string]string{"HADOOP_CONF_DIR": h.confDir}},
		Restart: amapi.RestartPolicy{Window: time.Minute, MaxFailures: 5, InitialBackoff: 200 * time.Millisecond, MaxBackoff: time.Second},
	}
}

// submit stages the binary, the words, the spec and a fresh stop secret,
// and submits the AM. amArgs go to `spindle am`.
func (h *harness) submit(ctx context.Context, spec amapi.Spec, amArgs string, mod func(*yarn.AppSpec)) *app {
	t := h.t
	t.Helper()
	id, _, err := h.rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	staged, err := h.stager.Stage(ctx, id.String(), []hdfs.Source{{Path: spindleBinary(t), Name: "spindle"}, {Path: h.words, Name: "words.txt"}}, nil)
	require.NoError(t, err)
	if spec.TaskManagers.Files == nil { // the TaskManagers get the binary and the words unless told otherwise
		spec.TaskManagers.Files = map[string]amapi.LocalFile{}
		for _, f := range staged {
			spec.TaskManagers.Files[f.Name] = amapi.FileFromStaged(f)
		}
	}
	spec.Staging = amapi.StagingSpec{FS: "file:///", Home: h.home, User: testUser}
	secret, err := amapi.NewStopSecret()
	require.NoError(t, err)
	tmp := t.TempDir()
	b, err := spec.Marshal()
	require.NoError(t, err)
	specPath, secretPath := filepath.Join(tmp, amapi.SpecFile), filepath.Join(tmp, amapi.StopSecretFile)
	require.NoError(t, os.WriteFile(specPath, b, 0o600))
	require.NoError(t, os.WriteFile(secretPath, secret, 0o600))
	more, err := h.stager.Stage(ctx, id.String(), []hdfs.Source{{Path: specPath, NoCache: true}, {Path: secretPath, NoCache: true}}, nil)
	require.NoError(t, err)
	res := map[string]yarn.LocalResource{}
	for _, f := range append(staged, more...) {
		lr, err := amapi.FileFromStaged(f).Resource()
		require.NoError(t, err)
		res[f.Name] = lr
	}
	as := yarn.AppSpec{ID: id, Name: t.Name(), Type: "SPINDLE", AMResource: yarn.Resource{MemoryMB: 256, VCores: 1},
		KeepContainersAcrossAttempts: true, MaxAttempts: 2,
		AM: yarn.ContainerLaunchContext{
			Commands:       []string{"./spindle --log-level debug am " + amArgs + " 1><LOG_DIR>/am.stdout 2><LOG_DIR>/am.stderr"},
			Environment:    map[string]string{"HADOOP_CONF_DIR": h.confDir},
			LocalResources: res,
		}}
	if mod != nil {
		mod(&as)
	}
	require.NoError(t, h.rmc.SubmitApplication(ctx, as))
	a := &app{h: h, id: id, secret: secret, spec: spec}
	t.Cleanup(func() { a.dumpLogsOnFailure() })
	return a
}

// dumpLogsOnFailure prints the AM's stderr, the JobManager's output and
// the TaskManagers' of a failed test. $SPINDLE_TEST_LOGS=1 prints them
// for passing tests too; an absolute directory there receives them as
// files instead.
func (a *app) dumpLogsOnFailure() {
	if !a.h.t.Failed() && os.Getenv("SPINDLE_TEST_LOGS") == "" {
		return
	}
	for _, nm := range a.h.c.NodeManagers() {
		files, _ := filepath.Glob(filepath.Join(nm.LogDir(), a.id.String(), "*", "*"))
		for _, f := range files {
			base := filepath.Base(f)
			if base == "am.stderr" || strings.HasPrefix(base, "jobmanager.") || base == "taskmanager.out" {
				b, _ := os.ReadFile(f)
				if d := os.Getenv("SPINDLE_TEST_LOGS"); strings.HasPrefix(d, "/") {
					_ = os.WriteFile(filepath.Join(d, filepath.Base(filepath.Dir(f))+"."+base), b, 0o644)
					continue
				}
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				a.h.t.Logf("==== %s\n%s", f, b)
			}
		}
	}
}

func (a *app) report(ctx context.Context) yarn.AppReport {
	r, err := a.h.rmc.GetApplicationReport(ctx, a.id)
	require.NoError(a.h.t, err)
	return r
}

// waitReport polls the application report until ok holds.
func (a *app) waitReport(ctx context.Context, what string, ok func(yarn.AppReport) bool) yarn.AppReport {
	t := a.h.t
	t.Helper()
	var last yarn.AppReport
	for {
		last = a.report(ctx)
		if ok(last) {
			return last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s of %s: %v; last report: state %s final %s diagnostics %q", what, a.id, ctx.Err(), last.State, last.FinalStatus, last.Diagnostics)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (a *app) waitEnd(ctx context.Context) yarn.AppReport {
	return a.waitReport(ctx, "the end", func(r yarn.AppReport) bool { return r.State.Terminal() })
}

// amURL is the current attempt's AM endpoint, once registered.
func (a *app) amURL(ctx context.Context, attempt int32) string {
	r := a.waitReport(ctx, fmt.Sprintf("attempt %d registered", attempt), func(r yarn.AppReport) bool {
		return r.CurrentAttempt.Attempt == attempt && r.State == yarn.StateRunning && strings.HasPrefix(r.OriginalTrackingURL, "http")
	})
	return r.OriginalTrackingURL
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// status reads the AM's status JSON.
func (a *app) status(ctx context.Context, url string) (amapi.Status, error) {
	var s amapi.Status
	err := getJSON(ctx, strings.TrimSuffix(url, "/")+amapi.StatusPath, &s)
	return s, err
}

// waitStatus polls the AM's status until ok holds.
func (a *app) waitStatus(ctx context.Context, url, what string, ok func(amapi.Status) bool) amapi.Status {
	t := a.h.t
	t.Helper()
	var last amapi.Status
	var lastErr error
	for {
		s, err := a.status(ctx, url)
		if err == nil {
			last = s
			if ok(s) {
				return s
			}
		}
		lastErr = err
		select {
		case <-ctx.Done():
			b, _ := json.MarshalIndent(last, "", " ")
			t.Fatalf("waiting for %s: %v (last error %v); last status:\n%s", what, ctx.Err(), lastErr, b)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop posts a stop request with secret, bound to the attempt the AM at
// url runs (amapi.AttemptBearer, as a submitter sends it), and returns the
// HTTP status.
func (a *app) stop(ctx context.Context, url string, secret []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+amapi.StopPath, bytes.NewReader([]byte(`{"diagnostics":"test says stop"}`)))
	require.NoError(a.h.t, err)
	if secret != nil {
		s, err := a.status(ctx, url)
		require.NoError(a.h.t, err)
		req.Header.Set("Authorization", "Bearer "+amapi.AttemptBearer(secret, amapi.PurposeStop, s.AttemptID))
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(a.h.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// liveContainers lists the application's containers the NodeManagers run
// (not yet complete): what the cluster really gives the application.
func (a *app) liveContainers() []yarn.ContainerID {
	var out []yarn.ContainerID
	for _, nm := range a.h.c.NodeManagers() {
		for _, id := range nm.Containers() {
			if id.Attempt.App != a.id {
				continue
			}
			if info, ok := nm.Container(id); ok && info.State != yarn.ContainerComplete {
				out = append(out, id)
			}
		}
	}
	return out
}

// watchLive samples the application's live containers every 20 ms until
// the test ends and reports the most seen at once.
func (a *app) watchLive(ctx context.Context) func() int {
	var mu sync.Mutex
	peak := 0
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			n := len(a.liveContainers())
			mu.Lock()
			peak = max(peak, n)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { close(done); <-stopped }) }
	a.h.t.Cleanup(stop)
	return func() int {
		stop()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// nodeOf finds the NodeManager running a container.
func (h *harness) nodeOf(id yarn.ContainerID) *minicluster.NodeManager {
	for _, nm := range h.c.NodeManagers() {
		if _, ok := nm.Container(id); ok {
			return nm
		}
	}
	return nil
}

func (a *app) stagingDir() string { return filepath.Join(a.h.home, hdfs.SpindleDir, a.id.String()) }
