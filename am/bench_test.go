package am_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// BenchmarkFleet measures the AM from registration to N TaskManagers
// running (started on their NodeManagers) on eight NodeManagers that hand
// out up to 16 off-switch containers per 250 ms heartbeat, the AM's
// resident memory (its process_resident_memory_bytes) once they run, and
// the containers the RM allocated beyond the asks (YARN's ask-table race:
// a decremented total overtakes allocations in flight), which the AM
// released unstarted. The TaskManagers are `sleep`, so the payload costs
// nothing; on a small machine the NodeManagers' container launches
// (bash, in this process's mini cluster) dominate.
//
//	go test -run '^$' -bench BenchmarkFleet -benchtime 1x ./am/
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{8, 64, 256} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			h := newHarness(b, 8, func(o *minicluster.Options) {
				o.RM.OffSwitchPerHeartbeat = 16
				o.RM.MinAllocation = yarn.Resource{MemoryMB: 32, VCores: 1}
			})
			spec := h.sessionSpec(n)
			spec.TaskManagers.MemoryMB = 32
			spec.TaskManagers.Command = "exec sleep 3600"
			spec.TaskManagers.Files = map[string]amapi.LocalFile{} // nothing to localize
			var total time.Duration
			var rss, excess float64
			for i := 0; i < b.N; i++ {
				ctx := testutil.Context(b, 5*time.Minute)
				a := h.submit(ctx, spec, "--heartbeat-fast 100ms --heartbeat-idle 1s", nil)
				url := a.amURL(ctx, 1)
				s := a.waitStatus(ctx, url, fmt.Sprintf("%d running", n), func(s amapi.Status) bool { return s.Running == n })
				took := time.Since(*s.RegisteredAt)
				total += took
				rss = amMetric(b, ctx, url, "process_resident_memory_bytes")
				excess += amMetric(b, ctx, url, "spindle_am_containers_released_excess_total")
				require.Equal(b, n, s.Running)
				require.Zero(b, s.Restarts)
				require.Len(b, a.liveContainers(), n+1)
				require.Equal(b, 202, a.stop(ctx, url, a.secret))
				require.Equal(b, yarn.FinalSucceeded, a.waitEnd(ctx).FinalStatus)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/registered→running")
			b.ReportMetric(rss/(1<<20), "MiB-AM-RSS")
			b.ReportMetric(excess/float64(b.N), "excess-released")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// amMetric reads one metric of the AM's /metrics.
func amMetric(b testing.TB, ctx context.Context, url, name string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/metrics", nil)
	require.NoError(b, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(b, err)
			return f
		}
	}
	b.Fatalf("no %s in the AM's metrics", name)
	return 0
}
