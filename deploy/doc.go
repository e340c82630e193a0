// Package deploy holds what operators deploy next to Spindle: the
// Grafana dashboard (grafana/spindle.json, generated from Go by
// grafana/gen with the Grafana Foundation SDK), the Prometheus alert
// rules (prometheus/spindle-rules.yml) and the metric names both may
// query (metrics/). It is a Go module of its own, so that the dashboard
// SDK and Prometheus's query parser (used by its tests) stay out of the
// spindle binary's dependencies.
//
// Its tests check that the committed dashboard is what the generator
// makes, and that every query of the dashboard and the rules names only
// metrics that exist: the AM's, as a real AM serves them
// (metrics/spindle-am.txt, checked by am's TestAMMetricNames), and
// Flink's, each with the Flink source that defines it
// (metrics/flink.txt).
package deploy
