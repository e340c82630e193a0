package am

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestPendingReason: what the AM knows, read in order: the node label
// against the known nodes' labels, the blacklist against the nodes of
// the request's partition, the headroom against one TaskManager, else
// the scheduler has not placed them yet.
func TestPendingReason(t *testing.T) {
	nodes := []amapi.ClusterNode{{Host: "a"}, {Host: "b"}, {Host: "g", Labels: []string{"gpu"}}}
	tm := yarn.Resource{MemoryMB: 1024, VCores: 1}
	room := yarn.Resource{MemoryMB: 4096, VCores: 4}
	for _, tc := range []struct {
		name        string
		asked       int
		label       string
		quarantined []string
		headroom    *yarn.Resource
		reason      string
		detail      string
	}{
		{name: "nothing pending", asked: 0, reason: amapi.PendingNone},
		{name: "room", asked: 2, headroom: &room, reason: amapi.PendingScheduling, detail: "2 TaskManager(s) pending: the ResourceManager has room"},
		{name: "no headroom yet", asked: 2, reason: amapi.PendingScheduling},
		{name: "no room", asked: 2, headroom: &yarn.Resource{MemoryMB: 512, VCores: 8}, reason: amapi.PendingNoRoom,
			detail: "can give this application 512 MB more"},
		{name: "label nobody has", asked: 1, label: "fpga", headroom: &room, reason: amapi.PendingNodeLabel, detail: `none of the 3 nodes the AM knows has node label "fpga"`},
		{name: "label a node has", asked: 1, label: "gpu", headroom: &room, reason: amapi.PendingScheduling},
		{name: "all default-partition nodes blacklisted", asked: 1, quarantined: []string{"a", "b"}, headroom: &room, reason: amapi.PendingBlacklisted,
			detail: "every node that could run one (2) is blacklisted"},
		{name: "one node left", asked: 1, quarantined: []string{"a"}, headroom: &room, reason: amapi.PendingScheduling},
		{name: "the labelled node blacklisted", asked: 1, label: "gpu", quarantined: []string{"g"}, headroom: &room, reason: amapi.PendingBlacklisted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker("TaskManager", amapi.RestartPolicy{}, nil)
			for _, h := range tc.quarantined {
				tr.quarantined[h] = time.Now().Add(time.Hour)
			}
			f := &fleet{askedAt: make([]time.Time, tc.asked), nodes: newNodeView(nodes), req: yarn.ContainerRequest{Resource: tm, NodeLabel: tc.label}, tr: tr}
			if tc.headroom != nil {
				f.headroom, f.haveHeadroom = *tc.headroom, true
			}
			reason, detail := f.pendingLocked()
			require.Equal(t, tc.reason, reason)
			require.Contains(t, detail, tc.detail)
			require.Equal(t, tc.reason == amapi.PendingNone, detail == "")
		})
	}
}
