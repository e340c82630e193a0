// Package promsd finds the Prometheus scrape targets of every running
// Spindle application: the AM's /metrics, and the JobManager's and the
// TaskManagers' Prometheus endpoints that the AM lists in its status
// (amapi.JobManagerInfo.MetricsPort, amapi.TaskManagerInfo.MetricsPort).
// It answers in Prometheus's HTTP and file service-discovery format (a
// JSON list of {"targets": [...], "labels": {...}}), as `spindle metrics
// targets` prints it and `spindle metrics serve` serves it to a
// Prometheus http_sd_configs.
//
// # What it owns
//
//   - Targets: one pass over the ResourceManager's running applications
//     of type SPINDLE and their AMs' status.
//   - Server: an http.Handler that answers with Targets, asked again of
//     the RM when its last answer is older than MaxAge.
//
// # Labels
//
// Every group has app_id, app_name, queue, user, mode (session, per-job),
// payload, attempt (the AM attempt's number) and role (am, jobmanager,
// taskmanager), container_id and node (the host). A new AM attempt
// registers a new tracking URL, so the next refresh lists it and drops
// the old one: the targets move with the attempts, and the attempt label
// tells their series apart.
//
// # What it must never do
//
// Read files or the environment, log in (the caller's RM client is
// logged in, Kerberized or not), or fail the whole document for one AM
// that does not answer: that application keeps its AM target, from the
// RM's report alone, and loses the targets only its status names.
//
// # Errors
//
// Targets returns an error only when the RM cannot list the
// applications. Server answers 503 with that error until a first list
// succeeded, and the last good document (logging the error) after.
package promsd
