// Package example is Spindle's example payload, the YARN example
// application of this project (as DistributedShell is Hadoop's): a small
// JobManager that TaskManagers register with and heartbeat to, and that
// runs a distributed word count over a text file split across the
// TaskManagers.
//
// It knows nothing of YARN or Spindle (it imports no Spindle package):
// `spindle example jobmanager|taskmanager` read the environment the
// ApplicationMaster sets (package am, Env*) and pass it in, together
// with the function a TaskManager uses to find the current JobManager
// after losing its own (the AM's attempt changed).
//
// # Protocol
//
// Everything is JSON over HTTP. On the JobManager's RPC address:
//
//	POST /tm/register   {"id","host"}            → {"jobmanager": instance id}
//	POST /tm/heartbeat  {"id","result"?}         → {"known": bool, "task"?}
//
// A TaskManager the JobManager does not know (a new JobManager, or one
// that dropped it after TaskManagerTimeout) is told known=false and
// registers again. On the REST address:
//
//	POST /jobs          {"input","splits"?}      → 202 Job
//	GET  /jobs/{id}     Job (state "running", "succeeded" or "failed")
//	GET  /taskmanagers  the registered TaskManagers
//
// # Word count
//
// A job over input (a file name the TaskManagers find in their working
// directory: a staged resource, or a file inside a staged archive) has
// one split per TaskManager (or Splits, at most SplitsPerTaskManager per
// registered TaskManager and MaxSplits in all). The JobManager's REST
// endpoint has no authentication, so the input is checked: the
// JobManager refuses (400) absolute paths, "..", hidden files and the
// files of the container that are not the user's (tokens, launch
// scripts, keytabs, the AM's spec and stop secret; ValidateInput), and a
// TaskManager counts only a regular file reached through the
// NodeManager's link to a localized resource, never leaving it
// (OpenInput): a file the process wrote, a directory or a symlink out of
// an archive fails the job. Split i of n covers bytes [i·size/n, (i+1)·size/n) of the
// file, which each TaskManager measures itself; a line belongs to the
// split holding its first byte. The JobManager assigns splits to
// TaskManagers as they heartbeat, reassigns the splits of one that
// disappears, and merges the counts.
package example
