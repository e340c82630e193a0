package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/promtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/promsd"
	"github.com/spindle-yarn/spindle/yarn"
)

// The acceptance test of issue #19 with a real Prometheus: a session on
// the mini cluster, Prometheus configured once with http_sd_configs
// pointing at `spindle metrics serve`; the AM's series arrive with the
// discovery's labels, and after a SIGKILL of the AM the series of
// attempt 2 arrive (and attempt 1's go stale) with the same
// configuration. Intervals are short (1 s); every wait polls
// Prometheus's API with a generous deadline (the machine may be slow).
func TestMetricsDiscoveryPrometheus(t *testing.T) {
	if promtest.Binary() == "" && os.Getenv(promtest.RequireEnv) != "1" {
		t.Skip("prometheus not installed (apt-get install prometheus)")
	}
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(6 * time.Minute)

	code, out, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "-nm", "metrics-demo",
		"--payload", "example", "--output", "json")
	require.Equal(t, 0, code, errOut)
	id := events(t, out)[0]["app_id"].(string)
	appID, err := yarn.ParseApplicationID(id)
	require.NoError(t, err)
	t.Cleanup(func() { lc.cli(lc.ctx(time.Minute), "session", "stop", id) })

	// spindle metrics targets: the AM's group with every label.
	code, out, errOut = lc.cli(ctx, "metrics", "targets", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var groups []promsd.Group
	require.NoError(t, json.Unmarshal([]byte(out), &groups))
	require.Len(t, groups, 1, "the example payload serves no metrics of its own: the AM only")
	am1 := groups[0].Labels
	amContainer1 := yarn.ContainerID{Attempt: yarn.AttemptID{App: appID, Attempt: 1}, ID: 1}.String()
	require.Equal(t, map[string]string{"app_id": id, "app_name": "metrics-demo", "queue": "default", "user": testUser, "mode": "session",
		"payload": "example", "attempt": "1", "role": "am", "container_id": amContainer1, "node": am1["node"]}, am1)
	require.NotEmpty(t, am1["node"])
	code, out, _ = lc.cli(ctx, "metrics", "targets")
	require.Equal(t, 0, code)
	require.Regexp(t, id+`\s+1\s+am\s+\S+:\d+\s+`+amContainer1+`\s+session\s+example`, out)

	// spindle metrics serve, for Prometheus's http_sd_configs.
	serveCtx, stopServe := context.WithCancel(ctx)
	var serveOut, serveErr testutil.Buffer
	served := make(chan int, 1)
	go func() {
		served <- run(serveCtx, []string{"spindle", "metrics", "serve", "--listen", "127.0.0.1:0", "--max-age", "500ms"}, &serveOut, &serveErr,
			func(k string) (string, bool) { v, ok := lc.env[k]; return v, ok })
	}()
	t.Cleanup(func() {
		stopServe()
		require.Equal(t, 0, <-served, serveErr.String())
	})
	var sdURL string
	re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+/)`)
	testutil.Eventually(t, func() bool {
		m := re.FindStringSubmatch(serveOut.String())
		if m != nil {
			sdURL = m[1]
		}
		return m != nil
	}, time.Minute, 20*time.Millisecond, "metrics serve listening")

	prom := promtest.Start(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: spindle
    http_sd_configs:
      - url: %q
        refresh_interval: 1s
`, sdURL))

	// attemptSeries is the application's spindle_am_attempt, by attempt label.
	attemptSeries := func() map[string]promtest.Sample {
		samples, err := prom.Query(ctx, `spindle_am_attempt{app_id="`+id+`"}`)
		require.NoError(t, err)
		bySeries := map[string]promtest.Sample{}
		for _, s := range samples {
			bySeries[s.Metric["attempt"]] = s
		}
		return bySeries
	}
	var s1 promtest.Sample
	testutil.Eventually(t, func() bool {
		var ok bool
		s1, ok = attemptSeries()["1"]
		return ok
	}, 2*time.Minute, 250*time.Millisecond, "attempt 1's series through Prometheus")
	require.Equal(t, float64(1), s1.Value)
	for k, v := range am1 {
		require.Equal(t, v, s1.Metric[k], "label %s", k)
	}
	require.Equal(t, "spindle", s1.Metric["job"])
	testutil.Eventually(t, func() bool {
		samples, err := prom.Query(ctx, `spindle_am_taskmanagers_running{app_id="`+id+`"} == 1`)
		require.NoError(t, err)
		return len(samples) == 1
	}, 2*time.Minute, 250*time.Millisecond, "the fleet's series")

	// SIGKILL the AM; attempt 2 registers a new tracking URL.
	amc := yarn.ContainerID{Attempt: yarn.AttemptID{App: appID, Attempt: 1}, ID: 1}
	killed := false
	for _, nm := range lc.l.Cluster.NodeManagers() {
		if _, ok := nm.Container(amc); ok {
			require.NoError(t, nm.KillContainerProcess(amc, syscall.SIGKILL))
			killed = true
		}
	}
	require.True(t, killed, "the AM container %s on a NodeManager", amc)
	start := time.Now()
	var s2 promtest.Sample
	testutil.Eventually(t, func() bool {
		series := attemptSeries()
		var ok bool
		s2, ok = series["2"]
		_, old := series["1"]
		return ok && !old
	}, 3*time.Minute, 250*time.Millisecond, "attempt 2's series, and attempt 1's stale")
	t.Logf("AM SIGKILL → attempt 2's series in Prometheus (attempt 1's stale): %v", time.Since(start).Round(time.Millisecond))
	require.Equal(t, float64(2), s2.Value)
	amContainer2 := yarn.ContainerID{Attempt: yarn.AttemptID{App: appID, Attempt: 2}, ID: 1}.String()
	require.Equal(t, amContainer2, s2.Metric["container_id"])
	for _, k := range []string{"app_id", "app_name", "queue", "user", "mode", "payload", "role"} {
		require.Equal(t, am1[k], s2.Metric[k], "label %s", k)
	}
	targets, err := prom.Targets(ctx)
	require.NoError(t, err)
	var active []string
	for _, tg := range targets {
		active = append(active, tg.Labels["attempt"]+" "+tg.Labels["container_id"])
	}
	require.Equal(t, []string{"2 " + amContainer2}, active, "the same configuration, the new attempt's target only")
}
