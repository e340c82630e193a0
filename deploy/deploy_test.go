package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/spindle-yarn/spindle/deploy/grafana"
)

// The committed dashboard is what the generator makes (make dashboard
// rewrites it).
func TestDashboardCurrent(t *testing.T) {
	want, err := grafana.JSON()
	require.NoError(t, err)
	got, err := os.ReadFile("grafana/spindle.json")
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "deploy/grafana/spindle.json is stale: run make dashboard and commit it")
}

// knownMetrics are the series names that exist: the AM's families as a
// real AM serves them (a histogram's as _bucket, _sum and _count) and
// Flink's, each with its Flink source.
func knownMetrics(t *testing.T) map[string]string {
	t.Helper()
	known := map[string]string{}
	b, err := os.ReadFile("metrics/spindle-am.txt")
	require.NoError(t, err)
	for _, l := range lines(string(b)) {
		name, typ, ok := strings.Cut(l, " ")
		require.True(t, ok, "metrics/spindle-am.txt: %q: want name and type", l)
		switch typ {
		case "histogram":
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[name+s] = "AM"
			}
		case "summary":
			known[name], known[name+"_sum"], known[name+"_count"] = "AM", "AM", "AM"
		default:
			known[name] = "AM"
		}
	}
	b, err = os.ReadFile("metrics/flink.txt")
	require.NoError(t, err)
	for _, l := range lines(string(b)) {
		name, src, ok := strings.Cut(l, "\t")
		require.True(t, ok, "metrics/flink.txt: %q: want name TAB source", l)
		require.True(t, strings.HasPrefix(name, "flink_"), "metrics/flink.txt: %s: the Prometheus reporter's names start with flink_", name)
		require.Regexp(t, `^flink-[a-z-]+/src/main/java/org/apache/flink/\S+\.java \(.+\)$`, src, "metrics/flink.txt: %s names a Flink source file and its constant", name)
		known[name] = src
	}
	return known
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// grafanaVars stand in for the dashboard's variables, so that its
// queries parse as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$app_id", "x")

// metricNames parses expr and returns the metric names its selectors
// name.
func metricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(expr))
	require.NoError(t, err, "%s: %s", where, expr)
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == "__name__" {
					require.Equal(t, "=", m.Type.String(), "%s: %s: name metrics exactly, not by a regular expression", where, expr)
					name = m.Value
				}
			}
			require.NotEmpty(t, name, "%s: %s: a selector without a metric name", where, expr)
			names = append(names, name)
		}
		return nil
	})
	require.NotEmpty(t, names, "%s: %s: no metric", where, expr)
	return names
}

// Every query of the dashboard (panels and variables) and of the alert
// rules names only metrics that exist, and every AM and Flink metric
// the operators asked for is on the dashboard.
func TestQueriesUseKnownMetrics(t *testing.T) {
	known := knownMetrics(t)
	used := map[string]bool{}
	check := func(where, expr string) {
		for _, n := range metricNames(t, where, expr) {
			_, ok := known[n]
			require.True(t, ok, "%s: %s: no metric %s (AM: metrics/spindle-am.txt, from a real AM's scrape; Flink: metrics/flink.txt)", where, expr, n)
			used[n] = true
		}
	}

	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	b, err := os.ReadFile("grafana/spindle.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &dash))
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			check("panel "+p.Title, tg.Expr)
			queries++
		}
	}
	require.Greater(t, queries, 30)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Query.(string))
		require.NotNil(t, m, "variable %s: want label_values(METRIC, LABEL)", v.Name)
		check("variable "+v.Name, m[1])
	}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err = os.ReadFile("prometheus/spindle-rules.yml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &rules))
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			check("alert "+r.Alert, r.Expr)
			alerts = append(alerts, r.Alert)
		}
	}
	require.Subset(t, alerts, []string{"SpindleFleetBelowTarget", "SpindleRestartStorm", "SpindleTokenRefreshFailing", "SpindleAMAttemptChanged"})

	for _, n := range []string{"spindle_am_attempt", "spindle_am_jobmanager_restarts_total", "spindle_am_taskmanagers_target",
		"spindle_am_taskmanagers_running", "spindle_am_taskmanagers_pending", "spindle_am_taskmanagers_launching",
		"spindle_am_fleet_ready_seconds", "spindle_am_container_allocation_seconds_bucket", "spindle_am_containers_released_excess_total",
		"spindle_am_token_expiry_timestamp_seconds", "spindle_am_heartbeat_latency_seconds_bucket", "spindle_am_token_refreshes_total",
		"flink_jobmanager_job_lastCheckpointDuration", "flink_jobmanager_job_numberOfFailedCheckpoints",
		"flink_taskmanager_job_task_numRecordsInPerSecond", "flink_taskmanager_job_task_numRecordsOutPerSecond",
		"flink_taskmanager_job_task_backPressuredTimeMsPerSecond", "flink_taskmanager_Status_JVM_Memory_Heap_Used",
		"flink_taskmanager_Status_JVM_GarbageCollector_G1_Young_Generation_Time"} {
		require.True(t, used[n], "the dashboard or the rules show %s", n)
	}
	var unused []string
	for n, src := range known {
		if src != "AM" && !used[n] {
			unused = append(unused, n)
		}
	}
	slices.Sort(unused)
	t.Logf("Flink metrics listed but not queried: %v", unused)
}

// A query that names a metric nobody serves fails the check (so the
// test above can fail).
func TestUnknownMetricFails(t *testing.T) {
	known := knownMetrics(t)
	names := metricNames(t, "example", `sum(rate(spindle_am_no_such_thing_total{app_id=~"$app_id"}[$__rate_interval])) / on() flink_jobmanager_job_numRestarts`)
	require.Equal(t, []string{"spindle_am_no_such_thing_total", "flink_jobmanager_job_numRestarts"}, names)
	_, ok := known[names[0]]
	require.False(t, ok)
	_, ok = known[names[1]]
	require.True(t, ok)
}

// promtool accepts the rules, and its unit tests of them pass (each
// alert fires on its failure). Skipped without promtool unless
// SPINDLE_REQUIRE_PROMETHEUS=1.
func TestRulesPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("SPINDLE_REQUIRE_PROMETHEUS") == "1" {
			t.Fatal("promtool not installed (apt-get install prometheus); SPINDLE_REQUIRE_PROMETHEUS=1 makes this a failure")
		}
		t.Skip("promtool not installed (apt-get install prometheus)")
	}
	for _, args := range [][]string{{"check", "rules", "spindle-rules.yml"}, {"test", "rules", "spindle-rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Join("prometheus")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	}
}
