package minihdfs

import (
	"context"
	"errors"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// The ClientNamenodeProtocol methods. Each follows the checks, order and
// messages of the FSDir*Op class of Hadoop 3.3 it names.

// Read-only ClientNamenodeProtocol handlers: file status, listings, block
// locations, summaries and the NameNode's own state.

// getFileInfo: FSDirStatAndListingOp.getFileInfo. A superuser gets "no such
// file" where a path runs through a file; others get the
// AccessControlException.
func (nn *nameNode) getFileInfo(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetFileInfoRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetSrc(), opRead)
	if err != nil {
		if pc.super && isClass(err, classAccessControl) {
			return &hdfspb.GetFileInfoResponseProto{}, nil
		}
		return nil, err
	}
	n := ip.last()
	if n == nil {
		return &hdfspb.GetFileInfoResponseProto{}, nil
	}
	if ip.snapshot && ip.comps[len(ip.comps)-1] == dotSnapshot {
		return &hdfspb.GetFileInfoResponseProto{Fs: dotSnapshotStatus()}, nil
	}
	return &hdfspb.GetFileInfoResponseProto{Fs: nn.fileStatus(n, "", false)}, nil
}

// dotSnapshotStatus is FSDirectory.DOT_SNAPSHOT_DIR_STATUS, what
// FSDirStatAndListingOp.getFileInfo answers for <snapshottable>/.snapshot:
// new HdfsFileStatus.Builder().isdir(true).build(), so no owner or group,
// FsPermission.getDirDefault() (0777, FileStatus's default for a null
// permission), times and sizes 0, fileId -1 (`hdfs dfs -ls -d` on a real
// 3.1.3 NameNode: "drwxrwxrwx   -          0 1970-01-01 00:00").
func dotSnapshotStatus() *hdfspb.HdfsFileStatusProto {
	return &hdfspb.HdfsFileStatusProto{
		FileType:         hdfspb.HdfsFileStatusProto_IS_DIR.Enum(),
		Path:             []byte{},
		Length:           proto.Uint64(0),
		Permission:       &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o777)},
		Owner:            proto.String(""),
		Group:            proto.String(""),
		ModificationTime: proto.Uint64(0),
		AccessTime:       proto.Uint64(0),
		BlockReplication: proto.Uint32(0),
		Blocksize:        proto.Uint64(0),
		FileId:           proto.Uint64(^uint64(0)),
		ChildrenNum:      proto.Int32(0),
		StoragePolicy:    proto.Uint32(0),
		Flags:            proto.Uint32(0),
	}
}

// isClass reports whether err is the Java exception cls.
func isClass(err error, cls string) bool {
	var se *ipc.ServerError
	return errors.As(err, &se) && se.Class == cls
}

func (nn *nameNode) getFileLinkInfo(ctx context.Context, call *ipc.ServerCall, req *hdfspb.GetFileLinkInfoRequestProto) (proto.Message, error) {
	resp, err := nn.getFileInfo(ctx, call, &hdfspb.GetFileInfoRequestProto{Src: req.Src})
	if err != nil {
		return nil, err
	}
	return &hdfspb.GetFileLinkInfoResponseProto{Fs: resp.(*hdfspb.GetFileInfoResponseProto).Fs}, nil
}

func (nn *nameNode) getServerDefaults(context.Context, *ipc.ServerCall, *hdfspb.GetServerDefaultsRequestProto) (proto.Message, error) {
	return &hdfspb.GetServerDefaultsResponseProto{ServerDefaults: &hdfspb.FsServerDefaultsProto{
		BlockSize:           proto.Uint64(uint64(nn.o.blockSize)),
		BytesPerChecksum:    proto.Uint32(bytesPerChecksum),
		WritePacketSize:     proto.Uint32(writePacketSize),
		Replication:         proto.Uint32(uint32(nn.o.replication)),
		FileBufferSize:      proto.Uint32(fileBufferSize),
		EncryptDataTransfer: proto.Bool(false),
		TrashInterval:       proto.Uint64(0),
		ChecksumType:        hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C.Enum(),
		KeyProviderUri:      proto.String(""),
		PolicyId:            proto.Uint32(hotStoragePolicy),
	}}, nil
}

// getListing: FSDirStatAndListingOp.getListingInt.
func (nn *nameNode) getListing(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetListingRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetSrc(), opRead)
	if err != nil {
		return nil, err
	}
	n := ip.last()
	if n != nil && n.dir {
		if err := pc.check(ip, access{self: actReadExecute}); err != nil {
			return nil, err
		}
	}
	if n == nil {
		return &hdfspb.GetListingResponseProto{}, nil
	}
	if !n.dir {
		return &hdfspb.GetListingResponseProto{DirList: &hdfspb.DirectoryListingProto{
			PartialListing:   []*hdfspb.HdfsFileStatusProto{nn.fileStatus(n, "", req.GetNeedLocation())},
			RemainingEntries: proto.Uint32(0),
		}}, nil
	}
	names := sortedNames(n, string(req.GetStartAfter()))
	k := min(len(names), lsLimit)
	list := &hdfspb.DirectoryListingProto{RemainingEntries: proto.Uint32(uint32(len(names) - k))}
	for _, name := range names[:k] {
		list.PartialListing = append(list.PartialListing, nn.fileStatus(n.children[name], name, req.GetNeedLocation()))
	}
	return &hdfspb.GetListingResponseProto{DirList: list}, nil
}

// getBlockLocations: FSDirStatAndListingOp.getBlockLocations, with the
// access time updated at most once per precision period.
func (nn *nameNode) getBlockLocations(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetBlockLocationsRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	src := req.GetSrc()
	if int64(req.GetOffset()) < 0 {
		return nil, remote(classIllegalArgument, "Negative offset is not supported. File: %s", src)
	}
	if int64(req.GetLength()) < 0 {
		return nil, remote(classIllegalArgument, "Negative length is not supported. File: %s", src)
	}
	ip, err := nn.resolvePath(pc, src, opRead)
	if err != nil {
		return nil, err
	}
	f, err := fileOf(ip)
	if err != nil {
		return nil, err
	}
	if err := pc.check(ip, access{self: actRead}); err != nil {
		return nil, err
	}
	if now := nn.nowMS(); now > f.atime+nn.o.accessTimePrecision.Milliseconds() {
		f.atime = now
	}
	return &hdfspb.GetBlockLocationsResponseProto{Locations: nn.locatedBlocks(f, req.GetOffset(), req.GetLength())}, nil
}

// getContentSummary: FSDirStatAndListingOp.getContentSummary; READ_EXECUTE
// on every directory counted.
func (nn *nameNode) getContentSummary(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetContentSummaryRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, n, err := nn.resolveExisting(pc, req.GetPath(), opRead)
	if err != nil {
		return nil, err
	}
	if ip.snapshot && ip.comps[len(ip.comps)-1] == dotSnapshot {
		// The .snapshot directory is no inode: getContentSummaryInt's
		// targetNode is null.
		return nil, errFileNotFound("File does not exist: %s", ip)
	}
	var length, files, dirs, consumed uint64
	var snapLength, snapFiles, snapDirs, snapSpace uint64
	// Outside a .snapshot path, a directory also counts what it held in a
	// snapshot and no longer does (INodeDirectory.computeContentSummary
	// with CURRENT_STATE_ID: DirectoryWithSnapshotFeature.
	// computeContentSummary4Snapshot adds the deleted children of every
	// diff, to the totals and to the snapshot counts), each once.
	copies, current := map[uint64][]*inode{}, map[uint64]*inode{}
	done := map[*inode]bool{}
	for _, a := range ip.nodes {
		snapshotCopies(a, copies, current, done)
	}
	var index func(x *inode)
	index = func(x *inode) {
		snapshotCopies(x, copies, current, done)
		for _, c := range x.children {
			if c.dir {
				index(c)
			}
		}
	}
	if n.dir && !ip.snapshot {
		index(n)
	}
	live := !ip.snapshot
	counted := map[uint64]bool{}
	var deleted func(x *inode)
	deleted = func(x *inode) {
		if !x.dir {
			snapFiles++
			snapLength += x.size()
			snapSpace += fileSpace(x, false, copies, current)
			return
		}
		snapDirs++
		for _, c := range x.sortedChildren() {
			deleted(c)
		}
	}
	var walk func(x *inode, path string) error
	walk = func(x *inode, path string) error {
		if !x.dir {
			files++
			length += x.size()
			consumed += fileSpace(x, live, copies, current)
			return nil
		}
		if !pc.super && !pc.hasPermission(x, actReadExecute) {
			return pc.deny(x, path, actReadExecute)
		}
		dirs++
		for _, c := range x.sortedChildren() {
			if err := walk(c, joinPath(path, c.name)); err != nil {
				return err
			}
		}
		if !live {
			return nil
		}
		for _, cp := range copies[x.id] { // newest snapshot first
			for _, c := range cp.sortedChildren() {
				if cur := x.children[c.name]; (cur != nil && cur.id == c.id) || counted[c.id] {
					continue
				}
				counted[c.id] = true
				deleted(c)
			}
		}
		return nil
	}
	if err := walk(n, ip.String()); err != nil {
		return nil, err
	}
	consumed += snapSpace
	length, files, dirs = length+snapLength, files+snapFiles, dirs+snapDirs
	quota := int64(-1)
	if n.parent == nil {
		quota = 1<<63 - 1 // the root's namespace quota
	}
	cs := &hdfspb.ContentSummaryProto{
		Length: proto.Uint64(length), FileCount: proto.Uint64(files), DirectoryCount: proto.Uint64(dirs),
		Quota: proto.Uint64(uint64(quota)), SpaceConsumed: proto.Uint64(consumed), SpaceQuota: proto.Uint64(^uint64(0)),
		SnapshotLength: proto.Uint64(snapLength), SnapshotFileCount: proto.Uint64(snapFiles), SnapshotDirectoryCount: proto.Uint64(snapDirs),
		SnapshotSpaceConsumed: proto.Uint64(snapSpace), ErasureCodingPolicy: proto.String("Replicated"),
	}
	if consumed > 0 {
		cs.TypeQuotaInfos = &hdfspb.StorageTypeQuotaInfosProto{TypeQuotaInfo: []*hdfspb.StorageTypeQuotaInfoProto{{
			Type: hdfspb.StorageTypeProto_DISK.Enum(), Quota: proto.Uint64(^uint64(0)), Consumed: proto.Uint64(consumed),
		}}}
	}
	return &hdfspb.GetContentSummaryResponseProto{Summary: cs}, nil
}

// snapshotCopies adds, for a snapshottable directory a with snapshots,
// each directory of its snapshots' trees under its inode id, newest
// snapshot first; done keeps a from being indexed twice.
func snapshotCopies(a *inode, copies map[uint64][]*inode, current map[uint64]*inode, done map[*inode]bool) {
	if a == nil || !a.snapshottable || len(a.snaps) == 0 || done[a] {
		return
	}
	done[a] = true
	snaps := make([]*snapshot, 0, len(a.snaps))
	for _, s := range a.snaps {
		snaps = append(snaps, s)
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i].id > snaps[j].id })
	var add func(x *inode)
	add = func(x *inode) {
		copies[x.id] = append(copies[x.id], x)
		for _, c := range x.children {
			add(c)
		}
	}
	for _, s := range snaps {
		add(s.root)
	}
	var cur func(x *inode)
	cur = func(x *inode) {
		if !x.dir {
			current[x.id] = x
		}
		for _, c := range x.children {
			cur(c)
		}
	}
	cur(a)
}

// fileSpace is INodeFile.storagespaceConsumedContiguous: every distinct
// block the file holds now or in a snapshot, at the NameNode's current
// length (the preferred block size for one not COMPLETE), times the
// preferred replication. A snapshot copy x of a file (live false) counts
// the blocks of the file it was taken from, if that still exists, so its
// last block at the length it has grown to since.
func fileSpace(x *inode, live bool, copies map[uint64][]*inode, current map[uint64]*inode) uint64 {
	f := current[x.id]
	if live {
		f = x
	}
	sizes := map[uint64]uint64{}
	rep := x.replication
	if f != nil {
		rep = f.replication
		for _, b := range f.blocks {
			sz := b.numBytes
			if b.state != blockComplete {
				sz = f.blockSize
			}
			sizes[b.id] = sz
		}
	}
	held := copies[x.id]
	if !live {
		held = append([]*inode{x}, held...)
	}
	for _, cp := range held {
		for _, b := range cp.blocks {
			if f != nil && f.hasBlock(b.id) {
				continue
			}
			sizes[b.id] = max(sizes[b.id], b.numBytes)
		}
	}
	var total uint64
	for _, sz := range sizes {
		total += sz
	}
	return total * uint64(rep)
}

func (n *inode) hasBlock(id uint64) bool {
	for _, b := range n.blocks {
		if b.id == id {
			return true
		}
	}
	return false
}

func (nn *nameNode) getFsStats(context.Context, *ipc.ServerCall, *hdfspb.GetFsStatusRequestProto) (proto.Message, error) {
	capacity, used := nn.dn.usage()
	return &hdfspb.GetFsStatsResponseProto{
		Capacity: proto.Uint64(capacity), Used: proto.Uint64(used), Remaining: proto.Uint64(capacity - min(used, capacity)),
		UnderReplicated: proto.Uint64(0), CorruptBlocks: proto.Uint64(0), MissingBlocks: proto.Uint64(0),
		MissingReplOneBlocks: proto.Uint64(0), BlocksInFuture: proto.Uint64(0), PendingDeletionBlocks: proto.Uint64(0),
	}, nil
}

func (nn *nameNode) getPreferredBlockSize(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetPreferredBlockSizeRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetFilename(), opRead)
	if err != nil {
		return nil, err
	}
	f, err := fileOf(ip)
	if err != nil {
		return nil, err
	}
	return &hdfspb.GetPreferredBlockSizeResponseProto{Bsize: proto.Uint64(f.blockSize)}, nil
}

func (nn *nameNode) getDatanodeReport(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetDatanodeReportRequestProto) (proto.Message, error) {
	if err := superuserOnly(nn.caller(call)); err != nil {
		return nil, err
	}
	return &hdfspb.GetDatanodeReportResponseProto{Di: nn.dn.report(req.GetType(), nn.now())}, nil
}

func (nn *nameNode) msync(context.Context, *ipc.ServerCall, *hdfspb.MsyncRequestProto) (proto.Message, error) {
	return &hdfspb.MsyncResponseProto{}, nil
}

func (nn *nameNode) getHAServiceState(context.Context, *ipc.ServerCall, *hdfspb.HAServiceStateRequestProto) (proto.Message, error) {
	return &hdfspb.HAServiceStateResponseProto{State: commonpb.HAServiceStateProto_ACTIVE.Enum()}, nil
}

// resolveExisting resolves src for op and returns its inode, or the
// FileNotFoundException Hadoop's FSDirectory gives a path that does not
// exist ("File does not exist: <path>"); nn.mu held.
func (nn *nameNode) resolveExisting(pc *caller, src string, op dirOp) (*resolved, *inode, error) {
	ip, err := nn.resolvePath(pc, src, op)
	if err != nil {
		return nil, nil, err
	}
	n := ip.last()
	if n == nil {
		return nil, nil, errFileNotFound("File does not exist: %s", ip)
	}
	return ip, n, nil
}
