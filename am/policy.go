package am

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// RestartPolicy says how the AM reacts to TaskManager (and JobManager)
// failures. It is a plain value: the zero value takes the defaults below,
// and it is JSON-encodable so the submitter can ship it in the Spec.
//
// Only the payload's own exits count (see Classify: failures, and in the
// fleet also exits with 0, since a TaskManager is not meant to end): a
// container the cluster took away (preemption, a lost node, a kill by the
// RM) is replaced at once and is never held against the application.
type RestartPolicy struct {
	// Window is the failure-rate interval: only failures younger than it
	// count towards MaxFailures and NodeFailures, and towards the backoff.
	// 0 means 5 minutes.
	Window time.Duration `json:"window,omitempty"`
	// MaxFailures is how many failures the window may hold: one more and
	// the AM gives up and ends the application FAILED. 0 means 10;
	// negative means never give up.
	MaxFailures int `json:"max_failures,omitempty"`
	// InitialBackoff is the delay before the replacement after the second
	// failure within the window (the first is replaced at once); each
	// further failure doubles it, up to MaxBackoff. 0 means 1 s.
	InitialBackoff time.Duration `json:"initial_backoff,omitempty"`
	// MaxBackoff caps the delay. 0 means 1 minute.
	MaxBackoff time.Duration `json:"max_backoff,omitempty"`
	// Jitter spreads each delay uniformly over ±Jitter of itself so that
	// many AMs do not retry in step; 0 means 0.2, negative means none.
	Jitter float64 `json:"jitter,omitempty"`
	// NodeFailures is K of node quarantine: K failures on one node within
	// the window blacklist the node at the RM for Quarantine. 0 means 3;
	// negative disables quarantine.
	NodeFailures int `json:"node_failures,omitempty"`
	// Quarantine is how long a node stays blacklisted before the AM
	// removes it from the blacklist again. 0 means 10 minutes.
	Quarantine time.Duration `json:"quarantine,omitempty"`
}

// withDefaults fills in the zero fields.
func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.Window <= 0 {
		p.Window = 5 * time.Minute
	}
	if p.MaxFailures == 0 {
		p.MaxFailures = 10
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = time.Second
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = time.Minute
	}
	p.MaxBackoff = max(p.MaxBackoff, p.InitialBackoff)
	switch {
	case p.Jitter == 0:
		p.Jitter = 0.2
	case p.Jitter < 0:
		p.Jitter = 0
	case p.Jitter > 1:
		p.Jitter = 1
	}
	if p.NodeFailures == 0 {
		p.NodeFailures = 3
	}
	if p.Quarantine <= 0 {
		p.Quarantine = 10 * time.Minute
	}
	return p
}

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

// Failure is one failed container (or JobManager process) as the policy
// sees it.
type Failure struct {
	At time.Time `json:"time"`
	// Container is the container id, empty for the JobManager process.
	Container string `json:"container_id,omitempty"`
	// Node is the NodeManager host, empty if none.
	Node string `json:"node,omitempty"`
	// ExitStatus is the container exit status or process exit code.
	ExitStatus int32 `json:"exit_status"`
	// Diagnostics are the NodeManager's (or the launch error's) words,
	// trimmed.
	Diagnostics string `json:"diagnostics,omitempty"`
}

func (f Failure) String() string {
	var b strings.Builder
	if f.Container != "" {
		b.WriteString(f.Container)
	} else {
		b.WriteString("JobManager")
	}
	if f.Node != "" {
		b.WriteString(" on " + f.Node)
	}
	b.WriteString(": " + yarn.ExitStatusText(f.ExitStatus))
	if d := oneLine(f.Diagnostics, 200); d != "" {
		b.WriteString(" (" + d + ")")
	}
	return b.String()
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
	// Reason says in words what was decided and why.
	Reason string
}

// Tracker applies a RestartPolicy to a stream of failures. It is the
// restart tracker the fleet loop consults; it never sleeps or reads the
// clock itself (every method takes now), so tests drive it with made-up
// times. It is safe for concurrent use (the HTTP status page reads it
// while the loop writes).
type Tracker struct {
	mu     sync.Mutex
	what   string // "TaskManager" or "JobManager", for reasons
	p      RestartPolicy
	rnd    func() float64
	recent []Failure // within the window, oldest first
	last   []Failure // the last few, whatever their age, for diagnostics
	total  int
	// quarantined maps a node to the end of its quarantine.
	quarantined map[string]time.Time
	lastReason  string
	holdUntil   time.Time
}

// lastKept is how many failures the Tracker remembers for diagnostics.
const lastKept = 5

// NewTracker returns a Tracker for p (zero fields take their defaults);
// what names the restarted thing in reasons. rnd returns numbers in [0,1)
// for the jitter; nil uses math/rand.
func NewTracker(what string, p RestartPolicy, rnd func() float64) *Tracker {
	if rnd == nil {
		rnd = rand.Float64
	}
	return &Tracker{what: what, p: p.withDefaults(), rnd: rnd, quarantined: map[string]time.Time{}}
}

// Policy returns the effective policy, defaults filled in.
func (t *Tracker) Policy() RestartPolicy { return t.p }

// prune drops failures older than the window; mu is held.
func (t *Tracker) prune(now time.Time) {
	i := 0
	for i < len(t.recent) && now.Sub(t.recent[i].At) >= t.p.Window {
		i++
	}
	t.recent = t.recent[i:]
}

// Failure records f and decides what to do about it.
func (t *Tracker) Failure(f Failure) Decision {
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
		d.GiveUp = true
		d.Reason = fmt.Sprintf("restart policy gave up: %d %s failures within %s exceed the limit of %d (max_failures); last failures: %s",
			n, t.what, t.p.Window, t.p.MaxFailures, t.lastLocked())
		t.lastReason = d.Reason
		return d
	}
	d.Delay = t.backoff(n)
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
	t.lastReason = d.Reason
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

// Quarantine is one quarantined node.
type Quarantine struct {
	Node  string    `json:"node"`
	Until time.Time `json:"until"`
}

// PolicyState is the tracker's state for the status page.
type PolicyState struct {
	FailuresInWindow int          `json:"failures_in_window"`
	MaxFailures      int          `json:"max_failures"`
	Window           string       `json:"window"`
	TotalFailures    int          `json:"total_failures"`
	BackoffUntil     *time.Time   `json:"backoff_until,omitempty"`
	Quarantined      []Quarantine `json:"quarantined"`
	LastDecision     string       `json:"last_decision,omitempty"`
	LastFailures     []Failure    `json:"last_failures"`
}

// State describes the tracker at now.
func (t *Tracker) State(now time.Time) PolicyState {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	s := PolicyState{FailuresInWindow: len(t.recent), MaxFailures: t.p.MaxFailures, Window: t.p.Window.String(),
		TotalFailures: t.total, LastDecision: t.lastReason, LastFailures: slices.Clone(t.last), Quarantined: []Quarantine{}}
	if s.LastFailures == nil {
		s.LastFailures = []Failure{}
	}
	if t.holdUntil.After(now) {
		h := t.holdUntil
		s.BackoffUntil = &h
	}
	for n, until := range t.quarantined {
		s.Quarantined = append(s.Quarantined, Quarantine{Node: n, Until: until})
	}
	slices.SortFunc(s.Quarantined, func(a, b Quarantine) int { return strings.Compare(a.Node, b.Node) })
	return s
}

// oneLine condenses s, a NodeManager diagnostic (multi-line, each entry
// stamped "[date time]", often repeated) or a log excerpt, into one line
// of at most n bytes: stamps and the launcher's boilerplate go, repeated
// lines are kept once, the rest is joined with " | ".
func oneLine(s string, n int) string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			if i := strings.IndexByte(l, ']'); i > 0 && i < 32 {
				l = strings.TrimSpace(l[i+1:])
			}
		}
		if l == "" || seen[l] || boilerplate(l) {
			continue
		}
		seen[l] = true
		parts = append(parts, l)
	}
	out := strings.Join(parts, " | ")
	if len(out) > n {
		out = out[:n] + "…"
	}
	return out
}

// boilerplate reports NodeManager diagnostic lines that say nothing the
// exit status does not.
func boilerplate(l string) bool {
	for _, p := range []string{"Exception from container-launch", "Container id:", "Exit code:", "Error file:",
		"Last 4096 bytes of prelaunch.err", "Last 4096 bytes of stderr", "Container exited with a non-zero exit code"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
