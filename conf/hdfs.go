package conf

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// DefaultFS returns fs.defaultFS (default "file:///"), trimmed and fixed up
// as Hadoop's FileSystem.getDefaultUri does: "local" means "file:///" and a
// value without "://" is taken as an hdfs authority ("nn:8020" becomes
// "hdfs://nn:8020").
func (c *Configuration) DefaultFS() (string, error) {
	v, _, ok, err := c.lookupTrimmed(KeyDefaultFS)
	if err != nil {
		return "", err
	}
	if !ok {
		return DefaultFS, nil
	}
	switch {
	case v == "local":
		return "file:///", nil
	case !strings.Contains(v, "://"):
		return "hdfs://" + v, nil
	}
	return v, nil
}

// NameNodeAddr is the RPC address of one NameNode.
type NameNodeAddr struct {
	// NameService is the logical name (dfs.nameservices) the URI named, or
	// "" for a URI that names a host.
	NameService string
	// NameNodeID is the namenode id within an HA nameservice
	// (dfs.ha.namenodes.<ns>), or "".
	NameNodeID string
	// Address is host:port.
	Address string
	// Key is the configuration key Address came from (e.g.
	// dfs.namenode.rpc-address.ns1.nn1), fs.defaultFS when the URI came from
	// it, or "" when Address came from a URI passed in.
	Key string
	// Source is where the value of Key was defined.
	Source Source
}

// NameNodes returns the NameNode RPC addresses for an hdfs URI, as a Java
// DFSClient finds them. An empty uri, or one without a scheme and
// authority, means DefaultFS; a URI whose scheme is hdfs but has no
// authority takes the authority of DefaultFS when that is hdfs too.
//
// If the URI's host is one of dfs.nameservices, it is logical: the result
// lists dfs.namenode.rpc-address.<ns>.<nn> for each id in
// dfs.ha.namenodes.<ns> (ids without an address are skipped, as in
// DFSUtilClient.getAddressesForNameserviceId), or
// dfs.namenode.rpc-address.<ns> for a nameservice without HA. A logical URI
// must not carry a port. Any other host is used as is with port 8020 by
// default. A scheme other than hdfs is an error wrapping ErrNotHDFS.
func (c *Configuration) NameNodes(uri string) ([]NameNodeAddr, error) {
	defFS, err := c.DefaultFS()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, &ValueError{Msg: fmt.Sprintf("invalid URI %s", quote(uri)), Err: ErrInvalidValue}
	}
	fromDefault := false
	if u.Scheme == "" && u.Host == "" {
		if u, err = c.parseDefaultFS(defFS); err != nil {
			return nil, err
		}
		fromDefault = true
	} else if u.Host == "" {
		if d, err := url.Parse(defFS); err == nil && strings.EqualFold(d.Scheme, u.Scheme) && d.Host != "" {
			u.Host = d.Host
			fromDefault = true
		}
	}
	errKey, errSrc := "", Source{}
	if fromDefault {
		errKey = KeyDefaultFS
		errSrc, _ = c.SourceOf(KeyDefaultFS)
	}
	if !strings.EqualFold(u.Scheme, "hdfs") {
		return nil, &ValueError{Key: errKey, Source: errSrc,
			Msg: fmt.Sprintf("%s is not an hdfs:// URI", quote(u.String())), Err: ErrNotHDFS}
	}
	host := u.Hostname()
	if host == "" {
		return nil, &ValueError{Key: errKey, Source: errSrc,
			Msg: fmt.Sprintf("%s names no host", quote(u.String())), Err: ErrInvalidValue}
	}

	nss, err := c.GetStrings(KeyDFSNameservices, nil)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(nss, host) {
		hp, err := hostPort(u.Host, DefaultNameNodeRPCPort)
		if err != nil {
			return nil, &ValueError{Key: errKey, Source: errSrc, Msg: err.Error(), Err: ErrInvalidValue}
		}
		a := NameNodeAddr{Address: hp}
		if fromDefault {
			a.Key, a.Source = errKey, errSrc
		}
		return []NameNodeAddr{a}, nil
	}
	if u.Port() != "" {
		return nil, &ValueError{Key: errKey, Source: errSrc,
			Msg: fmt.Sprintf("%s names a port, but %s is a logical nameservice", quote(u.String()), quote(host)),
			Err: ErrInvalidValue}
	}
	return c.nameServiceAddrs(host)
}

func (c *Configuration) parseDefaultFS(defFS string) (*url.URL, error) {
	u, err := url.Parse(defFS)
	if err != nil {
		src, _ := c.SourceOf(KeyDefaultFS)
		return nil, invalid(KeyDefaultFS, src, "invalid URI %s", quote(defFS))
	}
	return u, nil
}

// nameServiceAddrs lists the namenodes of logical nameservice ns.
func (c *Configuration) nameServiceAddrs(ns string) ([]NameNodeAddr, error) {
	idsKey := KeyDFSHANameNodesPrefix + "." + ns
	ids, err := c.GetStrings(idsKey, nil)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		key := KeyNameNodeRPCAddress + "." + ns
		a, ok, err := c.nnAddr(key)
		if err != nil {
			return nil, err
		}
		if !ok {
			src, _ := c.SourceOf(KeyDFSNameservices)
			return nil, &ValueError{Key: key, Source: src,
				Msg: fmt.Sprintf("nameservice %s has neither %s nor %s", quote(ns), idsKey, key), Err: ErrMissingKey}
		}
		a.NameService = ns
		return []NameNodeAddr{a}, nil
	}
	var addrs []NameNodeAddr
	for _, id := range ids {
		a, ok, err := c.nnAddr(KeyNameNodeRPCAddress + "." + ns + "." + id)
		if err != nil {
			return nil, err
		}
		if ok {
			a.NameService, a.NameNodeID = ns, id
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		src, _ := c.SourceOf(idsKey)
		return nil, &ValueError{Key: idsKey, Source: src,
			Msg: fmt.Sprintf("no %s.%s.<id> is set for any listed namenode", KeyNameNodeRPCAddress, ns), Err: ErrMissingKey}
	}
	return addrs, nil
}

func (c *Configuration) nnAddr(key string) (NameNodeAddr, bool, error) {
	v, src, ok, err := c.lookupTrimmed(key)
	if err != nil || !ok || v == "" {
		return NameNodeAddr{}, false, err
	}
	hp, err := hostPort(v, DefaultNameNodeRPCPort)
	if err != nil {
		return NameNodeAddr{}, false, invalid(key, src, "%v", err)
	}
	return NameNodeAddr{Address: hp, Key: key, Source: src}, true, nil
}
