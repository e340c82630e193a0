package amapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/yarn"
)

// ErrBackingOff wraps the last failure while a Locator waits before it
// asks the RM again (a *BackoffError).
var ErrBackingOff = errors.New("amapi: backing off after a failed look-up")

// BackoffError is a Locator's answer while it backs off: Until is when
// it asks the RM again, Err the failure it backs off from.
type BackoffError struct {
	Until time.Time
	Err   error
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%v (next try in %s): %v", ErrBackingOff, time.Until(e.Until).Round(time.Millisecond), e.Err)
}

// Is matches ErrBackingOff.
func (e *BackoffError) Is(target error) bool { return target == ErrBackingOff }

// Unwrap returns the failure.
func (e *BackoffError) Unwrap() error { return e.Err }

// Locator finds where an application's current AM and JobManager are: the
// RM's report names the current attempt and its AM endpoint
// (OriginalTrackingURL: each attempt registers its own), whose
// DiscoveryPath names the JobManager. This is how TaskManagers adopted by
// a new attempt re-find their JobManager, and how a credential follower
// verifies where the AM is before it sends anything to it. Inside a
// container on a secure cluster the RM client authenticates with the RM
// delegation token of the container's credentials (no Kerberos login
// exists there).
//
// After a failed look-up the Locator answers ErrBackingOff (wrapping the
// failure) without asking the RM until a backoff has passed: 500 ms
// doubling to 30 s, ±20% jitter, so that a fleet of TaskManagers that lost
// their AM does not poll the RM in step. It logs once per change of state.
// It dials the RM on first use; Close closes that connection. A Locator
// is safe for concurrent use.
type Locator struct {
	// App is the application whose JobManager is wanted.
	App yarn.ApplicationID
	// RM returns a client of the ResourceManager (from the container's
	// Hadoop configuration and credentials); called once, on first use.
	RM func() (*yarn.RMClient, error)
	// Client asks the AM; nil means the zero Client.
	Client *Client
	// Timeout bounds one look-up; 0 means 10 s.
	Timeout time.Duration
	// Logger receives a line per change of state; the zero value logs
	// nothing.
	Logger zerolog.Logger

	mu      sync.Mutex
	rm      *yarn.RMClient
	backoff time.Duration
	until   time.Time // no look-up before this
	lastErr error
}

// Backoff bounds of a Locator.
const (
	locateFirstBackoff = 500 * time.Millisecond
	locateMaxBackoff   = 30 * time.Second
)

// AM returns the current attempt's id and AM endpoint, as the RM's report
// names them.
func (l *Locator) AM(ctx context.Context) (url string, attempt yarn.AttemptID, err error) {
	err = l.guard(ctx, func(ctx context.Context) error {
		url, attempt, err = l.am(ctx)
		return err
	})
	return url, attempt, err
}

// Locate returns the current JobManager's RPC address.
func (l *Locator) Locate(ctx context.Context) (addr string, err error) {
	err = l.guard(ctx, func(ctx context.Context) error {
		u, _, err := l.am(ctx)
		if err != nil {
			return err
		}
		info, err := l.Client.JobManager(ctx, u)
		if err != nil {
			return err
		}
		if info.Address == "" {
			return errors.New("the AM has no JobManager yet")
		}
		addr = info.Address
		return nil
	})
	return addr, err
}

// guard runs one look-up unless a backoff holds it back, and keeps the
// backoff and the log in step with its outcome.
func (l *Locator) guard(ctx context.Context, look func(context.Context) error) error {
	l.mu.Lock()
	if now := time.Now(); now.Before(l.until) {
		err := &BackoffError{Until: l.until, Err: l.lastErr}
		l.mu.Unlock()
		return err
	}
	l.mu.Unlock()
	d := l.Timeout
	if d <= 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := look(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		if l.lastErr != nil {
			l.Logger.Info().Stringer("app_id", l.App).Msg("the application's AM can be located again")
		}
		l.backoff, l.until, l.lastErr = 0, time.Time{}, nil
		return nil
	}
	l.backoff = min(max(2*l.backoff, locateFirstBackoff), locateMaxBackoff)
	l.until = time.Now().Add(time.Duration(float64(l.backoff) * (0.8 + 0.4*rand.Float64())))
	if l.lastErr == nil || l.lastErr.Error() != err.Error() {
		l.Logger.Warn().Err(err).Stringer("app_id", l.App).Dur("backoff", l.backoff).
			Msg("cannot locate the application's AM; retrying with backoff (logged again only when the error changes)")
	}
	l.lastErr = err
	return err
}

func (l *Locator) am(ctx context.Context) (string, yarn.AttemptID, error) {
	l.mu.Lock()
	if l.rm == nil {
		if l.RM == nil {
			l.mu.Unlock()
			return "", yarn.AttemptID{}, errors.New("amapi: Locator has no ResourceManager client")
		}
		rm, err := l.RM()
		if err != nil {
			l.mu.Unlock()
			return "", yarn.AttemptID{}, err
		}
		l.rm = rm
	}
	rm := l.rm
	l.mu.Unlock()
	rep, err := rm.GetApplicationReport(ctx, l.App)
	if err != nil {
		return "", yarn.AttemptID{}, err
	}
	if rep.State.Terminal() {
		return "", yarn.AttemptID{}, fmt.Errorf("application %s is %s", l.App, rep.State)
	}
	u, err := AMURL(rep)
	if err != nil {
		return "", yarn.AttemptID{}, err
	}
	return u, rep.CurrentAttempt, nil
}

// AMLocator is l.AM, or nil for a nil Locator (FollowOptions.Locate).
func (l *Locator) AMLocator() func(context.Context) (string, yarn.AttemptID, error) {
	if l == nil {
		return nil
	}
	return l.AM
}

// Close closes the RM connection, if one was made. Idempotent.
func (l *Locator) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rm != nil {
		l.rm.Close()
		l.rm = nil
	}
}
