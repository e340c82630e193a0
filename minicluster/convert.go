package minicluster

import (
	"net"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// Proto ↔ yarn type conversions for the server side. The yarn package keeps
// its own conversions unexported (they serve the clients); these are the
// mini cluster's private copies.
// TODO(#4): share with yarn/convert.go once it exports them.

func appIDToProto(a yarn.ApplicationID) *yarnpb.ApplicationIdProto {
	return &yarnpb.ApplicationIdProto{Id: proto.Int32(a.ID), ClusterTimestamp: proto.Int64(a.ClusterTimestamp)}
}

func appIDFromProto(p *yarnpb.ApplicationIdProto) yarn.ApplicationID {
	return yarn.ApplicationID{ClusterTimestamp: p.GetClusterTimestamp(), ID: p.GetId()}
}

func attemptIDToProto(a yarn.AttemptID) *yarnpb.ApplicationAttemptIdProto {
	return &yarnpb.ApplicationAttemptIdProto{ApplicationId: appIDToProto(a.App), AttemptId: proto.Int32(a.Attempt)}
}

func attemptIDFromProto(p *yarnpb.ApplicationAttemptIdProto) yarn.AttemptID {
	return yarn.AttemptID{App: appIDFromProto(p.GetApplicationId()), Attempt: p.GetAttemptId()}
}

func containerIDToProto(c yarn.ContainerID) *yarnpb.ContainerIdProto {
	return &yarnpb.ContainerIdProto{AppAttemptId: attemptIDToProto(c.Attempt), Id: proto.Int64(c.ID)}
}

func containerIDFromProto(p *yarnpb.ContainerIdProto) yarn.ContainerID {
	return yarn.ContainerID{Attempt: attemptIDFromProto(p.GetAppAttemptId()), ID: p.GetId()}
}

func nodeIDToProto(n yarn.NodeID) *yarnpb.NodeIdProto {
	return &yarnpb.NodeIdProto{Host: proto.String(n.Host), Port: proto.Int32(n.Port)}
}

// resourceToProto writes a resource as Java's ResourcePBImpl does (and as
// yarn/convert.go does for the clients): fields 1 and 2, repeated in the map
// with their units, then any other resource types in name order.
// TestResourceWireMatchesCapture pins this copy to the captured bytes.
func resourceToProto(r yarn.Resource) *yarnpb.ResourceProto {
	countable := yarnpb.ResourceTypesProto_COUNTABLE.Enum
	p := &yarnpb.ResourceProto{Memory: proto.Int64(r.MemoryMB), VirtualCores: proto.Int32(r.VCores),
		ResourceValueMap: []*yarnpb.ResourceInformationProto{
			{Key: proto.String("memory-mb"), Value: proto.Int64(r.MemoryMB), Units: proto.String("Mi"), Type: countable()},
			{Key: proto.String("vcores"), Value: proto.Int64(int64(r.VCores)), Units: proto.String(""), Type: countable()},
		}}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.ResourceValueMap = append(p.ResourceValueMap, &yarnpb.ResourceInformationProto{Key: proto.String(k),
			Value: proto.Int64(r.Extra[k]), Units: proto.String(""), Type: countable()})
	}
	return p
}

// resourceFromProto reads fields 1 and 2 (which win over the map, as in
// Java) and keeps other resource types as Extra.
func resourceFromProto(p *yarnpb.ResourceProto) yarn.Resource {
	r := yarn.Resource{MemoryMB: p.GetMemory(), VCores: p.GetVirtualCores()}
	for _, e := range p.GetResourceValueMap() {
		switch e.GetKey() {
		case "memory-mb":
			if p.Memory == nil {
				r.MemoryMB = e.GetValue()
			}
		case "vcores":
			if p.VirtualCores == nil {
				r.VCores = int32(e.GetValue())
			}
		default:
			if r.Extra == nil {
				r.Extra = map[string]int64{}
			}
			r.Extra[e.GetKey()] = e.GetValue()
		}
	}
	return r
}

func addRes(a, b yarn.Resource) yarn.Resource {
	return yarn.Resource{MemoryMB: a.MemoryMB + b.MemoryMB, VCores: a.VCores + b.VCores}
}

func subRes(a, b yarn.Resource) yarn.Resource {
	return yarn.Resource{MemoryMB: a.MemoryMB - b.MemoryMB, VCores: a.VCores - b.VCores}
}

func minRes(a, b yarn.Resource) yarn.Resource {
	return yarn.Resource{MemoryMB: min(a.MemoryMB, b.MemoryMB), VCores: min(a.VCores, b.VCores)}
}

func maxRes(a, b yarn.Resource) yarn.Resource {
	return yarn.Resource{MemoryMB: max(a.MemoryMB, b.MemoryMB), VCores: max(a.VCores, b.VCores)}
}

func nonNegative(r yarn.Resource) yarn.Resource {
	return maxRes(r, yarn.Resource{})
}

// msOf is Java's currentTimeMillis of t (0 for the zero time).
func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// tokenService is the service of NMTokens and container tokens:
// ip:port of the node (hadoop.security.token.service.use_ip).
func tokenService(n yarn.NodeID) string {
	host := n.Host
	if ip := net.ParseIP(host); ip == nil {
		if addrs, err := net.LookupIP(host); err == nil && len(addrs) > 0 {
			for _, a := range addrs {
				if a.To4() != nil {
					host = a.String()
					break
				}
			}
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(int(n.Port)))
}
