package minicluster

import (
	"net"
	"strconv"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// The id and resource conversions are yarn's exported wire conversions
// (yarn.AppIDToProto, yarn.ResourceToProto, …), shared with the clients;
// what follows is only what the server side needs besides them.

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
