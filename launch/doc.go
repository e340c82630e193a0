// Package launch is the submitter's side of a Spindle application, shared
// by the session and per-job modes: it validates a request against the
// local files and the cluster (one report of every problem), turns it and
// a payload's plan into a submission (the AM's launch context, the spec,
// the files for each side), stages and submits it, describes it without
// submitting (--dry-run), watches the application through its lifecycle
// events, talks to a running AM over HTTP, and stops an application
// gracefully or by force.
//
// # Layering
//
// It sits beside package am, whose contract it speaks from the outside
// (the spec file, the stop secret, the AM's HTTP endpoint): am is what
// runs in the AM container, launch is what runs on the user's machine.
// session and perjob import it; it imports am, yarn, hdfs and conf, never
// session or perjob. (STYLE §1 has the two modes import am directly; the
// submit path they share lives here so that neither copies it and am
// keeps only what runs in the cluster.)
//
// # What it must never do
//
// Read environment variables or configuration of its own accord (cmd
// passes them in), log or print tokens or the stop secret (the dry run
// redacts it and any environment value whose name says it is secret),
// or leave a staging directory behind after a failed submit.
//
// # Errors
//
// Validation returns *Problems (every problem, each with its fix). An
// application that ends badly is ErrFailed or ErrKilled (wrapped with its
// diagnostics); a watch that runs out of time is ErrTimeout.
package launch
