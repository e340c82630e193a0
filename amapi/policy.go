package amapi

import "time"

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

// WithDefaults returns p with its zero fields filled in.
func (p RestartPolicy) WithDefaults() RestartPolicy {
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
