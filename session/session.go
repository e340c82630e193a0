package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// Tag marks session applications (YARN lowercases tags).
const Tag = "spindle-session"

// ErrNoSession is returned when no session is named and none is recorded.
var ErrNoSession = errors.New("session: no session given and none recorded")

// Clients are what every session operation talks to.
type Clients struct {
	RM     *yarn.RMClient
	AM     *amapi.Client
	Stager *hdfs.Stager
}

// StartOptions configures Start.
type StartOptions struct {
	Clients
	// Submission is the prepared and cluster-checked session
	// (launch.Prepare, launch.CheckCluster).
	Submission *launch.Submission
	// Tokens go to the AM (secure clusters).
	Tokens *yarn.Credentials
	// Progress receives the upload's progress.
	Progress func(hdfs.Progress)
	// Emit receives the lifecycle events.
	Emit func(launch.Event)
	// PropertiesFile, if set, records the session once submitted as its
	// cluster's (see PropertiesFile.Record).
	PropertiesFile PropertiesFile
	// Interval between reports; 0 means launch.DefaultPollInterval.
	Interval time.Duration
	// Timeout, if positive, bounds the wait for the JobManager from
	// submission (--timeout): when it expires the application is killed,
	// its staging removed and its record forgotten, and Start returns
	// launch.ErrTimeout.
	Timeout time.Duration
}

// Started is a session whose JobManager is up.
type Started struct {
	*launch.Submitted
	Report yarn.AppReport
	// Seen are the events emitted so far.
	Seen map[string]bool
}

// Start submits the session, records it in the properties file, and waits
// until the JobManager runs (or the application ended, which is an
// error). If ctx ends or Timeout expires before the JobManager runs, the
// application is killed, its staging removed and its record forgotten: a
// start that did not finish leaves nothing behind.
func Start(ctx context.Context, o StartOptions) (*Started, error) {
	sub := o.Submission
	if !hasTag(sub.App.Tags, Tag) {
		sub.App.Tags = append(sub.App.Tags, Tag)
	}
	s, err := launch.Submit(ctx, launch.SubmitOptions{RM: o.RM, Stager: o.Stager, Tokens: o.Tokens, Progress: o.Progress}, sub)
	if s == nil {
		return nil, err
	}
	seen := map[string]bool{}
	emit := func(e launch.Event) {
		seen[e.Event] = true
		if o.Emit != nil {
			o.Emit(e)
		}
	}
	emit(s.Event())
	if err := o.PropertiesFile.Record(s.ID); err != nil {
		return nil, err
	}
	if err != nil { // submitted, acceptance not confirmed: recorded, staging kept
		return nil, err
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		wctx, cancel = context.WithTimeoutCause(ctx, o.Timeout, launch.ErrTimeout)
	}
	defer cancel()
	r, err := launch.Watch(wctx, launch.WatchOptions{RM: o.RM, AM: o.AM, ID: s.ID, Until: launch.UntilRunning, Emit: emit, Seen: seen,
		Interval: o.Interval, AMResource: sub.App.AMResource})
	if err != nil {
		if wctx.Err() == nil {
			return nil, err
		}
		why := "start interrupted"
		timedOut := errors.Is(context.Cause(wctx), launch.ErrTimeout) && ctx.Err() == nil
		if timedOut {
			why = fmt.Sprintf("start timed out after %s (--timeout)", o.Timeout)
		}
		res, serr := cleanupAfterAbort(o.Clients, s.ID, why)
		if ferr := o.PropertiesFile.Forget(s.ID); ferr != nil && serr == nil {
			serr = ferr
		}
		if serr != nil {
			return nil, fmt.Errorf("%s after its %s: %w", s.ID, why, serr)
		}
		if fr := res.Report; fr.State.Terminal() && !seen[launch.EventFinished] {
			emit(launch.Event{Event: launch.EventFinished, Time: time.Now().UTC(), AppID: s.ID.String(), Name: fr.Name, Queue: fr.Queue,
				State: fr.State.String(), FinalStatus: fr.FinalStatus.String(), Diagnostics: fr.Diagnostics, TrackingURL: fr.TrackingURL})
		}
		if !timedOut {
			return nil, err
		}
		if res.Report.State.Terminal() && res.How == "already ended" {
			return nil, launch.EndError(res.Report)
		}
		return nil, fmt.Errorf("%w: %s did not run within --timeout %s (%s); it was killed and its staging removed",
			launch.ErrTimeout, s.ID, o.Timeout, lastWords(r, sub.App.AMResource))
	}
	if r.State.Terminal() {
		return nil, launch.EndError(r)
	}
	return &Started{Submitted: s, Report: r, Seen: seen}, nil
}

// cleanupAfterAbort kills (or stops, if it already runs) a session whose
// start did not finish, and removes its staging.
func cleanupAfterAbort(c Clients, id yarn.ApplicationID, why string) (launch.StopResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return launch.Stop(ctx, launch.StopOptions{RM: c.RM, AM: c.AM, Stager: c.Stager, ID: id, Diagnostics: why, Grace: 5 * time.Second})
}

// lastWords says where a start that timed out was: the last waiting
// explanation, or the state.
func lastWords(r yarn.AppReport, am yarn.Resource) string {
	if r.State == yarn.StateAccepted {
		if w, ok := launch.ClassifyWaiting(r.Diagnostics, r.Queue, am); ok {
			s := "it was waiting: " + w.Message
			if w.Fix != "" {
				s += "; fix: " + w.Fix
			}
			return s
		}
		return "it was ACCEPTED, waiting for its AM container"
	}
	if r.State == yarn.StateRunning {
		return "its AM ran, but its JobManager was not up yet"
	}
	return "it was " + r.State.String()
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if strings.EqualFold(x, t) {
			return true
		}
	}
	return false
}

// Wait follows a session until it ends, emitting the events not yet in
// seen. When ctx ends first (Ctrl-C on an attached session), the session
// is stopped gracefully and Wait returns how it ended.
func Wait(ctx context.Context, c Clients, id yarn.ApplicationID, seen map[string]bool, emit func(launch.Event)) (yarn.AppReport, error) {
	r, err := launch.Watch(ctx, launch.WatchOptions{RM: c.RM, AM: c.AM, ID: id, Until: launch.UntilEnd, Emit: emit, Seen: seen})
	if err != nil && ctx.Err() != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		res, serr := launch.Stop(sctx, launch.StopOptions{RM: c.RM, AM: c.AM, Stager: c.Stager, ID: id, Diagnostics: "stopped by the attached client (interrupt)"})
		if serr != nil {
			return res.Report, serr
		}
		r = res.Report
		if emit != nil && !seen[launch.EventFinished] {
			emit(launch.Event{Event: launch.EventFinished, Time: time.Now().UTC(), AppID: id.String(), Name: r.Name, Queue: r.Queue,
				State: r.State.String(), FinalStatus: r.FinalStatus.String(), Diagnostics: r.Diagnostics, TrackingURL: r.TrackingURL})
		}
		return r, launch.EndError(r)
	}
	if err != nil {
		return r, err
	}
	if c.Stager != nil { // the AM removes it on a clean end; not after a kill
		_ = c.Stager.Delete(ctx, id.String())
	}
	return r, launch.EndError(r)
}

// Status is a session's state for `session status`: the RM's view and,
// while it runs, the AM's. It is an API (JSON, snake_case keys, numbers
// as numbers): fields are only ever added.
type Status struct {
	AppID                 string   `json:"app_id"`
	Name                  string   `json:"name"`
	Queue                 string   `json:"queue"`
	User                  string   `json:"user"`
	State                 string   `json:"state"`
	FinalStatus           string   `json:"final_status"`
	TrackingURL           string   `json:"tracking_url"`
	AMURL                 string   `json:"am_url"`
	Diagnostics           string   `json:"diagnostics"`
	JobManagerAddress     string   `json:"jobmanager_address"`
	JobManagerRESTAddress string   `json:"jobmanager_rest_address"`
	JobManagerState       string   `json:"jobmanager_state"`
	TaskManagersTarget    int      `json:"taskmanagers_target"`
	TaskManagersRunning   int      `json:"taskmanagers_running"`
	TaskManagersPending   int      `json:"taskmanagers_pending"`
	TaskManagerRestarts   int      `json:"taskmanager_restarts"`
	Attempt               int32    `json:"attempt"`
	TaskManagers          []string `json:"taskmanagers"`
	// AMError says why the AM could not be asked (empty when it was, or
	// when the session is not running).
	AMError string `json:"am_error,omitempty"`
	// TaskManagersPendingReason is why pending TaskManagers wait, as the
	// AM sees it (amapi.Pending*), TaskManagersPendingDetail in words.
	TaskManagersPendingReason string `json:"taskmanagers_pending_reason,omitempty"`
	TaskManagersPendingDetail string `json:"taskmanagers_pending_detail,omitempty"`
	// WaitingReason, Waiting and WaitingFix explain an ACCEPTED session's
	// wait for its AM (launch.ClassifyWaiting; empty when the RM's
	// diagnostics say nothing to act on).
	WaitingReason string `json:"waiting_reason,omitempty"`
	Waiting       string `json:"waiting,omitempty"`
	WaitingFix    string `json:"waiting_fix,omitempty"`
}

// GetStatus reads a session's status.
func GetStatus(ctx context.Context, c Clients, id yarn.ApplicationID) (Status, error) {
	r, err := c.RM.GetApplicationReport(ctx, id)
	if err != nil {
		return Status{}, err
	}
	s := Status{AppID: r.ID.String(), Name: r.Name, Queue: r.Queue, User: r.User, State: r.State.String(), FinalStatus: r.FinalStatus.String(),
		TrackingURL: r.TrackingURL, Diagnostics: r.Diagnostics, Attempt: r.CurrentAttempt.Attempt, TaskManagers: []string{}}
	if r.State == yarn.StateAccepted {
		if w, ok := launch.ClassifyWaiting(r.Diagnostics, r.Queue, yarn.Resource{}); ok {
			s.WaitingReason, s.Waiting, s.WaitingFix = w.Reason, w.Message, w.Fix
		}
	}
	if r.State != yarn.StateRunning {
		return s, nil
	}
	u, err := amapi.AMURL(r)
	if err != nil {
		s.AMError = err.Error()
		return s, nil
	}
	s.AMURL = u
	st, err := c.AM.Status(ctx, u)
	if err != nil {
		s.AMError = err.Error()
		return s, nil
	}
	s.JobManagerAddress, s.JobManagerRESTAddress, s.JobManagerState = st.JobManager.Address, st.JobManager.RESTAddress, st.JobManager.State
	s.TaskManagersTarget, s.TaskManagersRunning, s.TaskManagersPending, s.TaskManagerRestarts = st.Target, st.Running, st.Pending, st.Restarts
	if st.Pending > 0 {
		s.TaskManagersPendingReason, s.TaskManagersPendingDetail = st.PendingReason, st.PendingDetail
	}
	for _, tm := range st.TaskManagers {
		s.TaskManagers = append(s.TaskManagers, tm.ContainerID)
	}
	sort.Strings(s.TaskManagers)
	return s, nil
}

// List returns the sessions the RM knows: active ones, or all with all.
func List(ctx context.Context, rm *yarn.RMClient, all bool) ([]yarn.AppReport, error) {
	f := yarn.AppFilter{Types: []string{launch.AppType}, Tags: []string{Tag}}
	if !all {
		f.States = []yarn.AppState{yarn.StateNew, yarn.StateNewSaving, yarn.StateSubmitted, yarn.StateAccepted, yarn.StateRunning}
	}
	return rm.GetApplications(ctx, f)
}

// Stop stops a session (launch.Stop) and forgets it in the properties
// file if the file names it for its cluster.
func Stop(ctx context.Context, c Clients, id yarn.ApplicationID, f PropertiesFile) (launch.StopResult, error) {
	res, err := launch.Stop(ctx, launch.StopOptions{RM: c.RM, AM: c.AM, Stager: c.Stager, ID: id, Diagnostics: "session stopped by spindle session stop"})
	if err != nil {
		return res, err
	}
	return res, f.Forget(id)
}

// Resolve returns id if set, else the session the properties file
// records for its cluster.
func Resolve(id *yarn.ApplicationID, f PropertiesFile) (yarn.ApplicationID, error) {
	if id != nil {
		return *id, nil
	}
	p, err := f.Read()
	if errors.Is(err, os.ErrNotExist) {
		return yarn.ApplicationID{}, fmt.Errorf("%w for this cluster (%s) in %s: pass an APP_ID or start one with `spindle session start`",
			ErrNoSession, f.Cluster, filepath.Clean(f.Path))
	}
	if err != nil {
		return yarn.ApplicationID{}, err
	}
	return p.AppID, nil
}
