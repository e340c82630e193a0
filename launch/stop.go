package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// StopOptions configures Stop.
type StopOptions struct {
	RM *yarn.RMClient
	AM *amapi.Client
	// Stager reaches the staging directory (the stop secret, and its
	// removal after a kill); nil means the AM cannot be asked and the
	// staging directory is left to spindle gc.
	Stager *hdfs.Stager
	ID     yarn.ApplicationID
	// Diagnostics go to the AM (graceful) or the RM (kill).
	Diagnostics string
	// Grace is how long the AM has to end the application after accepting
	// the stop before it is killed; 0 means 30 s.
	Grace time.Duration
	// Interval between reports; 0 means DefaultPollInterval.
	Interval time.Duration
	Logger   zerolog.Logger
}

// StopResult says how the application ended.
type StopResult struct {
	Report yarn.AppReport
	// How is "graceful" (the AM ended it), "killed" (the RM did),
	// or "already ended".
	How string
	// StagingRemoved reports that no staging directory is left.
	StagingRemoved bool
}

// Stop ends an application: gracefully through the AM's authenticated
// stop (the secret is read from the staging directory), falling back to a
// YARN kill when the AM does not answer or does not end the application
// within Grace; then it makes sure the staging directory is gone.
func Stop(ctx context.Context, o StopOptions) (StopResult, error) {
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.Diagnostics == "" {
		o.Diagnostics = "stopped by spindle"
	}
	lg := o.Logger.With().Str("component", "stop").Stringer("app_id", o.ID).Logger()
	r, err := o.RM.GetApplicationReport(ctx, o.ID)
	if err != nil {
		return StopResult{}, err
	}
	res := StopResult{Report: r}
	switch {
	case r.State.Terminal():
		res.How = "already ended"
	default:
		if err := askAM(ctx, o, r); err != nil {
			lg.Warn().Err(err).Msg("graceful stop impossible; killing the application")
		} else if rep, err := waitEnd(ctx, o, o.Grace); err == nil {
			res.Report, res.How = rep, "graceful"
		} else if ctx.Err() != nil {
			return res, ctx.Err()
		} else {
			lg.Warn().Err(err).Dur("duration", o.Grace).Msg("the AM accepted the stop but did not end the application; killing it")
		}
		if res.How == "" {
			if err := o.RM.KillApplication(ctx, o.ID, o.Diagnostics); err != nil {
				return res, fmt.Errorf("kill %s: %w", o.ID, err)
			}
			rep, err := waitEnd(ctx, o, 0)
			if err != nil {
				return res, err
			}
			res.Report, res.How = rep, "killed"
		}
	}
	if o.Stager != nil {
		if err := o.Stager.Delete(ctx, o.ID.String()); err != nil {
			return res, fmt.Errorf("remove the staging directory of %s: %w", o.ID, err)
		}
		res.StagingRemoved = true
	}
	return res, nil
}

func askAM(ctx context.Context, o StopOptions, r yarn.AppReport) error {
	if o.Stager == nil {
		return errors.New("no staging directory to read the stop secret from")
	}
	u, err := amapi.AMURL(r)
	if err != nil {
		return err
	}
	secret, err := o.Stager.ReadFile(ctx, o.ID.String(), amapi.StopSecretFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the stop secret is gone from the staging directory: %w", err)
		}
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return o.AM.Stop(actx, u, r.CurrentAttempt.String(), secret, o.Diagnostics)
}

// waitEnd waits for a terminal state, at most d (0: until ctx ends).
func waitEnd(ctx context.Context, o StopOptions, d time.Duration) (yarn.AppReport, error) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return Watch(ctx, WatchOptions{RM: o.RM, AM: o.AM, ID: o.ID, Until: UntilEnd, Interval: o.Interval,
		Seen: map[string]bool{EventAccepted: true, EventRunning: true}})
}
