package am

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/spindle-yarn/spindle/yarn"
)

// metrics are the AM's Prometheus metrics, on a registry of its own
// (served at /metrics), with the Go and process collectors so that the
// AM's resident memory is visible too. Names follow Prometheus's
// conventions (base units, _seconds, _bytes, _total for counters,
// _timestamp_seconds for times), every metric has help text, and
// TestMetricsLint checks them with client_golang's testutil lint. The
// names are an API: the Grafana dashboard and the alert rules in deploy/
// query them (deploy/metrics/spindle-am.txt lists them, checked against a
// real AM's scrape).
type metrics struct {
	reg *prometheus.Registry

	info      *prometheus.GaugeVec
	attempt   prometheus.Gauge
	target    prometheus.Gauge
	pending   prometheus.Gauge
	launching prometheus.Gauge
	running   prometheus.Gauge
	allocated prometheus.Counter
	excess    prometheus.Counter
	failed    prometheus.Counter
	lost      prometheus.Counter
	restarted prometheus.Counter
	launchErr prometheus.Counter
	jmRestart prometheus.Counter
	// earlyDeaths and liveRestored count TaskManagers taken for dead
	// when their liveness connection closed, and those that came back.
	earlyDeaths  prometheus.Counter
	liveRestored prometheus.Counter
	heartbeat    prometheus.Histogram
	hbErrors     prometheus.Counter
	allocation   prometheus.Histogram
	fleetReady   prometheus.Gauge
	registered   prometheus.Gauge

	tokenRefreshes *prometheus.CounterVec
	tokenNext      prometheus.Gauge
	tokenExpiry    prometheus.Gauge
	credPolls      prometheus.Gauge
	// pendingReason is a state set: 1 for why TaskManagers are pending
	// now (amapi.Pending*), 0 for the other reasons (pending.go).
	pendingReason *prometheus.GaugeVec
}

func newMetrics() *metrics {
	const ns, sub = "spindle", "am"
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "info",
			Help: "Always 1: the AM attempt's id. (The discovery's target labels name the application, its mode and payload.)"},
			[]string{"attempt_id"}),
		attempt:   g("attempt", "The AM attempt's number (1 for the first AM; a new attempt after an AM failure counts on)."),
		target:    g("taskmanagers_target", "TaskManagers the fleet should have."),
		pending:   g("taskmanagers_pending", "TaskManager container requests the RM has not yet satisfied."),
		launching: g("taskmanagers_launching", "TaskManager containers allocated and being started on their NodeManagers."),
		running:   g("taskmanagers_running", "TaskManager containers started (or adopted from an earlier attempt) and not completed."),
		allocated: c("containers_allocated_total", "Containers the RM allocated to this attempt for TaskManagers."),
		excess:    c("containers_released_excess_total", "Allocated containers released at once because the fleet was full."),
		failed:    c("taskmanagers_failed_total", "TaskManager containers that failed (counted by the restart policy)."),
		lost:      c("taskmanagers_lost_total", "TaskManager containers the cluster took (preempted, node lost, killed by the RM): not counted as failures."),
		restarted: c("taskmanagers_restarted_total", "Replacement TaskManagers requested for completed ones."),
		launchErr: c("taskmanager_launch_errors_total", "TaskManager containers a NodeManager refused or could not be asked to start."),
		jmRestart: c("jobmanager_restarts_total", "JobManager processes restarted after a failure (session mode)."),
		heartbeat: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "heartbeat_latency_seconds",
			Help: "Latency of the allocate heartbeat to the ResourceManager.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		hbErrors: c("heartbeat_errors_total", "Allocate heartbeats that failed."),
		allocation: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "container_allocation_seconds",
			Help:    "Time from asking the RM for a TaskManager container to its allocation (oldest request first).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}),
		fleetReady: g("fleet_ready_seconds",
			"Time from this attempt's registration to its fleet first running its target of TaskManagers; 0 until then."),
		registered: g("registered_timestamp_seconds", "When this attempt registered with the RM (Unix time); 0 before."),
		earlyDeaths: c("taskmanagers_early_deaths_total",
			"TaskManagers taken for dead when their liveness connection to the AM closed, before the RM reported them (replaced at once)."),
		liveRestored: c("taskmanagers_live_restored_total",
			"TaskManagers taken for dead whose liveness connection came back (the surplus replacement was released)."),
		tokenRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "token_refreshes_total",
			Help: "Attempts to obtain fresh delegation tokens with the shipped keytab, by result (ok, error)."}, []string{"result"}),
		tokenNext: g("token_next_refresh_timestamp_seconds", "When the AM obtains fresh delegation tokens next (Unix time); 0 without a shipped keytab."),
		tokenExpiry: g("token_expiry_timestamp_seconds",
			"The earliest maximum date (Unix time; past it no renewal helps) of the application's delegation tokens; 0 without any."),
		credPolls: g("credential_polls_open", "Credential long polls of TaskManagers the AM holds open now (one per following TaskManager)."),
		pendingReason: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "taskmanagers_pending_reason",
			Help: "Why TaskManager requests are pending, as the AM sees it: 1 for the current reason (none, scheduling, no_room, blacklisted, node_label), 0 for the others."},
			[]string{"reason"}),
	}
	// Both results exist from the start, so that rate() and increase()
	// see the first error.
	m.tokenRefreshes.WithLabelValues("ok")
	m.tokenRefreshes.WithLabelValues("error")
	m.reg.MustRegister(m.info, m.attempt, m.target, m.pending, m.launching, m.running, m.allocated, m.excess, m.failed, m.lost, m.restarted,
		m.launchErr, m.jmRestart, m.earlyDeaths, m.liveRestored, m.heartbeat, m.hbErrors, m.allocation, m.fleetReady, m.registered,
		m.tokenRefreshes, m.tokenNext, m.tokenExpiry, m.credPolls, m.pendingReason,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setTokenExpiry sets spindle_am_token_expiry_timestamp_seconds from
// creds: the earliest maximum date of its delegation tokens (tokens
// whose dates cannot be read, e.g. not delegation tokens, are left out),
// 0 without any.
func (m *metrics) setTokenExpiry(creds *yarn.Credentials) {
	var earliest time.Time
	if creds != nil {
		for _, t := range creds.Tokens() {
			_, maxDate, err := yarn.DelegationTokenDates(t)
			if err != nil || maxDate.IsZero() {
				continue
			}
			if earliest.IsZero() || maxDate.Before(earliest) {
				earliest = maxDate
			}
		}
	}
	if earliest.IsZero() {
		m.tokenExpiry.Set(0)
		return
	}
	m.tokenExpiry.Set(float64(earliest.UnixMilli()) / 1e3)
}
