package flink_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// After an AM attempt change the JobManager is somewhere else (the new
// attempt's node and ports) while the adopted TaskManagers keep running:
// the TaskManager's supervisor notices that its JobManager no longer
// answers, asks where it is now (through the RM and the AM; here a stand-
// in), and restarts java against it. Java's own end is the supervisor's,
// and SIGTERM (the context's end) reaches java.
func TestSuperviseTaskManagerFollowsItsJobManager(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	plan, err := newPayload(t, home200, "").Plan(request(amapi.ModeSession))
	require.NoError(t, err)
	startJM := func() (jm *launch, stop func()) {
		jm = jobManager(t, plan, "FAKE_JAVA_SPEC_VERSION=17")
		p := start(t, ctx, prepare(t, jm), jm.logs)
		return jm, func() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	addrs := func(jm *launch) (rpc, rest string) {
		return net.JoinHostPort(jm.opts.Host, strconv.Itoa(jm.opts.RPCPort)), net.JoinHostPort(jm.opts.Host, strconv.Itoa(jm.opts.RESTPort))
	}
	jm1, stop1 := startJM()
	rpc1, rest1 := addrs(jm1)
	var mu sync.Mutex
	current := rpc1
	locate := func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return current, nil
	}
	const id = "container_1700000000000_0007_01_000002"
	supervise := func(ctx context.Context, jm *launch) (<-chan error, *testutil.Buffer) {
		tm := taskManager(t, plan, jm, id)
		var out, errb testutil.Buffer
		done := make(chan error, 1)
		go func() {
			done <- flink.SuperviseTaskManager(ctx, flink.SuperviseOptions{Launch: tm.opts, Every: 50 * time.Millisecond, Locate: locate,
				Stdout: &out, Stderr: &errb})
		}()
		return done, &errb
	}
	registered := func(rest string) bool {
		var body struct{ TaskManagers []tmInfo }
		resp, err := http.Get("http://" + rest + "/taskmanagers")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		return len(body.TaskManagers) == 1 && body.TaskManagers[0].ID == id
	}
	done, errb := supervise(ctx, jm1)
	testutil.Eventually(t, func() bool { return registered(rest1) }, 10*time.Second, 20*time.Millisecond)

	stop1() // the old attempt's JobManager is gone; the new one is elsewhere
	jm2, _ := startJM()
	rpc2, rest2 := addrs(jm2)
	mu.Lock()
	current = rpc2
	mu.Unlock()
	testutil.Eventually(t, func() bool { return registered(rest2) }, 10*time.Second, 20*time.Millisecond,
		"the TaskManager follows its JobManager; supervisor: %s", errb)
	require.Contains(t, errb.String(), " org.apache.flink.runtime.taskexecutor.TaskManagerRunner (pid ")
	require.Contains(t, errb.String(), "the JobManager moved from "+rpc1+" to "+rpc2)

	resp, err := http.Post("http://"+rest2+"/taskmanagers/"+id+"/exit?code=7", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	var ee *flink.ExitError
	select {
	case err := <-done:
		require.True(t, errors.As(err, &ee), "%v", err)
		require.Equal(t, 7, ee.ExitCode())
		require.EqualError(t, err, "java exited with code 7")
	case <-ctx.Done():
		t.Fatal("the supervisor did not end with java")
	}

	// The NodeManager stops the container: SIGTERM ends the supervisor
	// (its context) and java (143, as a JVM on SIGTERM).
	ctx2, cancel2 := context.WithCancel(ctx)
	done, _ = supervise(ctx2, jm2)
	testutil.Eventually(t, func() bool { return registered(rest2) }, 10*time.Second, 20*time.Millisecond)
	cancel2()
	select {
	case err := <-done:
		require.True(t, errors.As(err, &ee), "%v", err)
		require.Equal(t, 143, ee.ExitCode())
		require.EqualError(t, err, "java exited with code 143")
	case <-ctx.Done():
		t.Fatal("the supervisor did not stop java")
	}
}
