// Package am is Spindle's ApplicationMaster runtime: the process YARN
// starts in the AM container (`spindle am`), which registers with the
// ResourceManager, runs the JobManager as a child process, keeps a fleet
// of TaskManager containers at its target, and ends the application.
//
// # What it owns
//
//   - Runner: register (host, the HTTP endpoint's port as RPC port, the
//     endpoint as tracking URL); the allocate heartbeat on one timer,
//     every HeartbeatFast (500 ms) while containers are wanted or being
//     started and every HeartbeatIdle (1 s) once the fleet is complete,
//     each allocate in a goroutine of its own so that an RM that stopped
//     answering never holds up a stop or a JobManager restart (each RM
//     call attempt is bounded by yarn.AMRMOptions.CallTimeout, Hadoop's
//     ipc.client.rpc-timeout.ms, 2 minutes), and an allocate lost in
//     transit resent with the next heartbeat (the response id makes that
//     safe) for up to the RM's 10-minute AM expiry;
//     the JobManager child (ports chosen by the AM, output in the log
//     dir); TaskManager requests, launches (one goroutine per NodeManager,
//     so a slow node delays only its own containers) with the JobManager
//     address, the container id as resource id, the staged files and the
//     AM's tokens without the AMRMToken; replacement of every completed
//     TaskManager; release of excess allocations at once; unregister and
//     staging cleanup.
//   - Tracker, the restart policy: failures (Classify: only the
//     payload's own exits count, a TaskManager's exit 0 included since it
//     is not meant to end; preemption, node loss and kills by the RM are
//     replaced at once) within a window, exponential backoff
//     with jitter from the second failure on, node quarantine (K failures
//     on a node within the window blacklist it for a while), and giving up
//     with a diagnostic that names the limit and the last failures. It
//     takes the time as an argument and never sleeps.
//   - The HTTP endpoint: status page and JSON (Status), JobManager
//     discovery (DiscoveryPath), the authenticated stop (StopPath) and
//     Prometheus metrics (metrics.go: spindle_am_*, named after
//     Prometheus's conventions; the labels that name the application
//     come from the metrics discovery, package promsd, never from the AM,
//     so they cannot clash). The status lists the payload's Prometheus
//     endpoints: the JobManager's on a port the AM chooses
//     (amapi.ProcessSpec.Metrics), each TaskManager's as its launcher
//     told it on its liveness connection (amapi.MetricsPortParam), so
//     that every attempt learns them. It listens on the AM's host address (the
//     tracking URL's host, which the RM's web proxy connects to), not on
//     every interface, and is bounded: request headers 16 KiB (431
//     beyond), 10 s to read a header and 30 s a request, 30 s to write a
//     response (the credentials long poll extends its own deadline by its
//     wait), idle keep-alive connections closed after a minute, at most
//     1024 connections open (each TaskManager following the credentials
//     holds one; more wait in the listen backlog), and refused stop and
//     credentials requests logged at most once a minute, with a count.
//
// The contract with the submitter and the payloads (the Spec, the
// SPINDLE_* environment, the status JSON, the client of the HTTP
// endpoint) is package amapi; this package is the runtime only.
//
// # Parts
//
//   - runner.go: the run loop (register, heartbeat, stop requests, the two
//     ways to end) and the Runner's own state, behind Runner.mu.
//   - fleet.go: the TaskManager containers behind their own lock: map,
//     reconcile, adopt, launch, completions, and the one failure path
//     (recordFailureLocked) for failed TaskManagers and failed starts. A
//     start refused because the NodeManager is not ready or going away
//     (yarn.RecoverableStartError) is replaced without counting.
//   - supervise.go: the JobManager's supervision (restart policy, state);
//     jobmanager.go the process itself, in a process group of its own so
//     that only the AM signals it.
//   - policy.go: the restart tracker; its decisions carry a ReasonCode.
//
// # Kill and shutdown
//
// A kill ends the application: Stop (the HTTP stop), a per-job
// JobManager's exit (exit 0 is SUCCEEDED, anything else FAILED; its
// result, read from amapi.EnvResultFile or worded from the exit code and
// the JobManager's log, goes to Status.Result and the last line of the
// final diagnostics: amapi/result.go), or the restart policy giving up. A session JobManager's exit, whatever its
// code, is a failure under the JobManager's restart policy: a session
// ends only by the authenticated stop (a payload's own unauthenticated
// shutdown, such as Flink's REST DELETE /cluster, which exits 0, must not
// end it SUCCEEDED and delete its staging directory). The AM withdraws
// its requests, stops the TaskManagers, then the JobManager, unregisters
// with the final status and removes the staging directory; Run returns
// nil. A shutdown leaves the application to the next attempt: Run's
// context ends (SIGTERM from the NodeManager) or the RM says the attempt
// is over (attempt not found, AM_SHUTDOWN); the JobManager stops, the
// TaskManagers keep running, nothing is unregistered or removed (the
// last attempt's staging directory is `spindle gc`'s), and Run returns
// the cause.
//
// # Attempt recovery
//
// With keep-containers-across-attempts a new attempt adopts the running
// TaskManagers the RM lists in the register response (their NMTokens come
// with it) and starts a new JobManager on its own node and ports. The
// TaskManagers re-find it through the RM: the application report's
// OriginalTrackingURL is the current attempt's AM endpoint, and its
// DiscoveryPath names the JobManager. (A file in the staging directory
// would need every payload to read HDFS; the RM is reachable from every
// container with the cluster's configuration.)
//
// # Stop secret
//
// The submitter writes a random secret (NewStopSecret) into the
// application's staging directory, which is 0700 and owned by the user,
// and ships it to the AM container as StopSecretFile. A stop request must
// carry it as "Authorization: Bearer <secret>"; anything else gets 403.
// The secret never reaches the TaskManagers or the logs.
//
// # What it must never do
//
// Read environment variables or files of its own accord (cmd passes
// Options; the JobManager's working directory is the exception), leave
// containers it does not want (excess is released at once), count a
// container the cluster took against the application, or log tokens,
// the stop secret or container environment values. It uses package ipc
// for credentials only (creds.go).
//
// # Errors
//
// New returns validation errors. Run returns nil after unregistering
// (whatever the final status: see Runner.Final), the context's error on
// a shutdown, and otherwise an error saying why the attempt cannot go on
// (the RM ended it, or could not be reached within the retry policy);
// the AM process must then exit non-zero so that YARN counts the attempt.
package am
