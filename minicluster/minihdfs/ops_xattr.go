package minihdfs

import (
	"context"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Extended attributes: setXAttr, getXAttrs, listXAttrs and removeXAttr
// (FSDirXAttrOp, XAttrPermissionFilter). Through this API a caller sees
// and changes the user. namespace, and the trusted. namespace if it is a
// superuser; security., system. and raw. are refused as HDFS refuses them
// outside /.reserved/raw (which the mini NameNode does not have; nor does
// it give security.hdfs.unreadable.by.superuser its meaning).

// Limits of hdfs-default.xml.
const (
	maxXAttrsPerInode = 32    // dfs.namenode.fs-limits.max-xattrs-per-inode
	maxXAttrSize      = 16384 // dfs.namenode.fs-limits.max-xattr-size
)

// Bits of XAttrSetFlagProto.
const (
	xattrCreate  = 1
	xattrReplace = 2
)

// xattr is one extended attribute of an inode; value nil is an attribute
// set without a value.
type xattr struct {
	ns    hdfspb.XAttrProto_XAttrNamespaceProto
	name  string
	value []byte
}

// prefixed is XAttrHelper.getPrefixedName: "user.name".
func (x xattr) prefixed() string { return strings.ToLower(x.ns.String()) + "." + x.name }

func (x xattr) proto() *hdfspb.XAttrProto {
	p := &hdfspb.XAttrProto{Namespace: x.ns.Enum(), Name: proto.String(x.name)}
	if x.value != nil {
		p.Value = append([]byte{}, x.value...)
	}
	return p
}

func xattrOf(p *hdfspb.XAttrProto) xattr {
	x := xattr{ns: p.GetNamespace(), name: p.GetName()}
	if p.Value != nil {
		x.value = append([]byte{}, p.Value...)
	}
	return x
}

func (x xattr) same(y xattr) bool { return x.ns == y.ns && x.name == y.name }

// visibleTo is XAttrPermissionFilter.filterXAttrsForApi for one attribute.
func (x xattr) visibleTo(pc *caller) bool {
	return x.ns == hdfspb.XAttrProto_USER || (x.ns == hdfspb.XAttrProto_TRUSTED && pc.super)
}

// checkXAttrAPI is XAttrPermissionFilter.checkPermissionForApi.
func checkXAttrAPI(pc *caller, x xattr) error {
	if x.visibleTo(pc) {
		return nil
	}
	return remote(classAccessControl, "User doesn't have permission for xattr: %s", x.prefixed())
}

// checkXAttrChange is FSDirXAttrOp.checkXAttrChangeAccess: a user. attribute
// needs WRITE on the inode, or ownership of a sticky directory.
// xattrTarget resolves src for a change of x (set or remove) and checks
// the caller may make it; nn.mu is held.
func (nn *nameNode) xattrTarget(pc *caller, src string, x xattr) (*inode, error) {
	ip, err := nn.resolvePath(pc, src, opWrite)
	if err != nil {
		return nil, err
	}
	if err := nn.checkXAttrChange(pc, ip, x); err != nil {
		return nil, err
	}
	n := ip.last()
	if n == nil {
		return nil, errFileNotFound("cannot find %s", ip)
	}
	return n, nil
}

func (nn *nameNode) checkXAttrChange(pc *caller, ip *resolved, x xattr) error {
	if x.ns != hdfspb.XAttrProto_USER {
		return nil
	}
	if n := ip.last(); n != nil && n.dir && n.perm&0o1000 != 0 {
		if pc.super {
			return nil
		}
		return nn.checkOwner(pc, ip)
	}
	return pc.check(ip, access{self: actWrite})
}

// resolveXAttrTarget resolves src to an existing inode for an xattr call
// (FSDirectory.resolveLastINode); nn.mu held.
func (nn *nameNode) resolveXAttrTarget(pc *caller, src string, op dirOp, ac access) (*resolved, *inode, error) {
	ip, err := nn.resolvePath(pc, src, op)
	if err != nil {
		return nil, nil, err
	}
	if err := pc.check(ip, ac); err != nil {
		return nil, nil, err
	}
	n := ip.last()
	if n == nil {
		return nil, nil, errFileNotFound("cannot find %s", ip)
	}
	return ip, n, nil
}

// setXAttr: FSDirXAttrOp.setXAttr and setINodeXAttrs. The attribute set
// goes first in the inode's list, the others keep their order.
func (nn *nameNode) setXAttr(_ context.Context, call *ipc.ServerCall, req *hdfspb.SetXAttrRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	x := xattrOf(req.GetXAttr())
	if size := len(x.name) + len(x.value); size > maxXAttrSize {
		return nil, remote(classIllegalArgument, "The XAttr is too big. The maximum combined size of the name and value is %d, but the total size is %d", maxXAttrSize, size)
	}
	if err := checkXAttrAPI(pc, x); err != nil {
		return nil, err
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	n, err := nn.xattrTarget(pc, req.GetSrc(), x)
	if err != nil {
		return nil, err
	}
	flag := req.GetFlag()
	if flag&(xattrCreate|xattrReplace) == 0 {
		return nil, remote(classIllegalArgument, "A flag must be specified.")
	}
	exists := false
	for _, y := range n.xattrs {
		exists = exists || y.same(x)
	}
	switch {
	case exists && flag&xattrReplace == 0:
		return nil, errIO("XAttr: %s already exists. The REPLACE flag must be specified.", x.name)
	case !exists && flag&xattrCreate == 0:
		return nil, errIO("XAttr: %s does not exist. The CREATE flag must be specified.", x.name)
	}
	out := []xattr{x}
	for _, y := range n.xattrs {
		if !y.same(x) {
			out = append(out, y)
		}
	}
	visible := 0
	for _, y := range out {
		if y.ns == hdfspb.XAttrProto_USER || y.ns == hdfspb.XAttrProto_TRUSTED {
			visible++
		}
	}
	if visible > maxXAttrsPerInode {
		return nil, errIO("Cannot add additional XAttr to inode, would exceed limit of %d", maxXAttrsPerInode)
	}
	n.xattrs = out
	return &hdfspb.SetXAttrResponseProto{}, nil
}

// getXAttrs: FSDirXAttrOp.getXAttrs. Asking for attributes the caller may
// not see is refused; one that is not there fails the whole call, with
// the IOException of Hadoop 3.3 (3.4 throws its subclass
// XAttrNotFoundException, with the same message).
func (nn *nameNode) getXAttrs(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetXAttrsRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	for _, p := range req.GetXAttrs() {
		if err := checkXAttrAPI(pc, xattrOf(p)); err != nil {
			return nil, err
		}
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	_, n, err := nn.resolveXAttrTarget(pc, req.GetSrc(), opRead, access{self: actRead})
	if err != nil {
		return nil, err
	}
	if len(req.GetXAttrs()) == 0 {
		return &hdfspb.GetXAttrsResponseProto{XAttrs: visibleXAttrs(pc, n)}, nil
	}
	resp := &hdfspb.GetXAttrsResponseProto{}
	for _, p := range req.GetXAttrs() {
		want, found := xattrOf(p), false
		for _, x := range n.xattrs {
			if x.same(want) && x.visibleTo(pc) {
				resp.XAttrs = append(resp.XAttrs, x.proto())
				found = true
				break
			}
		}
		if !found {
			return nil, errIO("At least one of the attributes provided was not found.")
		}
	}
	return resp, nil
}

// listXAttrs: FSDirXAttrOp.listXAttrs; the attributes the caller may see,
// with their values, as the NameNode sends them.
func (nn *nameNode) listXAttrs(_ context.Context, call *ipc.ServerCall, req *hdfspb.ListXAttrsRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	_, n, err := nn.resolveXAttrTarget(pc, req.GetSrc(), opRead, access{self: actRead})
	if err != nil {
		return nil, err
	}
	return &hdfspb.ListXAttrsResponseProto{XAttrs: visibleXAttrs(pc, n)}, nil
}

// visibleXAttrs is n's attributes the caller may see, with their values.
func visibleXAttrs(pc *caller, n *inode) []*hdfspb.XAttrProto {
	var out []*hdfspb.XAttrProto
	for _, x := range n.xattrs {
		if x.visibleTo(pc) {
			out = append(out, x.proto())
		}
	}
	return out
}

// removeXAttr: FSDirXAttrOp.removeXAttr.
func (nn *nameNode) removeXAttr(_ context.Context, call *ipc.ServerCall, req *hdfspb.RemoveXAttrRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	x := xattrOf(req.GetXAttr())
	if err := checkXAttrAPI(pc, x); err != nil {
		return nil, err
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	n, err := nn.xattrTarget(pc, req.GetSrc(), x)
	if err != nil {
		return nil, err
	}
	for i, y := range n.xattrs {
		if y.same(x) {
			n.xattrs = append(n.xattrs[:i:i], n.xattrs[i+1:]...)
			return &hdfspb.RemoveXAttrResponseProto{}, nil
		}
	}
	return nil, errIO("No matching attributes found for remove operation")
}
