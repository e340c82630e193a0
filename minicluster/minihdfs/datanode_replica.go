package minihdfs

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Replica changes beyond writing a new block: reopening a finalized
// replica for an append,. They live apart from the write pipeline (datanode.go), which
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
func (dn *dataNode) appendRBW(eb *hdfspb.ExtendedBlockProto, newGS, expectedLen uint64) (*replica, *os.File, error) {
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
	r.path, r.finalized, r.gs = rbw, false, newGS
	f, err := os.OpenFile(rbw, os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	return r, f, nil
}
