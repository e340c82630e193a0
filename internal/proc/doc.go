// Package proc stops the processes Spindle starts as children: the AM's
// JobManager, a Flink TaskManager launcher's java and the mini cluster's
// containers.
//
// # What it owns
//
//   - Stop: SIGTERM, a grace period, then SIGKILL, to a process or to the
//     process group it leads, ending on the process's exit event (the
//     caller's Wait returning), never on a sleep.
//   - KillGroup and GroupAlive: what is left of a process group after its
//     leader ended (grandchildren that are nobody's child of ours).
//
// # What it must never do
//
// Start or wait for processes itself (the caller owns exec.Cmd and its
// Wait), log, or signal a process whose exit it was told of.
//
// # Errors
//
// Signals that fail because the process is already gone are not errors:
// Stop reports only whether SIGKILL was needed.
package proc
