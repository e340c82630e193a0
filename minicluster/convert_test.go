package minicluster

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestResourceWireMatchesCapture pins the mini RM's resource encoding to
// the real RM's bytes: every resource in the allocate responses of
// distshell-run/am-rm.txt (headroom and allocated containers) re-encodes
// from its Go form to the identical bytes through yarn.ResourceToProto,
// the one encoding the mini RM and the clients share.
func TestResourceWireMatchesCapture(t *testing.T) {
	dir, err := capture.Dir()
	require.NoError(t, err)
	tr, err := capture.Load(filepath.Join(dir, "distshell-run", "am-rm.txt"))
	require.NoError(t, err)
	conv, err := capture.Decode(tr, nil)
	require.NoError(t, err)
	n := 0
	check := func(p *yarnpb.ResourceProto) {
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		require.NoError(t, err)
		got, err := proto.MarshalOptions{Deterministic: true}.Marshal(yarn.ResourceToProto(yarn.ResourceFromProto(p)))
		require.NoError(t, err)
		require.Equal(t, want, got)
		n++
	}
	for _, c := range conv.Calls() {
		if c.Method() != "allocate" || c.Reply == nil {
			continue
		}
		var resp yarnpb.AllocateResponseProto
		require.NoError(t, proto.Unmarshal(c.Reply.Resp.Body, &resp))
		check(resp.GetLimit())
		for _, ct := range resp.GetAllocatedContainers() {
			check(ct.GetResource())
		}
	}
	require.GreaterOrEqual(t, n, 8)

	// Other resource types survive a round trip, in name order.
	r := yarn.Resource{MemoryMB: 2048, VCores: 2, Extra: map[string]int64{"yarn.io/gpu": 1, "yarn.io/fpga": 3}}
	p := yarn.ResourceToProto(r)
	require.Equal(t, "yarn.io/fpga", p.GetResourceValueMap()[2].GetKey())
	require.Equal(t, r, yarn.ResourceFromProto(p))
	require.Equal(t, "<memory:2048, vCores:2, yarn.io/fpga: 3, yarn.io/gpu: 1>", r.String())
}
