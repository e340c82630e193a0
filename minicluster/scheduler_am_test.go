package minicluster

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// javaDateRE matches javaDate's output, the "[date] " of the
// CapacityScheduler's diagnostics.
const javaDateRE = `\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [+-]\d{4} \d{4}\] `

// TestAMResourceLimit: with maximum-am-resource-percent 0.1 (the
// default) a second application whose AM does not fit in its queue's AM
// share stays ACCEPTED and not activated, with Hadoop 3.3.6's
// diagnostics word for word (FiCaSchedulerApp.getPendingAppDiagnosticMessage),
// queue and user limit alike; once the first application ends it is
// activated and its AM runs.
func TestAMResourceLimit(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) {
		o.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1}
		o.RM.Queues = []QueueOptions{{Name: "default", Capacity: 90}, {Name: "small", Capacity: 10}}
	})
	ctx := testutil.Context(t, 60*time.Second)
	rmc := rmClient(t, c)
	conf := c.ClientConfig()
	require.Equal(t, "0.1", conf["yarn.scheduler.capacity.maximum-am-resource-percent"], "YARN's default, written for clients")
	require.Equal(t, "0.1", conf["yarn.scheduler.capacity.root.small.maximum-am-resource-percent"])
	amOf := func(mb int64, queue string) func(*yarn.AppSpec) {
		return func(s *yarn.AppSpec) {
			s.AMResource, s.Queue, s.MaxAttempts = yarn.Resource{MemoryMB: mb, VCores: 1}, queue, 1
		}
	}

	t.Run("queue", func(t *testing.T) {
		first := submitPuppet(t, ctx, c, rmc, amOf(512, "default"))
		spec := yarn.AppSpec{Queue: "default", AMResource: yarn.Resource{MemoryMB: 512, VCores: 1}, MaxAttempts: 1,
			AM: yarn.ContainerLaunchContext{Commands: []string{puppetCommand}}}
		second := submit(t, ctx, rmc, spec)
		// 8192 MB * 0.1 = 819.2, +0.5 rounded up to 128 MB: 896; the
		// user's limit is of the 90% guarantee: 737.28 -> 768.
		want := regexp.MustCompile("^" + javaDateRE + regexp.QuoteMeta("Application is added to the scheduler and is not yet activated. "+
			"Queue's AM resource limit exceeded.  Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = <memory:512, vCores:1>; "+
			"Queue Resource Limit for AM = <memory:896, vCores:1>; User AM Resource Limit of the queue = <memory:768, vCores:1>; "+
			"Queue AM Resource Usage = <memory:512, vCores:1>; ") + "$")
		r, err := rmc.GetApplicationReport(ctx, second)
		require.NoError(t, err)
		require.Equal(t, yarn.StateAccepted, r.State)
		require.Regexp(t, want, r.Diagnostics, "set at submission, in the first report")
		// Node heartbeats go on; the application stays pending.
		for range 3 {
			require.NoError(t, c.NodeManager(0).Heartbeat(ctx))
		}
		r, err = rmc.GetApplicationReport(ctx, second)
		require.NoError(t, err)
		require.Equal(t, yarn.StateAccepted, r.State)
		require.Regexp(t, want, r.Diagnostics)

		require.NoError(t, rmc.KillApplication(ctx, first.app, "make room"))
		p := &puppet{t: t, c: c, rmc: rmc, app: second}
		p.waitAttempt(ctx, 1) // activated, its AM container runs
		require.NoError(t, rmc.KillApplication(ctx, second, "done"))
	})

	t.Run("user", func(t *testing.T) {
		// Queue "small": 10% guaranteed, 100% maximum. The queue's AM
		// limit is of its maximum (896 MB), the user's of its guarantee:
		// 819.2 * 0.1 = 81.92 -> 128 MB.
		first := submitPuppet(t, ctx, c, rmc, amOf(128, "small"))
		spec := yarn.AppSpec{Queue: "small", AMResource: yarn.Resource{MemoryMB: 128, VCores: 1}, MaxAttempts: 1,
			AM: yarn.ContainerLaunchContext{Commands: []string{puppetCommand}}}
		second := submit(t, ctx, rmc, spec)
		r, err := rmc.GetApplicationReport(ctx, second)
		require.NoError(t, err)
		require.Equal(t, yarn.StateAccepted, r.State)
		require.Regexp(t, "^"+javaDateRE+regexp.QuoteMeta("Application is added to the scheduler and is not yet activated. "+
			"User's AM resource limit exceeded.  Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = <memory:128, vCores:1>; "+
			"Queue Resource Limit for AM = <memory:896, vCores:1>; User AM Resource Limit of the queue = <memory:128, vCores:1>; "+
			"Queue AM Resource Usage = <memory:128, vCores:1>; ")+"$", r.Diagnostics)
		require.NoError(t, rmc.KillApplication(ctx, first.app, "make room"))
		p := &puppet{t: t, c: c, rmc: rmc, app: second}
		p.waitAttempt(ctx, 1)
		require.NoError(t, rmc.KillApplication(ctx, second, "done"))
	})
}

// realRMNotActivated is what a real Hadoop 3.1.3 ResourceManager said
// (yarn application -status) of a second DistributedShell application
// whose 512 MB AM did not fit: one 8192 MB NodeManager,
// yarn.scheduler.minimum-allocation-mb 128, the stock
// capacity-scheduler.xml (queue default at 100%, maximum-am-resource-percent
// 0.1), the first application's 512 MB AM running. Its date is cut off.
// 3.1.3 and 3.3.6 build it alike (FiCaSchedulerApp.getPendingAppDiagnosticMessage).
const realRMNotActivated = "Application is added to the scheduler and is not yet activated. Queue's AM resource limit exceeded.  " +
	"Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = <memory:512, vCores:1>; Queue Resource Limit for AM = <memory:896, vCores:1>; " +
	"User AM Resource Limit of the queue = <memory:896, vCores:1>; Queue AM Resource Usage = <memory:512, vCores:1>; "

// TestAMResourceLimitAsARealRM: the same cluster and applications as
// realRMNotActivated give the same diagnostics, byte for byte after the
// date.
func TestAMResourceLimitAsARealRM(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) { o.RM.MinAllocation = yarn.Resource{MemoryMB: 128, VCores: 1} })
	ctx := testutil.Context(t, 60*time.Second)
	rmc := rmClient(t, c)
	submitPuppet(t, ctx, c, rmc, func(s *yarn.AppSpec) { s.AMResource = yarn.Resource{MemoryMB: 512, VCores: 1} })
	second := submit(t, ctx, rmc, yarn.AppSpec{AMResource: yarn.Resource{MemoryMB: 512, VCores: 1}, AM: yarn.ContainerLaunchContext{Commands: []string{puppetCommand}}})
	r, err := rmc.GetApplicationReport(ctx, second)
	require.NoError(t, err)
	require.Regexp(t, "^"+javaDateRE+regexp.QuoteMeta(realRMNotActivated)+"$", r.Diagnostics)
}
