package flink_test

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
)

// Flink's Prometheus reporter is on for the JobManager and the
// TaskManagers, each on the port its launcher gives it, unless the user
// configured reporters (then Spindle leaves the metrics alone, and the
// AM learns no port).
func TestPrometheusReporter(t *testing.T) {
	for _, home := range []string{home117, home200} {
		t.Run(home, func(t *testing.T) {
			p := newPayload(t, home, "")
			plan, err := p.Plan(request(amapi.ModeSession))
			require.NoError(t, err)
			require.True(t, specOf(t, plan).PrometheusReporter)
			require.True(t, plan.JobManager.Metrics, "the AM chooses the JobManager's metrics port")

			jm := jobManager(t, plan)
			jm.opts.MetricsPort = 9321
			conf := readFile(t, prepare(t, jm).ConfFile)
			require.Contains(t, conf, "org.apache.flink.metrics.prometheus.PrometheusReporterFactory")
			require.Regexp(t, `metrics\.reporter\.prom\.port: "?9321"?`+"\n", conf)

			tm := taskManager(t, plan, jm, "container_1700000000000_0007_01_000002")
			port, err := flink.ChooseMetricsPort()
			require.NoError(t, err)
			require.GreaterOrEqual(t, port, flink.MetricsPortRange[0])
			require.LessOrEqual(t, port, flink.MetricsPortRange[1])
			tm.opts.MetricsPort = port
			conf = readFile(t, prepare(t, tm).ConfFile)
			require.Regexp(t, `metrics\.reporter\.prom\.port: "?`+strconv.Itoa(port)+`"?`+"\n", conf)

			tm.opts.MetricsPort = 0 // the launcher found no port: no reporter
			require.NotContains(t, readFile(t, prepare(t, tm).ConfFile), "metrics.reporter.prom")

			for _, d := range []string{"metrics.reporter.jmx.factory.class=org.apache.flink.metrics.jmx.JMXReporterFactory", "metrics.reporters=prom"} {
				plan, err := p.Plan(request(amapi.ModeSession, d))
				require.NoError(t, err)
				require.False(t, specOf(t, plan).PrometheusReporter, "-D %s: the user's reporters", d)
				require.False(t, plan.JobManager.Metrics)
				jm := jobManager(t, plan)
				jm.opts.MetricsPort = 9321
				require.NotContains(t, readFile(t, prepare(t, jm).ConfFile), "PrometheusReporterFactory")
			}
		})
	}
}

// ChooseMetricsPort skips a taken port of the range and says what to do
// when none is free.
func TestChooseMetricsPort(t *testing.T) {
	lo, hi := flink.MetricsPortRange[0], flink.MetricsPortRange[1]
	var held []net.Listener
	t.Cleanup(func() {
		for _, l := range held {
			l.Close()
		}
	})
	for p := lo; p < hi; p++ {
		if l, err := net.Listen("tcp", ":"+strconv.Itoa(p)); err == nil {
			held = append(held, l)
		}
	}
	port, err := flink.ChooseMetricsPort()
	if err == nil {
		require.Equal(t, hi, port, "the one port of the range left")
		l, err := net.Listen("tcp", ":"+strconv.Itoa(hi))
		require.NoError(t, err)
		held = append(held, l)
	}
	_, err = flink.ChooseMetricsPort()
	require.ErrorContains(t, err, "no free port in "+strconv.Itoa(lo)+"-"+strconv.Itoa(hi))
}
