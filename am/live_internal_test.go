package am

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// runningTM puts a running TaskManager of r's attempt on node in r's
// open fleet.
func runningTM(r *Runner, id int64, node string) yarn.ContainerID {
	r.fleet.setOpen(true)
	cid := r.fleet.launching(id, node, time.Now())
	r.fleet.mu.Lock()
	r.fleet.setStateLocked(r.fleet.tms[cid], tmRunning)
	r.fleet.mu.Unlock()
	return cid
}

func (f *fleet) stateOf(id yarn.ContainerID) tmState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tm, ok := f.tms[id]; ok {
		return tm.state
	}
	return ""
}

// liveConn opens a liveness connection from local (nil: any address)
// with the given Authorization header ("" for none) and returns the
// status code and, for 200, the open connection (the first line read).
func liveConn(t *testing.T, url string, id yarn.ContainerID, local net.IP, auth string) (int, net.Conn) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	c, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	req := "GET " + strings.Replace(amapi.LivePath, "{container}", id.String(), 1) + " HTTP/1.1\r\nHost: am\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	_, err = io.WriteString(c, req+"\r\n")
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return resp.StatusCode, nil
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, amapi.LiveLine, line)
	t.Cleanup(func() { c.Close() })
	return resp.StatusCode, c
}

func waitState(t *testing.T, f *fleet, id yarn.ContainerID, want tmState) {
	t.Helper()
	ctx := testutil.Context(t, 5*time.Second)
	for f.stateOf(id) != want {
		select {
		case <-ctx.Done():
			t.Fatalf("TaskManager %s: state %q, want %q", id, f.stateOf(id), want)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stays checks that id keeps state for a while (nothing acted on a
// close).
func stays(t *testing.T, f *fleet, id yarn.ContainerID, state tmState) {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, state, f.stateOf(id))
}

// TestLiveWithSecret: with a credentials secret only the bearer bound to
// this attempt opens a liveness connection; a spoofer without it, or
// with another attempt's, is refused and its close changes nothing. The
// close of a trusted connection takes the TaskManager for dead at once
// (counted out of the active set, the loop woken), a reconnection brings
// it back.
func TestLiveWithSecret(t *testing.T) {
	r, url := newHTTPRunnerSecret(t, io.Discard, nil, []byte("cred-secret"))
	id := runningTM(r, 2, "127.0.0.1")
	bearer := func(secret, attempt string) string {
		return "Bearer " + amapi.AttemptBearer([]byte(secret), amapi.PurposeLive, attempt)
	}
	other := yarn.AttemptID{App: r.att.App, Attempt: 2}.String()
	for _, auth := range []string{"", bearer("not-the-secret", r.att.String()), bearer("cred-secret", other),
		"Bearer " + amapi.AttemptBearer([]byte("cred-secret"), amapi.PurposeCredentials, r.att.String())} {
		code, _ := liveConn(t, url, id, nil, auth)
		require.Equal(t, http.StatusForbidden, code, auth)
	}
	code, _ := liveConn(t, url, yarn.ContainerID{Attempt: r.att, ID: 99}, nil, bearer("cred-secret", r.att.String()))
	require.Equal(t, http.StatusNotFound, code)
	stays(t, r.fleet, id, tmRunning)

	code, c := liveConn(t, url, id, nil, bearer("cred-secret", r.att.String()))
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, r.fleet.wake)
	c.Close()
	waitState(t, r.fleet, id, tmLost)
	require.Len(t, r.fleet.wake, 1, "the loop is woken to reconcile")
	r.fleet.mu.Lock()
	require.Equal(t, 0, r.fleet.activeLocked(), "counted out: the next reconcile asks for its replacement")
	r.fleet.mu.Unlock()
	s := r.Status()
	require.Equal(t, 1, s.LostUnconfirmed)
	require.Equal(t, 1, s.EarlyDeaths)
	require.Equal(t, 0, s.Restarts, "not a failure until the RM reports it")
	require.Equal(t, 0, s.Policy.TotalFailures)

	// The connection broke, the process lives: it reconnects.
	code, _ = liveConn(t, url, id, nil, bearer("cred-secret", r.att.String()))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, tmRunning, r.fleet.stateOf(id))
	require.Equal(t, 0, r.Status().LostUnconfirmed)
}

// TestLiveWithoutSecret: without a credentials secret a liveness
// connection must come from the container's node; one from another
// address is refused, and its close changes nothing.
func TestLiveWithoutSecret(t *testing.T) {
	r, url := newHTTPRunnerSecret(t, io.Discard, nil, nil)
	id := runningTM(r, 2, "127.0.0.1")
	code, _ := liveConn(t, url, id, net.ParseIP("127.0.0.2"), "")
	require.Equal(t, http.StatusForbidden, code, "from another address")
	stays(t, r.fleet, id, tmRunning)

	code, c := liveConn(t, url, id, net.ParseIP("127.0.0.1"), "")
	require.Equal(t, http.StatusOK, code)
	c.Close()
	waitState(t, r.fleet, id, tmLost)
}

// TestLiveCloseWhileStopping: closes while the AM stops the TaskManager,
// or ends (the fleet closed, the endpoint stopping), count for nothing.
func TestLiveCloseWhileStopping(t *testing.T) {
	r, url := newHTTPRunnerSecret(t, io.Discard, nil, nil)
	id := runningTM(r, 2, "127.0.0.1")
	id3 := runningTM(r, 3, "127.0.0.1")
	_, c := liveConn(t, url, id, nil, "")
	_, c3 := liveConn(t, url, id3, nil, "")
	r.fleet.mu.Lock()
	r.fleet.setStateLocked(r.fleet.tms[id], tmStopping) // stopAll
	r.fleet.mu.Unlock()
	c.Close()
	stays(t, r.fleet, id, tmStopping)
	r.setPhase(amapi.PhaseStopping, nil) // finish closes the fleet first
	c3.Close()
	stays(t, r.fleet, id3, tmRunning)
	require.Equal(t, 0, r.Status().EarlyDeaths)
}

// TestLiveRestoreReleasesTheSurplus: a TaskManager taken for dead whose
// replacement already runs comes back: the fleet releases the
// replacement (the RM kills it) and is at its target again; a start
// that completes for a released container leaves it released.
func TestLiveRestoreReleasesTheSurplus(t *testing.T) {
	f := newTestFleet(t, amapi.RestartPolicy{})
	now := time.Now()
	a := f.launching(2, "n1", now.Add(-time.Minute))
	b := f.launching(3, "n2", now.Add(-time.Minute))
	require.Nil(t, f.onLaunched(launchResult{id: a}, now.Add(-time.Minute)))
	require.Nil(t, f.onLaunched(launchResult{id: b}, now.Add(-time.Minute)))
	ga, ok := f.liveOpened(a, 0)
	require.True(t, ok)
	f.liveClosed(a, ga, true, now)
	require.Equal(t, tmLost, f.stateOf(a))
	// The replacement is allocated and being started.
	repl := f.launching(4, "n3", now)
	_, ok = f.liveOpened(a, 0)
	require.True(t, ok)
	require.Equal(t, tmRunning, f.stateOf(a))
	require.Equal(t, tmStopping, f.stateOf(repl), "the newest, the replacement, is released")
	require.Equal(t, tmRunning, f.stateOf(b))
	require.Nil(t, f.onLaunched(launchResult{id: repl}, now))
	require.Equal(t, tmStopping, f.stateOf(repl), "its start completing does not bring it back")
	f.mu.Lock()
	require.Equal(t, 2, f.activeLocked())
	f.mu.Unlock()
	// Its completion is quiet: no failure, no replacement.
	_, fin := f.allocated(&yarn.AllocateResult{Completed: []yarn.ContainerStatus{{ID: repl, ExitStatus: yarn.ExitAborted}}}, now)
	require.Nil(t, fin)
	s := amapi.Status{}
	f.fill(&s, "")
	require.Equal(t, 0, s.Restarts)
	require.Equal(t, 2, s.Running)
}

// TestLiveLostThenReported: the RM's report of a TaskManager taken for
// dead goes through the one failure path with its real exit status,
// once; no second replacement is asked for.
func TestLiveLostThenReported(t *testing.T) {
	f := newTestFleet(t, amapi.RestartPolicy{Window: time.Minute, MaxFailures: 5})
	now := time.Now()
	a := f.launching(2, "n1", now)
	require.Nil(t, f.onLaunched(launchResult{id: a}, now))
	g, _ := f.liveOpened(a, 0)
	f.liveClosed(a, g, true, now)
	f.mu.Lock()
	require.Equal(t, 0, f.activeLocked())
	f.mu.Unlock()
	repl := f.launching(3, "n2", now)
	require.Nil(t, f.onLaunched(launchResult{id: repl}, now))
	_, fin := f.allocated(&yarn.AllocateResult{Completed: []yarn.ContainerStatus{{ID: a, ExitStatus: 137}}}, now.Add(time.Second))
	require.Nil(t, fin)
	s := amapi.Status{}
	f.fill(&s, "")
	require.Equal(t, 1, s.Restarts)
	require.Len(t, s.Completions, 1)
	require.Equal(t, int32(137), s.Completions[0].ExitStatus)
	require.Equal(t, "failed", s.Completions[0].ClassName)
	require.Equal(t, 0, s.LostUnconfirmed)
	require.Equal(t, 1, s.EarlyDeaths)
	f.mu.Lock()
	require.Equal(t, 1, f.activeLocked(), "the replacement only: the reported one is gone, nothing asked for twice")
	f.mu.Unlock()
}
