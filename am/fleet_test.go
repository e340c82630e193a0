package am

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

// newTestFleet is a fleet whose clients never dial (nothing here needs
// the RM or a NodeManager: releases and blacklists are queued locally).
func newTestFleet(t *testing.T, p amapi.RestartPolicy) *fleet {
	t.Helper()
	amrm, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: "127.0.0.1:1"}},
		Token: &ipc.Token{Kind: ipc.KindAMRMToken, Identifier: []byte("id"), Password: []byte("pw")}})
	require.NoError(t, err)
	nm, err := yarn.NewNMClient(yarn.NMOptions{Tokens: amrm.NMTokens()})
	require.NoError(t, err)
	t.Cleanup(func() { amrm.Close(); nm.Close() })
	app := yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}
	att := yarn.AttemptID{App: app, Attempt: 1}
	f, err := newFleet(amapi.TaskManagerSpec{Count: 2, MemoryMB: 512, Command: "tm"}, att, yarn.ContainerID{Attempt: att, ID: 1},
		amrm, nm, NewTracker("TaskManager", p, func() float64 { return 0.5 }), newMetrics(), zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	f.setOpen(true)
	return f
}

// launching puts a container in the fleet as being started on node.
func (f *fleet) launching(id int64, node string, now time.Time) yarn.ContainerID {
	cid := yarn.ContainerID{Attempt: f.att, ID: id}
	f.mu.Lock()
	f.putLocked(cid, &taskManager{c: yarn.Container{ID: cid, Node: yarn.NodeID{Host: node, Port: 8041}, NodeHTTPAddress: node + ":8042"},
		state: tmLaunching, since: now})
	f.mu.Unlock()
	return cid
}

// TestLaunchErrorsRecoverableOrNot: a start refused because the
// NodeManager is not ready (NMNotYetReadyException) or unreachable is
// replaced without counting against the restart policy, as nomad's
// restart tracker treats recoverable start errors; a start the
// NodeManager refuses for the container itself is a failure on its node,
// through the same path as a failed TaskManager (decision code, node
// quarantine).
func TestLaunchErrorsRecoverableOrNot(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	notReady := &yarn.ContainerError{Class: "org.apache.hadoop.yarn.exceptions.NMNotYetReadyException", Message: "Rejecting new containers"}
	require.True(t, errors.Is(notReady, yarn.ErrNMNotYetReady))
	refused := &yarn.ContainerError{Class: "org.apache.hadoop.yarn.exceptions.YarnException", Message: "Container start refused"}
	cases := []struct {
		name        string
		err         error
		class       string
		failures    int
		code        string
		quarantined string
	}{
		{"not-ready", fmt.Errorf("yarn: startContainers: %w", notReady), classLaunchRecoverable, 0, "", ""},
		{"unreachable", &ipc.ConnError{Addr: "nm:8041", Op: "dial", Err: errors.New("connection refused")}, classLaunchRecoverable, 0, "", ""},
		{"refused", refused, classLaunchFailed, 1, string(ReasonReplaceNow), "node-a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFleet(t, amapi.RestartPolicy{NodeFailures: 1, MaxFailures: 5, Window: time.Minute})
			id := f.launching(2, "node-a", now)
			require.Nil(t, f.onLaunched(launchResult{id: id, err: tc.err}, now))
			var s amapi.Status
			f.fill(&s, "")
			require.Empty(t, s.TaskManagers, "the container is released")
			require.Equal(t, 1, s.Restarts, "replaced")
			require.Len(t, s.Completions, 1)
			c := s.Completions[0]
			require.Equal(t, tc.class, c.ClassName)
			require.Equal(t, tc.code, c.DecisionCode)
			require.Equal(t, tc.quarantined, c.QuarantinedNode)
			require.Equal(t, tc.failures, f.tr.State(now).TotalFailures)
			// The replacement is requested at once: no backoff holds it.
			changed, hold, fin := f.reconcile(now)
			require.True(t, changed)
			require.True(t, hold.IsZero())
			require.Nil(t, fin)
		})
	}
}

// TestOneFailurePathGivesUp: failed TaskManagers and failed starts count
// in the same window; the one over the limit ends the application with
// the max_failures_exceeded code and the policy's diagnostics.
func TestOneFailurePathGivesUp(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newTestFleet(t, amapi.RestartPolicy{MaxFailures: 1, Window: time.Minute, NodeFailures: -1})
	a := f.launching(2, "node-a", now)
	require.Nil(t, f.onLaunched(launchResult{id: a, err: errors.New("yarn: container refused")}, now))
	b := f.launching(3, "node-b", now)
	require.Nil(t, f.onLaunched(launchResult{id: b}, now))
	_, fin := f.allocated(&yarn.AllocateResult{Completed: []yarn.ContainerStatus{{ID: b, ExitStatus: 1, Diagnostics: "boom"}}}, now.Add(time.Second))
	require.NotNil(t, fin)
	require.Equal(t, yarn.FinalFailed, fin.Status)
	require.Contains(t, fin.Diagnostics, "exceed the limit of 1 (max_failures)")
	var s amapi.Status
	f.fill(&s, "")
	require.Len(t, s.Completions, 2)
	require.Equal(t, []string{string(ReasonReplaceNow), string(ReasonGiveUp)}, []string{s.Completions[0].DecisionCode, s.Completions[1].DecisionCode})
	require.Equal(t, string(ReasonGiveUp), f.tr.State(now).LastDecisionCode)
}

// TestStatusLogLinks: running TaskManagers and completions carry their
// NodeManager log page (/node/containerlogs/<container>/<user>); without
// the application user there are no links.
func TestStatusLogLinks(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	f := newTestFleet(t, amapi.RestartPolicy{MaxFailures: 5, Window: time.Minute, NodeFailures: -1})
	a := f.launching(2, "node-a", now)
	require.Nil(t, f.onLaunched(launchResult{id: a}, now))
	b := f.launching(3, "node-b", now)
	require.Nil(t, f.onLaunched(launchResult{id: b}, now))
	_, fin := f.allocated(&yarn.AllocateResult{Completed: []yarn.ContainerStatus{{ID: b, ExitStatus: 1, Diagnostics: "boom"}}}, now.Add(time.Second))
	require.Nil(t, fin)
	var s amapi.Status
	f.fill(&s, "alice")
	require.Len(t, s.TaskManagers, 1)
	require.Equal(t, "http://node-a:8042/node/containerlogs/"+a.String()+"/alice", s.TaskManagers[0].LogURL)
	require.Len(t, s.Completions, 1)
	require.Equal(t, "http://node-b:8042/node/containerlogs/"+b.String()+"/alice", s.Completions[0].LogURL)
	require.Equal(t, "node-b:8042", f.tr.State(now).LastFailures[0].NodeHTTP, "the policy keeps the node's web address for its last failures' links")
	var anon amapi.Status
	f.fill(&anon, "")
	require.Empty(t, anon.TaskManagers[0].LogURL)
}
