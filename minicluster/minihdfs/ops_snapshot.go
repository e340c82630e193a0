package minihdfs

import (
	"context"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Snapshots: allowSnapshot, disallowSnapshot, createSnapshot,
// deleteSnapshot, renameSnapshot and getSnapshottableDirListing
// (FSDirSnapshotOp, SnapshotManager, DirectorySnapshottableFeature), and
// reads through <dir>/.snapshot/<name>/... A snapshot is a copy of the
// directory's tree as it was: inodes with their ids, modes, owners, times
// and xattrs, and for files the blocks with the lengths they had, so the
// copy reads the bytes it had even after the live file is deleted,
// overwritten, appended to or truncated. The DataNode keeps a block's
// replica while any snapshot holds it (nameNode.snapRefs); a truncate
// through the middle of such a block copies it (copy-on-truncate).
// Snapshot diffs are in ops_snapshotdiff.go; snapshot listings
// (getSnapshotListing) are not implemented.

const (
	dotSnapshot = ".snapshot" // HdfsConstants.DOT_SNAPSHOT_DIR
	// snapshotQuota is DirectorySnapshottableFeature.SNAPSHOT_QUOTA_DEFAULT.
	snapshotQuota           = 65536
	classPathIsNotDirectory = "org.apache.hadoop.fs.PathIsNotDirectoryException"
)

// snapshot is one snapshot of a snapshottable directory: its root is the
// copy of the directory, named as the snapshot.
type snapshot struct {
	root *inode
	// id orders snapshots by creation (Snapshot.getId: the SnapshotManager's
	// counter), as the snapshot diff needs.
	id uint64
}

// dotSnapshotDir is the .snapshot directory of d: its children are the
// snapshots' roots.
func dotSnapshotDir(d *inode) *inode {
	dot := &inode{id: d.id, name: dotSnapshot, parent: d, dir: true, perm: d.perm, owner: d.owner, group: d.group,
		mtime: d.mtime, children: make(map[string]*inode, len(d.snaps))}
	for name, s := range d.snaps {
		dot.children[name] = s.root
	}
	return dot
}

// copyTree copies n and everything below it for a snapshot, counting the
// blocks the copy holds.
func (nn *nameNode) copyTree(n *inode) *inode {
	c := *n
	c.parent, c.uc, c.snaps, c.snapshottable = nil, nil, nil, false
	c.xattrs = append([]xattr(nil), n.xattrs...)
	if n.dir {
		c.children = make(map[string]*inode, len(n.children))
		for name, ch := range n.children {
			cc := nn.copyTree(ch)
			cc.parent = &c
			c.children[name] = cc
		}
		return &c
	}
	c.blocks = make([]*block, len(n.blocks))
	for i, b := range n.blocks {
		bc := *b
		bc.file, bc.truncate = nil, nil
		if bc.state != blockComplete {
			bc.state = blockComplete
		}
		c.blocks[i] = &bc
		nn.snapRefs[b.id]++
	}
	return &c
}

// releaseTree forgets the blocks a snapshot copy held and returns those
// no one holds any more: neither another snapshot nor a live file.
func (nn *nameNode) releaseTree(n *inode) []uint64 {
	var drop []uint64
	for _, ch := range n.children {
		drop = append(drop, nn.releaseTree(ch)...)
	}
	for _, b := range n.blocks {
		if nn.snapRefs[b.id]--; nn.snapRefs[b.id] <= 0 {
			delete(nn.snapRefs, b.id)
			if nn.blocks[b.id] == nil && !nn.truncateSource(b.id) {
				drop = append(drop, b.id)
			}
		}
	}
	return drop
}

// truncateSource reports whether a copy-on-truncate still reads block id.
func (nn *nameNode) truncateSource(id uint64) bool {
	for _, b := range nn.recovering {
		if b.truncate != nil && b.truncate.from == id {
			return true
		}
	}
	return false
}

// checkNoSnapshots is FSDirSnapshotOp.checkSnapshot: a directory tree with
// a snapshottable directory that has snapshots cannot be deleted.
func checkNoSnapshots(n *inode, path string) error {
	if !n.dir {
		return nil
	}
	if n.snapshottable && len(n.snaps) > 0 {
		return remote(classSnapshot, "The directory %s cannot be deleted since %s is snapshottable and already has snapshots", path, path)
	}
	for _, c := range n.sortedChildren() {
		if err := checkNoSnapshots(c, joinPath(path, c.name)); err != nil {
			return err
		}
	}
	return nil
}

// superuserOnly is FSNamesystem.checkSuperuserPrivilege.
func superuserOnly(pc *caller) error {
	if !pc.super {
		return remote(classAccessControl, "Access denied for user %s. Superuser privilege is required", pc.user)
	}
	return nil
}

// snapshotDir resolves path to an existing directory without permission
// checks (FSDirectory.getINodesInPath and INodeDirectory.valueOf); nn.mu
// held.
func (nn *nameNode) snapshotDir(path string) (*resolved, *inode, error) {
	comps, ok := splitPath(path)
	if !ok {
		return nil, nil, remote("java.lang.AssertionError", "Absolute path required, but got '%s'", path)
	}
	ip := resolve(nn.root, comps)
	if ip.snapshot {
		return nil, nil, remote(classSnapshotAccess, "Modification on a read-only snapshot is disallowed")
	}
	d, err := dirOf(ip)
	return ip, d, err
}

// allowSnapshot: FSNamesystem.allowSnapshot and
// SnapshotManager.setSnapshottable; superuser only, no nesting.
func (nn *nameNode) allowSnapshot(_ context.Context, call *ipc.ServerCall, req *hdfspb.AllowSnapshotRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	if err := superuserOnly(pc); err != nil {
		return nil, err
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, d, err := nn.snapshotDir(req.GetSnapshotRoot())
	if err != nil {
		return nil, err
	}
	path := ip.String()
	for _, s := range nn.snapshottables() {
		sp := resolvedOf(s).String()
		switch {
		case s == d:
		case strings.HasPrefix(sp, path+"/") || (path == "/" && sp != "/"):
			return nil, remote(classSnapshot, "Nested snapshottable directories not allowed: path=%s, the subdirectory %s is already a snapshottable directory.", req.GetSnapshotRoot(), sp)
		case strings.HasPrefix(path, sp+"/") || sp == "/":
			return nil, remote(classSnapshot, "Nested snapshottable directories not allowed: path=%s, the ancestor %s is already a snapshottable directory.", req.GetSnapshotRoot(), sp)
		}
	}
	d.snapshottable = true
	if d.snaps == nil {
		d.snaps = map[string]*snapshot{}
	}
	return &hdfspb.AllowSnapshotResponseProto{}, nil
}

// snapshottables lists the snapshottable directories of the live tree.
func (nn *nameNode) snapshottables() []*inode {
	var out []*inode
	var walk func(*inode)
	walk = func(n *inode) {
		if n.snapshottable {
			out = append(out, n)
		}
		for _, c := range n.sortedChildren() {
			if c.dir {
				walk(c)
			}
		}
	}
	walk(nn.root)
	return out
}

// disallowSnapshot: SnapshotManager.resetSnapshottable; superuser only.
func (nn *nameNode) disallowSnapshot(_ context.Context, call *ipc.ServerCall, req *hdfspb.DisallowSnapshotRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	if err := superuserOnly(pc); err != nil {
		return nil, err
	}
	nn.mu.Lock()
	defer nn.mu.Unlock()
	_, d, err := nn.snapshotDir(req.GetSnapshotRoot())
	if err != nil {
		return nil, err
	}
	if len(d.snaps) > 0 {
		return nil, remote(classSnapshot, "The directory %s has snapshot(s). Please redo the operation after removing all the snapshots.", req.GetSnapshotRoot())
	}
	d.snapshottable, d.snaps = false, nil
	return &hdfspb.DisallowSnapshotResponseProto{}, nil
}

// ownedSnapshottable resolves a snapshot root for the owner's snapshot
// calls: WRITE resolution, owner (or superuser), then
// SnapshotManager.getSnapshottableRoot; nn.mu held.
func (nn *nameNode) ownedSnapshottable(pc *caller, src string) (*resolved, *inode, error) {
	ip, err := nn.resolvePath(pc, src, opWrite)
	if err != nil {
		return nil, nil, err
	}
	if err := nn.checkOwner(pc, ip); err != nil {
		return nil, nil, err
	}
	d, err := dirOf(ip)
	if err != nil {
		return nil, nil, err
	}
	if !d.snapshottable {
		return nil, nil, remote(classSnapshot, "Directory is not a snapshottable directory: %s", ip)
	}
	return ip, d, nil
}

// checkSnapshotName is DFSUtil.isValidNameForComponent and
// FSDirSnapshotOp.verifySnapshotName. FSDirSnapshotOp.createSnapshot
// throws new InvalidPathException("Invalid snapshot name: " + name), and
// that constructor (InvalidPathException(String path)) prefixes
// "Invalid path name ", as a real 3.1.3 NameNode's message shows.
func checkSnapshotName(name string) error {
	if name == "." || name == ".." || strings.ContainsAny(name, ":/") || name == dotSnapshot || name == ".reserved" {
		return remote(classInvalidPath, "Invalid path name Invalid snapshot name: %s", name)
	}
	return nil
}

// createSnapshot: FSDirSnapshotOp.createSnapshot and
// DirectorySnapshottableFeature.addSnapshot. Without a name the snapshot
// is named after the time, as Snapshot.generateDefaultSnapshotName does.
func (nn *nameNode) createSnapshot(_ context.Context, call *ipc.ServerCall, req *hdfspb.CreateSnapshotRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, d, err := nn.ownedSnapshottable(pc, req.GetSnapshotRoot())
	if err != nil {
		return nil, err
	}
	now := nn.now()
	name := req.GetSnapshotName()
	if name == "" {
		name = now.Format("s20060102-150405.000")
	} else if err := checkSnapshotName(name); err != nil {
		return nil, err
	}
	if len(d.snaps)+1 > snapshotQuota {
		return nil, remote(classSnapshot, "Failed to add snapshot: there are already %d snapshot(s) and the snapshot quota is %d", len(d.snaps), snapshotQuota)
	}
	if d.snaps[name] != nil {
		return nil, remote(classSnapshot, "Failed to add snapshot: there is already a snapshot with the same name \"%s\".", name)
	}
	root := nn.copyTree(d)
	root.name = name
	root.mtime = now.UnixMilli()
	nn.snapshotCounter++
	d.snaps[name] = &snapshot{root: root, id: nn.snapshotCounter}
	d.mtime = now.UnixMilli()
	return &hdfspb.CreateSnapshotResponseProto{SnapshotPath: proto.String(joinPath(ip.String(), dotSnapshot+"/"+name))}, nil
}

// deleteSnapshot: FSDirSnapshotOp.deleteSnapshot and
// DirectorySnapshottableFeature.removeSnapshot. Replicas only the
// snapshot held go.
func (nn *nameNode) deleteSnapshot(_ context.Context, call *ipc.ServerCall, req *hdfspb.DeleteSnapshotRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, d, err := nn.ownedSnapshottable(pc, req.GetSnapshotRoot())
	if err != nil {
		return nil, err
	}
	name := req.GetSnapshotName()
	s := d.snaps[name]
	if s == nil {
		return nil, remote(classSnapshot, "Cannot delete snapshot %s from path %s: the snapshot does not exist.", name, ip)
	}
	delete(d.snaps, name)
	d.mtime = nn.nowMS()
	drop = nn.releaseTree(s.root)
	return &hdfspb.DeleteSnapshotResponseProto{}, nil
}

// renameSnapshot: FSDirSnapshotOp.renameSnapshot and
// DirectorySnapshottableFeature.renameSnapshot.
func (nn *nameNode) renameSnapshot(_ context.Context, call *ipc.ServerCall, req *hdfspb.RenameSnapshotRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, d, err := nn.ownedSnapshottable(pc, req.GetSnapshotRoot())
	if err != nil {
		return nil, err
	}
	oldName, newName := req.GetSnapshotOldName(), req.GetSnapshotNewName()
	if strings.Contains(newName, "/") {
		return nil, remote(classIllegalArgument, "Snapshot name cannot contain \"/\"")
	}
	s := d.snaps[oldName]
	if s == nil {
		return nil, remote(classSnapshot, "The snapshot %s does not exist for directory %s", oldName, ip)
	}
	if newName == oldName {
		return &hdfspb.RenameSnapshotResponseProto{}, nil
	}
	if d.snaps[newName] != nil {
		return nil, remote(classSnapshot, "The snapshot %s already exists for directory %s", newName, ip)
	}
	delete(d.snaps, oldName)
	s.root.name = newName
	d.snaps[newName] = s
	d.mtime = nn.nowMS()
	return &hdfspb.RenameSnapshotResponseProto{}, nil
}

// getSnapshottableDirListing: SnapshotManager.getSnapshottableDirListing;
// a user sees the directories it owns, a superuser all. No snapshottable
// directory at all is an empty reply.
func (nn *nameNode) getSnapshottableDirListing(_ context.Context, call *ipc.ServerCall, _ *hdfspb.GetSnapshottableDirListingRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	dirs := nn.snapshottables()
	resp := &hdfspb.GetSnapshottableDirListingResponseProto{}
	if len(dirs) == 0 {
		return resp, nil
	}
	list := &hdfspb.SnapshottableDirectoryListingProto{}
	for _, d := range dirs {
		if !pc.super && d.owner != pc.user {
			continue
		}
		parent := []byte{}
		if d.parent != nil {
			parent = []byte(resolvedOf(d.parent).String())
		}
		list.SnapshottableDirListing = append(list.SnapshottableDirListing, &hdfspb.SnapshottableDirectoryStatusProto{
			DirStatus: nn.fileStatus(d, d.name, false), SnapshotQuota: proto.Uint32(snapshotQuota),
			SnapshotNumber: proto.Uint32(uint32(len(d.snaps))), ParentFullpath: parent,
		})
	}
	// SnapshottableDirectoryStatus.COMPARATOR: by full path.
	sort.SliceStable(list.SnapshottableDirListing, func(i, j int) bool {
		a, b := list.SnapshottableDirListing[i], list.SnapshottableDirListing[j]
		return joinPath(string(a.ParentFullpath), string(a.DirStatus.Path)) < joinPath(string(b.ParentFullpath), string(b.DirStatus.Path))
	})
	resp.SnapshottableDirList = list
	return resp, nil
}
