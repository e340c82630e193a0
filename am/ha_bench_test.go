package am_test

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// BenchmarkRMFailover (issue 21): an RM HA pair whose standby wins the
// election 10 s after the active RM dies (ZooKeeper's default session
// timeout), NodeManagers heartbeating every second, a session of two
// TaskManagers (real processes) run by the real AM with its default
// heartbeats. At T0 the active RM is killed; right after, `spindle app
// list` is started and one TaskManager is SIGKILLed. Measured from T0:
//
//	election-s      the standby active (the pair's ElectionDelay)
//	cli-s           (a) `spindle app list` exits 0
//	reregistered-s  (b) the RM holds the AM's new registration
//	replacement-s   (c) the AM reports the replacement TaskManager running
//
// Two client configurations: "probe" is yarn-site.xml with Hadoop's
// defaults (no failover sleeps set: Spindle probes for the election);
// "hadoop-sleeps" sets yarn.client.failover-sleep-base-ms and -max-ms to
// their default value, 30 s, which Spindle follows as set, as it did
// before by default: that is the "before".
//
//	go test -run '^$' -bench BenchmarkRMFailover -benchtime 1x -timeout 20m ./am/
func BenchmarkRMFailover(b *testing.B) {
	const election = 10 * time.Second
	for _, v := range []struct {
		name string
		site func(map[string]string)
	}{
		{"probe", nil},
		{"hadoop-sleeps", func(y map[string]string) {
			y["yarn.client.failover-sleep-base-ms"] = "30000"
			y["yarn.client.failover-sleep-max-ms"] = "30000"
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			var el, cli, rereg, repl []float64
			for i := 0; i < b.N; i++ {
				r := failoverOnce(b, election, v.site)
				b.Logf("run %d: election %.2fs, (a) cli %.2fs, (b) re-registered %.2fs, (c) replacement running %.2fs", i, r[0], r[1], r[2], r[3])
				el, cli, rereg, repl = append(el, r[0]), append(cli, r[1]), append(rereg, r[2]), append(repl, r[3])
			}
			b.ReportMetric(median(el), "election-s")
			b.ReportMetric(median(cli), "cli-s")
			b.ReportMetric(median(rereg), "reregistered-s")
			b.ReportMetric(median(repl), "replacement-s")
			b.ReportMetric(median(cli)-median(el), "cli-after-election-s")
			b.ReportMetric(median(rereg)-median(el), "reregistered-after-election-s")
			b.ReportMetric(median(repl)-median(el), "replacement-after-election-s")
		})
	}
}

// failoverOnce runs one failover and returns, in seconds from the kill,
// the election, the CLI's answer, the AM's re-registration and the
// replacement running.
func failoverOnce(b *testing.B, election time.Duration, site func(map[string]string)) [4]float64 {
	h := haHarness(b, 2, election, func(o *minicluster.Options) {
		o.NodeManager.HeartbeatInterval = minicluster.DefaultHeartbeatInterval
		o.RM.AMExpiry = 2 * time.Minute
		o.RM.NMExpiry = 2 * time.Minute
	}, site)
	ctx := testutil.Context(b, 5*time.Minute)
	a := h.submit(ctx, h.sessionSpec(2), "", nil)
	url := a.amURL(ctx, 1)
	s := a.waitStatus(ctx, url, "2 running and connected", func(s amapi.Status) bool { return s.Running == 2 && allLive(s) })
	att := yarn.AttemptID{App: a.id, Attempt: 1}
	victim := mustParse(b, s.TaskManagers[1].ContainerID)

	t0 := time.Now()
	_, err := h.c.RM().KillActive()
	require.NoError(b, err)
	cliDone := make(chan error, 1)
	var cliAt time.Time
	go func() {
		cmd := exec.CommandContext(ctx, spindleBinary(b), "app", "list")
		cmd.Env = append(os.Environ(), "HADOOP_CONF_DIR="+h.confDir, "HADOOP_USER_NAME="+testUser)
		out, err := cmd.CombinedOutput()
		cliAt = time.Now()
		if err != nil {
			err = fmt.Errorf("spindle app list: %w\n%s", err, out)
		}
		cliDone <- err
	}()
	h.killContainer(victim)

	at := h.waitRegistered(ctx, att, t0)
	_, activeSince := h.c.RM().ActiveID()
	var replAt time.Time
	for {
		st, err := a.status(ctx, url)
		if err == nil && st.Running == 2 && st.LostUnconfirmed == 0 && !slices.Contains(tmIDs(st), victim.String()) {
			replAt = time.Now()
			break
		}
		select {
		case <-ctx.Done():
			b.Fatalf("waiting for the replacement: %v (last status error %v)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.NoError(b, <-cliDone)
	a.finishApp(b, ctx, url)
	sec := func(t time.Time) float64 { return t.Sub(t0).Seconds() }
	return [4]float64{sec(activeSince), sec(cliAt), sec(at), sec(replAt)}
}
