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

// pendingLocked returns the amapi.Pending* code for the fleet's pending
// requests and the same in words; f.mu is held.
func (f *fleet) pendingLocked() (reason, detail string) {
	asked := f.askedLocked()
	if asked == 0 {
		return amapi.PendingNone, ""
	}
	label := f.req.NodeLabel
	known, candidates := f.nodes.partition(label)
	if label != "" && known > 0 && len(candidates) == 0 {
		return amapi.PendingNodeLabel, fmt.Sprintf("%d TaskManager(s) pending: none of the %d nodes the AM knows has node label %q, "+
			"and YARN places them only on such nodes; fix: start the session with a --node-label that nodes have (yarn cluster --list-node-labels), or none",
			asked, known, label)
	}
	if q := f.tr.Quarantined(); len(candidates) > 0 && len(q) > 0 && !slices.ContainsFunc(candidates, func(h string) bool { return !q[h] }) {
		return amapi.PendingBlacklisted, fmt.Sprintf("%d TaskManager(s) pending: every node that could run one (%d) is blacklisted after TaskManager "+
			"failures there; they come off the blacklist when their quarantine ends (see the restart policy's quarantined nodes)", asked, len(candidates))
	}
	if f.haveHeadroom && f.headroom.MemoryMB < f.req.Resource.MemoryMB {
		return amapi.PendingNoRoom, fmt.Sprintf("%d TaskManager(s) pending: the ResourceManager can give this application %s more "+
			"(its queue's limit or the cluster's free resources, whichever is less) and a TaskManager needs %s; they start as other "+
			"containers end; fix: fewer or smaller TaskManagers (-n, -tm), or another queue (--queue)",
			asked, memText(f.headroom), memText(f.req.Resource))
	}
	return amapi.PendingScheduling, fmt.Sprintf("%d TaskManager(s) pending: the ResourceManager has room and places containers as NodeManagers heartbeat", asked)
}

func memText(r yarn.Resource) string { return fmt.Sprintf("%d MB", max(r.MemoryMB, 0)) }

// updatePendingLocked sets the pending reason gauge (1 for the current
// reason, 0 for the others); f.mu is held.
func (f *fleet) updatePendingLocked() {
	reason, _ := f.pendingLocked()
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
