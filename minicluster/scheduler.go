package minicluster

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// The scheduler follows the CapacityScheduler where an application can
// observe it:
//   - leaf queues with a guaranteed and a maximum share of the cluster; on
//     each node heartbeat the queues are offered the node in order of how
//     far below their guarantee they are, and applications within a queue
//     in submission order (FIFO ordering policy);
//   - containers are handed out only on node heartbeats, several per
//     heartbeat while they fit (multiple assignments, at most 100), and
//     the heartbeat ends once one off-switch container went out (by
//     default; see RMOptions.OffSwitchPerHeartbeat);
//   - requests are normalized up to multiples of the minimum allocation and
//     validated against the maximum (InvalidResourceRequestException);
//   - locality: node-local first; rack-local after the node-locality delay
//     (missed scheduling opportunities, capped by the number of nodes);
//     off-switch at once for requests that name no location, after the
//     locality wait otherwise; relax_locality=false at the rack or "*"
//     entry forbids going that wide;
//   - per-application blacklists of hosts and racks.

const anyHost = "*"

// queue is a leaf queue.
type queue struct {
	name                  string
	capacity, maxCapacity float64 // fractions of the cluster
	amPercent             float64 // maximum-am-resource-percent, a fraction
	used                  yarn.Resource
	apps                  []*rmApp
	submitted, completed  int32
	failed, killed        int32
	stopped               bool
}

func (q *queue) removeApp(app *rmApp) {
	for i, a := range q.apps {
		if a == app {
			q.apps = append(q.apps[:i], q.apps[i+1:]...)
			return
		}
	}
}

func scaleRes(r yarn.Resource, f float64) yarn.Resource {
	return yarn.Resource{MemoryMB: int64(float64(r.MemoryMB) * f), VCores: int32(float64(r.VCores) * f)}
}

// fits reports whether want fits in avail under the resource calculator.
func (r *ResourceManager) fits(want, avail yarn.Resource) bool {
	if want.MemoryMB > avail.MemoryMB {
		return false
	}
	return !r.opts.DominantResources || want.VCores <= avail.VCores
}

// normalize rounds a request up to multiples of the minimum allocation,
// capped at the maximum (SchedulerUtils.normalizeRequest). With the
// default (memory-only) calculator every container gets 1 vcore, as
// DefaultResourceCalculator.normalize does.
func (r *ResourceManager) normalize(res yarn.Resource) yarn.Resource {
	minA, maxA := r.opts.MinAllocation, r.maxAllocationLocked()
	roundUp := func(v, step int64) int64 {
		if step <= 0 {
			return v
		}
		return (v + step - 1) / step * step
	}
	out := yarn.Resource{MemoryMB: min(roundUp(max(res.MemoryMB, minA.MemoryMB), minA.MemoryMB), maxA.MemoryMB)}
	if r.opts.DominantResources {
		out.VCores = int32(min(roundUp(int64(max(res.VCores, minA.VCores)), int64(minA.VCores)), int64(maxA.VCores)))
	} else {
		out.VCores = 1
	}
	return out
}

const classInvalidResourceRequest = "org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException"

// validateResource is SchedulerUtils.checkResourceRequestAgainstAvailableResource.
func (r *ResourceManager) validateResource(res yarn.Resource) error {
	maxA := r.maxAllocationLocked()
	check := func(name string, v, limit int64) error {
		if v < 0 {
			return &ipc.ServerError{Class: classInvalidResourceRequest, Message: fmt.Sprintf(
				"Invalid resource request! Cannot allocate containers as requested resource is less than 0! Requested resource type=[%s], Requested resource=%s",
				name, res.String())}
		}
		if v > limit {
			return &ipc.ServerError{Class: classInvalidResourceRequest, Message: fmt.Sprintf(
				"Invalid resource request! Cannot allocate containers as requested resource is greater than maximum allowed allocation. "+
					"Requested resource type=[%s], Requested resource=%s, maximum allowed allocation=%s, please note that maximum allowed allocation "+
					"is calculated by scheduler based on maximum resource of registered NodeManagers, which might be less than configured maximum allocation=%s",
				name, res.String(), maxA.String(), r.opts.MaxAllocation.String())}
		}
		return nil
	}
	if err := check("memory-mb", res.MemoryMB, maxA.MemoryMB); err != nil {
		return err
	}
	return check("vcores", int64(res.VCores), int64(maxA.VCores))
}

// updateAsksLocked applies an allocate request's asks: each replaces its
// entry, keyed by (priority, allocation request id) then resource name,
// with an absolute count.
func (r *ResourceManager) updateAsksLocked(att *rmAttempt, asks []*yarnpb.ResourceRequestProto) {
	for _, a := range asks {
		k := schedKey{priority: a.GetPriority().GetPriority(), allocID: a.GetAllocationRequestId()}
		m := att.asks[k]
		if m == nil {
			m = map[string]*ask{}
			att.asks[k] = m
		}
		relax := true
		if a.RelaxLocality != nil {
			relax = a.GetRelaxLocality()
		}
		m[a.GetResourceName()] = &ask{count: max(a.GetNumContainers(), 0), capability: r.normalize(yarn.ResourceFromProto(a.GetCapability())), relax: relax}
	}
}

// pendingLocked is what the attempt still asks for, from its "*" entries.
func (att *rmAttempt) pending() (n int32, res yarn.Resource) {
	for _, m := range att.asks {
		if a := m[anyHost]; a != nil && a.count > 0 {
			n += a.count
			res = addRes(res, yarn.Resource{MemoryMB: a.capability.MemoryMB * int64(a.count), VCores: a.capability.VCores * a.count})
		}
	}
	return n, res
}

// queueOrderLocked sorts queues by used/guaranteed, least served first.
func (r *ResourceManager) queueOrderLocked() []*queue {
	cluster := r.clusterResourceLocked()
	qs := append([]*queue(nil), r.queues...)
	ratio := func(q *queue) float64 {
		g := float64(cluster.MemoryMB) * q.capacity
		if g <= 0 {
			return float64(q.used.MemoryMB) + 1e18
		}
		return float64(q.used.MemoryMB) / g
	}
	sort.SliceStable(qs, func(i, j int) bool { return ratio(qs[i]) < ratio(qs[j]) })
	return qs
}

// queueHasRoomLocked checks the queue's maximum capacity.
func (r *ResourceManager) queueHasRoomLocked(q *queue, want yarn.Resource) bool {
	limit := scaleRes(r.clusterResourceLocked(), q.maxCapacity)
	return r.fits(addRes(q.used, want), limit)
}

// headroomLocked is the limit in allocate responses: what the queue may
// still use, bounded by what the cluster has free.
func (r *ResourceManager) headroomLocked(app *rmApp) yarn.Resource {
	limit := scaleRes(r.clusterResourceLocked(), app.queue.maxCapacity)
	return nonNegative(minRes(subRes(limit, app.queue.used), r.clusterAvailableLocked()))
}

// budget is what one node heartbeat may still hand out
// (CapacityScheduler.canAllocateMore, checked after each assignment of
// allocateContainerOnSingleNode's loop): the heartbeat goes on while
// fewer than maximum-offswitch-assignments off-switch containers and,
// with multiple-assignments-enabled, fewer than
// maximum-container-assignments (-1: no limit) containers went out.
type budget struct {
	multiple            bool
	assigned, offSwitch int
	maxTotal, maxOff    int
}

func (r *ResourceManager) newBudget() *budget {
	return &budget{multiple: !r.opts.SingleAssignmentPerHeartbeat, maxTotal: r.opts.MaxAssignmentsPerHeartbeat, maxOff: r.opts.OffSwitchPerHeartbeat}
}

// allows reports whether the heartbeat may hand out another container
// (of any locality: canAllocateMore does not look at the next one's).
func (b *budget) allows(locality) bool {
	if b.assigned == 0 {
		return true // the first assignment is always tried
	}
	return b.offSwitch < b.maxOff && b.multiple && (b.maxTotal < 0 || b.assigned < b.maxTotal)
}

func (b *budget) take(loc locality) {
	b.assigned++
	if loc == offSwitch {
		b.offSwitch++ // assignment.getType() == NodeType.OFF_SWITCH
	}
}

// scheduleLocked hands out containers on node n (a NODE_UPDATE).
func (r *ResourceManager) scheduleLocked(n *rmNode) {
	b := r.newBudget()
	r.activateAllLocked()
	for _, q := range r.queueOrderLocked() {
		for _, app := range append([]*rmApp(nil), q.apps...) {
			att := app.current()
			if att == nil || att.done() || app.state.Terminal() {
				continue
			}
			if att.state == attScheduled {
				if att.activated {
					r.allocateAMLocked(att, n, b)
				}
				continue
			}
			if att.registered {
				r.allocateAppLocked(att, n, b)
			}
		}
	}
}

// allocateAMLocked places the AM container and starts its launch.
func (r *ResourceManager) allocateAMLocked(att *rmAttempt, n *rmNode, b *budget) {
	app := att.app
	res := app.amResource
	if !b.allows(offSwitch) || !r.fits(res, n.available()) || !r.queueHasRoomLocked(app.queue, res) || att.blacklisted(n) {
		return
	}
	b.take(offSwitch)
	c := r.newContainerLocked(att, n, res, 0, -1)
	c.am = true
	att.amContainer = c
	att.state = attAllocated
	app.diagnostics = fmt.Sprintf("[%s] Scheduler has assigned a container for AM, waiting for AM container to be launched", javaDate(time.Now()))
	c.token = createContainerToken(r.ctKeys.cur(), containerTokenSpec{id: c.id, node: n.id, submitter: app.user, resource: res,
		expiry: time.Now().Add(r.opts.ContainerAllocationExpiry).UnixMilli(), rmID: r.clusterTS, priority: 0,
		created: time.Now().UnixMilli(), am: true, allocReqID: -1})
	clc, err := r.amCLCLocked(att)
	if err != nil {
		r.failAttemptLocked(att, fmt.Sprintf("Error launching %s. Got exception: %v", att.id, err), true)
		return
	}
	nmTok := createNMToken(r.nmKeys.cur(), att.id, n.id, app.user)
	r.wg.Add(1)
	go r.launchAM(att, c, clc, nmTok)
}

func (att *rmAttempt) blacklisted(n *rmNode) bool {
	return att.blacklist[n.id.Host] || att.blacklist[n.rack]
}

// newContainerLocked allocates a container on n.
func (r *ResourceManager) newContainerLocked(att *rmAttempt, n *rmNode, res yarn.Resource, priority int32, allocID int64) *rmContainer {
	att.nextSeq++
	app := att.app
	c := &rmContainer{id: yarn.ContainerID{Attempt: att.id, ID: r.epoch<<40 | att.nextSeq}, node: n, resource: res,
		priority: priority, allocReqID: allocID, app: app, allocatedAt: time.Now()}
	n.containers[c.id] = c
	n.used = addRes(n.used, res)
	app.used = addRes(app.used, res)
	app.numContainers++
	app.queue.used = addRes(app.queue.used, res)
	if app.nodesUsed == nil {
		app.nodesUsed = map[yarn.NodeID]bool{}
	}
	app.nodesUsed[n.id] = true
	r.containers[c.id] = c
	return c
}

// locality is NodeType.
type locality int

const (
	noLocality locality = iota
	nodeLocal
	rackLocal
	offSwitch
)

// allocateAppLocked assigns as many containers of att's asks as fit on n,
// priorities in order.
func (r *ResourceManager) allocateAppLocked(att *rmAttempt, n *rmNode, b *budget) {
	if att.blacklisted(n) {
		return
	}
	keys := make([]schedKey, 0, len(att.asks))
	for k, m := range att.asks {
		if a := m[anyHost]; a != nil && a.count > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	numNodes := r.activeNodesLocked()
	for _, k := range keys {
		m := att.asks[k]
		att.missed[k]++ // addSchedulingOpportunity
		for {
			anyAsk := m[anyHost]
			if anyAsk == nil || anyAsk.count <= 0 {
				break
			}
			loc := r.localityLocked(att, k, m, n, numNodes)
			if loc == noLocality || !b.allows(loc) {
				break
			}
			res := anyAsk.capability
			if !r.fits(res, n.available()) || !r.queueHasRoomLocked(att.app.queue, res) {
				return
			}
			b.take(loc)
			c := r.newContainerLocked(att, n, res, k.priority, k.allocID)
			att.newlyAllocated = append(att.newlyAllocated, c)
			// AppSchedulingInfo.allocate: node-local decrements host, rack
			// and "*"; rack-local rack and "*"; off-switch only "*".
			switch loc {
			case nodeLocal:
				dec(m[n.id.Host])
				dec(m[n.rack])
				att.missed[k] = 0
			case rackLocal:
				dec(m[n.rack])
				// RegularContainerAllocator.doAllocation resets the
				// opportunities after a rack-local container too, with
				// yarn.scheduler.capacity.rack-locality-full-reset
				// (DEFAULT_RACK_LOCALITY_FULL_RESET true).
				att.missed[k] = 0
			}
			dec(anyAsk)
		}
	}
}

func dec(a *ask) {
	if a != nil && a.count > 0 {
		a.count--
	}
}

// localityLocked decides whether, and how locally, key k may get a
// container on n now (RegularContainerAllocator.canAssign).
func (r *ResourceManager) localityLocked(att *rmAttempt, k schedKey, m map[string]*ask, n *rmNode, numNodes int) locality {
	if a := m[n.id.Host]; a != nil && a.count > 0 {
		return nodeLocal
	}
	specific := 0 // outstanding host/rack entries
	for name, a := range m {
		if name != anyHost && a.count > 0 {
			specific++
		}
	}
	missed := att.missed[k]
	// RegularContainerAllocator.canAssign
	// (hadoop-yarn-server-resourcemanager/.../scheduler/capacity/allocator/
	// RegularContainerAllocator.java): rack-local once
	// getActualNodeLocalityDelay() = min(nodes, node-locality-delay) <
	// missed opportunities.
	delay := min(numNodes, max(r.opts.NodeLocalityDelay, -1))
	if rk := m[n.rack]; rk != nil && rk.count > 0 && rk.relax {
		if delay < missed {
			return rackLocal
		}
	}
	anyAsk := m[anyHost]
	if !anyAsk.relax {
		return noLocality
	}
	if specific == 0 {
		return offSwitch // only "*": no delay (uniqLocationAsks == 1)
	}
	if add := r.opts.RackLocalityAdditionalDelay; add > -1 {
		// getActualRackLocalityDelay: min(nodes, node-locality-delay +
		// rack-locality-additional-delay) < missed.
		if min(numNodes, r.opts.NodeLocalityDelay+add) < missed {
			return offSwitch
		}
		return noLocality
	}
	// Off-switch waits in proportion to how much of the cluster the
	// request names (getLocalityWaitFactor), capped by the number of
	// nodes.
	factor := min(float64(len(m)-1)/float64(max(numNodes, 1)), 1)
	if min(float64(numNodes), float64(anyAsk.count)*factor) < float64(missed) {
		return offSwitch
	}
	return noLocality
}

// pullAllocatedLocked takes the containers allocated since the last
// allocate, minting their container tokens and the NMTokens of nodes new
// to the attempt (SchedulerApplicationAttempt.pullNewlyAllocatedContainers).
func (r *ResourceManager) pullAllocatedLocked(att *rmAttempt, resp *yarnpb.AllocateResponseProto) {
	now := time.Now()
	for _, c := range att.newlyAllocated {
		c.token = createContainerToken(r.ctKeys.cur(), containerTokenSpec{id: c.id, node: c.node.id, submitter: att.app.user,
			resource: c.resource, expiry: now.Add(r.opts.ContainerAllocationExpiry).UnixMilli(), rmID: r.clusterTS,
			priority: c.priority, created: msOf(c.allocatedAt), allocReqID: c.allocReqID})
		resp.AllocatedContainers = append(resp.AllocatedContainers, containerProto(c))
		if !att.nmTokenNodes[c.node.id] {
			att.nmTokenNodes[c.node.id] = true
			resp.NmTokens = append(resp.NmTokens, &yarnpb.NMTokenProto{NodeId: yarn.NodeIDToProto(c.node.id),
				Token: createNMToken(r.nmKeys.cur(), att.id, c.node.id, att.app.user).Proto()})
		}
	}
	att.newlyAllocated = nil
}

func containerProto(c *rmContainer) *yarnpb.ContainerProto {
	return &yarnpb.ContainerProto{
		Id:                  yarn.ContainerIDToProto(c.id),
		NodeId:              yarn.NodeIDToProto(c.node.id),
		NodeHttpAddress:     proto.String(c.node.httpAddress()),
		Resource:            yarn.ResourceToProto(c.resource),
		Priority:            &yarnpb.PriorityProto{Priority: proto.Int32(c.priority)},
		ContainerToken:      c.token.Proto(),
		ExecutionType:       yarnpb.ExecutionTypeProto_GUARANTEED.Enum(),
		AllocationRequestId: proto.Int64(c.allocReqID),
	}
}
