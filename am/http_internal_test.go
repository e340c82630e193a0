package am

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

// newHTTPRunner is a Runner that never dials (the HTTP endpoint needs no
// RM), logging to log, with the credentials secret "cred-secret".
func newHTTPRunner(t *testing.T, log io.Writer, mod func(*httpLimits)) (*Runner, string) {
	t.Helper()
	return newHTTPRunnerSecret(t, log, mod, []byte("cred-secret"))
}

// newHTTPRunnerSecret is newHTTPRunner with credentials secret secret
// (none if nil).
func newHTTPRunnerSecret(t *testing.T, log io.Writer, mod func(*httpLimits), secret []byte) (*Runner, string) {
	t.Helper()
	creds := &yarn.Credentials{}
	creds.AddToken("amrm", &ipc.Token{Kind: ipc.KindAMRMToken, Identifier: []byte("id"), Password: []byte("pw")})
	if secret != nil {
		creds.AddSecret(amapi.CredentialsSecretAlias, secret)
	}
	app := yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}
	spec := amapi.Spec{Mode: amapi.ModeSession, JobManager: amapi.ProcessSpec{Command: []string{"true"}},
		TaskManagers: amapi.TaskManagerSpec{Count: 1, MemoryMB: 128, Command: "true"}}
	r, err := New(Options{Spec: spec, Container: yarn.ContainerID{Attempt: yarn.AttemptID{App: app, Attempt: 1}, ID: 1}, Host: "127.0.0.1",
		Credentials: creds, StopSecret: []byte("s3cret"), AMRM: yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: "127.0.0.1:1"}}},
		Logger: zerolog.New(log)})
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	if mod != nil {
		mod(&r.httpLim)
	}
	ln, err := r.listenHTTP()
	require.NoError(t, err)
	stop := r.serveHTTP(ln)
	t.Cleanup(stop)
	return r, "http://" + ln.Addr().String()
}

// The endpoint listens on the AM's host address, not on every interface.
func TestHTTPListensOnTheHostOnly(t *testing.T) {
	_, url := newHTTPRunner(t, io.Discard, nil)
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
}

// A keep-alive connection that stays idle is closed after the idle
// timeout.
func TestHTTPClosesIdleConnections(t *testing.T) {
	_, url := newHTTPRunner(t, io.Discard, func(l *httpLimits) { l.idle = 200 * time.Millisecond })
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /v1/status HTTP/1.1\r\nHost: am\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(3*time.Second)))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes the idle connection")
	require.Less(t, time.Since(start), 2*time.Second)
}

// A request whose header exceeds the limit gets 431.
func TestHTTPRefusesHugeHeaders(t *testing.T) {
	_, url := newHTTPRunner(t, io.Discard, nil)
	ctx := testutil.Context(t, 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+amapi.StatusPath, nil)
	require.NoError(t, err)
	req.Header.Set("X-Junk", strings.Repeat("x", 32<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}

// Connections beyond the cap wait (the listener does not accept them)
// while the long polls that hold the slots keep working; once a slot
// frees, the waiting request is served.
func TestHTTPConnectionCap(t *testing.T) {
	r, url := newHTTPRunner(t, io.Discard, func(l *httpLimits) { l.maxConns = 2 })
	ctx := testutil.Context(t, 20*time.Second)
	bearer := "Bearer " + amapi.AttemptBearer([]byte("cred-secret"), amapi.PurposeCredentials, r.att.String())
	gen := func() string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.generationLocked()
	}()
	type result struct {
		code int
		err  error
	}
	get := func(path, auth string) result {
		// One connection per request, closed afterwards: each holds a slot
		// exactly while it runs.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
		if err != nil {
			return result{err: err}
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := c.Do(req)
		if err != nil {
			return result{err: err}
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return result{code: resp.StatusCode}
	}
	var wg sync.WaitGroup
	polls := make(chan result, 2)
	for range 2 {
		wg.Go(func() { polls <- get(amapi.CredentialsPath+"?wait=15s&after="+gen, bearer) })
	}
	defer wg.Wait()
	testutil.Eventually(t, func() bool { return promtest.ToFloat64(r.m.credPolls) == 2 }, 10*time.Second, time.Millisecond,
		"both polls connected and waiting")
	third := make(chan result, 1)
	wg.Go(func() { third <- get(amapi.StatusPath, "") })
	select {
	case res := <-third:
		t.Fatalf("a third connection was served beyond the cap of 2: %+v", res)
	case <-time.After(500 * time.Millisecond):
	}
	r.installTokens(&yarn.Credentials{}) // the long polls answer and close
	for range 2 {
		res := <-polls
		require.NoError(t, res.err)
		require.Equal(t, http.StatusOK, res.code, "the long polls keep working")
	}
	res := <-third
	require.NoError(t, res.err)
	require.Equal(t, http.StatusOK, res.code, "served once a slot freed")
}

// Refused stop and credentials requests are logged: the first, then at
// most one per interval, with the number refused meanwhile.
func TestRefusedRequestsLogBounded(t *testing.T) {
	var log testutil.Buffer
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	r, url := newHTTPRunner(t, &log, func(l *httpLimits) { l.refusedLogEvery = time.Minute })
	r.opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := testutil.Context(t, 20*time.Second)
	c := &http.Client{}
	send := func(method, path string) {
		req, err := http.NewRequestWithContext(ctx, method, url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer nope")
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	}
	const n = 200
	for range n {
		send(http.MethodPost, amapi.StopPath)
		send(http.MethodGet, amapi.CredentialsPath)
	}
	count := func(what string) int { return strings.Count(log.String(), what) }
	require.LessOrEqual(t, count("stop request refused"), 2, log.String())
	require.LessOrEqual(t, count("credentials request refused"), 2, log.String())
	mu.Lock()
	now = now.Add(time.Minute) // the interval passes
	mu.Unlock()
	send(http.MethodPost, amapi.StopPath)
	require.LessOrEqual(t, count("stop request refused"), 3)
	require.Contains(t, log.String(), `"refused_since_last_log":`)
}
