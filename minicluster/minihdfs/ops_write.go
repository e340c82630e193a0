package minihdfs

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// The write pipeline's ClientNamenodeProtocol handlers: create, blocks,
// complete, fsync, pipeline updates and leases.

// Bits of CreateFlagProto. create ignores APPEND (the client turns
// CREATE|APPEND on an existing file into an append call); append reads
// NEW_BLOCK.
const (
	flagCreate    = 1
	flagOverwrite = 2
	flagNewBlock  = 32
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
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	if err := nn.takeOver(leaseCreate, f, src, holder, machine, now, &drop); err != nil {
		return err
	}
	return remote(classFileAlreadyExists, "%s for client %s already exists", src, machine)
}

// leaseOp is FSNamesystem.RecoverLeaseOp: the operation that found a file
// open for writing, as its exception messages name it.
type leaseOp string

const (
	leaseCreate   leaseOp = "CREATE_FILE"
	leaseAppend   leaseOp = "APPEND_FILE"
	leaseTruncate leaseOp = "TRUNCATE_FILE"
)

// takeOver is FSNamesystem.recoverLeaseInternal (force false): nil when f is
// closed or its writer's soft limit has passed and lease recovery closed it
// now. Recovery of a last block that was not complete is what a real
// NameNode starts and answers with RecoveryInProgressException; here it is
// done at once, but the answer is the same, so the client's retry finds the
// file closed. Replicas to delete are added to drop; nn.mu held.
func (nn *nameNode) takeOver(op leaseOp, f *inode, src, holder, machine string, now int64, drop *[]uint64) error {
	if f.uc == nil {
		return nil
	}
	failed := fmt.Sprintf("Failed to %s %s for %s on %s because ", op, src, holder, machine)
	if f.uc.holder == holder {
		return remote(classAlreadyBeingCreated, "%s%s is already the current lease holder.", failed, holder)
	}
	l := nn.leases[f.uc.holder]
	if l == nil {
		return remote(classAlreadyBeingCreated, "%sthe file is under construction but no leases found.", failed)
	}
	if nn.now().Sub(l.renewed) < nn.o.leaseSoftLimit {
		if k := len(f.blocks); k > 0 && f.blocks[k-1].state == blockUnderRecovery {
			return remote(classRecoveryInProgress, "%sanother recovery is in progress by %s on %s", failed, f.uc.holder, f.uc.machine)
		}
		return remote(classAlreadyBeingCreated, "%sthis file lease is currently owned by %s on %s", failed, f.uc.holder, f.uc.machine)
	}
	closed := progressed(f, true)
	*drop = append(*drop, nn.recoverFile(f, now)...)
	if !closed {
		return remote(classRecoveryInProgress, "%slease recovery is in progress. Try again later.", failed)
	}
	return nil
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
	targets, running, excluded := nn.dn.choose(int(f.replication), nil, req.GetExcludeNodes())
	if len(targets) < minReplication {
		return nil, notEnoughNodes(src, running, excluded)
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
	nn.dn.place(b.id, targets)
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
	nn.dn.replace(b.id, req.GetNewNodes())
	return &hdfspb.UpdatePipelineResponseProto{}, nil
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
	ip, err := nn.resolveWritable(pc, req.GetSrc())
	if err != nil {
		return nil, err
	}
	f, err := fileOf(ip)
	if err != nil {
		return nil, err
	}
	if f.uc != nil {
		drop = nn.recoverFile(f, nn.nowMS())
	}
	return &hdfspb.RecoverLeaseResponseProto{Result: proto.Bool(true)}, nil
}

// append: FSNamesystem.appendFile and FSDirAppendOp.appendFile. The file
// goes back under construction with the caller as lease holder. Without
// NEW_BLOCK a partial last block goes back under construction too and is
// returned, for the client to open a PIPELINE_SETUP_APPEND pipeline on
// (BlockManager.convertLastBlockToUnderConstruction); a full last block or
// an empty file returns no block, and the client's next addBlock starts a
// new one. With NEW_BLOCK the last block stays complete and is returned
// without locations, as the "previous" of that addBlock.
func (nn *nameNode) append(_ context.Context, call *ipc.ServerCall, req *hdfspb.AppendRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	machine := clientMachine(call)
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	holder := req.GetClientName()
	ip, err := nn.resolvePath(pc, req.GetSrc(), opWrite)
	if err != nil {
		return nil, err
	}
	f := ip.last()
	if f != nil && f.dir {
		return nil, remote(classFileAlreadyExists, "Cannot append to directory %s; already exists as a directory.", ip)
	}
	if err := pc.check(ip, access{self: actWrite}); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, errFileNotFound("Failed to append to non-existent file %s for client %s", ip, machine)
	}
	now := nn.nowMS()
	if err := nn.takeOver(leaseAppend, f, ip.String(), holder, machine, now, &drop); err != nil {
		return nil, err
	}
	f.uc = &underConstruction{holder: holder, machine: machine}
	nn.addLease(holder, f)
	resp := &hdfspb.AppendResponseProto{}
	if k := len(f.blocks); k > 0 {
		last := f.blocks[k-1]
		offset := f.size() - last.numBytes
		switch {
		case req.GetFlag()&flagNewBlock != 0:
			resp.Block = nn.locatedBlock(nn.extended(last), offset, false)
		case last.numBytes < f.blockSize:
			last.state = blockUC
			resp.Block = nn.locate(last, offset)
		}
	}
	resp.Stat = nn.fileStatus(f, "", false)
	return resp, nil
}
