package yarn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// within checks d is want ±10% (the schedule's jitter).
func within(t *testing.T, want, d time.Duration, msg string) {
	t.Helper()
	require.GreaterOrEqual(t, d, want-want/10, msg)
	require.LessOrEqual(t, d, want+want/10, msg)
}

// sleepLeft checks that the sleep ending at next was want ±10%: what is
// left of it now may be a little less (the time since it was set).
func sleepLeft(t *testing.T, want time.Duration, next time.Time, msg string) {
	t.Helper()
	d := time.Until(next)
	require.LessOrEqual(t, d, want+want/10, msg)
	require.GreaterOrEqual(t, d, want-want/10-100*time.Millisecond, msg)
}

// The probe schedule: 200 ms doubling to 1.5 s while the outage is
// younger than the window, then Hadoop's long schedule (here its
// default, 30 s); with Probe.Off the long one from the first round.
func TestRoundDelaySchedule(t *testing.T) {
	p := RetryPolicy{BaseDelay: 30 * time.Second, MaxDelay: 30 * time.Second}.withDefaults()
	for n, want := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond} {
		d, probing := p.roundDelay(n+1, 0, time.Duration(n)*time.Second)
		require.True(t, probing)
		within(t, want, d, "probe round")
	}
	d, probing := p.roundDelay(60, 1, time.Minute)
	require.False(t, probing, "the window is over")
	within(t, 30*time.Second, d, "long schedule")

	p.Probe.Off = true
	d, probing = p.roundDelay(1, 1, 0)
	require.False(t, probing)
	within(t, 30*time.Second, d, "probing off")

	exp := RetryPolicy{BaseDelay: time.Second, MaxDelay: 8 * time.Second, Probe: ProbeSchedule{Off: true}}.withDefaults()
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		d, _ := exp.roundDelay(0, n+1, 0)
		within(t, want, d, "long schedule doubles to its cap")
	}
}

// Hadoop's failover sleeps set in the configuration are followed as set:
// no probing. Unset, both follow retry-interval-ms and Spindle probes.
func TestRetryFromConfProbe(t *testing.T) {
	cf := conf.New(conf.Options{})
	cf.Set("yarn.resourcemanager.address", "rm:8032", conf.Source{})
	o, err := RMOptionsFromConf(cf)
	require.NoError(t, err)
	require.False(t, o.Retry.Probe.Off)
	require.Equal(t, 30*time.Second, o.Retry.BaseDelay)

	cf.Set(conf.KeyClientFailoverSleepBaseMS, "2000", conf.Source{File: "yarn-site.xml"})
	o, err = RMOptionsFromConf(cf)
	require.NoError(t, err)
	require.True(t, o.Retry.Probe.Off)
	require.Equal(t, 2*time.Second, o.Retry.BaseDelay)
	a, err := AMRMOptionsFromConf(cf)
	require.NoError(t, err)
	require.True(t, a.Retry.Probe.Off, "the AM's scheduler connection follows the same rule")
}

// The schedule belongs to the client: a round is every endpoint once, a
// finished round sets when the next attempt may go, and a call that
// starts during the outage waits for it instead of starting over.
func TestOutageScheduleIsPerClient(t *testing.T) {
	f, err := newFailover([]Endpoint{{RMID: "rm1", Addr: "a:1"}, {RMID: "rm2", Addr: "b:1"}}, connOptions{}, RetryPolicy{})
	require.NoError(t, err)
	refusedErr := errors.New("connection refused")
	f.failed(0, Failover, mGetApplications, refusedErr)
	require.Equal(t, 1, f.active, "the next rm-id at once")
	require.True(t, f.out.next.IsZero(), "no sleep within a round")
	f.failed(1, Failover, mGetApplications, refusedErr)
	require.Equal(t, 1, f.out.rounds)
	sleepLeft(t, 200*time.Millisecond, f.out.next, "after the first round")
	// A second caller that saw the same endpoint fail does not end another round.
	f.failed(1, Failover, mGetApplications, refusedErr)
	require.Equal(t, 1, f.out.rounds)
	f.failed(0, Failover, mGetApplications, refusedErr)
	f.failed(1, Failover, mGetApplications, refusedErr)
	require.Equal(t, 2, f.out.rounds)
	sleepLeft(t, 400*time.Millisecond, f.out.next, "after the second round")
	f.answered(0)
	require.Equal(t, outage{}, f.out, "an answer ends the outage")
}

// refusingDialer refuses every connection (as a dead RM's or a standby's
// port does) until open is set, then dials for real; it counts dials.
type refusingDialer struct {
	open  atomic.Bool
	dials atomic.Int32
}

func (d *refusingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.dials.Add(1)
	if !d.open.Load() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

// logLines decodes zerolog's JSON lines.
func logLines(t *testing.T, b *testutil.Buffer) []map[string]any {
	var out []map[string]any
	for _, l := range bytes.Split(b.Bytes(), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		m := map[string]any{}
		require.NoError(t, json.Unmarshal(l, &m))
		out = append(out, m)
	}
	return out
}

// An election as clients see it: both rm-ids refuse (the old active died,
// the standby does not listen yet) until the standby wins, then it
// answers. The waiting call gets through at the first round after the
// election, whose sleep was from the probe schedule (not Hadoop's 30 s,
// which is the long schedule here), and the outage ends with one line.
func TestFailoverFollowsElection(t *testing.T) {
	active := yarntest.NewRM(t)
	active.GetClusterMetricsF = func(context.Context, *yarnpb.GetClusterMetricsRequestProto) (*yarnpb.GetClusterMetricsResponseProto, error) {
		return &yarnpb.GetClusterMetricsResponseProto{ClusterMetrics: &yarnpb.YarnClusterMetricsProto{NumNodeManagers: proto.Int32(2)}}, nil
	}
	var d refusingDialer
	var logs testutil.Buffer
	c, err := NewRMClient(RMOptions{
		Endpoints: []Endpoint{{RMID: "rm1", Addr: closedAddr(t), Key: "yarn.resourcemanager.address.rm1"}, {RMID: "rm2", Addr: active.Addr(), Key: "yarn.resourcemanager.address.rm2"}},
		Retry:     RetryPolicy{BaseDelay: 30 * time.Second, MaxDelay: 30 * time.Second},
		Dial:      d.dial, Logger: zerolog.New(&logs).Level(zerolog.DebugLevel)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	ctx := testutil.Context(t, 60*time.Second)

	done := make(chan error, 1)
	go func() {
		_, err := c.GetClusterMetrics(ctx)
		done <- err
	}()
	var lastBackoff time.Duration
	testutil.Eventually(t, func() bool {
		for _, l := range logLines(t, &logs) {
			if l["round"] == 3.0 {
				lastBackoff = time.Duration(l["backoff"].(float64)) * time.Millisecond
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "three rounds refused")
	within(t, 800*time.Millisecond, lastBackoff, "the third round's sleep is from the probe schedule")
	dialsBefore := d.dials.Load()
	d.open.Store(true) // the standby won the election
	require.NoError(t, <-done)
	require.LessOrEqual(t, d.dials.Load()-dialsBefore, int32(2), "through at the first round after the election: at most both rm-ids")
	require.Equal(t, "rm2", c.Active().RMID)

	var warns, ends int
	for _, l := range logLines(t, &logs) {
		switch {
		case l["level"] == "warn":
			warns++
		case l["message"] == "ResourceManager answering again":
			ends++
			require.Equal(t, "rm2", l["rm_id"])
		}
	}
	require.Equal(t, 1, warns, "one warning for the outage, at the end of its first round: %s", logs.Bytes())
	require.Equal(t, 1, ends)
}

// An RM that stays away: one warning when the outage starts, one when the
// probe window ends and the long schedule takes over, and the call fails
// after MaxWait naming the addresses.
func TestOutageWarnsOnceThenOnceMore(t *testing.T) {
	var logs testutil.Buffer
	addr := closedAddr(t)
	c, err := NewRMClient(RMOptions{
		Endpoints: []Endpoint{{Addr: addr, Key: "yarn.resourcemanager.address"}},
		Retry:     RetryPolicy{MaxWait: 900 * time.Millisecond, BaseDelay: 100 * time.Millisecond, MaxDelay: 100 * time.Millisecond, Probe: ProbeSchedule{Window: 300 * time.Millisecond}},
		Logger:    zerolog.New(&logs).Level(zerolog.DebugLevel)})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = c.GetClusterMetrics(testutil.Context(t, 20*time.Second))
	require.ErrorIs(t, err, ErrUnreachable)
	require.ErrorContains(t, err, addr+" (yarn.resourcemanager.address)")
	var warns []map[string]any
	for _, l := range logLines(t, &logs) {
		if l["level"] == "warn" {
			warns = append(warns, l)
		}
	}
	require.Len(t, warns, 2, "%s", logs.Bytes())
	require.NotNil(t, warns[0]["probing_for"])
	require.NotNil(t, warns[1]["unreachable_for"])
}
