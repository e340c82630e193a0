package am_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// The scale benchmarks of issue 16 run the real spindle AM (the binary,
// in its AM container, as BenchmarkFleet does) against a mini cluster
// whose NodeManagers simulate the TaskManager containers
// (minicluster.SimulateOptions): the containers are allocated, started,
// reported and stopped over the real protocols, but no process runs, so
// a 2-core machine can hold thousands. The NodeManagers heartbeat every
// second, Hadoop's default, and the scheduler keeps YARN's defaults (one
// off-switch container per node heartbeat) unless a benchmark says
// otherwise. Each prints its per-run samples and reports medians with
// b.ReportMetric; -benchtime Nx takes N samples. Everything is bounded by
// contexts, so a benchmark that cannot finish fails instead of hanging.
//
//	go test -run '^$' -bench 'BenchmarkAMRegisteredToRunning|BenchmarkAMExcess|BenchmarkTaskManagerKillToReplacement|BenchmarkAMScale|BenchmarkAllocationVsDistributedShell' -benchtime 3x -timeout 60m ./am/
//
// (-benchtime 1x for one sample each, in about 5 minutes.)

// scaleHarness is a harness whose NodeManagers heartbeat every second
// and simulate every container but the AM's.
func scaleHarness(b *testing.B, nodes int, mod func(*minicluster.Options)) *harness {
	return newHarness(b, nodes, func(o *minicluster.Options) {
		o.NodeManager.HeartbeatInterval = minicluster.DefaultHeartbeatInterval
		o.NodeManager.Simulate = &minicluster.SimulateOptions{}
		o.RM.MinAllocation = yarn.Resource{MemoryMB: 32, VCores: 1}
		o.RM.AMExpiry = time.Minute
		o.RM.NMExpiry = time.Minute
		if mod != nil {
			mod(o)
		}
	})
}

// scaleSpec is a session of n simulated TaskManagers of 32 MB each, the
// JobManager a sleeping shell (it costs nothing and talks to nobody),
// with the cluster's nodes in the spec as the submitter puts them there
// (the locality spread; ANY asks with --no-locality-spread).
func (h *harness) scaleSpec(n int) amapi.Spec {
	s := h.sessionSpec(n)
	s.TaskManagers.ClusterNodes = clusterNodes(h.t, h)
	s.JobManager = amapi.ProcessSpec{Command: []string{"sh", "-c", "exec sleep 3600"}}
	s.TaskManagers.MemoryMB = 32
	s.TaskManagers.Command = "exec sleep 3600" // never run: simulated
	s.TaskManagers.Files = map[string]amapi.LocalFile{}
	return s
}

// amMetrics reads the AM's /metrics: every sample without labels, by name.
func amMetrics(b *testing.B, ctx context.Context, url string) map[string]float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/metrics", nil)
	require.NoError(b, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b, err)
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			m[name] = f
		}
	}
	require.NoError(b, sc.Err())
	return m
}

// waitMetrics polls the AM's /metrics every tick until ok holds, and
// returns the time it first held and the metrics then. Polling /metrics
// rather than /v1/status keeps the observer's cost to the AM independent
// of the fleet size.
func waitMetrics(b *testing.B, ctx context.Context, url, what string, tick time.Duration, ok func(map[string]float64) bool) (time.Time, map[string]float64) {
	b.Helper()
	for {
		m := amMetrics(b, ctx, url)
		at := time.Now()
		if ok(m) {
			return at, m
		}
		select {
		case <-ctx.Done():
			b.Fatalf("waiting for %s: %v; last metrics: running %v allocated %v pending %v", what, ctx.Err(),
				m["spindle_am_taskmanagers_running"], m["spindle_am_containers_allocated_total"], m["spindle_am_taskmanagers_pending"])
		case <-time.After(tick):
		}
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// registeredAt is the AM's registration time, from its status.
func (a *app) registeredAt(ctx context.Context, url string) time.Time {
	s := a.waitStatus(ctx, url, "registered", func(s amapi.Status) bool { return s.RegisteredAt != nil })
	return *s.RegisteredAt
}

// finishApp stops the application and waits for its end.
func (a *app) finishApp(b *testing.B, ctx context.Context, url string) {
	require.Equal(b, 202, a.stop(ctx, url, a.secret))
	require.Equal(b, yarn.FinalSucceeded, a.waitEnd(ctx).FinalStatus)
}

// BenchmarkAMRegisteredToRunning: from the AM's registration to N
// TaskManagers running (started on their NodeManagers), at 1 s node
// heartbeats: N=16 on one NodeManager, 64 and 256 on eight. Reports the
// median in ms and in node heartbeats (target: N=16 within 2), and the
// containers the RM allocated beyond the asks that the AM released
// unstarted (spindle_am_containers_released_excess_total, the metric so
// that it reads the same before and after Status grows an excess field).
func BenchmarkAMRegisteredToRunning(b *testing.B) {
	for _, tc := range []struct{ n, nodes int }{{16, 1}, {64, 8}, {256, 8}} {
		b.Run(fmt.Sprintf("N=%d", tc.n), func(b *testing.B) {
			h := scaleHarness(b, tc.nodes, nil)
			spec := h.scaleSpec(tc.n)
			var took, excess []float64
			for i := 0; i < b.N; i++ {
				ctx := testutil.Context(b, 5*time.Minute)
				a := h.submit(ctx, spec, "", nil)
				url := a.amURL(ctx, 1)
				at, m := waitMetrics(b, ctx, url, fmt.Sprintf("%d running", tc.n), 50*time.Millisecond, func(m map[string]float64) bool {
					return m["spindle_am_taskmanagers_running"] == float64(tc.n)
				})
				d := at.Sub(a.registeredAt(ctx, url))
				took = append(took, float64(d.Milliseconds()))
				excess = append(excess, m["spindle_am_containers_released_excess_total"])
				b.Logf("N=%d run %d: registered→running %v (%.1f node heartbeats), excess released %v", tc.n, i, d.Round(time.Millisecond),
					d.Seconds()/minicluster.DefaultHeartbeatInterval.Seconds(), m["spindle_am_containers_released_excess_total"])
				a.finishApp(b, ctx, url)
			}
			ms := median(took)
			b.ReportMetric(ms, "ms-median/registered→running")
			b.ReportMetric(ms/float64(minicluster.DefaultHeartbeatInterval.Milliseconds()), "NM-heartbeats-median")
			b.ReportMetric(median(excess), "excess-released-median")
			b.ReportMetric(0, "ns/op")
			fmt.Printf("registered→running N=%d: median %.0f ms = %.1f NM heartbeats (target N=16: ≤ 2), samples %v ms; excess released median %.0f, samples %v\n",
				tc.n, ms, ms/1000, took, median(excess), excess)
		})
	}
}

// BenchmarkAMExcess: the containers the RM allocated beyond the asks
// that the AM released unstarted, at N=256 on eight NodeManagers whose
// node heartbeats (1 s) hand out up to 16 off-switch containers each, as
// a cluster configured for bulk allocation
// (maximum-offswitch-assignments) does: with YARN's default of one per
// heartbeat (BenchmarkAMRegisteredToRunning) allocations trickle in and
// the ask-table race has nothing to race with. Read from the metric
// spindle_am_containers_released_excess_total, so that the benchmark
// reads the same before and after Status grows an excess field.
func BenchmarkAMExcess(b *testing.B) {
	const n = 256
	h := scaleHarness(b, 8, func(o *minicluster.Options) { o.RM.OffSwitchPerHeartbeat = 16 })
	spec := h.scaleSpec(n)
	var took, excess []float64
	for i := 0; i < b.N; i++ {
		ctx := testutil.Context(b, 5*time.Minute)
		a := h.submit(ctx, spec, "", nil)
		url := a.amURL(ctx, 1)
		at, _ := waitMetrics(b, ctx, url, fmt.Sprintf("%d running", n), 50*time.Millisecond, func(m map[string]float64) bool {
			return m["spindle_am_taskmanagers_running"] == n
		})
		d := at.Sub(a.registeredAt(ctx, url))
		time.Sleep(2 * minicluster.DefaultHeartbeatInterval) // allocations still in flight arrive, and are released
		m := amMetrics(b, ctx, url)
		took = append(took, float64(d.Milliseconds()))
		excess = append(excess, m["spindle_am_containers_released_excess_total"])
		b.Logf("run %d: registered→running %v, excess released %v", i, d.Round(time.Millisecond), excess[i])
		a.finishApp(b, ctx, url)
	}
	b.ReportMetric(median(excess), "excess-released-median")
	b.ReportMetric(median(took), "ms-median/registered→running")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("excess at N=%d (16 off-switch per node heartbeat): median %.0f released unstarted, samples %v; registered→running median %.0f ms\n",
		n, median(excess), excess, median(took))
}

// BenchmarkTaskManagerKillToReplacement: a TaskManager's container is
// SIGKILLed on its node (simulated: it exits 137, "Killed by external
// signal", as a process would); measured from the kill to the
// replacement running, at 1 s node heartbeats. Four TaskManagers on two
// nodes; a restart window of 1 s and a pause between kills make every
// kill a first failure (replaced at once, no backoff).
func BenchmarkTaskManagerKillToReplacement(b *testing.B) {
	const n = 4
	h := scaleHarness(b, 2, nil)
	spec := h.scaleSpec(n)
	spec.Restart = amapi.RestartPolicy{Window: time.Second, MaxFailures: -1, NodeFailures: -1, Jitter: -1}
	ctx := testutil.Context(b, 10*time.Minute)
	a := h.submit(ctx, spec, "", nil)
	url := a.amURL(ctx, 1)
	waitMetrics(b, ctx, url, "all running", 50*time.Millisecond, func(m map[string]float64) bool { return m["spindle_am_taskmanagers_running"] == n })
	var took []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(1500 * time.Millisecond) // the last failure leaves the window
		s, err := a.status(ctx, url)
		require.NoError(b, err)
		id, err := yarn.ParseContainerID(s.TaskManagers[0].ContainerID)
		require.NoError(b, err)
		nm := h.nodeOf(id)
		require.NotNil(b, nm)
		restarted := amMetrics(b, ctx, url)["spindle_am_taskmanagers_restarted_total"]
		b.StartTimer()
		start := time.Now()
		require.NoError(b, nm.KillContainerProcess(id, syscall.SIGKILL))
		at, _ := waitMetrics(b, ctx, url, "the replacement running", 20*time.Millisecond, func(m map[string]float64) bool {
			return m["spindle_am_taskmanagers_restarted_total"] > restarted && m["spindle_am_taskmanagers_running"] == n
		})
		d := at.Sub(start)
		took = append(took, float64(d.Milliseconds()))
		b.Logf("run %d: SIGKILL→replacement running %v", i, d.Round(time.Millisecond))
	}
	b.StopTimer()
	a.finishApp(b, ctx, url)
	ms := median(took)
	b.ReportMetric(ms, "ms-median/kill→replacement")
	b.ReportMetric(ms/float64(minicluster.DefaultHeartbeatInterval.Milliseconds()), "NM-heartbeats-median")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("SIGKILL→replacement running: median %.0f ms = %.1f NM heartbeats, samples %v ms\n", ms, ms/1000, took)
}

// BenchmarkAMScale: the AM with 1,000 and 10,000 simulated TaskManagers
// on 10 NodeManagers (capacity for all, and a scheduler handing out up
// to 1,000 containers per node heartbeat, so that allocation is not the
// bottleneck). Once all run and the AM has settled for a few idle
// heartbeats, it reports the AM process's memory and CPU, read from the
// AM's own /metrics: the AM is a process of its own (its container), so
// these count the AM alone, not the mini cluster in this process, which
// runtime.ReadMemStats or /proc/self here would include.
//
//   - heap in use: go_memstats_heap_inuse_bytes (runtime.ReadMemStats
//     HeapInuse in the AM process), and its RSS
//     (process_resident_memory_bytes, from /proc/<pid>/stat);
//   - CPU per allocate round: process_cpu_seconds_total (utime+stime, as
//     getrusage(RUSAGE_SELF) counts them) over the heartbeat count
//     (spindle_am_heartbeat_latency_seconds_count), from start to the
//     sample. It includes starting the containers, which is part of
//     what the rounds drive.
//
// It prints the 10k/1k ratios; linear growth is ≈10× for the
// per-fleet costs (heap, CPU per round at a fixed round count) — a
// fixed baseline makes the heap ratio smaller, so the heap per
// TaskManager above the 1k run is printed too.
func BenchmarkAMScale(b *testing.B) {
	type sample struct{ heap, rss, cpu, rounds, cpuPerRound, took float64 }
	res := map[int]sample{}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			h := scaleHarness(b, 10, func(o *minicluster.Options) {
				o.NodeManager.Resource = yarn.Resource{MemoryMB: 64 * 1024, VCores: 4096}
				o.RM.OffSwitchPerHeartbeat = 1000
				o.RM.MaxAssignmentsPerHeartbeat = 1000
			})
			spec := h.scaleSpec(n)
			var ss []sample
			for i := 0; i < b.N; i++ {
				ctx := testutil.Context(b, 10*time.Minute)
				a := h.submit(ctx, spec, "", nil)
				url := a.amURL(ctx, 1)
				at, _ := waitMetrics(b, ctx, url, fmt.Sprintf("%d running", n), 250*time.Millisecond, func(m map[string]float64) bool {
					return m["spindle_am_taskmanagers_running"] == float64(n)
				})
				reg := a.registeredAt(ctx, url)
				time.Sleep(10 * time.Second) // a few idle heartbeats: the steady state
				m := amMetrics(b, ctx, url)
				s := sample{heap: m["go_memstats_heap_inuse_bytes"], rss: m["process_resident_memory_bytes"], cpu: m["process_cpu_seconds_total"],
					rounds: m["spindle_am_heartbeat_latency_seconds_count"], took: float64(at.Sub(reg).Milliseconds())}
				s.cpuPerRound = s.cpu / max(s.rounds, 1)
				ss = append(ss, s)
				b.Logf("N=%d run %d: registered→running %.0f ms, heap in use %.1f MiB, RSS %.1f MiB, CPU %.2f s over %.0f allocate rounds = %.2f ms/round",
					n, i, s.took, s.heap/(1<<20), s.rss/(1<<20), s.cpu, s.rounds, 1000*s.cpuPerRound)
				a.finishApp(b, ctx, url)
			}
			pick := func(f func(sample) float64) float64 {
				var xs []float64
				for _, s := range ss {
					xs = append(xs, f(s))
				}
				return median(xs)
			}
			med := sample{heap: pick(func(s sample) float64 { return s.heap }), rss: pick(func(s sample) float64 { return s.rss }),
				cpu: pick(func(s sample) float64 { return s.cpu }), rounds: pick(func(s sample) float64 { return s.rounds }),
				cpuPerRound: pick(func(s sample) float64 { return s.cpuPerRound }), took: pick(func(s sample) float64 { return s.took })}
			res[n] = med
			b.ReportMetric(med.heap/(1<<20), "MiB-AM-heap-inuse-median")
			b.ReportMetric(med.rss/(1<<20), "MiB-AM-RSS-median")
			b.ReportMetric(1000*med.cpuPerRound, "ms-AM-CPU/allocate-round-median")
			b.ReportMetric(med.rounds, "allocate-rounds-median")
			b.ReportMetric(med.took, "ms-median/registered→running")
			b.ReportMetric(0, "ns/op")
			fmt.Printf("AM at N=%d: heap in use %.1f MiB, RSS %.1f MiB, CPU %.2f s / %.0f rounds = %.2f ms per allocate round, registered→running %.0f ms (medians)\n",
				n, med.heap/(1<<20), med.rss/(1<<20), med.cpu, med.rounds, 1000*med.cpuPerRound, med.took)
		})
	}
	k1, k10 := res[1000], res[10000]
	if k1.heap > 0 && k10.heap > 0 {
		fmt.Printf("AM 10k/1k: heap in use ×%.1f (%.1f KiB per TaskManager above 1k), RSS ×%.1f, CPU per allocate round ×%.1f, CPU total ×%.1f (linear ≈ ×10)\n",
			k10.heap/k1.heap, (k10.heap-k1.heap)/9000/1024, k10.rss/k1.rss, k10.cpuPerRound/k1.cpuPerRound, k10.cpu/k1.cpu)
	}
}

// BenchmarkAllocationVsDistributedShell: on the same mini cluster (eight
// NodeManagers, 1 s heartbeats, YARN's scheduler defaults), the time from
// registration to all N containers allocated, for our AM (N TaskManagers)
// and for the allocation pattern of YARN's DistributedShell: every ask an
// ANY ("*") request, one ContainerRequest per container, all added at
// once, allocate every second (AMRMClientAsync's 1000 ms), nothing else.
// The DistributedShell client is this test speaking the AMRM protocol
// with the yarn package's client, with the AMRMToken of a placeholder AM
// container. Prints spindle/distshell (below 1: ours is faster).
func BenchmarkAllocationVsDistributedShell(b *testing.B) {
	for _, n := range []int{64, 256} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			h := scaleHarness(b, 8, nil)
			spec := h.scaleSpec(n)
			var ours, ds []float64
			for i := 0; i < b.N; i++ {
				ctx := testutil.Context(b, 5*time.Minute)
				a := h.submit(ctx, spec, "", nil)
				url := a.amURL(ctx, 1)
				at, _ := waitMetrics(b, ctx, url, fmt.Sprintf("%d allocated", n), 50*time.Millisecond, func(m map[string]float64) bool {
					return m["spindle_am_containers_allocated_total"] >= float64(n)
				})
				ours = append(ours, float64(at.Sub(a.registeredAt(ctx, url)).Milliseconds()))
				a.finishApp(b, ctx, url)

				ds = append(ds, float64(distShellAllocate(b, ctx, h, n).Milliseconds()))
				b.Logf("N=%d run %d: registered→all allocated: spindle %.0f ms, distshell pattern %.0f ms", n, i, ours[i], ds[i])
			}
			mo, md := median(ours), median(ds)
			b.ReportMetric(mo, "ms-median-spindle/registered→allocated")
			b.ReportMetric(md, "ms-median-distshell/registered→allocated")
			b.ReportMetric(mo/md, "spindle/distshell")
			b.ReportMetric(0, "ns/op")
			fmt.Printf("registered→all allocated N=%d: spindle median %.0f ms, distshell pattern median %.0f ms, ratio spindle/distshell %.2f (samples %v / %v)\n",
				n, mo, md, mo/md, ours, ds)
		})
	}
}

// distShellAllocate runs DistributedShell's allocation pattern for n
// containers in a fresh application and returns registered→all
// allocated; the application then unregisters (the RM takes the
// containers back).
func distShellAllocate(b *testing.B, ctx context.Context, h *harness, n int) time.Duration {
	p := h.submitPlaceholder(ctx)
	creds, err := am.ParseCredentials(p.tokens)
	require.NoError(b, err)
	tok, err := yarn.AMRMTokenFromCredentials(creds)
	require.NoError(b, err)
	amrm, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: h.c.RM().SchedulerAddr()}}, Token: tok,
		FinishInterval: 20 * time.Millisecond})
	require.NoError(b, err)
	defer amrm.Close()
	_, err = amrm.Register(ctx, p.host, -1, "")
	require.NoError(b, err)
	start := time.Now()
	for j := 0; j < n; j++ {
		require.NoError(b, amrm.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 32, VCores: 1}}))
	}
	got := 0
	for {
		r, err := amrm.Allocate(ctx, float32(got)/float32(n))
		require.NoError(b, err)
		got += len(r.Allocated)
		if got >= n {
			break
		}
		select {
		case <-ctx.Done():
			b.Fatalf("distshell pattern: %d of %d allocated: %v", got, n, ctx.Err())
		case <-time.After(time.Second):
		}
	}
	took := time.Since(start)
	require.NoError(b, amrm.Finish(ctx, yarn.FinalSucceeded, "", ""))
	return took
}
