package yarn

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

var (
	small = Resource{MemoryMB: 256, VCores: 1}
	big   = Resource{MemoryMB: 1024, VCores: 2}
	att1  = AttemptID{App: ApplicationID{ClusterTimestamp: 1795317067845, ID: 2}, Attempt: 1}
)

// askString prints one sent ask as "p<prio>/a<alloc id>/<name>=<n>", with
// " strict" when it does not relax locality.
func askString(p *yarnpb.ResourceRequestProto) string {
	s := fmt.Sprintf("p%d/a%d/%s=%d", p.GetPriority().GetPriority(), p.GetAllocationRequestId(), p.GetResourceName(), p.GetNumContainers())
	if !p.GetRelaxLocality() {
		s += " strict"
	}
	return s
}

func countsOf(t *askTable) map[string]int32 {
	m := map[string]int32{}
	for _, a := range t.snapshot() {
		m[fmt.Sprintf("p%d/a%d/%s", a.Priority, a.AllocationRequestID, a.ResourceName)] = a.NumContainers
	}
	return m
}

func ctr(seq int64, host string, priority int32, allocID int64) Container {
	return Container{ID: ContainerID{Attempt: att1, ID: seq}, Node: NodeID{Host: host, Port: 8041}, Priority: priority,
		AllocationRequestID: allocID, Resource: small}
}

// askStep is one heartbeat of an AM: requests added and removed before it,
// what the allocate request carries, changes made while it is in flight,
// and the containers its response brings.
type askStep struct {
	name           string
	add, remove    []ContainerRequest
	wantSent       []string // the asks of this heartbeat, in send order
	failed         bool     // the allocate failed: its asks are put back
	inFlightRemove []ContainerRequest
	inFlightAdd    []ContainerRequest
	arrive         []Container
	wantAllocated  []int64 // sequence numbers of matched containers
	wantExcess     []int64 // containers nobody asked for, to release
	wantCounts     map[string]int32
}

// TestAskTableSequence drives the request table through adds, removals
// and allocations, checking the exact asks each heartbeat sends and the
// outstanding counts after it. It includes the RM over-allocating because a
// request was withdrawn while a heartbeat was in flight, twice; every such
// container is released as excess, and the run ends with exactly the
// containers wanted and nothing outstanding.
func TestAskTableSequence(t *testing.T) {
	plain := ContainerRequest{Resource: small}
	onH2 := ContainerRequest{Resource: small, Priority: 1, Nodes: []string{"h2"}} // strict locality
	gpuish := ContainerRequest{Resource: big, Priority: 2, AllocationRequestID: 7}
	steps := []askStep{
		{name: "ask two", add: []ContainerRequest{plain, plain},
			wantSent: []string{"p0/a0/*=2"}, wantCounts: map[string]int32{"p0/a0/*": 2}},
		{name: "nothing changed sends nothing", wantSent: []string{}, wantCounts: map[string]int32{"p0/a0/*": 2}},
		{name: "first arrives", wantSent: []string{}, arrive: []Container{ctr(2, "h1", 0, 0)}, wantAllocated: []int64{2},
			wantCounts: map[string]int32{"p0/a0/*": 1}},
		{name: "decrement is sent as the new total", wantSent: []string{"p0/a0/*=1"}, wantCounts: map[string]int32{"p0/a0/*": 1}},
		{name: "strict node request adds node, inferred rack and any", add: []ContainerRequest{onH2},
			wantSent:   []string{"p1/a0/*=1 strict", "p1/a0//default-rack=1 strict", "p1/a0/h2=1"},
			wantCounts: map[string]int32{"p0/a0/*": 1, "p1/a0/*": 1, "p1/a0//default-rack": 1, "p1/a0/h2": 1}},
		{name: "withdrawn while in flight: the RM's container is excess", wantSent: []string{},
			inFlightRemove: []ContainerRequest{plain},
			arrive:         []Container{ctr(3, "h1", 0, 0), ctr(4, "h2", 1, 0)}, wantAllocated: []int64{4}, wantExcess: []int64{3},
			wantCounts: map[string]int32{}},
		{name: "zeros cancel what the RM still holds", wantSent: []string{"p0/a0/*=0", "p1/a0/*=0 strict", "p1/a0//default-rack=0 strict", "p1/a0/h2=0"},
			wantCounts: map[string]int32{}},
		{name: "RM over-allocated before it saw the zero: excess again", wantSent: []string{},
			arrive: []Container{ctr(5, "h3", 0, 0)}, wantExcess: []int64{5}, wantCounts: map[string]int32{}},
		{name: "another size needs its own key", add: []ContainerRequest{gpuish, gpuish},
			wantSent: []string{"p2/a7/*=2"}, wantCounts: map[string]int32{"p2/a7/*": 2}},
		{name: "failed heartbeat is sent again with current counts", failed: true,
			remove: []ContainerRequest{gpuish}, wantSent: []string{"p2/a7/*=1"}, wantCounts: map[string]int32{"p2/a7/*": 1}},
		{name: "resent after failure; added while in flight", wantSent: []string{"p2/a7/*=1"},
			inFlightAdd: []ContainerRequest{gpuish}, arrive: []Container{ctr(6, "h1", 2, 7)}, wantAllocated: []int64{6},
			wantCounts: map[string]int32{"p2/a7/*": 1}},
		{name: "the in-flight add and the arrival net out", wantSent: []string{"p2/a7/*=1"},
			arrive: []Container{ctr(7, "h4", 2, 7)}, wantAllocated: []int64{7}, wantCounts: map[string]int32{}},
		{name: "last zero", wantSent: []string{"p2/a7/*=0"}, wantCounts: map[string]int32{}},
		{name: "quiet", wantSent: []string{}, wantCounts: map[string]int32{}},
	}
	tab := newAskTable(nil)
	var added, removed, allocated, excess int
	for i, st := range steps {
		t.Run(fmt.Sprintf("%02d %s", i, st.name), func(t *testing.T) {
			for _, r := range st.add {
				require.NoError(t, tab.add(r))
				added++
			}
			for _, r := range st.remove {
				require.True(t, tab.remove(r))
				removed++
			}
			asks, refs := tab.take()
			got := []string{}
			for _, a := range asks {
				got = append(got, askString(a))
			}
			require.Equal(t, st.wantSent, got)
			for _, r := range st.inFlightRemove {
				require.True(t, tab.remove(r))
				removed++
			}
			for _, r := range st.inFlightAdd {
				require.NoError(t, tab.add(r))
				added++
			}
			if st.failed {
				tab.restore(refs)
				return
			}
			tab.gc()
			var gotAlloc, gotExcess []int64
			for _, c := range st.arrive {
				if _, ok := tab.allocated(c); ok {
					gotAlloc = append(gotAlloc, c.ID.ID)
				} else {
					gotExcess = append(gotExcess, c.ID.ID)
				}
			}
			require.Equal(t, st.wantAllocated, gotAlloc, "allocated")
			require.Equal(t, st.wantExcess, gotExcess, "excess")
			allocated += len(gotAlloc)
			excess += len(gotExcess)
			require.Equal(t, st.wantCounts, countsOf(tab))
		})
	}
	// Every container kept was wanted; nothing is outstanding, nothing is
	// left in the table, and each unwanted one was flagged for release.
	require.Equal(t, added-removed, allocated)
	require.Equal(t, 2, excess)
	require.Zero(t, tab.pending())
	require.Empty(t, tab.groups)
}

// Matching prefers the request that named the container's host, then its
// rack, then one without locations; decrementing it lowers exactly its
// node, rack and "*" entries, as decContainerRequest does.
func TestAskTableMatchesByLocality(t *testing.T) {
	tab := newAskTable(func(h string) string { return map[string]string{"h1": "/r1", "h2": "/r1", "h3": "/r2"}[h] })
	onH1 := ContainerRequest{Resource: small, Nodes: []string{"h1"}, RelaxLocality: true}
	onR2 := ContainerRequest{Resource: small, Racks: []string{"/r2"}, RelaxLocality: true}
	anyHost := ContainerRequest{Resource: small}
	for _, r := range []ContainerRequest{anyHost, onR2, onH1} {
		require.NoError(t, tab.add(r))
	}
	_, _ = tab.take()
	require.Equal(t, map[string]int32{"p0/a0/*": 3, "p0/a0//r1": 1, "p0/a0//r2": 1, "p0/a0/h1": 1}, countsOf(tab))

	got, ok := tab.allocated(ctr(2, "h1", 0, 0))
	require.True(t, ok)
	require.Equal(t, []string{"h1"}, got.Nodes)
	require.Equal(t, map[string]int32{"p0/a0/*": 2, "p0/a0//r2": 1}, countsOf(tab))

	got, ok = tab.allocated(ctr(3, "h3", 0, 0)) // on rack /r2
	require.True(t, ok)
	require.Equal(t, []string{"/r2"}, got.Racks)

	got, ok = tab.allocated(ctr(4, "h9", 0, 0))
	require.True(t, ok)
	require.Empty(t, got.Nodes)
	require.Empty(t, countsOf(tab))

	asks, _ := tab.take()
	var sent []string
	for _, a := range asks {
		sent = append(sent, askString(a))
	}
	require.Equal(t, []string{"p0/a0/*=0", "p0/a0//r1=0", "p0/a0//r2=0", "p0/a0/h1=0"}, sent)
}

// An RM that does not echo allocation request ids (absent: -1) still has
// its containers matched, by priority.
func TestAskTableWithoutAllocationIDs(t *testing.T) {
	tab := newAskTable(nil)
	require.NoError(t, tab.add(ContainerRequest{Resource: small, Priority: 3, AllocationRequestID: 5}))
	_, ok := tab.allocated(ctr(2, "h1", 3, -1))
	require.True(t, ok)
	_, ok = tab.allocated(ctr(3, "h1", 3, -1))
	require.False(t, ok, "nothing left at priority 3")
}

func TestAskTableRefusesWhatTheRMCannotKeepApart(t *testing.T) {
	for _, tc := range []struct {
		name   string
		first  ContainerRequest
		second ContainerRequest
	}{
		{"two sizes on one key", ContainerRequest{Resource: small}, ContainerRequest{Resource: big}},
		{"two labels on one key", ContainerRequest{Resource: small, NodeLabel: "gpu"}, ContainerRequest{Resource: small, NodeLabel: "ssd"}},
		{"strict and relaxed on one key", ContainerRequest{Resource: small, Nodes: []string{"h1"}}, ContainerRequest{Resource: small}},
		{"negative memory", ContainerRequest{Resource: small}, ContainerRequest{Resource: Resource{MemoryMB: -1}, Priority: 1}},
		{"label with nodes", ContainerRequest{Resource: small}, ContainerRequest{Resource: small, Priority: 1, Nodes: []string{"h1"}, NodeLabel: "x"}},
		{"label expression", ContainerRequest{Resource: small}, ContainerRequest{Resource: small, Priority: 1, NodeLabel: "a&&b"}},
		{"star as a node", ContainerRequest{Resource: small}, ContainerRequest{Resource: small, Priority: 1, Nodes: []string{"*"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := newAskTable(nil)
			require.NoError(t, tab.add(tc.first))
			err := tab.add(tc.second)
			require.ErrorIs(t, err, ErrInvalidContainerRequest)
			require.Equal(t, 1, tab.pending())
		})
	}
	// Once the first size is no longer wanted, the key may take another.
	tab := newAskTable(nil)
	require.NoError(t, tab.add(ContainerRequest{Resource: small}))
	require.True(t, tab.remove(ContainerRequest{Resource: small}))
	require.NoError(t, tab.add(ContainerRequest{Resource: big}))
	asks, _ := tab.take()
	require.Len(t, asks, 1)
	require.EqualValues(t, 1024, asks[0].GetCapability().GetMemory())
	require.False(t, tab.remove(ContainerRequest{Resource: small}), "nothing of that shape is outstanding")
}

// Requests are compared after normalisation: node order and duplicates do
// not matter, and a location-less request always relaxes.
func TestAskTableRemoveNormalises(t *testing.T) {
	tab := newAskTable(nil)
	require.NoError(t, tab.add(ContainerRequest{Resource: small, Nodes: []string{"b", "a", "a"}, RelaxLocality: true}))
	require.NoError(t, tab.add(ContainerRequest{Resource: small, RelaxLocality: false}))
	require.Equal(t, int32(2), tab.count(0, 0, AnyHost))
	require.Equal(t, int32(1), tab.count(0, 0, "a"))
	require.True(t, tab.remove(ContainerRequest{Resource: small, Nodes: []string{"a", "b"}, RelaxLocality: true}))
	require.True(t, tab.remove(ContainerRequest{Resource: small, RelaxLocality: true}))
	require.Zero(t, tab.pending())
	asks, _ := tab.take()
	names := make([]string, 0, len(asks))
	for _, a := range asks {
		require.Zero(t, a.GetNumContainers())
		names = append(names, a.GetResourceName())
	}
	require.True(t, slices.Equal([]string{"*", "/default-rack", "a", "b"}, names), names)
}

// With rmDecrements (AMRMOptions.LeaveDecrementsToRM) an allocated
// container lowers the local entries but sends only those the RM did not
// lower itself: nothing for plain requests, the host entry of a
// node-local request served rack-locally; a withdrawal is still sent.
func TestAskTableLeavesDecrementsToRM(t *testing.T) {
	tab := newAskTable(func(h string) string { return map[string]string{"h1": "/r1", "h2": "/r1", "h3": "/r2"}[h] })
	tab.rmDecrements = true
	sent := func() []string {
		asks, _ := tab.take()
		tab.gc()
		out := []string{}
		for _, a := range asks {
			out = append(out, askString(a))
		}
		return out
	}
	plain := ContainerRequest{Resource: small, AllocationRequestID: 1}
	onH2 := ContainerRequest{Resource: small, AllocationRequestID: 2, Nodes: []string{"h2"}, RelaxLocality: true}
	for _, r := range []ContainerRequest{plain, plain, plain, onH2, onH2} {
		require.NoError(t, tab.add(r))
	}
	require.Equal(t, []string{"p0/a1/*=3", "p0/a2/*=2", "p0/a2//r1=2", "p0/a2/h2=2"}, sent())

	for _, c := range []Container{ctr(2, "h9", 0, 1), ctr(3, "h2", 0, 2)} { // off-switch; node-local
		_, ok := tab.allocated(c)
		require.True(t, ok)
	}
	require.Equal(t, []string{}, sent(), "the RM lowered these entries itself")
	require.Equal(t, map[string]int32{"p0/a1/*": 2, "p0/a2/*": 1, "p0/a2//r1": 1, "p0/a2/h2": 1}, countsOf(tab))

	_, ok := tab.allocated(ctr(4, "h1", 0, 2)) // rack-local: the RM lowered /r1 and "*", not h2
	require.True(t, ok)
	require.Equal(t, []string{"p0/a2/h2=0"}, sent())

	require.True(t, tab.remove(plain))
	require.Equal(t, []string{"p0/a1/*=1"}, sent(), "a withdrawal is sent")
	require.Equal(t, []ContainerRequest{{Resource: small, AllocationRequestID: 1, RelaxLocality: true}}, tab.outstanding())
}
