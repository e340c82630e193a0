package flink

import (
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Flink's metrics on Prometheus.
//
// Unless the user configured metric reporters (any metrics.reporters or
// metrics.reporter.* key in the configuration file or a -D), and when
// the distribution has Flink's Prometheus reporter (the plugin
// plugins/metrics-prometheus/ or its jar in lib/), Plan turns it on
// (Spec.PrometheusReporter) for the JobManager and every TaskManager:
// metrics.reporter.prom.factory.class is PrometheusReporterFactory and
// metrics.reporter.prom.port one port per process. The JobManager's port
// is chosen by the AM with its other ports ($SPINDLE_JM_METRICS_PORT);
// a TaskManager's launcher chooses a free one in MetricsPortRange on its
// node (ChooseMetricsPort) and tells the AM on its liveness connection,
// so that the AM's status and `spindle metrics targets` list every
// process's endpoint. Flink facts: the reporter's factory class and its
// port option (a port or a range; default 9249) —
// flink-metrics/flink-metrics-prometheus
// .../metrics/prometheus/PrometheusReporterFactory.java,
// PrometheusReporterOptions.java (ARG_PORT); the reporter keys —
// flink-core .../configuration/MetricOptions.java (REPORTERS_LIST,
// "metrics.reporter.<name>.factory.class"); the plugin directory —
// flink-dist/src/main/assemblies/plugins.xml.

// Keys of Flink's metric reporter configuration (MetricOptions).
const (
	reportersKey     = "metrics.reporters"
	reporterPrefix   = "metrics.reporter."
	promFactoryKey   = "metrics.reporter.prom.factory.class"
	promPortKey      = "metrics.reporter.prom.port"
	promFactoryClass = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
)

// PlaceholderMetricsPort is a Preview's port of a process's Prometheus
// endpoint: the AM chooses the JobManager's, a TaskManager's launcher its
// own (MetricsPortRange).
const PlaceholderMetricsPort = "<METRICS_PORT>"

// MetricsPortRange is where a TaskManager's launcher looks for a free
// port for the TaskManager's Prometheus endpoint (inclusive): Flink's
// documented example range for several reporters on one host, after the
// reporter's default 9249.
var MetricsPortRange = [2]int{9250, 9260}

// userReporters reports whether c configures metric reporters itself.
func userReporters(c *Config) bool {
	for _, k := range c.Keys() {
		if k == reportersKey || strings.HasPrefix(k, reporterPrefix) {
			return true
		}
	}
	return false
}

// hasPrometheusReporter reports whether the distribution at home has
// Flink's Prometheus reporter: as a plugin (plugins/metrics-prometheus/,
// as the binary distribution ships it) or a jar in lib/.
func hasPrometheusReporter(home string) bool {
	if m, _ := filepath.Glob(filepath.Join(home, pluginsDir, "metrics-prometheus", "*.jar")); len(m) > 0 {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(home, libDir, "flink-metrics-prometheus*.jar"))
	return len(m) > 0
}

// setPrometheusReporter turns Flink's Prometheus reporter on in c on port.
func setPrometheusReporter(c *Config, port string) {
	c.Set(promFactoryKey, promFactoryClass)
	c.Set(promPortKey, port)
}

// ChooseMetricsPort returns a port in MetricsPortRange that is free on
// this host now, trying them from a random one on (so that TaskManagers
// starting together on a node rarely pick the same): the TaskManager's
// Prometheus endpoint. Between the probe and Flink binding the port
// another process may take it; Flink then logs that its reporter could
// not start, and the TaskManager runs without the endpoint.
func ChooseMetricsPort() (int, error) {
	lo, hi := MetricsPortRange[0], MetricsPortRange[1]
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		p := lo + (start+i)%n
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d for the TaskManager's Prometheus endpoint: free one on this node, or configure Flink's metric reporters yourself (-D metrics.reporter.prom.port=…)", lo, hi)
}
