package minicluster

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// schedRig is a ResourceManager's scheduler state without its servers:
// nodes (64 GB each), one queue and one registered attempt, for driving
// node heartbeats (scheduleLocked) one at a time.
type schedRig struct {
	r     *ResourceManager
	att   *rmAttempt
	nodes []*rmNode
}

func newSchedRig(t *testing.T, nodes []string, racks []string, mod func(*RMOptions)) *schedRig {
	o := RMOptions{MinAllocation: yarn.Resource{MemoryMB: 128, VCores: 1}}
	if mod != nil {
		mod(&o)
	}
	require.NoError(t, o.setDefaults())
	r := &ResourceManager{opts: o, nodes: map[yarn.NodeID]*rmNode{}, containers: map[yarn.ContainerID]*rmContainer{}}
	q := &queue{name: "default", capacity: 1, maxCapacity: 1}
	r.queues = []*queue{q}
	rig := &schedRig{r: r}
	for i, h := range nodes {
		n := &rmNode{id: yarn.NodeID{Host: h, Port: 8041}, rack: racks[i], capability: yarn.Resource{MemoryMB: 64 << 10, VCores: 256},
			containers: map[yarn.ContainerID]*rmContainer{}, state: yarn.NodeRunning}
		r.nodes[n.id] = n
		r.nodeOrder = append(r.nodeOrder, n)
		rig.nodes = append(rig.nodes, n)
	}
	app := &rmApp{id: yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}, queue: q}
	att := &rmAttempt{id: yarn.AttemptID{App: app.id, Attempt: 1}, app: app, registered: true, state: attRunning,
		asks: map[schedKey]map[string]*ask{}, missed: map[schedKey]int{}, blacklist: map[string]bool{}, nmTokenNodes: map[yarn.NodeID]bool{}}
	app.attempts = []*rmAttempt{att}
	q.apps = []*rmApp{app}
	rig.att = att
	return rig
}

// ask sets entries of allocation request id 0 at priority 1, 256 MB each.
func (g *schedRig) ask(entries map[string]int32) {
	var asks []*yarnpb.ResourceRequestProto
	for name, n := range entries {
		asks = append(asks, &yarnpb.ResourceRequestProto{Priority: &yarnpb.PriorityProto{Priority: proto.Int32(1)}, ResourceName: proto.String(name),
			Capability: yarn.ResourceToProto(yarn.Resource{MemoryMB: 256, VCores: 1}), NumContainers: proto.Int32(n),
			RelaxLocality: proto.Bool(true), AllocationRequestId: proto.Int64(0)})
	}
	g.r.updateAsksLocked(g.att, asks)
}

// beat is one heartbeat of node i; it returns the containers it handed out.
func (g *schedRig) beat(i int) []*rmContainer {
	before := len(g.att.newlyAllocated)
	g.r.scheduleLocked(g.nodes[i])
	return g.att.newlyAllocated[before:]
}

// CapacityScheduler.canAllocateMore with the defaults: a request for any
// host ("*" only) gets one container per node heartbeat
// (maximum-offswitch-assignments 1).
func TestSchedulerOffSwitchOnePerHeartbeat(t *testing.T) {
	g := newSchedRig(t, []string{"h1"}, []string{DefaultRack}, nil)
	g.ask(map[string]int32{anyHost: 16})
	for i := 1; i <= 16; i++ {
		require.Len(t, g.beat(0), 1, "heartbeat %d", i)
	}
	require.Empty(t, g.beat(0))
}

// Node-local requests are not limited per heartbeat beyond
// maximum-container-assignments (100): all 16 on the first heartbeat;
// and a node-local heartbeat stops at the limit.
func TestSchedulerNodeLocalManyPerHeartbeat(t *testing.T) {
	g := newSchedRig(t, []string{"h1"}, []string{DefaultRack}, nil)
	g.ask(map[string]int32{"h1": 16, DefaultRack: 16, anyHost: 16})
	cs := g.beat(0)
	require.Len(t, cs, 16)
	for _, c := range cs {
		require.Equal(t, "h1", c.node.id.Host)
	}

	g = newSchedRig(t, []string{"h1"}, []string{DefaultRack}, nil)
	g.ask(map[string]int32{"h1": 150, DefaultRack: 150, anyHost: 150})
	require.Len(t, g.beat(0), DefaultMaxAssignmentsPerHeartbeat)
	require.Len(t, g.beat(0), 50)
}

// The knobs: more off-switch assignments per heartbeat; multiple
// assignments off (one container per heartbeat, node-local too);
// maximum-container-assignments lower, or -1 for none.
func TestSchedulerHeartbeatKnobs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*RMOptions)
		entries map[string]int32
		want    []int
	}{
		{"offswitch 4", func(o *RMOptions) { o.OffSwitchPerHeartbeat = 4 }, map[string]int32{anyHost: 10}, []int{4, 4, 2}},
		{"single assignment, node-local", func(o *RMOptions) { o.SingleAssignmentPerHeartbeat = true },
			map[string]int32{"h1": 3, DefaultRack: 3, anyHost: 3}, []int{1, 1, 1, 0}},
		{"max 5, node-local", func(o *RMOptions) { o.MaxAssignmentsPerHeartbeat = 5 },
			map[string]int32{"h1": 12, DefaultRack: 12, anyHost: 12}, []int{5, 5, 2}},
		{"no max, node-local", func(o *RMOptions) { o.MaxAssignmentsPerHeartbeat = -1 },
			map[string]int32{"h1": 150, DefaultRack: 150, anyHost: 150}, []int{150}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newSchedRig(t, []string{"h1"}, []string{DefaultRack}, tc.mod)
			g.ask(tc.entries)
			var got []int
			for range tc.want {
				got = append(got, len(g.beat(0)))
			}
			require.Equal(t, tc.want, got)
		})
	}
}

// Delay scheduling (RegularContainerAllocator.canAssign): 40 relaxed
// requests for h1 (no room) are offered h2 (same rack) and go rack-local
// once the missed opportunities exceed min(nodes, node-locality-delay);
// the number of nodes caps the delay. Off-switch (h3, another rack) waits
// until min(nodes, outstanding * locality wait factor) < missed, or with
// rack-locality-additional-delay until min(nodes, delay + additional) <
// missed; a single container's wait factor is below one opportunity.
func TestSchedulerLocalityDelay(t *testing.T) {
	hosts := []string{"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"}
	racks := []string{"/r1", "/r1", "/r2", "/r2", "/r2", "/r2", "/r2", "/r2"}
	for _, tc := range []struct {
		name  string
		mod   func(*RMOptions)
		n     int32
		node  int  // the node that heartbeats
		first int  // the heartbeat (1-based) that gets the first container
		rack  bool // rack-local (else off-switch)
	}{
		{"rack-local after min(8 nodes, 40)", nil, 40, 1, 9, true},
		{"rack-local after node-locality-delay 3", func(o *RMOptions) { o.NodeLocalityDelay = 3 }, 40, 1, 4, true},
		{"rack-local at once without delay", func(o *RMOptions) { o.NodeLocalityDelay = -1 }, 40, 1, 1, true},
		// min(8, 40 * (3 entries - 1) / 8 nodes) = 8 < missed
		{"off-switch after the wait factor", nil, 40, 2, 9, false},
		{"off-switch after delay + additional", func(o *RMOptions) { o.NodeLocalityDelay = 2; o.RackLocalityAdditionalDelay = 3 }, 40, 2, 6, false},
		// 1 * 2/8 = 0.25 < 1: even before rack-local
		{"a single container goes off-switch at once", nil, 1, 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newSchedRig(t, hosts, racks, tc.mod)
			g.nodes[0].used = g.nodes[0].capability
			g.ask(map[string]int32{"h1": tc.n, "/r1": tc.n, anyHost: tc.n})
			for i := 1; i <= 20; i++ {
				cs := g.beat(tc.node)
				if i < tc.first {
					require.Empty(t, cs, "heartbeat %d", i)
					continue
				}
				require.NotEmpty(t, cs, "heartbeat %d", i)
				require.Equal(t, hosts[tc.node], cs[0].node.id.Host)
				m := g.att.asks[schedKey{priority: 1}]
				rackLeft := tc.n - int32(len(cs))
				if !tc.rack {
					rackLeft = tc.n
				}
				require.Equal(t, rackLeft, m["/r1"].count, "rack entry (AppSchedulingInfo.allocate)")
				require.Equal(t, tc.n-int32(len(cs)), m[anyHost].count)
				return
			}
			t.Fatalf("no container after 20 heartbeats (want one at %d)", tc.first)
		})
	}
}
