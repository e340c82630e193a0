package conf

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// hostPort normalises an address value the way Hadoop's
// NetUtils.createSocketAddr(target, defaultPort) reads it: "host",
// "host:port", "[v6]:port", or a URI "scheme://host:port/path". A missing
// port means defaultPort. The result is host:port as net.JoinHostPort
// writes it.
func hostPort(target string, defaultPort int) (string, error) {
	if target == "" {
		return "", fmt.Errorf("empty address")
	}
	authority := target
	if i := strings.Index(target, "://"); i >= 0 {
		u, err := url.Parse(target)
		if err != nil {
			return "", fmt.Errorf("invalid address %s", quote(target))
		}
		authority = u.Host
	} else if strings.ContainsAny(target, "/?#") {
		return "", fmt.Errorf("%s is not a host:port authority", quote(target))
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:] // user info, which Java's URI accepts
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", fmt.Errorf("%s is not a host:port authority", quote(target))
		}
		host, port = authority[1:end], authority[end+1:]
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", fmt.Errorf("%s is not a host:port authority", quote(target))
		}
		port = strings.TrimPrefix(port, ":")
		if net.ParseIP(host) == nil {
			return "", fmt.Errorf("%s: invalid IPv6 address", quote(target))
		}
	} else {
		if i := strings.LastIndexByte(authority, ':'); i >= 0 {
			host, port = authority[:i], authority[i+1:]
		}
		if !validHost(host) {
			return "", fmt.Errorf("%s is not a host:port authority", quote(target))
		}
	}
	p := defaultPort
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 || port[0] == '+' || port[0] == '-' {
			return "", fmt.Errorf("%s: invalid port %s", quote(target), quote(port))
		}
		p = n
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// validHost accepts DNS names and IPv4 literals: letters, digits, '-', '.'
// and '_'. (Java's URI rejects '_'; a Go client has no reason to.)
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			return false
		}
	}
	return true
}
