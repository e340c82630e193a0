package minihdfs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/internal/delegation"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// clientProtocol is the protocol name of ClientNamenodeProtocolPB
// (org.apache.hadoop.hdfs.protocol.ClientProtocol), version 1.
const clientProtocol = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// Limits and defaults of hdfs-default.xml the NameNode applies.
const (
	maxReplication      = 512     // dfs.replication.max
	minReplication      = 1       // dfs.namenode.replication.min
	maxBlocksPerFile    = 10000   // dfs.namenode.fs-limits.max-blocks-per-file
	lsLimit             = 1000    // dfs.ls.limit
	defaultMinBlockSize = 1 << 20 // dfs.namenode.fs-limits.min-block-size
	bytesPerChecksum    = 512     // dfs.bytes-per-checksum
	writePacketSize     = 65536   // dfs.client-write-packet-size
	fileBufferSize      = 4096    // io.file.buffer.size
	hotStoragePolicy    = 7       // HdfsConstants.HOT_STORAGE_POLICY_ID
)

// lease is a LeaseManager.Lease: the files one client holds open.
type lease struct {
	holder  string
	files   map[uint64]*inode
	renewed time.Time
}

func (l *lease) String() string {
	return fmt.Sprintf("[Lease.  Holder: %s, pending creates: %d]", l.holder, len(l.files))
}

// nameNode is the namesystem: the inode tree, the blocks map and the
// leases, behind one lock, served as ClientNamenodeProtocol.
type nameNode struct {
	o    *options
	lg   zerolog.Logger
	dn   *dataNodes
	bpid string

	mu     sync.Mutex
	root   *inode
	inodes map[uint64]*inode
	blocks map[uint64]*block
	leases map[string]*lease
	// recovering holds the blocks truncates left UNDER_RECOVERY.
	recovering map[uint64]*block
	// snapRefs counts the snapshot copies of files that hold each block;
	// a block with a count stays on the DataNode when the file lets it go.
	snapRefs  map[uint64]int
	nextInode uint64
	// snapshotCounter numbers snapshots as created (SnapshotManager).
	snapshotCounter uint64
	nextBlock       uint64
	nextGS          uint64
	started         time.Time

	tokens *delegation.Manager // nil unless secure
}

func newNameNode(o *options, lg zerolog.Logger, bpid string) *nameNode {
	now := o.clock()
	nn := &nameNode{
		o: o, lg: lg, bpid: bpid,
		inodes:     map[uint64]*inode{},
		blocks:     map[uint64]*block{},
		leases:     map[string]*lease{},
		recovering: map[uint64]*block{},
		snapRefs:   map[uint64]int{},
		nextInode:  rootInodeID + 1,
		nextBlock:  firstBlockID + 1,
		nextGS:     firstGenStam + 1,
		started:    now,
	}
	nn.root = &inode{id: rootInodeID, dir: true, perm: 0o755, owner: o.superuser, group: o.supergroup,
		mtime: now.UnixMilli(), children: map[string]*inode{}}
	nn.inodes[rootInodeID] = nn.root
	return nn
}

func (nn *nameNode) now() time.Time { return nn.o.clock() }

func (nn *nameNode) nowMS() int64 { return nn.o.clock().UnixMilli() }

// caller returns the identity of a call.
func (nn *nameNode) caller(call *ipc.ServerCall) *caller {
	u := shortName(call.User)
	c := &caller{user: u, groups: map[string]bool{}}
	for _, g := range nn.o.groups[u] {
		c.groups[g] = true
	}
	c.super = u == nn.o.superuser || c.groups[nn.o.supergroup]
	return c
}

func clientMachine(call *ipc.ServerCall) string {
	if call.RemoteAddr == nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(call.RemoteAddr.String()); err == nil {
		return h
	}
	return call.RemoteAddr.String()
}

// dirOp says how a path is used (FSDirectory.DirOp): only operations that
// create namespace entries report ParentNotDirectoryException as such.
type dirOp int

const (
	opRead dirOp = iota
	opWrite
	opCreate
)

// resolvePath is FSDirectory.resolvePath: the inodes along src, with every
// existing ancestor a directory the caller may traverse.
func (nn *nameNode) resolvePath(pc *caller, src string, op dirOp) (*resolved, error) {
	if op == opCreate && !validName(src) {
		return nil, remote(classInvalidPath, "Invalid path name Invalid file name: %s", src)
	}
	comps, ok := splitPath(src)
	if !ok {
		return nil, remote("java.lang.AssertionError", "Absolute path required, but got '%s'", src)
	}
	ip := resolve(nn.root, comps)
	if ip.snapshot && op != opRead {
		return nil, remote(classSnapshotAccess, "Modification on a read-only snapshot is disallowed") // FSDirectory.checkNotSnapshot
	}
	if op == opCreate && comps[len(comps)-1] == dotSnapshot {
		return nil, remote(classIllegalArgument, "\"%s\" is a reserved name.", dotSnapshot) // FSDirectory.verifyINodeName
	}
	if err := pc.checkTraverse(ip); err != nil {
		var se *ipc.ServerError
		if op != opCreate && errors.As(err, &se) && se.Class == classParentNotDirectory {
			return nil, remote(classAccessControl, "%s", se.Message) // FSDirectory.resolvePath
		}
		return nil, err
	}
	return ip, nil
}

// resolvedOf builds the resolved path of an existing inode.
func resolvedOf(n *inode) *resolved {
	var chain []*inode
	for p := n; p != nil; p = p.parent {
		chain = append(chain, p)
	}
	r := &resolved{comps: make([]string, len(chain)), nodes: make([]*inode, len(chain))}
	for i := range chain {
		c := chain[len(chain)-1-i]
		r.nodes[i], r.comps[i] = c, c.name
	}
	return r
}

// resolveFile finds the file a write-path call names: by inode id when the
// client sent one (so a renamed file under construction is still found),
// else by path.
func (nn *nameNode) resolveFile(pc *caller, src string, fileID uint64) (*resolved, error) {
	if fileID == 0 {
		return nn.resolvePath(pc, src, opWrite)
	}
	n := nn.inodes[fileID]
	if n == nil {
		return nil, errFileNotFound("File does not exist: %s (inode %d)", src, fileID)
	}
	ip := resolvedOf(n)
	if err := pc.checkTraverse(ip); err != nil {
		return nil, err
	}
	return ip, nil
}

// fileOf is INodeFile.valueOf: the file ip names.
func fileOf(ip *resolved) (*inode, error) {
	f := ip.last()
	if f == nil {
		return nil, errFileNotFound("File does not exist: %s", ip)
	}
	if f.dir {
		return nil, errFileNotFound("Path is not a file: %s", ip)
	}
	return f, nil
}

// dirOf is INodeDirectory.valueOf: the directory ip names.
func dirOf(ip *resolved) (*inode, error) {
	d := ip.last()
	if d == nil {
		return nil, errFileNotFound("Directory does not exist: %s", ip)
	}
	if !d.dir {
		return nil, remote(classPathIsNotDirectory, "`%s': Is not a directory", ip)
	}
	return d, nil
}

func (nn *nameNode) leaseString(src string, fileID uint64, holder string) string {
	if l := nn.leases[holder]; l != nil {
		return fmt.Sprintf("%s (inode %d) %s", src, fileID, l)
	}
	return fmt.Sprintf("%s (inode %d) Holder %s does not have any open files.", src, fileID, holder)
}

// checkLease is FSNamesystem.checkLease: the file exists, is open for
// writing, and holder holds its lease.
func (nn *nameNode) checkLease(ip *resolved, holder string, fileID uint64) (*inode, error) {
	src := ip.String()
	n := ip.last()
	if n == nil {
		return nil, errFileNotFound("File does not exist: %s", nn.leaseString(src, fileID, holder))
	}
	if n.dir {
		return nil, remote(classLeaseExpired, "INode is not a regular file: %s", nn.leaseString(src, fileID, holder))
	}
	if n.uc == nil {
		return nil, remote(classLeaseExpired, "File is not open for writing: %s", nn.leaseString(src, fileID, holder))
	}
	if n.uc.holder != holder {
		return nil, remote(classLeaseExpired, "Client (=%s) is not the lease owner (=%s: %s", holder, n.uc.holder, nn.leaseString(src, fileID, holder))
	}
	return n, nil
}

func (nn *nameNode) checkPool(b *hdfspb.ExtendedBlockProto) error {
	if b != nil && b.GetPoolId() != nn.bpid {
		return errIO("Unexpected BlockPoolId %s - expected %s", b.GetPoolId(), nn.bpid)
	}
	return nil
}

// newDir adds a directory below parent.
func (nn *nameNode) newDir(parent *inode, name string, perm uint16, owner string, now int64) *inode {
	d := &inode{id: nn.nextInode, name: name, parent: parent, dir: true, perm: perm & 0o1777,
		owner: owner, group: parent.group, mtime: now, children: map[string]*inode{}}
	nn.nextInode++
	nn.addChild(parent, d, now)
	return d
}

func (nn *nameNode) addChild(parent, n *inode, now int64) {
	n.parent = parent
	parent.children[n.name] = n
	nn.inodes[n.id] = n
	if now > parent.mtime {
		parent.mtime = now
	}
}

// createMissing creates the directories of ip that do not exist, the last
// with perm and the others with ancestorPerm (FSDirMkdirOp).
func (nn *nameNode) createMissing(ip *resolved, upTo int, perm, ancestorPerm uint16, owner string, now int64) {
	for i := 1; i <= upTo; i++ {
		if ip.nodes[i] != nil {
			continue
		}
		p := perm
		if i < upTo {
			p = ancestorPerm
		}
		ip.nodes[i] = nn.newDir(ip.nodes[i-1], ip.comps[i], p, owner, now)
	}
}

// implicitUwx is FSDirMkdirOp.addImplicitUwx: u+wx on top of p.
func implicitUwx(p uint16) uint16 { return p | 0o300 }

// removeTree detaches n and forgets every inode, block and lease under it,
// returning the blocks whose replicas the DataNode should delete.
func (nn *nameNode) removeTree(n *inode, now int64) []uint64 {
	if p := n.parent; p != nil {
		delete(p.children, n.name)
		p.mtime = now
	}
	var ids []uint64
	var walk func(*inode)
	walk = func(x *inode) {
		delete(nn.inodes, x.id)
		for _, c := range x.children {
			walk(c)
		}
		for _, b := range x.blocks {
			delete(nn.blocks, b.id)
			delete(nn.recovering, b.id)
			ids = append(ids, b.id)
		}
		if x.uc != nil {
			nn.dropLease(x)
		}
	}
	walk(n)
	return nn.unreferenced(ids)
}

// unreferenced returns the blocks of ids no snapshot holds: those whose
// replicas may go.
func (nn *nameNode) unreferenced(ids []uint64) []uint64 {
	out := ids[:0]
	for _, id := range ids {
		if nn.snapRefs[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

func (nn *nameNode) addLease(holder string, n *inode) {
	l := nn.leases[holder]
	if l == nil {
		l = &lease{holder: holder, files: map[uint64]*inode{}}
		nn.leases[holder] = l
	}
	l.files[n.id] = n
	l.renewed = nn.now()
}

func (nn *nameNode) dropLease(n *inode) {
	if n.uc == nil {
		return
	}
	if l := nn.leases[n.uc.holder]; l != nil {
		delete(l.files, n.id)
		if len(l.files) == 0 {
			delete(nn.leases, l.holder)
		}
	}
}

// blockReceived is the DataNode's report of a finalized replica (an
// incremental block report, delivered in-process and synchronously).
func (nn *nameNode) blockReceived(id, gs uint64, length int64) {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	b := nn.blocks[id]
	if b == nil || gs < b.genStamp {
		return
	}
	b.replica = length
	if b.state == blockCommitted && uint64(length) == b.numBytes {
		b.state = blockComplete
	}
}

// commitLast is commitOrCompleteLastBlock.
func (nn *nameNode) commitLast(f *inode, commit *hdfspb.ExtendedBlockProto) error {
	if commit == nil || len(f.blocks) == 0 {
		return nil
	}
	last := f.blocks[len(f.blocks)-1]
	if last.state == blockComplete {
		return nil
	}
	if last.id != commit.GetBlockId() {
		return errIO("Trying to commit inconsistent block: id = %d, expected id = %d", commit.GetBlockId(), last.id)
	}
	if last.genStamp != commit.GetGenerationStamp() {
		return errIO("Commit block with mismatching GS. NN has %s, client submits %s", last, extendedString(commit))
	}
	last.numBytes = commit.GetNumBytes()
	last.state = blockCommitted
	if last.replica == int64(last.numBytes) {
		last.state = blockComplete
	}
	return nil
}

// progressed is checkFileProgress: the block before the last (checkAll
// false) or every block (checkAll true) is complete.
func progressed(f *inode, checkAll bool) bool {
	if checkAll {
		for _, b := range f.blocks {
			if b.state != blockComplete {
				return false
			}
		}
		return true
	}
	i := len(f.blocks) - 2
	return i < 0 || f.blocks[i].state == blockComplete
}

// finalize closes a file under construction (finalizeINodeFileUnderConstruction).
func (nn *nameNode) finalize(f *inode, now int64) {
	nn.dropLease(f)
	f.uc = nil
	f.mtime = now
}

// recoverFile closes f on behalf of a vanished writer (lease recovery):
// each unfinished block takes the length of its replica, and a last block
// without one is dropped.
func (nn *nameNode) recoverFile(f *inode, now int64) []uint64 {
	var drop []uint64
	for i := 0; i < len(f.blocks); i++ {
		b := f.blocks[i]
		if b.state == blockUnderRecovery {
			nn.finishTruncate(b, now)
		}
		if b.state == blockComplete || b.state == blockUnderRecovery {
			continue
		}
		n, ok := nn.dn.recoverReplica(b.id)
		if !ok || (n == 0 && i == len(f.blocks)-1) {
			f.blocks = append(f.blocks[:i], f.blocks[i+1:]...)
			delete(nn.blocks, b.id)
			drop = append(drop, b.id)
			i--
			continue
		}
		b.numBytes, b.replica, b.state = uint64(n), n, blockComplete
	}
	nn.finalize(f, now)
	return nn.unreferenced(drop)
}

// expireLeases recovers the files of every lease not renewed within the
// hard limit (LeaseManager.Monitor).
func (nn *nameNode) expireLeases() {
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	now := nn.now()
	for _, l := range nn.leases {
		if now.Sub(l.renewed) < nn.o.leaseHardLimit {
			continue
		}
		nn.lg.Info().Msgf("lease of %s expired; recovering %d files", l.holder, len(l.files))
		for _, f := range l.files {
			drop = append(drop, nn.recoverFile(f, now.UnixMilli())...)
		}
	}
}

func (nn *nameNode) leaseMonitor(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			nn.expireLeases()
			nn.recoverTruncates()
		}
	}
}

// service returns the ClientNamenodeProtocol method table.
func (nn *nameNode) service() *ipc.Service {
	m := map[string]ipc.Handler{}
	add := func(name string, h ipc.Handler) { m[name] = h }
	add("getFileInfo", ipc.Unary(func() *hdfspb.GetFileInfoRequestProto { return &hdfspb.GetFileInfoRequestProto{} }, nn.getFileInfo))
	add("getFileLinkInfo", ipc.Unary(func() *hdfspb.GetFileLinkInfoRequestProto { return &hdfspb.GetFileLinkInfoRequestProto{} }, nn.getFileLinkInfo))
	add("mkdirs", ipc.Unary(func() *hdfspb.MkdirsRequestProto { return &hdfspb.MkdirsRequestProto{} }, nn.mkdirs))
	add("create", ipc.Unary(func() *hdfspb.CreateRequestProto { return &hdfspb.CreateRequestProto{} }, nn.create))
	add("addBlock", ipc.Unary(func() *hdfspb.AddBlockRequestProto { return &hdfspb.AddBlockRequestProto{} }, nn.addBlock))
	add("abandonBlock", ipc.Unary(func() *hdfspb.AbandonBlockRequestProto { return &hdfspb.AbandonBlockRequestProto{} }, nn.abandonBlock))
	add("setXAttr", ipc.Unary(func() *hdfspb.SetXAttrRequestProto { return &hdfspb.SetXAttrRequestProto{} }, nn.setXAttr))
	add("getXAttrs", ipc.Unary(func() *hdfspb.GetXAttrsRequestProto { return &hdfspb.GetXAttrsRequestProto{} }, nn.getXAttrs))
	add("listXAttrs", ipc.Unary(func() *hdfspb.ListXAttrsRequestProto { return &hdfspb.ListXAttrsRequestProto{} }, nn.listXAttrs))
	add("removeXAttr", ipc.Unary(func() *hdfspb.RemoveXAttrRequestProto { return &hdfspb.RemoveXAttrRequestProto{} }, nn.removeXAttr))
	add("allowSnapshot", ipc.Unary(func() *hdfspb.AllowSnapshotRequestProto { return &hdfspb.AllowSnapshotRequestProto{} }, nn.allowSnapshot))
	add("disallowSnapshot", ipc.Unary(func() *hdfspb.DisallowSnapshotRequestProto { return &hdfspb.DisallowSnapshotRequestProto{} }, nn.disallowSnapshot))
	add("createSnapshot", ipc.Unary(func() *hdfspb.CreateSnapshotRequestProto { return &hdfspb.CreateSnapshotRequestProto{} }, nn.createSnapshot))
	add("deleteSnapshot", ipc.Unary(func() *hdfspb.DeleteSnapshotRequestProto { return &hdfspb.DeleteSnapshotRequestProto{} }, nn.deleteSnapshot))
	add("renameSnapshot", ipc.Unary(func() *hdfspb.RenameSnapshotRequestProto { return &hdfspb.RenameSnapshotRequestProto{} }, nn.renameSnapshot))
	add("getSnapshottableDirListing", ipc.Unary(func() *hdfspb.GetSnapshottableDirListingRequestProto {
		return &hdfspb.GetSnapshottableDirListingRequestProto{}
	}, nn.getSnapshottableDirListing))
	add("getSnapshotDiffReport", ipc.Unary(func() *hdfspb.GetSnapshotDiffReportRequestProto {
		return &hdfspb.GetSnapshotDiffReportRequestProto{}
	}, nn.getSnapshotDiffReport))
	add("getSnapshotDiffReportListing", ipc.Unary(func() *hdfspb.GetSnapshotDiffReportListingRequestProto {
		return &hdfspb.GetSnapshotDiffReportListingRequestProto{}
	}, nn.getSnapshotDiffReportListing))
	add("truncate", ipc.Unary(func() *hdfspb.TruncateRequestProto { return &hdfspb.TruncateRequestProto{} }, nn.truncate))
	add("append", ipc.Unary(func() *hdfspb.AppendRequestProto { return &hdfspb.AppendRequestProto{} }, nn.append))
	add("complete", ipc.Unary(func() *hdfspb.CompleteRequestProto { return &hdfspb.CompleteRequestProto{} }, nn.complete))
	add("fsync", ipc.Unary(func() *hdfspb.FsyncRequestProto { return &hdfspb.FsyncRequestProto{} }, nn.fsync))
	add("updateBlockForPipeline", ipc.Unary(func() *hdfspb.UpdateBlockForPipelineRequestProto {
		return &hdfspb.UpdateBlockForPipelineRequestProto{}
	}, nn.updateBlockForPipeline))
	add("updatePipeline", ipc.Unary(func() *hdfspb.UpdatePipelineRequestProto { return &hdfspb.UpdatePipelineRequestProto{} }, nn.updatePipeline))
	add("getAdditionalDatanode", ipc.Unary(func() *hdfspb.GetAdditionalDatanodeRequestProto {
		return &hdfspb.GetAdditionalDatanodeRequestProto{}
	}, nn.getAdditionalDatanode))
	add("getServerDefaults", ipc.Unary(func() *hdfspb.GetServerDefaultsRequestProto { return &hdfspb.GetServerDefaultsRequestProto{} }, nn.getServerDefaults))
	add("renewLease", ipc.Unary(func() *hdfspb.RenewLeaseRequestProto { return &hdfspb.RenewLeaseRequestProto{} }, nn.renewLease))
	add("recoverLease", ipc.Unary(func() *hdfspb.RecoverLeaseRequestProto { return &hdfspb.RecoverLeaseRequestProto{} }, nn.recoverLease))
	add("getListing", ipc.Unary(func() *hdfspb.GetListingRequestProto { return &hdfspb.GetListingRequestProto{} }, nn.getListing))
	add("getBlockLocations", ipc.Unary(func() *hdfspb.GetBlockLocationsRequestProto { return &hdfspb.GetBlockLocationsRequestProto{} }, nn.getBlockLocations))
	add("delete", ipc.Unary(func() *hdfspb.DeleteRequestProto { return &hdfspb.DeleteRequestProto{} }, nn.delete))
	add("rename", ipc.Unary(func() *hdfspb.RenameRequestProto { return &hdfspb.RenameRequestProto{} }, nn.rename))
	add("rename2", ipc.Unary(func() *hdfspb.Rename2RequestProto { return &hdfspb.Rename2RequestProto{} }, nn.rename2))
	add("setPermission", ipc.Unary(func() *hdfspb.SetPermissionRequestProto { return &hdfspb.SetPermissionRequestProto{} }, nn.setPermission))
	add("setOwner", ipc.Unary(func() *hdfspb.SetOwnerRequestProto { return &hdfspb.SetOwnerRequestProto{} }, nn.setOwner))
	add("setReplication", ipc.Unary(func() *hdfspb.SetReplicationRequestProto { return &hdfspb.SetReplicationRequestProto{} }, nn.setReplication))
	add("setTimes", ipc.Unary(func() *hdfspb.SetTimesRequestProto { return &hdfspb.SetTimesRequestProto{} }, nn.setTimes))
	add("getContentSummary", ipc.Unary(func() *hdfspb.GetContentSummaryRequestProto { return &hdfspb.GetContentSummaryRequestProto{} }, nn.getContentSummary))
	add("getFsStats", ipc.Unary(func() *hdfspb.GetFsStatusRequestProto { return &hdfspb.GetFsStatusRequestProto{} }, nn.getFsStats))
	add("getPreferredBlockSize", ipc.Unary(func() *hdfspb.GetPreferredBlockSizeRequestProto {
		return &hdfspb.GetPreferredBlockSizeRequestProto{}
	}, nn.getPreferredBlockSize))
	add("getDatanodeReport", ipc.Unary(func() *hdfspb.GetDatanodeReportRequestProto { return &hdfspb.GetDatanodeReportRequestProto{} }, nn.getDatanodeReport))
	add("msync", ipc.Unary(func() *hdfspb.MsyncRequestProto { return &hdfspb.MsyncRequestProto{} }, nn.msync))
	add("getHAServiceState", ipc.Unary(func() *hdfspb.HAServiceStateRequestProto { return &hdfspb.HAServiceStateRequestProto{} }, nn.getHAServiceState))
	add("getDelegationToken", ipc.Unary(func() *commonpb.GetDelegationTokenRequestProto { return &commonpb.GetDelegationTokenRequestProto{} }, nn.getDelegationToken))
	add("renewDelegationToken", ipc.Unary(func() *commonpb.RenewDelegationTokenRequestProto { return &commonpb.RenewDelegationTokenRequestProto{} }, nn.renewDelegationToken))
	add("cancelDelegationToken", ipc.Unary(func() *commonpb.CancelDelegationTokenRequestProto {
		return &commonpb.CancelDelegationTokenRequestProto{}
	}, nn.cancelDelegationToken))
	for name, h := range m {
		m[name] = nn.logged(name, h)
	}
	return &ipc.Service{Version: 1, Methods: m}
}

// logged logs each call at debug level.
func (nn *nameNode) logged(method string, h ipc.Handler) ipc.Handler {
	return func(ctx context.Context, call *ipc.ServerCall) (proto.Message, error) {
		resp, err := h(ctx, call)
		ev := nn.lg.Debug().Str("method", method).Int32("call_id", call.CallID)
		if err != nil {
			ev = ev.Err(err)
		}
		ev.Msg("call")
		return resp, err
	}
}

// sortedNames returns the children of dir after startAfter, in byte order
// (INodeDirectory.nextChild).
func sortedNames(dir *inode, startAfter string) []string {
	names := make([]string, 0, len(dir.children))
	for name := range dir.children {
		if name > startAfter {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}
