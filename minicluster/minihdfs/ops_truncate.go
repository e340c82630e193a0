package minihdfs

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// truncate: FSNamesystem.truncate and FSDirTruncateOp.truncate. Blocks
// past the new length go at once. On a block boundary that is all and the
// answer is true. Otherwise the file goes under construction with the
// caller as lease holder and its last block UNDER_RECOVERY, the answer is
// false, and the block recovery the NameNode schedules (here: the next
// lease monitor tick, see recoverTruncates) cuts the replica to length
// with a new generation stamp and closes the file. Until then the file
// reports its old length, as HDFS does. A last block that a snapshot
// keeps is copied instead (copy-on-truncate): a new block with the kept
// bytes replaces it in the file.
func (nn *nameNode) truncate(_ context.Context, call *ipc.ServerCall, req *hdfspb.TruncateRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	machine := clientMachine(call)
	newLen := req.GetNewLength()
	if int64(newLen) < 0 {
		return nil, remote(classIllegalArgument, "Cannot truncate to a negative file size: %d.", int64(newLen))
	}
	var drop []uint64
	defer func() { nn.dn.invalidate(drop) }()
	nn.mu.Lock()
	defer nn.mu.Unlock()
	holder := req.GetClientName()
	ip, err := nn.resolveWritable(pc, req.GetSrc())
	if err != nil {
		return nil, err
	}
	f, err := fileOf(ip)
	if err != nil {
		return nil, err
	}
	src := ip.String()
	result := func(ok bool) *hdfspb.TruncateResponseProto {
		return &hdfspb.TruncateResponseProto{Result: proto.Bool(ok)}
	}
	if k := len(f.blocks); k > 0 && f.blocks[k-1].truncate != nil {
		last := f.blocks[k-1]
		if f.size()-last.numBytes+last.truncate.length == newLen {
			return result(false), nil
		}
		return nil, remote(classAlreadyBeingCreated, "Failed to %s %s for %s on %s because %s is being truncated.", leaseTruncate, src, holder, machine, src)
	}
	now := nn.nowMS()
	if err := nn.takeOver(leaseTruncate, f, src, holder, machine, now, &drop); err != nil {
		return nil, err
	}
	old := f.size()
	if old == newLen {
		return result(true), nil
	}
	if old < newLen {
		return nil, remote(classIllegalArgument, "Cannot truncate to a larger file size. Current size: %d, truncate size: %d.", old, newLen)
	}
	// INodeFile.collectBlocksBeyondMax: keep the fewest blocks that hold
	// newLen bytes.
	n, size := 0, uint64(0)
	for ; n < len(f.blocks) && newLen > size; n++ {
		size += f.blocks[n].numBytes
	}
	for _, b := range f.blocks[n:] {
		delete(nn.blocks, b.id)
		drop = append(drop, b.id)
	}
	drop = nn.unreferenced(drop)
	f.blocks = f.blocks[:n]
	f.mtime = now
	if size == newLen {
		return result(true), nil
	}
	// prepareFileForTruncate.
	f.uc = &underConstruction{holder: holder, machine: machine}
	nn.addLease(holder, f)
	last := f.blocks[n-1]
	keep := newLen - (size - last.numBytes)
	t := &truncation{from: last.id, length: keep, genStamp: nn.nextGS}
	nn.nextGS++
	if nn.snapRefs[last.id] > 0 {
		nb := &block{id: nn.nextBlock, genStamp: t.genStamp, numBytes: keep, state: blockUnderRecovery, file: f, replica: -1, truncate: t}
		nn.nextBlock++
		delete(nn.blocks, last.id)
		f.blocks[n-1] = nb
		last = nb
		nn.blocks[nb.id] = nb
	} else {
		last.state, last.truncate = blockUnderRecovery, t
	}
	nn.recovering[last.id] = last
	return result(false), nil
}

// recoverTruncates runs the block recoveries truncates started
// (BlockRecoveryWorker on the DataNode, then commitBlockSynchronization on
// the NameNode), as a real NameNode hands them to DataNodes with their
// next heartbeat.
func (nn *nameNode) recoverTruncates() {
	nn.mu.Lock()
	defer nn.mu.Unlock()
	now := nn.nowMS()
	for _, b := range nn.recovering {
		nn.finishTruncate(b, now)
	}
}

// finishTruncate cuts the replica of b as its truncate asked and, if that
// was the file's last unfinished block, closes the file; nn.mu held.
func (nn *nameNode) finishTruncate(b *block, now int64) {
	t := b.truncate
	if t == nil {
		return
	}
	if err := nn.dn.truncateReplica(b.id, t); err != nil {
		nn.lg.Warn().Err(err).Str("block", b.String()).Msg("truncate recovery failed; retrying")
		return
	}
	delete(nn.recovering, b.id)
	b.genStamp, b.numBytes, b.replica, b.state, b.truncate = t.genStamp, t.length, int64(t.length), blockComplete, nil
	if t.from != b.id && nn.snapRefs[t.from] == 0 {
		nn.dn.invalidate([]uint64{t.from}) // the snapshot went meanwhile
	}
	if f := b.file; f != nil && f.uc != nil && nn.inodes[f.id] == f && progressed(f, true) {
		nn.finalize(f, now)
	}
}
