package minihdfs

import (
	"bytes"
	"context"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// getSnapshotDiffReport: FSNamesystem.getSnapshotDiffReport,
// SnapshotManager.diff and SnapshotDiffInfo.generateReport, for a
// snapshottable directory or one below it. A snapshot name of "" or "." is the current tree.
// The Java client (DistributedFileSystem.getSnapshotDiffReportInternal)
// asks this one when either side is the current tree, and
// getSnapshotDiffReportListing between two snapshots.
//
// The difference is computed from the earlier state to the later one and
// labelled from the caller's from to to (isFromEarlier). Entries: every
// directory or file changed, in SnapshotDiffInfo.INODE_COMPARATOR's order
// (by depth, then parent, then name), each "M", a directory's followed by
// its children created ("+") and deleted ("-", or "R" to where it was
// renamed when the inode is still there). A file is changed when its
// length or its metadata (permission, owner, group, extended attributes,
// replication, block size) differ (FileWithSnapshotFeature.
// changedBetweenSnapshots); a directory when its children or metadata
// differ. Inodes are matched by id.
func (nn *nameNode) getSnapshotDiffReport(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetSnapshotDiffReportRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, diff, fromEarlier, err := nn.snapshotDiffOf(pc, req.GetSnapshotRoot(), req.GetFromSnapshot(), req.GetToSnapshot())
	if err != nil {
		return nil, err
	}
	report := &hdfspb.SnapshotDiffReportProto{SnapshotRoot: proto.String(ip.String()), FromSnapshot: proto.String(req.GetFromSnapshot()), ToSnapshot: proto.String(req.GetToSnapshot())}
	plus, minus := "+", "-"
	if !fromEarlier {
		plus, minus = minus, plus
	}
	for _, dd := range diff {
		report.DiffReportEntries = append(report.DiffReportEntries, &hdfspb.SnapshotDiffReportEntryProto{Fullpath: joinComps(dd.path), ModificationLabel: proto.String("M")})
		for _, c := range dd.created {
			if !c.renamed {
				report.DiffReportEntries = append(report.DiffReportEntries, &hdfspb.SnapshotDiffReportEntryProto{Fullpath: joinComps(c.path), ModificationLabel: proto.String(plus)})
			}
		}
		for _, c := range dd.deleted {
			e := &hdfspb.SnapshotDiffReportEntryProto{Fullpath: joinComps(c.path), ModificationLabel: proto.String(minus)}
			if c.target != nil {
				e.ModificationLabel = proto.String("R")
				e.Fullpath, e.TargetPath = joinComps(c.path), joinComps(c.target)
				if !fromEarlier {
					e.Fullpath, e.TargetPath = e.TargetPath, e.Fullpath
				}
			}
			report.DiffReportEntries = append(report.DiffReportEntries, e)
		}
	}
	return &hdfspb.GetSnapshotDiffReportResponseProto{DiffReport: report}, nil
}

// getSnapshotDiffReportListing: FSNamesystem.getSnapshotDiffReportListing
// (SnapshotDiffListingInfo), all in one answer (the cursor comes back
// empty with index -1): modified entries (a directory's with isReference
// set), and per directory its created and deleted children, a renamed
// one as a reference, the deleted side carrying the target path. The
// client's SnapshotDiffReportGenerator sorts, pairs and labels them.
func (nn *nameNode) getSnapshotDiffReportListing(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetSnapshotDiffReportListingRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	_, diff, fromEarlier, err := nn.snapshotDiffOf(pc, req.GetSnapshotRoot(), req.GetFromSnapshot(), req.GetToSnapshot())
	if err != nil {
		return nil, err
	}
	l := &hdfspb.SnapshotDiffReportListingProto{IsFromEarlier: proto.Bool(fromEarlier),
		Cursor: &hdfspb.SnapshotDiffReportCursorProto{StartPath: []byte{}, Index: proto.Int32(-1)}}
	entry := func(dir, id uint64, path []string, ref bool) *hdfspb.SnapshotDiffReportListingEntryProto {
		return &hdfspb.SnapshotDiffReportListingEntryProto{Fullpath: joinComps(path), DirId: proto.Uint64(dir), FileId: proto.Uint64(id), IsReference: proto.Bool(ref), TargetPath: []byte{}}
	}
	for _, dd := range diff {
		l.ModifiedEntries = append(l.ModifiedEntries, entry(dd.id, dd.id, dd.path, dd.dir))
		for _, c := range dd.created {
			l.CreatedEntries = append(l.CreatedEntries, entry(dd.id, c.id, c.path, c.renamed))
		}
		for _, c := range dd.deleted {
			e := entry(dd.id, c.id, c.path, c.target != nil)
			if c.target != nil {
				e.TargetPath = joinComps(c.target)
			}
			l.DeletedEntries = append(l.DeletedEntries, e)
		}
	}
	return &hdfspb.GetSnapshotDiffReportListingResponseProto{DiffReport: l}, nil
}

// findByID is the copy of inode id in a snapshot tree, or nil.
func findByID(x *inode, id uint64) *inode {
	if x.id == id {
		return x
	}
	for _, c := range x.children {
		if c.dir {
			if f := findByID(c, id); f != nil {
				return f
			}
		}
	}
	return nil
}

func joinComps(p []string) []byte { return []byte(strings.Join(p, "/")) }

// snapshotDiffOf resolves a diff request: the directory, the snapshottable
// one at or above it, the two states (a missing
// snapshot: "Cannot find the snapshot of directory ... with name ...",
// DirectorySnapshottableFeature.getSnapshotByName), and the changes from
// the earlier to the later; nn.mu held.
func (nn *nameNode) snapshotDiffOf(pc *caller, root, from, to string) (*resolved, []dirDiff, bool, error) {
	ip, err := nn.resolvePath(pc, root, opRead)
	if err != nil {
		return nil, nil, false, err
	}
	d, err := dirOf(ip)
	if err != nil {
		return nil, nil, false, err
	}
	// dfs.namenode.snapshotdiff.allow.snap-root-descendant (default true):
	// a directory below a snapshottable one compares its own subtree
	// (SnapshotManager.getSnapshottableAncestorDir).
	sr := d
	for i := len(ip.nodes) - 2; i >= 0 && !sr.snapshottable; i-- { // ip.nodes ends with d
		sr = ip.nodes[i]
	}
	if !sr.snapshottable {
		return nil, nil, false, remote(classSnapshot, "Directory is neither snapshottable nor under a snap root!")
	}
	state := func(name string) (*inode, uint64, error) {
		if name == "" || name == "." {
			return d, ^uint64(0), nil
		}
		s := sr.snaps[name]
		if s == nil {
			return nil, 0, remote(classSnapshot, "Cannot find the snapshot of directory %s with name %s", ip, name)
		}
		return findByID(s.root, d.id), s.id, nil
	}
	a, at, err := state(from)
	if err != nil {
		return nil, nil, false, err
	}
	b, bt, err := state(to)
	if err != nil {
		return nil, nil, false, err
	}
	if a == b || a == nil || b == nil {
		return ip, nil, true, nil
	}
	if at > bt {
		return ip, diffTrees(b, a), false, nil
	}
	return ip, diffTrees(a, b), true, nil
}

// dirDiff is one changed inode and, for a directory, its children's
// changes.
type dirDiff struct {
	id      uint64
	dir     bool
	path    []string // below the snapshot root
	created []childDiff
	deleted []childDiff
}

type childDiff struct {
	id      uint64
	path    []string
	renamed bool     // created: the inode was elsewhere before
	target  []string // deleted: where the inode is now, if still there
}

type diffNode struct {
	n    *inode
	path []string
}

func sub(path []string, name string) []string { return append(append([]string{}, path...), name) }

// diffTrees compares the earlier and later copies of a snapshot root,
// breadth first over the later tree with children by name (the
// INODE_COMPARATOR order).
func diffTrees(earlier, later *inode) []dirDiff {
	index := func(root *inode) map[uint64]diffNode {
		m := map[uint64]diffNode{}
		var walk func(x *inode, path []string)
		walk = func(x *inode, path []string) {
			m[x.id] = diffNode{x, path}
			for _, c := range x.sortedChildren() {
				walk(c, sub(path, c.name))
			}
		}
		walk(root, nil)
		return m
	}
	before, after := index(earlier), index(later)
	var out []dirDiff
	level := []diffNode{{later, nil}}
	for len(level) > 0 {
		var next []diffNode
		for _, x := range level {
			if x.n.dir {
				for _, c := range x.n.sortedChildren() {
					next = append(next, diffNode{c, sub(x.path, c.name)})
				}
			}
			old, ok := before[x.n.id]
			if !ok || old.n.dir != x.n.dir {
				continue
			}
			dd := dirDiff{id: x.n.id, dir: x.n.dir, path: x.path}
			if x.n.dir {
				for _, c := range x.n.sortedChildren() {
					if oc := old.n.children[c.name]; oc != nil && oc.id == c.id {
						continue
					}
					_, renamed := before[c.id]
					dd.created = append(dd.created, childDiff{id: c.id, path: sub(x.path, c.name), renamed: renamed})
				}
				for _, c := range old.n.sortedChildren() {
					if nc := x.n.children[c.name]; nc != nil && nc.id == c.id {
						continue
					}
					cd := childDiff{id: c.id, path: sub(x.path, c.name)}
					if now, ok := after[c.id]; ok {
						cd.target = now.path
					}
					dd.deleted = append(dd.deleted, cd)
				}
			}
			if len(dd.created) > 0 || len(dd.deleted) > 0 || !sameMetadata(old.n, x.n) || (!x.n.dir && old.n.size() != x.n.size()) {
				out = append(out, dd)
			}
		}
		level = next
	}
	return out
}

// sameMetadata is INodeFileAttributes/INodeDirectoryAttributes
// .metadataEquals: permission, owner, group, extended attributes, and for
// files replication and block size (the header).
func sameMetadata(a, b *inode) bool {
	if a.perm != b.perm || a.owner != b.owner || a.group != b.group || len(a.xattrs) != len(b.xattrs) {
		return false
	}
	if !a.dir && (a.replication != b.replication || a.blockSize != b.blockSize) {
		return false
	}
	ax, bx := append([]xattr(nil), a.xattrs...), append([]xattr(nil), b.xattrs...)
	less := func(x []xattr) func(i, j int) bool {
		return func(i, j int) bool {
			if x[i].ns != x[j].ns {
				return x[i].ns < x[j].ns
			}
			return x[i].name < x[j].name
		}
	}
	sort.Slice(ax, less(ax))
	sort.Slice(bx, less(bx))
	for i := range ax {
		if ax[i].ns != bx[i].ns || ax[i].name != bx[i].name || !bytes.Equal(ax[i].value, bx[i].value) {
			return false
		}
	}
	return true
}
