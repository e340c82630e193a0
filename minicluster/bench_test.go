package minicluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// The benchmarks run at YARN's default heartbeat interval (1 s), so they
// measure what an application sees on a real cluster: allocation waits
// for node heartbeats. The AM is the puppet (the test process speaks the
// AMRM protocol with the token from the AM container).

// BenchmarkSubmitToRegistered: getNewApplication + submit until the AM
// container runs and the AM is registered.
func BenchmarkSubmitToRegistered(b *testing.B) {
	c := newTestCluster(b, 1, func(o *Options) { o.NodeManager.HeartbeatInterval = DefaultHeartbeatInterval })
	rmc := rmClient(b, c)
	ctx := testutil.Context(b, 10*time.Minute)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := submitPuppet(b, ctx, c, rmc, nil)
		amrm := p.client()
		_, err := amrm.Register(ctx, "am-host", -1, "")
		require.NoError(b, err)
		b.StopTimer()
		require.NoError(b, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
		p.exit(0)
		waitState(b, ctx, rmc, p.app, yarn.StateFinished)
		b.StartTimer()
	}
}

// BenchmarkContainersRunning: from the AM's ask for N containers to all N
// processes running, on two nodes.
func BenchmarkContainersRunning(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			c := newTestCluster(b, 2, func(o *Options) {
				o.NodeManager.HeartbeatInterval = DefaultHeartbeatInterval
				o.NodeManager.Resource = yarn.Resource{MemoryMB: 64 * 1024, VCores: 64}
			})
			rmc := rmClient(b, c)
			ctx := testutil.Context(b, 10*time.Minute)
			p := submitPuppet(b, ctx, c, rmc, nil)
			amrm := p.client()
			_, err := amrm.Register(ctx, "am-host", -1, "")
			require.NoError(b, err)
			nmc := p.nmClient(amrm)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < n; j++ {
					require.NoError(b, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 1024, VCores: 1}}))
				}
				var all []yarn.Container
				started := 0
				for started < n {
					r, err := amrm.Allocate(ctx, 0)
					require.NoError(b, err)
					if len(r.Allocated) > 0 {
						startAll(b, ctx, nmc, r.Allocated, "sleep 600")
						all = append(all, r.Allocated...)
						started += len(r.Allocated)
					}
					if started < n {
						time.Sleep(100 * time.Millisecond) // an AM heartbeating every 100 ms
					}
				}
				for _, ct := range all {
					waitRunning(b, ctx, c, ct.ID)
				}
				b.StopTimer()
				for _, ct := range all {
					amrm.Release(ct.ID)
				}
				allocateUntil(b, ctx, amrm, "releases", func(a *yarn.AllocateResult) bool { return completedOf(a, all) == n })
				b.StartTimer()
			}
			b.StopTimer()
			require.NoError(b, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
			p.exit(0)
		})
	}
}
