// Package session is the long-running session mode: a JobManager in the
// AM container and a fleet of TaskManagers, started detached or attached,
// found again later through a properties file (one entry per cluster), listed, inspected, and
// stopped gracefully (the AM's authenticated stop) or by force.
//
// It builds on package launch (validation, submission, lifecycle events,
// the AM client, stop). It never imports perjob and reads no environment:
// cmd passes the properties file's path, the cluster's key (ClusterKey) and
// every client.
//
// # Errors
//
// Start returns launch's errors (*launch.Problems, upload and submit
// failures); Wait returns nil when the session ended SUCCEEDED and
// launch.ErrFailed or launch.ErrKilled otherwise; ErrNoSession when no
// application id was given and the properties file names none for the
// cluster.
package session
