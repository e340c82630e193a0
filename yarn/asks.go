package yarn

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// The request table keeps YARN's "asks" exact (hadoop-wire.md §6.7). The
// RM keeps, per application, a table keyed by (priority, allocation request
// id) and then by resource name ("*", a rack, or a host); each entry holds an
// ABSOLUTE number of containers still wanted, which the RM decrements as it
// allocates. An AllocateRequest replaces entries: it must carry only the
// entries that changed, with their new totals (0 cancels). Re-sending an
// old total, or forgetting to lower it when containers arrive, makes the RM
// hand out containers nobody wants.
//
// askTable mirrors the RM's table the way Java's AMRMClientImpl
// (RemoteRequestsTable, addContainerRequest, decContainerRequest) does: every
// ContainerRequest counts once in its nodes, its racks (given or inferred
// from its nodes) and "*"; a request is consumed, and its entries
// decremented, when a container for its key arrives; changed entries are
// remembered until an allocate that carried them succeeded.

// ErrInvalidContainerRequest is returned for a container request the client
// refuses before anything is sent (AMRMClient's
// InvalidContainerRequestException): conflicting locality relaxation or
// capability within one (priority, allocation request id), or a bad node
// label expression.
var ErrInvalidContainerRequest = errors.New("yarn: invalid container request")

// ContainerRequest asks for one container. Add one per container wanted;
// requests that share Priority and AllocationRequestID are one RM entry and
// must ask for the same Resource and NodeLabel (the RM's table does not key
// by size: use another priority or allocation request id for another size).
type ContainerRequest struct {
	// Resource is the container size; it must fit the maximum the RM
	// returned at registration.
	Resource Resource
	// Priority orders requests within the application; lower is more
	// important. Zero is what DistributedShell uses.
	Priority int32
	// AllocationRequestID tags the request; allocated containers carry it
	// back. Zero is Java's default.
	AllocationRequestID int64
	// Nodes and Racks are preferred (or, without RelaxLocality, required)
	// locations. Empty means any host.
	Nodes []string
	Racks []string
	// RelaxLocality lets the scheduler fall back from Nodes to their racks
	// and then to any host. It only matters with Nodes or Racks: a request
	// without locations always relaxes (false there means true, since
	// the RM could never satisfy it otherwise). With Nodes or Racks, false
	// (the zero value) pins the container to them.
	RelaxLocality bool
	// NodeLabel is a node label expression (a single label); empty means
	// the queue's default. It cannot be combined with Nodes or Racks.
	NodeLabel string
}

func (r ContainerRequest) String() string {
	s := fmt.Sprintf("container request {priority %d, allocation id %d, %s", r.Priority, r.AllocationRequestID, r.Resource)
	if len(r.Nodes) > 0 {
		s += fmt.Sprintf(", nodes %v", r.Nodes)
	}
	if len(r.Racks) > 0 {
		s += fmt.Sprintf(", racks %v", r.Racks)
	}
	if len(r.Nodes)+len(r.Racks) > 0 && !r.RelaxLocality {
		s += ", strict locality"
	}
	if r.NodeLabel != "" {
		s += ", label " + r.NodeLabel
	}
	return s + "}"
}

// ResourceAsk is one entry of the RM's request table: what an
// AllocateRequest's ask carries, and what a preemption contract asks back.
type ResourceAsk struct {
	Priority            int32
	AllocationRequestID int64
	// ResourceName is "*" (AnyHost), a rack or a host.
	ResourceName  string
	Capability    Resource
	NumContainers int32
	RelaxLocality bool
	NodeLabel     string
}

func resourceAskFromProto(p *yarnpb.ResourceRequestProto) ResourceAsk {
	return ResourceAsk{Priority: p.GetPriority().GetPriority(), AllocationRequestID: p.GetAllocationRequestId(),
		ResourceName: p.GetResourceName(), Capability: ResourceFromProto(p.GetCapability()), NumContainers: p.GetNumContainers(),
		RelaxLocality: p.GetRelaxLocality(), NodeLabel: p.GetNodeLabelExpression()}
}

// askKey is the RM's SchedulerRequestKey as far as an AM sets it.
type askKey struct {
	priority int32
	allocID  int64
}

// askRef names one entry.
type askRef struct {
	key  askKey
	name string
}

type askEntry struct {
	count int32
	relax bool
}

// askGroup is everything under one key.
type askGroup struct {
	capability Resource
	label      string
	entries    map[string]*askEntry
	// requests are the outstanding requests, oldest first.
	requests []*outstandingRequest
}

type outstandingRequest struct {
	req ContainerRequest // normalised: nodes and racks deduplicated and sorted
	// names are the entries it counts in, each once.
	names []string
	rack  map[string]bool // its explicit and inferred racks
}

// askTable is not safe for concurrent use; AMRMClient guards it.
type askTable struct {
	rackOf func(host string) string
	groups map[askKey]*askGroup
	dirty  map[askRef]struct{}
	// rmDecrements: an allocated container lowers the local entries
	// without sending the ones the RM lowered itself (see
	// AMRMOptions.LeaveDecrementsToRM).
	rmDecrements bool
}

func newAskTable(rackOf func(string) string) *askTable {
	if rackOf == nil {
		rackOf = func(string) string { return DefaultRack }
	}
	return &askTable{rackOf: rackOf, groups: map[askKey]*askGroup{}, dirty: map[askRef]struct{}{}}
}

func dedupSorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// normalizeRequest validates r and returns it with sorted, deduplicated locations
// and RelaxLocality forced on when there are none.
func normalizeRequest(r ContainerRequest) (ContainerRequest, error) {
	if r.Resource.MemoryMB < 0 || r.Resource.VCores < 0 {
		return r, fmt.Errorf("%w: negative resource %s", ErrInvalidContainerRequest, r.Resource)
	}
	for _, v := range r.Resource.Extra {
		if v < 0 {
			return r, fmt.Errorf("%w: negative resource %s", ErrInvalidContainerRequest, r.Resource)
		}
	}
	r.Nodes, r.Racks = dedupSorted(r.Nodes), dedupSorted(r.Racks)
	for _, n := range append(slices.Clone(r.Nodes), r.Racks...) {
		if n == "" || n == AnyHost {
			return r, fmt.Errorf("%w: location %q in %s (leave Nodes and Racks empty for any host)", ErrInvalidContainerRequest, n, r)
		}
	}
	if len(r.Nodes)+len(r.Racks) == 0 {
		r.RelaxLocality = true
	}
	if r.NodeLabel != "" {
		// AMRMClientImpl.checkNodeLabelExpression.
		if len(r.Nodes)+len(r.Racks) > 0 {
			return r, fmt.Errorf("%w: %s: a node label cannot be combined with nodes or racks", ErrInvalidContainerRequest, r)
		}
		if strings.Contains(r.NodeLabel, "&&") || strings.Contains(r.NodeLabel, "||") {
			return r, fmt.Errorf("%w: %s: node label expressions with && or || are not supported by YARN", ErrInvalidContainerRequest, r)
		}
	}
	return r, nil
}

// locations returns the entries r counts in with the relax flag of each,
// as AMRMClientImpl.addContainerRequest sets them: nodes and given racks
// relax, inferred racks and "*" take the request's flag.
func (t *askTable) locations(r ContainerRequest) (names []string, relax map[string]bool, racks map[string]bool) {
	relax = map[string]bool{}
	racks = map[string]bool{}
	for _, n := range r.Nodes {
		names = append(names, n)
		relax[n] = true
	}
	for _, k := range r.Racks {
		names = append(names, k)
		relax[k] = true
		racks[k] = true
	}
	var inferred []string
	for _, n := range r.Nodes {
		if k := t.rackOf(n); k != "" && !racks[k] && !slices.Contains(inferred, k) {
			inferred = append(inferred, k)
		}
	}
	slices.Sort(inferred)
	for _, k := range inferred {
		names = append(names, k)
		relax[k] = r.RelaxLocality
		racks[k] = true
	}
	names = append(names, AnyHost)
	relax[AnyHost] = r.RelaxLocality
	return names, relax, racks
}

func sameResource(a, b Resource) bool {
	return a.MemoryMB == b.MemoryMB && a.VCores == b.VCores && maps.Equal(a.Extra, b.Extra) // nil equals empty
}

func sameRequest(a, b ContainerRequest) bool {
	return a.Priority == b.Priority && a.AllocationRequestID == b.AllocationRequestID && sameResource(a.Resource, b.Resource) &&
		slices.Equal(a.Nodes, b.Nodes) && slices.Equal(a.Racks, b.Racks) && a.RelaxLocality == b.RelaxLocality && a.NodeLabel == b.NodeLabel
}

// add records one more wanted container.
func (t *askTable) add(req ContainerRequest) error {
	r, err := normalizeRequest(req)
	if err != nil {
		return err
	}
	key := askKey{r.Priority, r.AllocationRequestID}
	names, relax, racks := t.locations(r)
	g := t.groups[key]
	if g != nil && len(g.requests) > 0 {
		if !sameResource(g.capability, r.Resource) {
			return fmt.Errorf("%w: %s: priority %d / allocation id %d already asks for %s, and the RM keeps one size per priority and allocation id (use another)",
				ErrInvalidContainerRequest, r, r.Priority, r.AllocationRequestID, g.capability)
		}
		if g.label != r.NodeLabel {
			return fmt.Errorf("%w: %s: priority %d / allocation id %d already asks for node label %q", ErrInvalidContainerRequest, r, r.Priority, r.AllocationRequestID, g.label)
		}
		// AMRMClientImpl.checkLocalityRelaxationConflict.
		for _, n := range names {
			if e := g.entries[n]; e != nil && e.count > 0 && e.relax != relax[n] {
				return fmt.Errorf("%w: %s: locality relaxation of %q conflicts with earlier requests at priority %d / allocation id %d (do not mix strict and relaxed requests there)",
					ErrInvalidContainerRequest, r, n, r.Priority, r.AllocationRequestID)
			}
		}
	}
	if g == nil {
		g = &askGroup{entries: map[string]*askEntry{}}
		t.groups[key] = g
	}
	if len(g.requests) == 0 {
		g.capability, g.label = r.Resource, r.NodeLabel
	}
	for _, n := range names {
		e := g.entries[n]
		if e == nil {
			e = &askEntry{}
			g.entries[n] = e
		}
		e.count++
		e.relax = relax[n]
		t.dirty[askRef{key, n}] = struct{}{}
	}
	g.requests = append(g.requests, &outstandingRequest{req: r, names: names, rack: racks})
	return nil
}

// remove withdraws one outstanding request equal to req (the newest such),
// reporting whether there was one.
func (t *askTable) remove(req ContainerRequest) bool {
	r, err := normalizeRequest(req)
	if err != nil {
		return false
	}
	key := askKey{r.Priority, r.AllocationRequestID}
	g := t.groups[key]
	if g == nil {
		return false
	}
	for i := len(g.requests) - 1; i >= 0; i-- {
		if sameRequest(g.requests[i].req, r) {
			t.consume(key, g, i, nil)
			return true
		}
	}
	return false
}

// consume drops request i of g and decrements its entries
// (decContainerRequest); those in quiet are not marked for sending (the
// RM lowered them itself).
func (t *askTable) consume(key askKey, g *askGroup, i int, quiet map[string]bool) ContainerRequest {
	o := g.requests[i]
	g.requests = slices.Delete(g.requests, i, i+1)
	for _, n := range o.names {
		if e := g.entries[n]; e != nil && e.count > 0 {
			e.count--
			if !quiet[n] {
				t.dirty[askRef{key, n}] = struct{}{}
			}
		}
	}
	return o.req
}

// decrementedByRM names the entries of g the RM lowered itself when it
// allocated a container on host (in rack): AppSchedulingInfo.allocate
// through LocalityAppPlacementAllocator.allocate decrements the host, the
// rack and "*" for a node-local container (allocateNodeLocal), the rack
// and "*" for a rack-local one, and only "*" for an off-switch one. The
// locality is the one RegularContainerAllocator.assignContainersOnNode
// picked: node-local when the host entry was outstanding, else rack-local
// when the rack entry was.
func decrementedByRM(g *askGroup, host, rack string) map[string]bool {
	out := map[string]bool{AnyHost: true}
	if e := g.entries[host]; e != nil && e.count > 0 {
		out[host] = true
		out[rack] = true
	} else if e := g.entries[rack]; e != nil && e.count > 0 {
		out[rack] = true
	}
	return out
}

// allocated matches an allocated container to an outstanding request and
// consumes it. It returns false for a container nobody is waiting for (an
// excess container the caller must release).
//
// The container's (priority, allocation request id) selects the group; an
// RM that does not report allocation ids (the field is absent, -1) is
// matched by priority alone. Within the group the request is, in order of
// preference, one naming the container's host, one naming its rack, one
// without locations, one that relaxes locality, or the oldest.
func (t *askTable) allocated(c Container) (ContainerRequest, bool) {
	key := askKey{c.Priority, c.AllocationRequestID}
	g := t.groups[key]
	if c.AllocationRequestID < 0 && (g == nil || len(g.requests) == 0) {
		g = nil
		for _, k := range t.sortedKeys() {
			if k.priority == c.Priority && len(t.groups[k].requests) > 0 {
				key, g = k, t.groups[k]
				break
			}
		}
	}
	if g == nil || len(g.requests) == 0 {
		return ContainerRequest{}, false
	}
	host, rack := c.Node.Host, t.rackOf(c.Node.Host)
	pick := -1
	for _, match := range []func(o *outstandingRequest) bool{
		func(o *outstandingRequest) bool { return slices.Contains(o.req.Nodes, host) },
		func(o *outstandingRequest) bool { return o.rack[rack] },
		func(o *outstandingRequest) bool { return len(o.req.Nodes)+len(o.req.Racks) == 0 },
		func(o *outstandingRequest) bool { return o.req.RelaxLocality },
		func(o *outstandingRequest) bool { return true },
	} {
		if pick = slices.IndexFunc(g.requests, match); pick >= 0 {
			break
		}
	}
	var quiet map[string]bool
	if t.rmDecrements {
		quiet = decrementedByRM(g, host, rack)
	}
	return t.consume(key, g, pick, quiet), true
}

func (t *askTable) sortedKeys() []askKey {
	keys := slices.Collect(maps.Keys(t.groups))
	slices.SortFunc(keys, compareKeys)
	return keys
}

func compareKeys(a, b askKey) int {
	return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.allocID, b.allocID))
}

// take returns the changed entries, in a fixed order (priority, allocation
// id, resource name), as they stand now, and forgets that they changed.
// Pass the refs to restore if the allocate that carried them failed.
func (t *askTable) take() ([]*yarnpb.ResourceRequestProto, []askRef) {
	refs := slices.Collect(maps.Keys(t.dirty))
	slices.SortFunc(refs, func(a, b askRef) int {
		return cmp.Or(compareKeys(a.key, b.key), strings.Compare(a.name, b.name))
	})
	out := make([]*yarnpb.ResourceRequestProto, 0, len(refs))
	for _, ref := range refs {
		g := t.groups[ref.key]
		e := g.entries[ref.name]
		label := ""
		if ref.name == AnyHost {
			label = g.label // Java sets the label on the "*" entry only
		}
		out = append(out, resourceRequestToProto(ref.key.priority, ref.name, g.capability, e.count, e.relax, label, proto.Int64(ref.key.allocID)))
	}
	clear(t.dirty)
	return out, refs
}

// restore marks entries changed again, so that the next allocate sends
// their current counts.
func (t *askTable) restore(refs []askRef) {
	for _, r := range refs {
		if g := t.groups[r.key]; g != nil && g.entries[r.name] != nil {
			t.dirty[r] = struct{}{}
		}
	}
}

// markAll marks every entry changed: after a resync the new RM knows
// nothing of this attempt's asks.
func (t *askTable) markAll() {
	for k, g := range t.groups {
		for n := range g.entries {
			t.dirty[askRef{k, n}] = struct{}{}
		}
	}
}

// gc drops entries at zero that have been sent, and empty groups.
func (t *askTable) gc() {
	for k, g := range t.groups {
		for n, e := range g.entries {
			if _, d := t.dirty[askRef{k, n}]; e.count == 0 && !d {
				delete(g.entries, n)
			}
		}
		if len(g.entries) == 0 && len(g.requests) == 0 {
			delete(t.groups, k)
		}
	}
}

// count is the outstanding total of one entry (0 if absent).
func (t *askTable) count(priority int32, allocID int64, name string) int32 {
	if g := t.groups[askKey{priority, allocID}]; g != nil {
		if e := g.entries[name]; e != nil {
			return e.count
		}
	}
	return 0
}

// snapshot lists the entries with containers outstanding.
func (t *askTable) snapshot() []ResourceAsk {
	var out []ResourceAsk
	for _, k := range t.sortedKeys() {
		g := t.groups[k]
		for _, n := range slices.Sorted(maps.Keys(g.entries)) {
			e := g.entries[n]
			if e.count == 0 {
				continue
			}
			a := ResourceAsk{Priority: k.priority, AllocationRequestID: k.allocID, ResourceName: n, Capability: g.capability,
				NumContainers: e.count, RelaxLocality: e.relax}
			if n == AnyHost {
				a.NodeLabel = g.label
			}
			out = append(out, a)
		}
	}
	return out
}

// outstanding lists the outstanding requests, normalised, by key and
// oldest first within a key.
func (t *askTable) outstanding() []ContainerRequest {
	var out []ContainerRequest
	for _, k := range t.sortedKeys() {
		for _, o := range t.groups[k].requests {
			out = append(out, o.req)
		}
	}
	return out
}

// pending is the number of outstanding requests.
func (t *askTable) pending() int {
	n := 0
	for _, g := range t.groups {
		n += len(g.requests)
	}
	return n
}
