package minihdfs

import (
	"sort"
	"strings"
)

// Inode and block ids start where HDFS starts them: INodeId.ROOT_INODE_ID,
// SequentialBlockIdGenerator.LAST_RESERVED_BLOCK_ID + 1 and
// GenerationStamp.LAST_RESERVED_STAMP + 1.
const (
	rootInodeID  = 16385
	firstBlockID = 1 << 30
	firstGenStam = 1000
)

// inode is one file or directory of the namespace (INodeFile and
// INodeDirectory in one struct).
type inode struct {
	id     uint64
	name   string
	parent *inode
	dir    bool
	perm   uint16 // rwxrwxrwx plus the sticky bit 01000
	owner  string
	group  string
	mtime  int64 // ms since the epoch
	atime  int64
	xattrs []xattr // in the order getXAttrs lists them

	children map[string]*inode // directories

	// Files.
	replication uint32
	blockSize   uint64
	blocks      []*block
	uc          *underConstruction // nil once complete

	// Directories: allowSnapshot was called (DirectorySnapshottableFeature),
	// and the snapshots taken, by name.
	snapshottable bool
	snaps         map[string]*snapshot
}

// underConstruction is the FileUnderConstructionFeature: who holds the
// lease and from where.
type underConstruction struct {
	holder  string
	machine string
}

// blockState mirrors HdfsServerConstants.BlockUCState.
type blockState int

const (
	blockUC            blockState = iota // UNDER_CONSTRUCTION: allocated, being written
	blockCommitted                       // COMMITTED: the client reported its length
	blockComplete                        // COMPLETE: committed and a replica of that length is finalized
	blockUnderRecovery                   // UNDER_RECOVERY: a truncate waits for its replica to be cut
)

func (s blockState) String() string {
	return [...]string{"UNDER_CONSTRUCTION", "COMMITTED", "COMPLETE", "UNDER_RECOVERY"}[s]
}

// block is a BlockInfo: the NameNode's view of one block of one file.
type block struct {
	id       uint64
	genStamp uint64
	numBytes uint64
	state    blockState
	file     *inode
	// replica is the length of the DataNode's finalized replica, or -1.
	replica int64
	// truncate is set while the block is UNDER_RECOVERY for a truncate
	// (BlockUnderConstructionFeature.truncateBlock).
	truncate *truncation
}

// truncation is the replica change a truncate's block recovery makes: cut
// the replica of block from to length and give it the generation stamp
// genStamp. from differs from the block's own id for a copy-on-truncate
// (the old block is kept by a snapshot).
type truncation struct {
	from     uint64
	length   uint64
	genStamp uint64
}

func (n *inode) sortedChildren() []*inode {
	out := make([]*inode, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// size is the file's length: the sum of its blocks (computeFileSize).
func (n *inode) size() uint64 {
	var s uint64
	for _, b := range n.blocks {
		s += b.numBytes
	}
	return s
}

// completeSize is the length not counting a last block under construction
// (computeFileSizeNotIncludingLastUcBlock).
func (n *inode) completeSize() uint64 {
	s := n.size()
	if k := len(n.blocks); k > 0 && n.blocks[k-1].state != blockComplete {
		s -= n.blocks[k-1].numBytes
	}
	return s
}

// resolved is an INodesInPath: the components of a path and the inode each
// resolves to, nil from the first one that does not exist (or below a file).
type resolved struct {
	comps []string // comps[0] is "" for the root
	nodes []*inode
	// snapshot is set when the path runs through the .snapshot directory
	// of a snapshottable directory (INodesInPath.isSnapshot).
	snapshot bool
}

func (r *resolved) last() *inode { return r.nodes[len(r.nodes)-1] }

func (r *resolved) parent() *inode {
	if len(r.nodes) < 2 {
		return nil
	}
	return r.nodes[len(r.nodes)-2]
}

// ancestorIndex is the index of the closest existing inode above the last
// component.
func (r *resolved) ancestorIndex() int {
	i := len(r.nodes) - 2
	for ; i >= 0 && r.nodes[i] == nil; i-- {
	}
	return i
}

// path returns the path of components 0..i.
func (r *resolved) path(i int) string {
	if i <= 0 {
		return "/"
	}
	return "/" + strings.Join(r.comps[1:i+1], "/")
}

func (r *resolved) String() string { return r.path(len(r.comps) - 1) }

// validName is DFSUtil.isValidName: absolute, and no component is ".", ".."
// or contains ':'; empty components only at the ends.
func validName(src string) bool {
	if !strings.HasPrefix(src, "/") {
		return false
	}
	parts := strings.Split(src, "/")
	for i, p := range parts {
		if p == "." || p == ".." || strings.Contains(p, ":") {
			return false
		}
		if p == "" && i != 0 && i != len(parts)-1 {
			return false
		}
	}
	return true
}

// splitPath turns an absolute path into components, ignoring empty ones
// (INode.getPathComponents). It reports false for a relative path.
func splitPath(src string) ([]string, bool) {
	if !strings.HasPrefix(src, "/") {
		return nil, false
	}
	comps := []string{""}
	for _, p := range strings.Split(src, "/") {
		if p != "" {
			comps = append(comps, p)
		}
	}
	return comps, true
}

// resolve walks comps from root (INodesInPath.resolve): it stops at the first
// missing component, or at a file with components left. Below a
// snapshottable directory, ".snapshot" is the directory of its snapshots
// and ".snapshot/<name>" the copy of the tree that snapshot keeps.
func resolve(root *inode, comps []string) *resolved {
	r := &resolved{comps: comps, nodes: make([]*inode, len(comps))}
	cur := root
	r.nodes[0] = root
	for i := 1; i < len(comps); i++ {
		if cur == nil || !cur.dir {
			break
		}
		if comps[i] == dotSnapshot && cur.snapshottable && !r.snapshot {
			r.snapshot = true
			cur = dotSnapshotDir(cur)
		} else {
			cur = cur.children[comps[i]]
		}
		r.nodes[i] = cur
	}
	return r
}
