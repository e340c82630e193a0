package am

import (
	"fmt"
	"slices"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// Why TaskManagers stay pending, as far as the AM can tell: the RM says
// nothing about a pending container request, so the AM reads what it
// has. In order: the request's node label against the labels of the
// nodes it knows (the submitter's getClusterNodes and allocate's
// updated nodes); its blacklist (the restart policy's quarantined nodes)
// against those nodes; the headroom of the last allocate response
// (AllocateResponse.limit: what the application may still get, its
// queue's limit or the cluster's free resources, whichever is less)
// against one TaskManager's memory, the one resource the
// CapacityScheduler's default calculator counts; otherwise the scheduler
// simply has not placed them yet.

// pending is what pendingReasonLocked found, enough to word it.
type pending struct {
	reason     string
	asked      int
	known      int // nodes the AM knows
	candidates int // of those, nodes in the request's partition
	label      string
	headroom   yarn.Resource
	need       yarn.Resource
}

// pendingReasonLocked returns the amapi.Pending* code for the fleet's
// pending requests, with what explains it; f.mu is held. It formats
// nothing: the gauge reads it on every fleet change.
func (f *fleet) pendingReasonLocked() pending {
	p := pending{asked: f.askedLocked(), label: f.req.NodeLabel, headroom: f.headroom, need: f.req.Resource}
	if p.asked == 0 {
		p.reason = amapi.PendingNone
		return p
	}
	known, candidates := f.nodes.partition(p.label)
	p.known, p.candidates = known, len(candidates)
	q := f.tr.Quarantined()
	switch {
	case p.label != "" && known > 0 && len(candidates) == 0:
		p.reason = amapi.PendingNodeLabel
	case len(candidates) > 0 && len(q) > 0 && !slices.ContainsFunc(candidates, func(h string) bool { return !q[h] }):
		p.reason = amapi.PendingBlacklisted
	case f.haveHeadroom && f.headroom.MemoryMB < f.req.Resource.MemoryMB:
		p.reason = amapi.PendingNoRoom
	default:
		p.reason = amapi.PendingScheduling
	}
	return p
}

// detail is p in words, with the fix where there is one.
func (p pending) detail() string {
	switch p.reason {
	case amapi.PendingNone:
		return ""
	case amapi.PendingNodeLabel:
		return fmt.Sprintf("%d TaskManager(s) pending: none of the %d nodes the AM knows has node label %q, "+
			"and YARN places them only on such nodes; fix: start the session with a --node-label that nodes have (yarn cluster --list-node-labels), or none",
			p.asked, p.known, p.label)
	case amapi.PendingBlacklisted:
		return fmt.Sprintf("%d TaskManager(s) pending: every node that could run one (%d) is blacklisted after TaskManager "+
			"failures there; they come off the blacklist when their quarantine ends (see the restart policy's quarantined nodes)", p.asked, p.candidates)
	case amapi.PendingNoRoom:
		return fmt.Sprintf("%d TaskManager(s) pending: the ResourceManager can give this application %s more "+
			"(its queue's limit or the cluster's free resources, whichever is less) and a TaskManager needs %s; they start as other "+
			"containers end; fix: fewer or smaller TaskManagers (-n, -tm), or another queue (--queue)",
			p.asked, memText(p.headroom), memText(p.need))
	}
	return fmt.Sprintf("%d TaskManager(s) pending: the ResourceManager has room and places containers as NodeManagers heartbeat", p.asked)
}

// pendingLocked returns the amapi.Pending* code for the fleet's pending
// requests and the same in words; f.mu is held.
func (f *fleet) pendingLocked() (reason, detail string) {
	p := f.pendingReasonLocked()
	return p.reason, p.detail()
}

func memText(r yarn.Resource) string { return fmt.Sprintf("%d MB", max(r.MemoryMB, 0)) }

// updatePendingLocked sets the pending reason gauge (1 for the current
// reason, 0 for the others) when the reason changed; f.mu is held.
func (f *fleet) updatePendingLocked() {
	reason := f.pendingReasonLocked().reason
	if reason == f.pendingShown {
		return
	}
	f.pendingShown = reason
	for _, r := range amapi.PendingReasons {
		v := 0.0
		if r == reason {
			v = 1
		}
		f.m.pendingReason.WithLabelValues(r).Set(v)
	}
}

// partition counts the known nodes and returns the hosts of those in
// label's partition (no labels for "", else having label).
func (v *nodeView) partition(label string) (known int, hosts []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, n := range v.nodes {
		if (label == "" && len(n.Labels) == 0) || (label != "" && slices.Contains(n.Labels, label)) {
			hosts = append(hosts, n.Host)
		}
	}
	return len(v.nodes), hosts
}
