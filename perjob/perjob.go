package perjob

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// Tag marks per-job applications (YARN lowercases tags).
const Tag = "spindle-per-job"

// Options configures Run.
type Options struct {
	RM     *yarn.RMClient
	AM     *amapi.Client
	Stager *hdfs.Stager
	// Submission is the prepared and cluster-checked job.
	Submission *launch.Submission
	Tokens     *yarn.Credentials
	Progress   func(hdfs.Progress)
	// Emit receives the lifecycle events.
	Emit func(launch.Event)
	// Detached returns once the job's cluster runs.
	Detached bool
	// Timeout, if positive, bounds the whole run from submission: when
	// it expires the application is killed and its staging removed.
	Timeout time.Duration
	// Interval between reports; 0 means launch.DefaultPollInterval.
	Interval time.Duration
}

// Result is how the run went.
type Result struct {
	ID     yarn.ApplicationID
	Report yarn.AppReport
}

// Run submits the job and follows it (see the package documentation).
func Run(ctx context.Context, o Options) (Result, error) {
	sub := o.Submission
	sub.App.Tags = append(sub.App.Tags, Tag)
	s, err := launch.Submit(ctx, launch.SubmitOptions{RM: o.RM, Stager: o.Stager, Tokens: o.Tokens, Progress: o.Progress}, sub)
	if s == nil {
		return Result{}, err
	}
	res := Result{ID: s.ID}
	seen := map[string]bool{launch.EventSubmitted: true}
	emit := func(e launch.Event) {
		seen[e.Event] = true
		if o.Emit != nil {
			o.Emit(e)
		}
	}
	if o.Emit != nil {
		o.Emit(s.Event())
	}
	if err != nil { // submitted, acceptance not confirmed: staging kept
		return res, err
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		wctx, cancel = context.WithTimeoutCause(ctx, o.Timeout, launch.ErrTimeout)
	}
	defer cancel()
	until := launch.UntilEnd
	if o.Detached {
		until = launch.UntilRunning
	}
	r, err := launch.Watch(wctx, launch.WatchOptions{RM: o.RM, AM: o.AM, ID: s.ID, Until: until, Emit: emit, Seen: seen, Interval: o.Interval,
		AMResource: sub.App.AMResource})
	res.Report = r
	if err != nil && wctx.Err() != nil {
		why := "interrupted"
		timedOut := errors.Is(context.Cause(wctx), launch.ErrTimeout) && ctx.Err() == nil
		if timedOut {
			why = fmt.Sprintf("timed out after %s (--timeout)", o.Timeout)
		}
		kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer kcancel()
		if err := o.RM.KillApplication(kctx, s.ID, "per-job "+why); err != nil && !errors.Is(err, yarn.ErrApplicationNotFound) {
			return res, fmt.Errorf("kill %s after it %s: %w", s.ID, why, err)
		}
		r, werr := launch.Watch(kctx, launch.WatchOptions{RM: o.RM, AM: o.AM, ID: s.ID, Until: launch.UntilEnd, Emit: emit, Seen: seen, Interval: o.Interval})
		res.Report = r
		if derr := o.Stager.Delete(kctx, s.ID.String()); derr != nil && werr == nil {
			werr = derr
		}
		if werr != nil {
			return res, werr
		}
		if timedOut {
			return res, fmt.Errorf("%w: %s %s; it was killed and its staging removed", launch.ErrTimeout, s.ID, why)
		}
		return res, ctx.Err()
	}
	if err != nil {
		return res, err
	}
	if !r.State.Terminal() { // detached and running
		return res, nil
	}
	if err := o.Stager.Delete(ctx, s.ID.String()); err != nil { // the AM removes it on a clean end, not after a kill or a crash
		return res, err
	}
	return res, launch.EndError(r)
}
