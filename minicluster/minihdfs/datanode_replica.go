package minihdfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Replica changes beyond writing a new block: reopening a finalized
// replica for an append, and the truncation a truncate's block recovery
// makes. They live apart from the write pipeline (datanode.go), which
// calls appendRBW for a PIPELINE_SETUP_APPEND.

// ReplicaNotFoundException's messages (ReplicaNotFoundException.NON_EXISTENT_REPLICA,
// UNEXPECTED_GS_REPLICA, UNFINALIZED_REPLICA).
const (
	replicaNotFound   = "org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Replica not found for "
	replicaUnexpected = "org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Cannot append to a replica with unexpected generation stamp "
	replicaUnfinal    = "org.apache.hadoop.hdfs.server.datanode.ReplicaNotFoundException: Cannot append to an unfinalized replica "
)

// appendRBW reopens the finalized replica of eb for an append
// (FsDatasetImpl.append): it must have eb's generation stamp and the
// length the client expects; it moves back to rbw/ with the generation
// stamp newGS, and the write continues at its end.
func (dn *dataNode) appendRBW(eb *hdfspb.ExtendedBlockProto, newGS, expectedLen uint64, w *writer) (*replica, *os.File, error) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if newGS < eb.GetGenerationStamp() {
		return nil, nil, javaMessage(fmt.Sprintf("java.io.IOException: The new generation stamp %d should be greater than the replica %s's generation stamp", newGS, extendedString(eb)))
	}
	r := dn.replicas[eb.GetBlockId()]
	switch {
	case r == nil || eb.GetPoolId() != dn.bpid:
		return nil, nil, javaMessage(replicaNotFound + extendedString(eb))
	case r.gs != eb.GetGenerationStamp():
		return nil, nil, javaMessage(replicaUnexpected + extendedString(eb))
	case !r.finalized:
		return nil, nil, javaMessage(replicaUnfinal + extendedString(eb))
	case r.length != int64(expectedLen):
		return nil, nil, javaMessage(fmt.Sprintf("java.io.IOException: Corrupted replica %s with a length of %d expected length is %d", blockName(r.id, r.gs), r.length, expectedLen))
	}
	rbw := filepath.Join(dn.dir, "rbw", filepath.Base(r.path))
	if err := os.Rename(r.path, rbw); err != nil {
		return nil, nil, err
	}
	r.path, r.finalized, r.gs, r.writer = rbw, false, newGS, w
	f, err := os.OpenFile(rbw, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	return r, f, nil
}

// truncateReplica carries out t for block id (the DataNode's side of a
// truncate recovery, FsDatasetImpl.initReplicaRecovery and
// updateReplicaUnderRecovery): in place when t.from is id, else as a copy
// of the first t.length bytes of replica t.from, which stays as it is. It
// reports whether the replica now has t.length bytes and t.genStamp.
func (dn *dataNode) truncateReplica(id uint64, t *truncation) error {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	src := dn.replicas[t.from]
	if src == nil {
		return fmt.Errorf("replica %d of a truncate is gone", t.from)
	}
	if src.length < int64(t.length) {
		return fmt.Errorf("replica %s has %d bytes, fewer than the %d a truncate keeps", blockName(src.id, src.gs), src.length, t.length)
	}
	if t.from == id {
		if err := os.Truncate(src.path, int64(t.length)); err != nil {
			return err
		}
		dn.used.Add(int64(t.length) - src.length)
		src.length, src.gs = int64(t.length), t.genStamp
		return nil
	}
	dst := &replica{id: id, gs: t.genStamp, length: int64(t.length), finalized: true,
		path: filepath.Join(dn.dir, "finalized", fmt.Sprintf("blk_%d", id))}
	if err := copyPrefix(src.path, dst.path, int64(t.length)); err != nil {
		return err
	}
	dn.replicas[id] = dst
	dn.used.Add(dst.length)
	return nil
}

// copyPrefix writes the first n bytes of file from to a new file to.
func copyPrefix(from, to string, n int64) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := io.CopyN(out, in, n); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return out.Sync()
}
