// Package perjob is the per-job mode: a dedicated cluster for one job
// that ends with it (Flink's per-job, and its application mode on Flink
// 2.x). Run submits, follows the application through its lifecycle
// events and returns how it ended; a timeout or an interrupt kills the
// application and removes its staging directory.
//
// It builds on package launch and never imports session; cmd passes
// every client.
//
// # Errors
//
// Run returns nil when the job ended SUCCEEDED (or, detached, once its
// cluster runs), launch.ErrFailed or launch.ErrKilled with the
// diagnostics, launch.ErrTimeout when Timeout expired (the application
// was killed), and launch's submit errors.
package perjob
