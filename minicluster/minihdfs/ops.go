package minihdfs

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// The ClientNamenodeProtocol methods. Each follows the checks, order and
// messages of the FSDir*Op class of Hadoop 3.3 it names.

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
	return &hdfspb.GetFileInfoResponseProto{Fs: nn.fileStatus(n, "", false)}, nil
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

// Bits of CreateFlagProto.
const (
	flagCreate    = 1
	flagOverwrite = 2
	flagAppend    = 4
)

// create: FSNamesystem.startFileInt and FSDirWriteFileOp.startFile.
func (nn *nameNode) create(_ context.Context, call *ipc.ServerCall, req *hdfspb.CreateRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	machine := clientMachine(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	src, holder := req.GetSrc(), req.GetClientName()
	if req.GetCreateFlag()&flagAppend != 0 {
		return nil, remote(ipc.ClassUnsupportedOperation, "append is not supported by the mini NameNode")
	}
	if bs := int64(req.GetBlockSize()); bs < nn.o.minBlockSize {
		return nil, errIO("Specified block size is less than configured minimum value (dfs.namenode.fs-limits.min-block-size): %d < %d", bs, nn.o.minBlockSize)
	}
	if err := verifyReplication(src, req.GetReplication()); err != nil {
		return nil, err
	}
	ip, err := nn.resolvePath(pc, src, opCreate)
	if err != nil {
		return nil, err
	}
	overwrite := req.GetCreateFlag()&flagOverwrite != 0
	if err := pc.check(ip, access{ancestor: actWrite}); err != nil {
		return nil, err
	}
	now := nn.nowMS()
	if old := ip.last(); old != nil {
		if old.dir {
			return nil, remote(classFileAlreadyExists, "%s already exists as a directory", ip)
		}
		if overwrite {
			if err := pc.check(ip, access{self: actWrite}); err != nil {
				return nil, err
			}
		}
	} else {
		if !req.GetCreateParent() {
			if err := verifyParentDir(ip); err != nil {
				return nil, err
			}
		}
		if req.GetCreateFlag()&flagCreate == 0 {
			return nil, errFileNotFound("Can't overwrite non-existent %s", src)
		}
	}
	if old := ip.last(); old != nil {
		if !overwrite {
			return nil, nn.recreateDenied(old, ip.String(), holder, machine, now)
		}
		drop = nn.removeTree(old, now)
		ip.nodes[len(ip.nodes)-1] = nil
	}
	last := len(ip.nodes) - 1
	perm := uint16(req.GetMasked().GetPerm())
	if a := ip.ancestorIndex(); a+1 < last {
		nn.createMissing(ip, last-1, implicitUwx(ip.nodes[a].perm), implicitUwx(ip.nodes[a].perm), pc.user, now)
	}
	parent := ip.nodes[last-1]
	f := &inode{id: nn.nextInode, name: ip.comps[last], perm: perm & 0o1777, owner: pc.user, group: parent.group,
		mtime: now, atime: now, replication: req.GetReplication(), blockSize: req.GetBlockSize(),
		uc: &underConstruction{holder: holder, machine: machine}}
	nn.nextInode++
	nn.addChild(parent, f, now)
	nn.addLease(holder, f)
	return &hdfspb.CreateResponseProto{Fs: nn.fileStatus(f, "", false)}, nil
}

// recreateDenied is what create without OVERWRITE gets for an existing file
// (FSNamesystem.recoverLeaseInternal, then FileAlreadyExistsException).
func (nn *nameNode) recreateDenied(f *inode, src, holder, machine string, now int64) error {
	if f.uc != nil {
		failed := "Failed to CREATE_FILE " + src + " for " + holder + " on " + machine + " because "
		if f.uc.holder == holder {
			return remote(classAlreadyBeingCreated, "%s%s is already the current lease holder.", failed, holder)
		}
		l := nn.leases[f.uc.holder]
		if l == nil {
			return remote(classAlreadyBeingCreated, "%sthe file is under construction but no leases found.", failed)
		}
		if nn.now().Sub(l.renewed) < nn.o.leaseSoftLimit {
			return remote(classAlreadyBeingCreated, "%sthis file lease is currently owned by %s on %s", failed, f.uc.holder, f.uc.machine)
		}
		nn.dn.invalidate(nn.recoverFile(f, now))
	}
	return remote(classFileAlreadyExists, "%s for client %s already exists", src, machine)
}

// verifyReplication is BlockManager.verifyReplication.
func verifyReplication(src string, r uint32) error {
	switch {
	case r > maxReplication:
		return errIO("Requested replication factor of %d exceeds maximum of %d for %s", r, maxReplication, src)
	case r < minReplication:
		return errIO("Requested replication factor of %d is less than the required minimum of %d for %s", r, minReplication, src)
	}
	return nil
}

func matchingBlock(a *hdfspb.ExtendedBlockProto, b *block) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.GetBlockId() == b.id && a.GetGenerationStamp() == b.genStamp
}

// addBlock: FSNamesystem.getAdditionalBlock (validateAddBlock and
// storeAllocatedBlock).
func (nn *nameNode) addBlock(_ context.Context, call *ipc.ServerCall, req *hdfspb.AddBlockRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	prev := req.GetPrevious()
	if err := nn.checkPool(prev); err != nil {
		return nil, err
	}
	ip, err := nn.resolveFile(pc, req.GetSrc(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	f, err := nn.checkLease(ip, req.GetClientName(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	src := ip.String()
	var last, pen *block
	if k := len(f.blocks); k > 0 {
		last = f.blocks[k-1]
		if k > 1 {
			pen = f.blocks[k-2]
		}
	}
	if !matchingBlock(prev, last) {
		switch {
		case prev == nil && last != nil && last.numBytes >= f.blockSize && last.state == blockComplete:
			// the first block of an append that starts at a block boundary
		case matchingBlock(prev, pen):
			if last.numBytes != 0 {
				return nil, errIO("Request looked like a retry to allocate block %s but it already contains %d bytes", last, last.numBytes)
			}
			// a retry: the block allocated last time
			return &hdfspb.AddBlockResponseProto{Block: nn.locate(last, f.size()-last.numBytes)}, nil
		default:
			lastName := "null"
			if last != nil {
				lastName = last.String()
			}
			return nil, errIO("Cannot allocate block in %s: passed 'previous' block %s does not match actual last block in file %s", src, extendedString(prev), lastName)
		}
	}
	if !progressed(f, false) {
		return nil, remote(classNotReplicatedYet, "Not replicated yet: %s", src)
	}
	if len(f.blocks) >= maxBlocksPerFile {
		return nil, errIO("File has reached the limit on maximum number of blocks (dfs.namenode.fs-limits.max-blocks-per-file): %d >= %d", len(f.blocks), maxBlocksPerFile)
	}
	running, excluded := 0, 0
	if nn.dn.alive() {
		running = 1
		if nn.dn.excludedBy(req.GetExcludeNodes()) {
			excluded = 1
		}
	}
	if running-excluded < 1 {
		return nil, errIO("File %s could only be written to 0 of the %d minReplication nodes. There are %d datanode(s) running and %d node(s) are excluded in this operation.",
			src, minReplication, running, excluded)
	}
	if err := nn.commitLast(f, prev); err != nil {
		return nil, err
	}
	b := &block{id: nn.nextBlock, genStamp: nn.nextGS, file: f, replica: -1}
	nn.nextBlock++
	nn.nextGS++
	offset := f.size()
	f.blocks = append(f.blocks, b)
	nn.blocks[b.id] = b
	return &hdfspb.AddBlockResponseProto{Block: nn.locate(b, offset)}, nil
}

// abandonBlock: FSDirWriteFileOp.abandonBlock.
func (nn *nameNode) abandonBlock(_ context.Context, call *ipc.ServerCall, req *hdfspb.AbandonBlockRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if err := nn.checkPool(req.GetB()); err != nil {
		return nil, err
	}
	ip, err := nn.resolveFile(pc, req.GetSrc(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	f, err := nn.checkLease(ip, req.GetHolder(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	if k := len(f.blocks); k > 0 && f.blocks[k-1].id == req.GetB().GetBlockId() {
		b := f.blocks[k-1]
		f.blocks = f.blocks[:k-1]
		delete(nn.blocks, b.id)
		drop = append(drop, b.id)
	}
	return &hdfspb.AbandonBlockResponseProto{}, nil
}

// complete: FSDirWriteFileOp.completeFile.
func (nn *nameNode) complete(_ context.Context, call *ipc.ServerCall, req *hdfspb.CompleteRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	last := req.GetLast()
	if err := nn.checkPool(last); err != nil {
		return nil, err
	}
	ip, err := nn.resolveFile(pc, req.GetSrc(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	f, err := nn.checkLease(ip, req.GetClientName(), req.GetFileId())
	if err != nil {
		// A retry of a complete that succeeded (HDFS-3031).
		if n := ip.last(); n != nil && !n.dir && n.uc == nil && len(n.blocks) > 0 && matchingBlock(last, n.blocks[len(n.blocks)-1]) {
			return &hdfspb.CompleteResponseProto{Result: proto.Bool(true)}, nil
		}
		return nil, err
	}
	if !progressed(f, false) {
		return &hdfspb.CompleteResponseProto{Result: proto.Bool(false)}, nil
	}
	if err := nn.commitLast(f, last); err != nil {
		return nil, err
	}
	if !progressed(f, true) {
		return &hdfspb.CompleteResponseProto{Result: proto.Bool(false)}, nil
	}
	nn.finalize(f, nn.nowMS())
	return &hdfspb.CompleteResponseProto{Result: proto.Bool(true)}, nil
}

// fsync: FSNamesystem.fsync records the length of the last block.
func (nn *nameNode) fsync(_ context.Context, call *ipc.ServerCall, req *hdfspb.FsyncRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolveFile(pc, req.GetSrc(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	f, err := nn.checkLease(ip, req.GetClient(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	if n := req.GetLastBlockLength(); n > 0 && len(f.blocks) > 0 {
		f.blocks[len(f.blocks)-1].numBytes = uint64(n)
	}
	return &hdfspb.FsyncResponseProto{}, nil
}

// checkUCBlock is FSNamesystem.checkUCBlock.
func (nn *nameNode) checkUCBlock(eb *hdfspb.ExtendedBlockProto, clientName string) (*block, error) {
	b := nn.blocks[eb.GetBlockId()]
	if b == nil || eb.GetPoolId() != nn.bpid {
		return nil, errIO("%s does not exist.", extendedString(eb))
	}
	if b.state != blockUC {
		return nil, errIO("Unexpected BlockUCState: %s is %s but not UNDER_CONSTRUCTION", extendedString(eb), b.state)
	}
	if b.file == nil || b.file.uc == nil {
		return nil, errIO("The file %s belonged to does not exist or it is not under construction.", b)
	}
	if clientName == "" || clientName != b.file.uc.holder {
		return nil, remote(classLeaseExpired, "Lease mismatch: %s is accessed by a non lease holder %s", extendedString(eb), clientName)
	}
	return b, nil
}

// updateBlockForPipeline: FSNamesystem.bumpBlockGenerationStamp. The new
// generation stamp takes effect only through updatePipeline.
func (nn *nameNode) updateBlockForPipeline(_ context.Context, _ *ipc.ServerCall, req *hdfspb.UpdateBlockForPipelineRequestProto) (proto.Message, error) {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if _, err := nn.checkUCBlock(req.GetBlock(), req.GetClientName()); err != nil {
		return nil, err
	}
	eb := proto.Clone(req.GetBlock()).(*hdfspb.ExtendedBlockProto)
	eb.GenerationStamp = proto.Uint64(nn.nextGS)
	nn.nextGS++
	return &hdfspb.UpdateBlockForPipelineResponseProto{Block: nn.locatedBlock(eb, ^uint64(0), false)}, nil
}

// updatePipeline: FSNamesystem.updatePipelineInternal.
func (nn *nameNode) updatePipeline(_ context.Context, _ *ipc.ServerCall, req *hdfspb.UpdatePipelineRequestProto) (proto.Message, error) {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	b, err := nn.checkUCBlock(req.GetOldBlock(), req.GetClientName())
	if err != nil {
		return nil, err
	}
	nb := req.GetNewBlock()
	if nb.GetGenerationStamp() <= b.genStamp || nb.GetNumBytes() < b.numBytes {
		return nil, errIO("Update %s (len = %d) to an older state: %s (len = %d)", extendedString(req.GetOldBlock()), b.numBytes, extendedString(nb), nb.GetNumBytes())
	}
	b.genStamp, b.numBytes = nb.GetGenerationStamp(), nb.GetNumBytes()
	return &hdfspb.UpdatePipelineResponseProto{}, nil
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

func (nn *nameNode) renewLease(_ context.Context, _ *ipc.ServerCall, req *hdfspb.RenewLeaseRequestProto) (proto.Message, error) {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if l := nn.leases[req.GetClientName()]; l != nil {
		l.renewed = nn.now()
	}
	return &hdfspb.RenewLeaseResponseProto{}, nil
}

// recoverLease closes a file whose writer is gone. Recovery is immediate
// here, so the answer is true once the file is closed.
func (nn *nameNode) recoverLease(_ context.Context, call *ipc.ServerCall, req *hdfspb.RecoverLeaseRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	if err := pc.check(ip, access{self: actWrite}); err != nil {
		return nil, err
	}
	f := ip.last()
	if f == nil {
		return nil, errFileNotFound("File does not exist: %s", ip)
	}
	if f.dir {
		return nil, errFileNotFound("Path is not a file: %s", ip)
	}
	if f.uc != nil {
		drop = nn.recoverFile(f, nn.nowMS())
	}
	return &hdfspb.RecoverLeaseResponseProto{Result: proto.Bool(true)}, nil
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
	f := ip.last()
	if f == nil {
		return nil, errFileNotFound("File does not exist: %s", ip)
	}
	if f.dir {
		return nil, errFileNotFound("Path is not a file: %s", ip)
	}
	if err := pc.check(ip, access{self: actRead}); err != nil {
		return nil, err
	}
	if now := nn.nowMS(); now > f.atime+nn.o.accessTimePrecision.Milliseconds() {
		f.atime = now
	}
	return &hdfspb.GetBlockLocationsResponseProto{Locations: nn.locatedBlocks(f, req.GetOffset(), req.GetLength())}, nil
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
	if !validName(dst) {
		return nil, errIO("Invalid name: %s", dst)
	}
	sip, err := nn.resolvePath(pc, src, opWrite)
	if err != nil {
		return nil, err
	}
	dip, err := nn.resolvePath(pc, dst, opCreate)
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
	if !validName(dst) {
		return nil, errIO("Invalid name: %s", dst)
	}
	sip, err := nn.resolvePath(pc, src, opWrite)
	if err != nil {
		return nil, err
	}
	dip, err := nn.resolvePath(pc, dst, opCreate)
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

// setPermission: FSDirAttrOp.setPermission; owner or superuser only.
func (nn *nameNode) setPermission(_ context.Context, call *ipc.ServerCall, req *hdfspb.SetPermissionRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	if err := nn.checkOwner(pc, ip); err != nil {
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
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	if err := nn.checkOwner(pc, ip); err != nil {
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
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	if err := pc.check(ip, access{self: actWrite}); err != nil {
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
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	if err := pc.check(ip, access{self: actWrite}); err != nil {
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

// getContentSummary: FSDirStatAndListingOp.getContentSummary; READ_EXECUTE
// on every directory counted.
func (nn *nameNode) getContentSummary(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetContentSummaryRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	ip, err := nn.resolvePath(pc, req.GetPath(), opRead)
	if err != nil {
		return nil, err
	}
	n := ip.last()
	if n == nil {
		return nil, errFileNotFound("File does not exist: %s", ip)
	}
	var length, files, dirs, consumed uint64
	var walk func(x *inode, path string) error
	walk = func(x *inode, path string) error {
		if !x.dir {
			files++
			length += x.size()
			consumed += x.size() * uint64(x.replication)
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
		return nil
	}
	if err := walk(n, ip.String()); err != nil {
		return nil, err
	}
	quota := int64(-1)
	if n.parent == nil {
		quota = 1<<63 - 1 // the root's namespace quota
	}
	cs := &hdfspb.ContentSummaryProto{
		Length: proto.Uint64(length), FileCount: proto.Uint64(files), DirectoryCount: proto.Uint64(dirs),
		Quota: proto.Uint64(uint64(quota)), SpaceConsumed: proto.Uint64(consumed), SpaceQuota: proto.Uint64(^uint64(0)),
		SnapshotLength: proto.Uint64(0), SnapshotFileCount: proto.Uint64(0), SnapshotDirectoryCount: proto.Uint64(0),
		SnapshotSpaceConsumed: proto.Uint64(0), ErasureCodingPolicy: proto.String("Replicated"),
	}
	if consumed > 0 {
		cs.TypeQuotaInfos = &hdfspb.StorageTypeQuotaInfosProto{TypeQuotaInfo: []*hdfspb.StorageTypeQuotaInfoProto{{
			Type: hdfspb.StorageTypeProto_DISK.Enum(), Quota: proto.Uint64(^uint64(0)), Consumed: proto.Uint64(consumed),
		}}}
	}
	return &hdfspb.GetContentSummaryResponseProto{Summary: cs}, nil
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
	f := ip.last()
	if f == nil {
		return nil, errFileNotFound("File does not exist: %s", ip)
	}
	if f.dir {
		return nil, errFileNotFound("Path is not a file: %s", ip)
	}
	return &hdfspb.GetPreferredBlockSizeResponseProto{Bsize: proto.Uint64(f.blockSize)}, nil
}

func (nn *nameNode) getDatanodeReport(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetDatanodeReportRequestProto) (proto.Message, error) {
	if pc := nn.caller(call); !pc.super {
		return nil, remote(classAccessControl, "Access denied for user %s. Superuser privilege is required", pc.user)
	}
	resp := &hdfspb.GetDatanodeReportResponseProto{}
	alive := nn.dn.alive()
	switch req.GetType() {
	case hdfspb.DatanodeReportTypeProto_ALL:
		resp.Di = append(resp.Di, nn.dn.info(nn.now()))
	case hdfspb.DatanodeReportTypeProto_LIVE:
		if alive {
			resp.Di = append(resp.Di, nn.dn.info(nn.now()))
		}
	case hdfspb.DatanodeReportTypeProto_DEAD:
		if !alive {
			resp.Di = append(resp.Di, nn.dn.info(nn.now()))
		}
	}
	return resp, nil
}

func (nn *nameNode) msync(context.Context, *ipc.ServerCall, *hdfspb.MsyncRequestProto) (proto.Message, error) {
	return &hdfspb.MsyncResponseProto{}, nil
}

func (nn *nameNode) getHAServiceState(context.Context, *ipc.ServerCall, *hdfspb.HAServiceStateRequestProto) (proto.Message, error) {
	return &hdfspb.HAServiceStateResponseProto{State: commonpb.HAServiceStateProto_ACTIVE.Enum()}, nil
}
