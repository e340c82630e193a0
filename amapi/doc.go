// Package amapi is the contract between Spindle's submitter and its
// ApplicationMaster, and between the AM and the processes it starts:
// what the submitter writes (Spec, shipped as SpecFile, with the stop
// secret and keytab file names), what a payload plans (Payload,
// PayloadRequest, PayloadPlan), the SPINDLE_* environment the JobManager
// and TaskManagers receive (Env*), the restart policy's value type, the
// JSON the AM's HTTP endpoint serves (Status, JobManagerInfo), a per-job
// job's Result and how it reaches the submitter (result.go), a payload's
// dry-run preview of its processes (Previewer), and the one
// client of that endpoint (Client), with the two uses the in-container
// launchers make of it: re-finding a moved JobManager (Locator) and
// keeping a container's token file fresh (FollowCredentials; for a
// container's environment, FollowContainer).
//
// It is imported by both sides: the submitter (packages launch, session,
// perjob, flink) and the AM runtime (package am). It must never import the
// AM runtime, so a client links none of it (.ci/check-deps enforces
// this). Every JSON type here is an API between Spindle versions: fields
// are only ever added.
//
// # Errors
//
// Validation errors (ParseSpec, Spec.Validate, LocalFile.Resource) name the
// field. Client methods return transport errors as they come, ErrNoAM when
// a report names no running AM, ErrStopRefused and ErrCredentialsRefused
// when the AM refuses a secret.
package amapi
