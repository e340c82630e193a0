package am

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// ExitClass is what a completed container's exit status means for the
// fleet.
type ExitClass int

// Exit classes.
const (
	// ExitClassSucceeded: the process exited 0.
	ExitClassSucceeded ExitClass = iota
	// ExitClassFailed: the application's own fault (non-zero exit code,
	// a memory limit, an unknown status); it counts against the policy.
	ExitClassFailed
	// ExitClassLost: the cluster took the container (preempted, aborted
	// or lost with its node, disks failed, killed by the RM or the
	// container scheduler); it does not count.
	ExitClassLost
	// ExitClassKilledByAM: this or an earlier AM stopped it.
	ExitClassKilledByAM
)

func (c ExitClass) String() string {
	switch c {
	case ExitClassSucceeded:
		return "succeeded"
	case ExitClassFailed:
		return "failed"
	case ExitClassLost:
		return "lost"
	case ExitClassKilledByAM:
		return "killed-by-am"
	}
	return fmt.Sprintf("ExitClass(%d)", int(c))
}

// Classify sorts a container exit status (ContainerExitStatus constants,
// or the process's exit code) into an ExitClass.
func Classify(exitStatus int32) ExitClass {
	switch exitStatus {
	case yarn.ExitSuccess:
		return ExitClassSucceeded
	case yarn.ExitKilledByAppMaster:
		return ExitClassKilledByAM
	case yarn.ExitAborted, yarn.ExitDisksFailed, yarn.ExitPreempted, yarn.ExitKilledByResourceManager,
		yarn.ExitKilledAfterAppCompletion, yarn.ExitKilledByContainerScheduler:
		return ExitClassLost
	}
	return ExitClassFailed
}

// Decision is the policy's answer to a failure.
type Decision struct {
	// GiveUp: the limit is reached; end the application FAILED with
	// Reason as the diagnostics.
	GiveUp bool
	// Delay is how long to wait before requesting the replacement.
	Delay time.Duration
	// Quarantine names a node to blacklist now (empty for none), until
	// QuarantineUntil.
	Quarantine      string
	QuarantineUntil time.Time
	// Code is the decision as a stable code; Reason says it in words.
	Code ReasonCode
	// Reason says in words what was decided and why.
	Reason string
}

// ReasonCode names a Decision in a stable form: logs, the status JSON and
// tests match on it, never on the prose of Decision.Reason.
type ReasonCode string

// Reason codes.
const (
	// ReasonReplaceNow: the first failure within the window; the
	// replacement is requested at once.
	ReasonReplaceNow ReasonCode = "replace_now"
	// ReasonBackoff: a further failure within the window; the replacement
	// waits Decision.Delay.
	ReasonBackoff ReasonCode = "backoff"
	// ReasonGiveUp: more failures within the window than MaxFailures
	// allows; the application ends FAILED.
	ReasonGiveUp ReasonCode = "max_failures_exceeded"
)

// Tracker applies a RestartPolicy to a stream of failures. It is the
// restart tracker the fleet loop consults; it never sleeps or reads the
// clock itself (every method takes now), so tests drive it with made-up
// times. It is safe for concurrent use (the HTTP status page reads it
// while the loop writes).
type Tracker struct {
	mu     sync.Mutex
	what   string // "TaskManager" or "JobManager", for reasons
	p      amapi.RestartPolicy
	rnd    func() float64
	recent []amapi.Failure // within the window, oldest first
	last   []amapi.Failure // the last few, whatever their age, for diagnostics
	total  int
	// quarantined maps a node to the end of its quarantine.
	quarantined map[string]time.Time
	lastReason  string
	lastCode    ReasonCode
	holdUntil   time.Time
}

// lastKept is how many failures the Tracker remembers for diagnostics.
const lastKept = 5

// NewTracker returns a Tracker for p (zero fields take their defaults);
// what names the restarted thing in reasons. rnd returns numbers in [0,1)
// for the jitter; nil uses math/rand.
func NewTracker(what string, p amapi.RestartPolicy, rnd func() float64) *Tracker {
	if rnd == nil {
		rnd = rand.Float64
	}
	return &Tracker{what: what, p: p.WithDefaults(), rnd: rnd, quarantined: map[string]time.Time{}}
}

// Policy returns the effective policy, defaults filled in.
func (t *Tracker) Policy() amapi.RestartPolicy { return t.p }

// prune drops failures older than the window; mu is held.
func (t *Tracker) prune(now time.Time) {
	i := 0
	for i < len(t.recent) && now.Sub(t.recent[i].At) >= t.p.Window {
		i++
	}
	t.recent = t.recent[i:]
}

// Failure records f and decides what to do about it.
func (t *Tracker) Failure(f amapi.Failure) Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := f.At
	t.prune(now)
	t.recent = append(t.recent, f)
	t.last = append(t.last, f)
	if len(t.last) > lastKept {
		t.last = t.last[len(t.last)-lastKept:]
	}
	t.total++
	n := len(t.recent)
	var d Decision
	if t.p.MaxFailures >= 0 && n > t.p.MaxFailures {
		d.GiveUp, d.Code = true, ReasonGiveUp
		d.Reason = fmt.Sprintf("restart policy gave up: %d %s failures within %s exceed the limit of %d (max_failures); last failures: %s",
			n, t.what, t.p.Window, t.p.MaxFailures, t.lastLocked())
		t.lastReason, t.lastCode = d.Reason, d.Code
		return d
	}
	d.Delay = t.backoff(n)
	d.Code = ReasonReplaceNow
	if d.Delay > 0 {
		d.Code = ReasonBackoff
	}
	if until := now.Add(d.Delay); until.After(t.holdUntil) {
		t.holdUntil = until
	}
	if f.Node != "" && t.p.NodeFailures > 0 {
		if _, q := t.quarantined[f.Node]; !q {
			k := 0
			for _, r := range t.recent {
				if r.Node == f.Node {
					k++
				}
			}
			if k >= t.p.NodeFailures {
				d.Quarantine = f.Node
				d.QuarantineUntil = now.Add(t.p.Quarantine)
				t.quarantined[f.Node] = d.QuarantineUntil
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s failure %d of at most %d within %s (%s)", t.what, n, t.p.MaxFailures, t.p.Window, f)
	if d.Delay == 0 {
		b.WriteString("; replacing it at once")
	} else {
		fmt.Fprintf(&b, "; backing off %s before replacing it", d.Delay.Round(time.Millisecond))
	}
	if d.Quarantine != "" {
		fmt.Fprintf(&b, "; node %s quarantined for %s after %d failures there", d.Quarantine, t.p.Quarantine, t.p.NodeFailures)
	}
	d.Reason = b.String()
	t.lastReason, t.lastCode = d.Reason, d.Code
	return d
}

// backoff is the delay after the n-th failure within the window: none
// for the first, then InitialBackoff doubling up to MaxBackoff, spread by
// the jitter; mu is held.
func (t *Tracker) backoff(n int) time.Duration {
	if n <= 1 {
		return 0
	}
	d := float64(t.p.InitialBackoff) * math.Pow(2, float64(n-2))
	d = min(d, float64(t.p.MaxBackoff))
	if t.p.Jitter > 0 {
		d *= 1 + t.p.Jitter*(2*t.rnd()-1)
	}
	return time.Duration(d)
}

// lastLocked lists the last failures for a diagnostic; mu is held.
func (t *Tracker) lastLocked() string {
	parts := make([]string, 0, len(t.last))
	for i := len(t.last) - 1; i >= 0; i-- {
		parts = append(parts, t.last[i].String())
	}
	return strings.Join(parts, "; ")
}

// Release returns the nodes whose quarantine is over at now, sorted, and
// forgets them: the caller takes them off the RM's blacklist.
func (t *Tracker) Release(now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for n, until := range t.quarantined {
		if !now.Before(until) {
			out = append(out, n)
			delete(t.quarantined, n)
		}
	}
	slices.Sort(out)
	return out
}

// Quarantined is the set of nodes in quarantine (until Release takes
// them out); nil if none.
func (t *Tracker) Quarantined() map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.quarantined) == 0 {
		return nil
	}
	out := make(map[string]bool, len(t.quarantined))
	for n := range t.quarantined {
		out[n] = true
	}
	return out
}

// NextRelease is when the next quarantine ends; zero if none.
func (t *Tracker) NextRelease() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var next time.Time
	for _, until := range t.quarantined {
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	return next
}

// HoldUntil is the end of the current backoff: no replacement is
// requested before it.
func (t *Tracker) HoldUntil() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.holdUntil
}

// State describes the tracker at now.
func (t *Tracker) State(now time.Time) amapi.PolicyState {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	s := amapi.PolicyState{FailuresInWindow: len(t.recent), MaxFailures: t.p.MaxFailures, Window: t.p.Window.String(),
		TotalFailures: t.total, LastDecision: t.lastReason, LastDecisionCode: string(t.lastCode), LastFailures: slices.Clone(t.last), Quarantined: []amapi.Quarantine{}}
	if s.LastFailures == nil {
		s.LastFailures = []amapi.Failure{}
	}
	if t.holdUntil.After(now) {
		h := t.holdUntil
		s.BackoffUntil = &h
	}
	for n, until := range t.quarantined {
		s.Quarantined = append(s.Quarantined, amapi.Quarantine{Node: n, Until: until})
	}
	slices.SortFunc(s.Quarantined, func(a, b amapi.Quarantine) int { return strings.Compare(a.Node, b.Node) })
	return s
}
