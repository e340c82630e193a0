package launch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// Lifecycle event names, in the order they happen.
const (
	EventSubmitted = "submitted"
	EventAccepted  = "accepted"
	EventRunning   = "running"
	EventFinished  = "finished"
)

// Event is one lifecycle event of an application, as `--output json`
// prints it (one object per line). It is an API: snake_case keys, fields
// only ever added.
type Event struct {
	Event       string    `json:"event"`
	Time        time.Time `json:"time"`
	AppID       string    `json:"app_id"`
	Name        string    `json:"name,omitempty"`
	Queue       string    `json:"queue,omitempty"`
	State       string    `json:"state,omitempty"`
	FinalStatus string    `json:"final_status,omitempty"`
	// TrackingURL is the URL users open (the RM's proxy of the AM).
	TrackingURL string `json:"tracking_url,omitempty"`
	// AMURL is the AM's own endpoint.
	AMURL string `json:"am_url,omitempty"`
	// JobManagerAddress is host:port of the JobManager's RPC endpoint and
	// JobManagerRESTAddress of its REST endpoint.
	JobManagerAddress     string `json:"jobmanager_address,omitempty"`
	JobManagerRESTAddress string `json:"jobmanager_rest_address,omitempty"`
	Diagnostics           string `json:"diagnostics,omitempty"`
	// StagingDir is where the files went (submitted only).
	StagingDir string `json:"staging_dir,omitempty"`
	// Uploaded is the number of bytes uploaded (submitted only).
	Uploaded *int64 `json:"uploaded_bytes,omitempty"`
	// Warnings are things the user should know that do not stop the
	// submission (submitted only), e.g. SingleAttemptWarning.
	Warnings []string `json:"warnings,omitempty"`
	// Result is what a per-job job produced (finished only; see
	// amapi.Result), taken out of the final report's diagnostics.
	Result *amapi.Result `json:"result,omitempty"`
	// Reason is a waiting event's reason code (Reason* constants);
	// Diagnostics are then the RM's raw words. Message says why in
	// words and Fix what the user can do (waiting only; see Waiting).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// Until says when Watch returns.
type Until int

// Watch goals.
const (
	// UntilRunning returns once the JobManager is known (or the application ended).
	UntilRunning Until = iota
	// UntilEnd returns once the application ended.
	UntilEnd
)

// WatchOptions configures Watch.
type WatchOptions struct {
	RM *yarn.RMClient
	AM *amapi.Client
	ID yarn.ApplicationID
	// Until is when to return.
	Until Until
	// Emit receives each event once, in order; nil means none.
	Emit func(Event)
	// Seen lists events already emitted (an attach to a running
	// application emits only what is new); nil means none.
	Seen map[string]bool
	// Interval between reports; 0 means DefaultPollInterval.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AMResource is what the AM container asks for (zero if unknown),
	// for telling why it waits (ClassifyWaiting).
	AMResource yarn.Resource
}

// Watch polls the application's report (and, once it runs, its AM for
// the JobManager) and emits accepted, running and finished as they
// happen; while the application is ACCEPTED, a waiting event each time
// the RM's diagnostics say something new about why (ClassifyWaiting:
// each explanation once, in the report that first carries it); and,
// following a running application to its end, a waiting event each
// time its AM gives a new reason for pending TaskManagers
// (TaskManagersWaiting). It returns the last report when the goal is
// reached, or ctx's error. A report error other than the RM being briefly unreachable ends
// the watch.
func Watch(ctx context.Context, o WatchOptions) (yarn.AppReport, error) {
	if o.Interval <= 0 {
		o.Interval = DefaultPollInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	seen := map[string]bool{}
	for k, v := range o.Seen {
		seen[k] = v
	}
	emit := func(e Event) {
		if seen[e.Event] {
			return
		}
		seen[e.Event] = true
		e.Time = o.Now().UTC()
		if o.Emit != nil {
			o.Emit(e)
		}
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var last yarn.AppReport
	var lastWaiting Waiting
	var lastTM string // the last TaskManagers waiting reason
	var lastTMCheck time.Time
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-t.C:
		}
		r, err := o.RM.GetApplicationReport(ctx, o.ID)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		last = r
		base := Event{AppID: r.ID.String(), Name: r.Name, Queue: r.Queue, State: r.State.String()}
		if r.State >= yarn.StateAccepted {
			emit(base.with(EventAccepted))
		}
		if r.State == yarn.StateAccepted {
			w, ok := ClassifyWaiting(r.Diagnostics, r.Queue, o.AMResource)
			if !ok {
				lastWaiting = Waiting{} // cleared: the same reason again is news
			} else if w != lastWaiting {
				lastWaiting = w
				e := base.with(EventWaiting)
				e.Time, e.Reason, e.Message, e.Fix, e.Diagnostics = o.Now().UTC(), w.Reason, w.Message, w.Fix, r.Diagnostics
				if o.Emit != nil {
					o.Emit(e)
				}
			}
		}
		if r.State == yarn.StateRunning && !seen[EventRunning] {
			if u, err := amapi.AMURL(r); err == nil {
				if jm, err := o.AM.JobManager(ctx, u); err == nil && jm.Address != "" {
					e := base.with(EventRunning)
					e.TrackingURL, e.AMURL, e.JobManagerAddress, e.JobManagerRESTAddress = r.TrackingURL, u, jm.Address, jm.RESTAddress
					emit(e)
				}
			}
		}
		if now := o.Now(); r.State == yarn.StateRunning && seen[EventRunning] && o.Until == UntilEnd && o.Emit != nil &&
			now.Sub(lastTMCheck) >= tmCheckEvery*o.Interval {
			// The AM's reason for pending TaskManagers, once per reason
			// (its words carry counts and sizes that move), asked every
			// few reports: its status lists every TaskManager.
			lastTMCheck = now
			if u, err := amapi.AMURL(r); err == nil {
				actx, cancel := context.WithTimeout(ctx, amStatusTimeout)
				st, err := o.AM.Status(actx, u)
				cancel()
				if err == nil {
					w, ok := TaskManagersWaiting(st)
					if !ok {
						lastTM = ""
					} else if w.Reason != lastTM {
						lastTM = w.Reason
						e := base.with(EventWaiting)
						e.Time, e.Reason, e.Message, e.Fix = o.Now().UTC(), w.Reason, w.Message, w.Fix
						o.Emit(e)
					}
				}
			}
		}
		if r.State.Terminal() && !seen[EventRunning] && r.RPCPort > 0 && r.Host != "" && r.Host != "N/A" {
			// It ran, between two reports (a short per-job run): the
			// attempt's registration is still in the report — its host and
			// RPC port, which is the JobManager's REST port.
			e := base.with(EventRunning)
			e.State = yarn.StateRunning.String()
			e.TrackingURL, e.JobManagerRESTAddress = r.TrackingURL, net.JoinHostPort(r.Host, strconv.Itoa(int(r.RPCPort)))
			e.AMURL = strings.TrimSuffix(r.OriginalTrackingURL, "/")
			emit(e)
		}
		if r.State.Terminal() {
			e := base.with(EventFinished)
			e.Result, e.Diagnostics = amapi.SplitResult(r.Diagnostics)
			e.FinalStatus, e.TrackingURL = r.FinalStatus.String(), r.TrackingURL
			emit(e)
			return r, nil
		}
		if o.Until == UntilRunning && seen[EventRunning] {
			return r, nil
		}
		t.Reset(o.Interval)
	}
}

// tmCheckEvery is how many report intervals apart Watch asks a running
// AM why TaskManagers are pending; amStatusTimeout bounds that request.
const (
	tmCheckEvery    = 4
	amStatusTimeout = 5 * time.Second
)

func (e Event) with(name string) Event { e.Event = name; return e }

// EndError says how an ended application ended: nil for SUCCEEDED,
// ErrKilled for KILLED, ErrFailed for anything else, with the
// diagnostics.
func EndError(r yarn.AppReport) error {
	_, r.Diagnostics = amapi.SplitResult(r.Diagnostics) // printed as the finished event's result
	switch {
	case !r.State.Terminal():
		return fmt.Errorf("%s has not ended (%s)", r.ID, r.State)
	case r.State == yarn.StateFinished && r.FinalStatus == yarn.FinalSucceeded:
		return nil
	case r.State == yarn.StateKilled || r.FinalStatus == yarn.FinalKilled:
		return fmt.Errorf("%w: %s ended %s/%s: %s", ErrKilled, r.ID, r.State, r.FinalStatus, r.Diagnostics)
	}
	return fmt.Errorf("%w: %s ended %s/%s: %s", ErrFailed, r.ID, r.State, r.FinalStatus, r.Diagnostics)
}

// IsEnd reports whether err is how an application ended (not a failure
// to watch it).
func IsEnd(err error) bool { return errors.Is(err, ErrFailed) || errors.Is(err, ErrKilled) }
