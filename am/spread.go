package am

import (
	"cmp"
	"slices"
	"sync"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// nodeView is what the AM knows of the cluster's nodes, for asking
// node-local: the submitter's getClusterNodes, then allocate's updated
// nodes and the nodes of allocated containers. It has a lock of its own:
// the AMRM client resolves racks through it while the fleet's lock is
// held.
type nodeView struct {
	mu    sync.Mutex
	nodes map[string]*amapi.ClusterNode // by host
}

func newNodeView(ns []amapi.ClusterNode) *nodeView {
	v := &nodeView{nodes: map[string]*amapi.ClusterNode{}}
	for _, n := range ns {
		if n.Host != "" {
			v.nodes[n.Host] = &n
		}
	}
	return v
}

// rackOf is the rack the RM reported for host ("" if unknown: the AMRM
// client then infers no rack, as for /default-rack).
func (v *nodeView) rackOf(host string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if n := v.nodes[host]; n != nil && n.Rack != "" {
		return n.Rack
	}
	return yarn.DefaultRack
}

// update applies allocate's node reports: unusable nodes are dropped,
// usable ones added or refreshed.
func (v *nodeView) update(rs []yarn.NodeReport) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range rs {
		if !r.State.Usable() {
			delete(v.nodes, r.ID.Host)
			continue
		}
		n := amapi.ClusterNodeFromReport(r)
		v.nodes[r.ID.Host] = &n
	}
}

// seen records a node a container was allocated on (a node the RM
// schedules on), taking res off what it has free.
func (v *nodeView) seen(host string, res yarn.Resource) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.nodes[host]
	if n == nil {
		n = &amapi.ClusterNode{Host: host}
		v.nodes[host] = n
	}
	n.AvailableMB = max(n.AvailableMB-res.MemoryMB, 0)
	n.AvailableVCores = max(n.AvailableVCores-res.VCores, 0)
}

// spread places n containers of size res on the known nodes (except
// those in skip) in proportion to how many fit on each (largest
// remainders first), at most what fits; nil when no node has room, so
// the caller asks for any host. Nodes with labels are left out: a
// request without a label expression goes to the default partition.
func (v *nodeView) spread(n int, res yarn.Resource, skip map[string]bool) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	type cand struct {
		host string
		fit  int
	}
	var cs []cand
	total := 0
	for h, nd := range v.nodes {
		if skip[h] || len(nd.Labels) > 0 || res.MemoryMB <= 0 {
			continue
		}
		avail := nd.AvailableMB
		if avail == 0 && nd.CapabilityMB > 0 && nd.AvailableVCores == 0 {
			continue
		}
		// Memory only, as the CapacityScheduler's default resource
		// calculator places containers (CapacitySchedulerConfiguration:
		// yarn.scheduler.capacity.resource-calculator defaults to
		// DefaultResourceCalculator). Under the DominantResourceCalculator
		// a node short of vcores just turns its asks over to the rack and
		// "*" (relax locality).
		fit := int(avail / res.MemoryMB)
		if fit > 0 {
			cs = append(cs, cand{h, fit})
			total += fit
		}
	}
	if total == 0 {
		return nil
	}
	slices.SortFunc(cs, func(a, b cand) int { return cmp.Or(cmp.Compare(b.fit, a.fit), cmp.Compare(a.host, b.host)) })
	k := min(n, total)
	out := make([]string, 0, k)
	share := make([]int, len(cs))
	left := k
	for i, c := range cs {
		share[i] = k * c.fit / total
		left -= share[i]
	}
	for i := 0; left > 0; i = (i + 1) % len(cs) {
		if share[i] < cs[i].fit {
			share[i]++
			left--
		}
	}
	for i, c := range cs {
		for range share[i] {
			out = append(out, c.host)
		}
	}
	return out
}
