package promsd_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/promsd"
	"github.com/spindle-yarn/spindle/yarn"
)

// fakeRM lists reports; calls counts the lists, err fails them.
type fakeRM struct {
	mu    sync.Mutex
	apps  []yarn.AppReport
	err   error
	calls int
	got   yarn.AppFilter
}

func (f *fakeRM) GetApplications(_ context.Context, fl yarn.AppFilter) ([]yarn.AppReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.got = fl
	return f.apps, f.err
}

func (f *fakeRM) set(apps []yarn.AppReport, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps, f.err = apps, err
}

func (f *fakeRM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func amServer(t *testing.T, st amapi.Status) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != amapi.StatusPath {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(st)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func report(t *testing.T, id yarn.ApplicationID, attempt int32, trackingURL string, tags ...string) yarn.AppReport {
	return yarn.AppReport{ID: id, CurrentAttempt: yarn.AttemptID{App: id, Attempt: attempt}, Name: "orders", Queue: "etl", User: "alice",
		Type: promsd.AppType, State: yarn.StateRunning, OriginalTrackingURL: trackingURL, Tags: tags}
}

func hostOf(t *testing.T, u string) string {
	p, err := url.Parse(u)
	require.NoError(t, err)
	return p.Host
}

// Every running application gets its AM's target and, from its status,
// its JobManager's and TaskManagers' endpoints, each with the labels;
// an AM that does not answer keeps its AM target (mode from the tags).
func TestTargets(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	a := yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 1}
	b := yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 2}
	st := amapi.Status{AppID: a.String(), AttemptID: yarn.AttemptID{App: a, Attempt: 2}.String(), Attempt: 2,
		ContainerID: "container_1700000000000_0001_02_000001", Mode: amapi.ModeSession, Payload: "flink",
		JobManager: amapi.JobManagerInfo{Address: "127.0.0.1:6123", MetricsPort: 9301},
		TaskManagers: []amapi.TaskManagerInfo{
			{ContainerID: "container_1700000000000_0001_01_000002", Host: "node1", MetricsPort: 9250},
			{ContainerID: "container_1700000000000_0001_02_000003", Host: "node2"}, // told no port: no target
		}}
	am := amServer(t, st)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	rm := &fakeRM{apps: []yarn.AppReport{
		report(t, b, 1, down.URL, "spindle-per-job"),
		report(t, a, 2, am.URL+"/"),
		{ID: yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 3}, State: yarn.StateRunning, OriginalTrackingURL: "N/A"}, // not registered
	}}
	groups, err := promsd.Targets(ctx, promsd.Options{RM: rm, StatusTimeout: 2 * time.Second})
	require.NoError(t, err)
	require.Equal(t, []string{promsd.AppType}, rm.got.Types)
	require.Equal(t, []yarn.AppState{yarn.StateRunning}, rm.got.States)
	common := func(role, container, node string) map[string]string {
		return map[string]string{"app_id": a.String(), "app_name": "orders", "queue": "etl", "user": "alice", "mode": "session",
			"payload": "flink", "attempt": "2", "role": role, "container_id": container, "node": node}
	}
	amHost := hostOf(t, am.URL)
	require.Equal(t, []promsd.Group{
		{Targets: []string{amHost}, Labels: common("am", st.ContainerID, "127.0.0.1")},
		{Targets: []string{"127.0.0.1:9301"}, Labels: common("jobmanager", st.ContainerID, "127.0.0.1")},
		{Targets: []string{"node1:9250"}, Labels: common("taskmanager", "container_1700000000000_0001_01_000002", "node1")},
		{Targets: []string{hostOf(t, down.URL)}, Labels: map[string]string{"app_id": b.String(), "app_name": "orders", "queue": "etl",
			"user": "alice", "mode": "per-job", "attempt": "1", "role": "am", "node": "127.0.0.1"}},
	}, groups)

	// An AM of another attempt than the RM names (the old one still
	// answering) does not lend its status to the new attempt.
	rm.apps = []yarn.AppReport{report(t, a, 3, am.URL)}
	groups, err = promsd.Targets(ctx, promsd.Options{RM: rm})
	require.NoError(t, err)
	require.Len(t, groups, 1)
	require.Equal(t, "3", groups[0].Labels["attempt"])
	require.Equal(t, "am", groups[0].Labels["role"])

	rm.err = errors.New("connection refused")
	_, err = promsd.Targets(ctx, promsd.Options{RM: rm})
	require.ErrorContains(t, err, "list the running Spindle applications: connection refused")
}

// The server answers the document, asks the RM again only when it is
// older than MaxAge, serves the last good one when the RM fails, and
// 503 before it had one.
func TestServer(t *testing.T) {
	a := yarn.ApplicationID{ClusterTimestamp: 1700000000000, ID: 1}
	am := amServer(t, amapi.Status{AppID: a.String(), AttemptID: yarn.AttemptID{App: a, Attempt: 1}.String(), Mode: amapi.ModeSession})
	rm := &fakeRM{err: errors.New("rm down")}
	var now atomic.Int64 // the server's clock, in s
	now.Store(1700000000)
	srv := httptest.NewServer(&promsd.Server{Options: promsd.Options{RM: rm}, MaxAge: 10 * time.Second,
		Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	t.Cleanup(srv.Close)
	get := func() (int, []promsd.Group) {
		t.Helper()
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var gs []promsd.Group
		if resp.StatusCode == http.StatusOK {
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.NoError(t, json.Unmarshal(b, &gs))
		} else {
			require.Contains(t, string(b), "rm down")
		}
		return resp.StatusCode, gs
	}
	code, _ := get()
	require.Equal(t, http.StatusServiceUnavailable, code)

	rm.set([]yarn.AppReport{report(t, a, 1, am.URL)}, nil)
	code, gs := get()
	require.Equal(t, http.StatusOK, code)
	require.Len(t, gs, 1)
	calls := rm.count()
	now.Add(5)
	_, _ = get()
	require.Equal(t, calls, rm.count(), "a fresh document is served from the cache")

	now.Add(10)
	rm.set([]yarn.AppReport{report(t, a, 1, am.URL)}, errors.New("rm down"))
	code, gs = get()
	require.Equal(t, http.StatusOK, code, "the last good document")
	require.Len(t, gs, 1)
	require.Equal(t, calls+1, rm.count())
}
