package minihdfs

import (
	"context"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Namespace ClientNamenodeProtocol handlers: mkdirs, delete, rename and
// the attribute setters.

// mkdirs: FSDirMkdirOp.mkdirs.
func (nn *nameNode) mkdirs(_ context.Context, call *ipc.ServerCall, req *hdfspb.MkdirsRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	src := req.GetSrc()
	ip, err := nn.resolvePath(pc, src, opCreate)
	if err != nil {
		return nil, err
	}
	if last := ip.last(); last != nil {
		if !last.dir {
			return nil, remote(classFileAlreadyExists, "Path is not a directory: %s", src)
		}
		return &hdfspb.MkdirsResponseProto{Result: proto.Bool(true)}, nil
	}
	if err := pc.check(ip, access{ancestor: actWrite}); err != nil {
		return nil, err
	}
	if !req.GetCreateParent() {
		if err := verifyParentDir(ip); err != nil {
			return nil, err
		}
	}
	perm := uint16(req.GetMasked().GetPerm())
	nn.createMissing(ip, len(ip.nodes)-1, perm, implicitUwx(perm), pc.user, nn.nowMS())
	return &hdfspb.MkdirsResponseProto{Result: proto.Bool(true)}, nil
}

// verifyParentDir is FSDirectory.verifyParentDir.
func verifyParentDir(ip *resolved) error {
	if len(ip.nodes) > 2 {
		p := ip.parent()
		if p == nil {
			return errFileNotFound("Parent directory doesn't exist: %s", ip.path(len(ip.nodes)-2))
		}
		if !p.dir {
			return remote(classParentNotDirectory, "Parent path is not a directory: %s", ip.path(len(ip.nodes)-2))
		}
	}
	return nil
}

// delete: FSDirDeleteOp.delete. A missing path, or the root, is "false".
func (nn *nameNode) delete(_ context.Context, call *ipc.ServerCall, req *hdfspb.DeleteRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	if err := pc.check(ip, access{parent: actWrite, sub: actAll, ignoreEmptyDir: true}); err != nil {
		return nil, err
	}
	n := ip.last()
	if n != nil && n.dir && len(n.children) > 0 && !req.GetRecursive() {
		return nil, remote(classPathNotEmptyDir, "`%s is non empty': Directory is not empty", ip)
	}
	if n == nil || n.parent == nil {
		return &hdfspb.DeleteResponseProto{Result: proto.Bool(false)}, nil
	}
	if err := checkNoSnapshots(n, ip.String()); err != nil {
		return nil, err
	}
	drop = nn.removeTree(n, nn.nowMS())
	return &hdfspb.DeleteResponseProto{Result: proto.Bool(true)}, nil
}

// rename: the deprecated FSDirRenameOp.renameTo, which answers false
// instead of throwing for most failures, and moves src into dst when dst is
// a directory.
func (nn *nameNode) rename(_ context.Context, call *ipc.ServerCall, req *hdfspb.RenameRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	src, dst := req.GetSrc(), req.GetDst()
	sip, dip, err := nn.resolveRename(pc, src, dst)
	if err != nil {
		return nil, err
	}
	if d := dip.last(); d != nil && d.dir && len(sip.comps) > 1 {
		name := sip.comps[len(sip.comps)-1]
		dip = &resolved{comps: append(append([]string{}, dip.comps...), name), nodes: append(append([]*inode{}, dip.nodes...), d.children[name])}
	}
	if err := pc.check(sip, access{parent: actWrite}); err != nil {
		return nil, err
	}
	if err := pc.check(dip, access{ancestor: actWrite}); err != nil {
		return nil, err
	}
	fail := &hdfspb.RenameResponseProto{Result: proto.Bool(false)}
	s := sip.last()
	if s == nil || s.parent == nil {
		return fail, nil
	}
	// FSDirRenameOp.validateRenameSource ends in
	// FSDirSnapshotOp.checkSnapshot, whose SnapshotException (its "cannot
	// be deleted" message even here) unprotectedRenameTo rethrows.
	if err := checkNoSnapshots(s, sip.String()); err != nil {
		return nil, err
	}
	if dip.String() == sip.String() {
		return &hdfspb.RenameResponseProto{Result: proto.Bool(true)}, nil
	}
	if underSource(sip.String(), dip.String()) || dip.last() != nil {
		return fail, nil
	}
	dp := dip.parent()
	if dp == nil || !dp.dir {
		return fail, nil
	}
	nn.move(s, dp, dip.comps[len(dip.comps)-1], nn.nowMS())
	return &hdfspb.RenameResponseProto{Result: proto.Bool(true)}, nil
}

// resolveRename resolves a rename's source (to write) and destination (to
// create), as both FSDirRenameOp.renameToInt and renameToIntWithOptions
// begin, nn.mu held.
func (nn *nameNode) resolveRename(pc *caller, src, dst string) (sip, dip *resolved, err error) {
	if !validName(dst) {
		return nil, nil, errIO("Invalid name: %s", dst)
	}
	if sip, err = nn.resolvePath(pc, src, opWrite); err != nil {
		return nil, nil, err
	}
	if dip, err = nn.resolvePath(pc, dst, opCreate); err != nil {
		return nil, nil, err
	}
	return sip, dip, nil
}

func underSource(src, dst string) bool { return strings.HasPrefix(dst, src+"/") || src == "/" }

// move re-links n as dir/name and stamps both parents.
func (nn *nameNode) move(n, dir *inode, name string, now int64) {
	delete(n.parent.children, n.name)
	n.parent.mtime = now
	n.name = name
	n.parent = dir
	dir.children[name] = n
	dir.mtime = now
}

// rename2: FSDirRenameOp.renameTo with options; failures throw.
func (nn *nameNode) rename2(_ context.Context, call *ipc.ServerCall, req *hdfspb.Rename2RequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	src, dst := req.GetSrc(), req.GetDst()
	sip, dip, err := nn.resolveRename(pc, src, dst)
	if err != nil {
		return nil, err
	}
	if err := pc.check(sip, access{parent: actWrite}); err != nil {
		return nil, err
	}
	if err := pc.check(dip, access{ancestor: actWrite}); err != nil {
		return nil, err
	}
	s := sip.last()
	if s == nil {
		return nil, errFileNotFound("rename source %s is not found.", sip)
	}
	if s.parent == nil {
		return nil, errIO("rename source cannot be the root")
	}
	if err := checkNoSnapshots(s, sip.String()); err != nil {
		return nil, err
	}
	if dip.String() == sip.String() {
		return nil, remote(classFileAlreadyExists, "The source %s and destination %s are the same", sip, dip)
	}
	if underSource(sip.String(), dip.String()) {
		return nil, errIO("Rename destination %s is a directory or file under source %s", dip, sip)
	}
	if len(dip.nodes) == 1 {
		return nil, errIO("rename destination cannot be the root")
	}
	now := nn.nowMS()
	if d := dip.last(); d != nil {
		if d.dir != s.dir {
			return nil, errIO("Source %s and destination %s must both be directories", sip, dip)
		}
		if !req.GetOverwriteDest() {
			return nil, remote(classFileAlreadyExists, "rename destination %s already exists", dip)
		}
		if d.dir && len(d.children) > 0 {
			return nil, errIO("rename destination directory is not empty: %s", dip)
		}
		// FSDirRenameOp.unprotectedRenameTo: checkSnapshot on an
		// existing destination, after validateOverwrite.
		if err := checkNoSnapshots(d, dip.String()); err != nil {
			return nil, err
		}
	}
	dp := dip.parent()
	if dp == nil {
		return nil, errFileNotFound("rename destination parent %s not found.", dip)
	}
	if !dp.dir {
		return nil, remote(classParentNotDirectory, "rename destination parent %s is a file.", dip)
	}
	if d := dip.last(); d != nil {
		drop = nn.removeTree(d, now)
	}
	nn.move(s, dp, dip.comps[len(dip.comps)-1], now)
	return &hdfspb.Rename2ResponseProto{}, nil
}

// checkOwner is FSDirectory.checkOwner.
func (nn *nameNode) checkOwner(pc *caller, ip *resolved) error {
	if ip.last() == nil {
		return errFileNotFound("Directory/File does not exist %s", ip)
	}
	return pc.check(ip, access{owner: true})
}

// resolveWritable resolves src for a change that needs WRITE on it
// (FSDirAttrOp's setReplication and setTimes, recoverLease); nn.mu held.
func (nn *nameNode) resolveWritable(pc *caller, src string) (*resolved, error) {
	ip, err := nn.resolvePath(pc, src, opWrite)
	if err != nil {
		return nil, err
	}
	return ip, pc.check(ip, access{self: actWrite})
}

// resolveOwned resolves src for a change only its owner (or a superuser)
// may make (FSDirAttrOp's setPermission and setOwner); nn.mu held.
func (nn *nameNode) resolveOwned(pc *caller, src string) (*resolved, error) {
	ip, err := nn.resolvePath(pc, src, opWrite)
	if err != nil {
		return nil, err
	}
	return ip, nn.checkOwner(pc, ip)
}

// setPermission: FSDirAttrOp.setPermission; owner or superuser only.
func (nn *nameNode) setPermission(_ context.Context, call *ipc.ServerCall, req *hdfspb.SetPermissionRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolveOwned(pc, req.GetSrc())
	if err != nil {
		return nil, err
	}
	ip.last().perm = uint16(req.GetPermission().GetPerm()) & 0o1777
	return &hdfspb.SetPermissionResponseProto{}, nil
}

// setOwner: FSDirAttrOp.setOwner. Only a superuser may change the owner; an
// owner may change the group to one of their own groups. An absent or
// empty name leaves that part unchanged.
func (nn *nameNode) setOwner(_ context.Context, call *ipc.ServerCall, req *hdfspb.SetOwnerRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolveOwned(pc, req.GetSrc())
	if err != nil {
		return nil, err
	}
	user, group := req.GetUsername(), req.GetGroupname()
	if !pc.super {
		if user != "" && user != pc.user {
			return nil, remote(classAccessControl, "User %s is not a super user (non-super user cannot change owner).", pc.user)
		}
		if group != "" && !pc.groups[group] {
			return nil, remote(classAccessControl, "User %s does not belong to %s", pc.user, group)
		}
	}
	n := ip.last()
	if user != "" {
		n.owner = user
	}
	if group != "" {
		n.group = group
	}
	return &hdfspb.SetOwnerResponseProto{}, nil
}

// setReplication: FSDirAttrOp.setReplication; false for a directory or a
// missing path.
func (nn *nameNode) setReplication(_ context.Context, call *ipc.ServerCall, req *hdfspb.SetReplicationRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	if err := verifyReplication(req.GetSrc(), req.GetReplication()); err != nil {
		return nil, err
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolveWritable(pc, req.GetSrc())
	if err != nil {
		return nil, err
	}
	n := ip.last()
	if n == nil || n.dir {
		return &hdfspb.SetReplicationResponseProto{Result: proto.Bool(false)}, nil
	}
	n.replication = req.GetReplication()
	return &hdfspb.SetReplicationResponseProto{Result: proto.Bool(true)}, nil
}

// setTimes: FSDirAttrOp.setTimes; -1 leaves a time unchanged, and
// directories keep no access time.
func (nn *nameNode) setTimes(_ context.Context, call *ipc.ServerCall, req *hdfspb.SetTimesRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolveWritable(pc, req.GetSrc())
	if err != nil {
		return nil, err
	}
	n := ip.last()
	if n == nil {
		return nil, errFileNotFound("File/Directory %s does not exist.", ip)
	}
	if mt := int64(req.GetMtime()); mt != -1 {
		n.mtime = mt
	}
	if at := int64(req.GetAtime()); at != -1 && !n.dir {
		n.atime = at
	}
	return &hdfspb.SetTimesResponseProto{}, nil
}
