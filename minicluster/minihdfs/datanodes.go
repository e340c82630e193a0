package minihdfs

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// dataNodes is the NameNode's view of its DataNodes: the DatanodeManager
// (which nodes exist and live) and the location half of BlockManager
// (where each block's replicas were placed). Its lock is a leaf: it is
// taken under nn.mu and never calls back into the NameNode.
type dataNodes struct {
	list []*dataNode

	mu       sync.Mutex
	expected map[uint64][]*dataNode // block id -> pipeline targets, in order
	next     int                    // round-robin start of the next placement
}

func newDataNodes(list []*dataNode) *dataNodes {
	return &dataNodes{list: list, expected: map[uint64][]*dataNode{}}
}

// live is the number of running DataNodes.
func (g *dataNodes) live() int {
	n := 0
	for _, dn := range g.list {
		if dn.alive() {
			n++
		}
	}
	return n
}

// byID finds the DataNode a DatanodeInfoProto names: by UUID, else by
// transfer address.
func (g *dataNodes) byID(id *hdfspb.DatanodeIDProto) *dataNode {
	for _, dn := range g.list {
		if id.GetDatanodeUuid() == dn.uuid || (id.GetIpAddr() == dn.ip && int(id.GetXferPort()) == dn.port) {
			return dn
		}
	}
	return nil
}

// choose picks up to n distinct live DataNodes outside exclude, after the
// ones already chosen (BlockPlacementPolicyDefault.chooseTarget on one
// rack: every node is as close as any other, so placement rotates over
// them to spread blocks). It returns chosen followed by the new nodes.
func (g *dataNodes) choose(n int, chosen []*dataNode, exclude []*hdfspb.DatanodeInfoProto) (targets []*dataNode, running, excluded int) {
	skip := map[*dataNode]bool{}
	for _, dn := range chosen {
		skip[dn] = true
	}
	for _, x := range exclude {
		if dn := g.byID(x.GetId()); dn != nil && !skip[dn] {
			skip[dn] = true
			if dn.alive() {
				excluded++
			}
		}
	}
	running = g.live()
	targets = append(targets, chosen...)
	g.mu.Lock()
	start := g.next
	g.next++
	g.mu.Unlock()
	for i := range g.list {
		if len(targets)-len(chosen) >= n {
			break
		}
		dn := g.list[(start+i)%len(g.list)]
		if !skip[dn] && dn.alive() {
			targets = append(targets, dn)
		}
	}
	return targets, running, excluded
}

// place records the pipeline a block is written through: the replicas it
// should have (BlockUnderConstructionFeature.setExpectedLocations).
func (g *dataNodes) place(id uint64, targets []*dataNode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expected[id] = append([]*dataNode(nil), targets...)
}

// replace records the pipeline a client rebuilt (updatePipeline): the
// nodes it names, in its order. Unknown nodes are left out.
func (g *dataNodes) replace(id uint64, nodes []*hdfspb.DatanodeIDProto) {
	var targets []*dataNode
	for _, n := range nodes {
		if dn := g.byID(n); dn != nil {
			targets = append(targets, dn)
		}
	}
	g.place(id, targets)
}

// locations are the DataNodes to hand a client for a block: for one under
// construction its pipeline; for a finished one the nodes holding a
// finalized replica of at least generation stamp gs, in pipeline order. A
// stopped DataNode stays listed, as in the ten minutes before a real
// NameNode declares a silent node dead, so clients must fall over to the
// next replica.
func (g *dataNodes) locations(id, gs uint64, uc bool) []*dataNode {
	g.mu.Lock()
	order := append([]*dataNode(nil), g.expected[id]...)
	g.mu.Unlock()
	if uc {
		return order
	}
	seen := map[*dataNode]bool{}
	for _, dn := range order {
		seen[dn] = true
	}
	for _, dn := range g.list {
		if !seen[dn] {
			order = append(order, dn)
		}
	}
	var out []*dataNode
	for _, dn := range order {
		if st, ok := dn.replicaState(id); ok && st.finalized && st.gs >= gs {
			out = append(out, dn)
		}
	}
	return out
}

// recoverReplica is block recovery for a block whose writer is gone
// (BlockRecoveryWorker.syncBlock, simplified): the replicas with the
// highest generation stamp are cut to the shortest of them and finalized.
// Live nodes' replicas count; only when there are none do a stopped
// node's (its files are still on this machine, as if it came back). It
// returns that length, or false when no node has a replica.
func (g *dataNodes) recoverReplica(id uint64) (int64, bool) {
	for _, live := range []bool{true, false} {
		var best []*dataNode
		var gs uint64
		length := int64(-1)
		for _, dn := range g.list {
			st, ok := dn.replicaState(id)
			if !ok || dn.alive() != live {
				continue
			}
			switch {
			case len(best) == 0 || st.gs > gs:
				best, gs, length = []*dataNode{dn}, st.gs, st.length
			case st.gs == gs:
				best = append(best, dn)
				length = min(length, st.length)
			}
		}
		if len(best) == 0 {
			continue
		}
		for _, dn := range best {
			dn.finalizeAt(id, length)
		}
		g.mu.Lock()
		g.expected[id] = best
		g.mu.Unlock()
		return length, true
	}
	return 0, false
}

// invalidate deletes the replicas of blocks the NameNode dropped, on every
// node, and forgets where they were.
func (g *dataNodes) invalidate(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	g.mu.Lock()
	for _, id := range ids {
		delete(g.expected, id)
	}
	g.mu.Unlock()
	for _, dn := range g.list {
		dn.invalidate(ids)
	}
}

// usage sums capacity and use over the live DataNodes (getFsStats).
func (g *dataNodes) usage() (capacity, used uint64) {
	for _, dn := range g.list {
		if dn.alive() {
			c, u := dn.usage()
			capacity += c
			used += u
		}
	}
	return capacity, used
}

// report lists the DataNodes of one DatanodeReportType.
func (g *dataNodes) report(typ hdfspb.DatanodeReportTypeProto, now time.Time) []*hdfspb.DatanodeInfoProto {
	var out []*hdfspb.DatanodeInfoProto
	for _, dn := range g.list {
		alive := dn.alive()
		switch {
		case typ == hdfspb.DatanodeReportTypeProto_ALL,
			typ == hdfspb.DatanodeReportTypeProto_LIVE && alive,
			typ == hdfspb.DatanodeReportTypeProto_DEAD && !alive:
			out = append(out, dn.info(now))
		}
	}
	return out
}

// notEnoughNodes is BlockManager's refusal when fewer than minReplication
// targets are left.
func notEnoughNodes(src string, running, excluded int) error {
	return errIO("File %s could only be written to 0 of the %d minReplication nodes. There are %d datanode(s) running and %d node(s) are excluded in this operation.",
		src, minReplication, running, excluded)
}

func (dn *dataNode) String() string { return fmt.Sprintf("%s (%s)", dn.addr(), dn.uuid) }

// truncateReplica carries out a truncate recovery (see
// dataNode.truncateReplica) on every live DataNode holding the replica it
// starts from: a real NameNode sends the recovery to a primary DataNode,
// which syncs the others (BlockRecoveryWorker). It fails only when no node
// could, so the lease monitor retries.
func (g *dataNodes) truncateReplica(id uint64, t *truncation) error {
	var errs []error
	var done []*dataNode
	for _, dn := range g.list {
		if _, ok := dn.replicaState(t.from); !ok || !dn.alive() {
			continue
		}
		if err := dn.truncateReplica(id, t); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, dn)
	}
	if len(done) == 0 {
		if len(errs) == 0 {
			return fmt.Errorf("no live DataNode holds replica %d of a truncate", t.from)
		}
		return errors.Join(errs...)
	}
	g.place(id, done)
	return nil
}
