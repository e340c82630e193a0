package minicluster

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/proc"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// haConf is the client configuration of an HA cluster, as a Hadoop
// client reads it from yarn-site.xml.
func haConf(c *Cluster) *conf.Configuration {
	cf := conf.New(conf.Options{})
	for k, v := range c.ClientConfig() {
		cf.Set(k, v, conf.Source{File: "yarn-site.xml"})
	}
	return cf
}

// refused reports whether addr refuses TCP connections, as a standby RM's
// client and scheduler ports do (it does not listen on them).
func refused(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// TestHAPairFailover: an HA pair with manual failover. The standby
// refuses its ports; the configuration names both rm-ids; after the
// active one is killed, nothing answers until rm2 transitions to active,
// then a client call that was waiting answers from rm2, the AM's next
// allocate re-registers and resends its asks (work-preserving: the
// container of the old active's time survives), and new containers carry
// the next epoch. rm1, started again as a standby, can take over again.
func TestHAPairFailover(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) { o.RM.HA = &HAOptions{ElectionDelay: -1} })
	ctx := testutil.Context(t, 60*time.Second)
	rm := c.RM()
	require.Equal(t, []string{"rm1", "rm2"}, rm.HAIDs())
	active, _ := rm.ActiveID()
	require.Equal(t, "rm1", active)
	rm1Client, rm1Sched, err := rm.HAAddrs("rm1")
	require.NoError(t, err)
	rm2Client, rm2Sched, err := rm.HAAddrs("rm2")
	require.NoError(t, err)
	require.True(t, refused(t, rm2Client), "the standby does not listen on its client port")
	require.True(t, refused(t, rm2Sched), "the standby does not listen on its scheduler port")

	cf := haConf(c)
	require.Equal(t, "true", c.ClientConfig()["yarn.resourcemanager.ha.enabled"])
	ro, err := yarn.RMOptionsFromConf(cf)
	require.NoError(t, err)
	require.Equal(t, []yarn.Endpoint{{RMID: "rm1", Addr: rm1Client, Key: "yarn.resourcemanager.address.rm1"}, {RMID: "rm2", Addr: rm2Client, Key: "yarn.resourcemanager.address.rm2"}}, ro.Endpoints)
	ro.User, ro.PollInterval, ro.Logger = testUser, 20*time.Millisecond, testLogger(t)
	rmc, err := yarn.NewRMClient(ro)
	require.NoError(t, err)
	t.Cleanup(func() { rmc.Close() })

	p := submitPuppet(t, ctx, c, rmc, nil)
	ao, err := yarn.AMRMOptionsFromConf(cf)
	require.NoError(t, err)
	ao.Token, ao.FinishInterval, ao.Logger = p.token, 20*time.Millisecond, testLogger(t)
	amrm, err := yarn.NewAMRMClient(ao)
	require.NoError(t, err)
	t.Cleanup(func() { amrm.Close() })
	_, err = amrm.Register(ctx, "am-host", -1, "")
	require.NoError(t, err)
	nmc := p.nmClient(amrm)
	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	first := allocateUntil(t, ctx, amrm, "a container from rm1", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 }).Allocated[0]
	startAll(t, ctx, nmc, []yarn.Container{first}, "sleep 60")
	_, w := waitRunning(t, ctx, c, first.ID)

	killed, err := rm.KillActive()
	require.NoError(t, err)
	require.Equal(t, "rm1", killed)
	require.True(t, refused(t, rm1Client) && refused(t, rm1Sched) && refused(t, rm2Client), "nothing listens while no RM is active")
	id, _ := rm.ActiveID()
	require.Empty(t, id)
	_, err = rm.KillActive()
	require.Error(t, err, "no active RM to kill")

	// A report asked for during the outage answers once rm2 is active.
	type result struct {
		r   yarn.AppReport
		err error
	}
	reports := make(chan result, 1)
	go func() {
		r, err := rmc.GetApplicationReport(ctx, p.app)
		reports <- result{r, err}
	}()
	require.ErrorContains(t, rm.TransitionToActive(ctx, "rm1"), "rm1 is not running")
	require.NoError(t, rm.TransitionToActive(ctx, "rm2"))
	got := <-reports
	require.NoError(t, got.err)
	require.Equal(t, yarn.StateRunning, got.r.State)
	require.Equal(t, "rm2", rmc.Active().RMID)
	require.True(t, refused(t, rm1Client), "rm1 is dead")

	require.NoError(t, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 256, VCores: 1}}))
	r, err := amrm.Allocate(ctx, 0.5)
	require.NoError(t, err)
	require.True(t, r.Resynced, "the new active RM asked the AM to register again")
	second := allocateUntil(t, ctx, amrm, "a container from rm2", func(a *yarn.AllocateResult) bool { return len(a.Allocated) == 1 }).Allocated[0]
	require.Equal(t, int64(1), second.ID.Epoch(), "allocated by the next epoch")
	require.True(t, proc.GroupAlive(w.PID), "the container survived the failover")

	// rm1 comes back as a standby and takes over again (manual failover:
	// rm2 steps down first).
	require.NoError(t, rm.StartStandby("rm1"))
	require.True(t, refused(t, rm1Client), "a standby does not listen")
	require.ErrorContains(t, rm.StartStandby("rm1"), "already running")
	require.NoError(t, rm.TransitionToActive(ctx, "rm1"))
	require.True(t, refused(t, rm2Client), "rm2 stepped down")
	ls, err := rmc.GetApplications(ctx, yarn.AppFilter{})
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, "rm1", rmc.Active().RMID)
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	p.exit(0)
}

// TestHAElection: with automatic failover, the standby becomes active
// ElectionDelay after the active RM died, by itself; a killed RM started
// again is a standby; with no RM running nothing becomes active until
// one is started.
func TestHAElection(t *testing.T) {
	const delay = 300 * time.Millisecond
	c := newTestCluster(t, 1, func(o *Options) {
		o.RM.HA = &HAOptions{IDs: []string{"a", "b"}, ElectionDelay: delay, ClusterID: "yarn-ha"}
	})
	ctx := testutil.Context(t, 30*time.Second)
	rm := c.RM()
	cc := c.ClientConfig()
	require.Equal(t, "a,b", cc["yarn.resourcemanager.ha.rm-ids"])
	require.Equal(t, "yarn-ha", cc["yarn.resourcemanager.cluster-id"])
	require.Equal(t, "true", cc["yarn.resourcemanager.ha.automatic-failover.enabled"])
	require.NotContains(t, cc, "yarn.resourcemanager.address", "HA clients read the per-rm-id keys")

	_, err := rm.KillActive()
	require.NoError(t, err)
	killedAt := time.Now()
	since, err := rm.WaitActive(ctx, "b")
	require.NoError(t, err)
	require.GreaterOrEqual(t, since.Sub(killedAt), delay-10*time.Millisecond, "b won the election after the delay, not before")

	// Both dead: no election until one starts again.
	require.NoError(t, rm.StartStandby("a"))
	_, err = rm.KillActive()
	require.NoError(t, err)
	_, err = rm.WaitActive(ctx, "a")
	require.NoError(t, err)
	_, err = rm.KillActive()
	require.NoError(t, err)
	wctx, cancel := context.WithTimeout(ctx, 2*delay)
	_, err = rm.WaitActive(wctx, "a")
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "no RM runs, none becomes active")
	require.NoError(t, rm.StartStandby("b"))
	_, err = rm.WaitActive(ctx, "b")
	require.NoError(t, err)
}
