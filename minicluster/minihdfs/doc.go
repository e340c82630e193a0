// Package minihdfs is the embedded HDFS of the mini cluster: one NameNode
// and one or more DataNodes (Options.DataNodes) in the process, speaking
// the real protocols, so that staging, localization and any HDFS client
// (the Java one, colinmarc/hdfs) run against it unchanged.
//
//   - The NameNode serves ClientNamenodeProtocol
//     (org.apache.hadoop.hdfs.protocol.ClientProtocol, version 1) over
//     Spindle's ipc.Server with SIMPLE authentication: mkdirs, create,
//     append, truncate, addBlock, abandonBlock, complete, fsync,
//     updateBlockForPipeline, updatePipeline, getAdditionalDatanode,
//     getFileInfo, getFileLinkInfo,
//     getListing, getBlockLocations, delete, rename, rename2, setPermission,
//     setOwner, setReplication, setTimes, setXAttr, getXAttrs, listXAttrs,
//     removeXAttr, allowSnapshot, disallowSnapshot, createSnapshot,
//     deleteSnapshot, renameSnapshot, getSnapshottableDirListing,
//     getSnapshotDiffReport, getSnapshotDiffReportListing,
//     getServerDefaults, renewLease, recoverLease, getContentSummary,
//     getFsStats, getPreferredBlockSize, getDatanodeReport, msync and
//     getHAServiceState. Append reopens a partial last block for a
//     PIPELINE_SETUP_APPEND pipeline (or, with NEW_BLOCK, leaves it);
//     truncate cuts at once on a block boundary and otherwise leaves the
//     last block UNDER_RECOVERY until the lease monitor's next tick cuts
//     the replica. Snapshots are copies of the directory tree read through
//     <dir>/.snapshot/<name>; replicas a snapshot holds outlive the live
//     file (copy-on-truncate included); content summaries count what only
//     snapshots hold, and snapshot diffs match inodes by id. The
//     namespace keeps
//     owners, groups (BSD rule: a new inode takes its parent's group) and
//     POSIX modes with the sticky bit; permissions are checked as
//     FSPermissionChecker does, with the NameNode's user and the members of
//     the supergroup as superusers. Leases follow HDFS: soft limit for
//     takeover by another writer, hard limit after which the NameNode
//     closes the file itself. Failures are the Java exceptions HDFS throws,
//     by class name, with HDFS's messages (without the stack trace the real
//     NameNode appends).
//   - Each DataNode serves the data transfer protocol (version 28):
//     WRITE_BLOCK in stages PIPELINE_SETUP_CREATE, PIPELINE_SETUP_APPEND,
//     PIPELINE_SETUP_STREAMING_RECOVERY, PIPELINE_CLOSE_RECOVERY,
//     TRANSFER_RBW and TRANSFER_FINALIZED, with targets: it forwards each
//     packet to the next DataNode and acks with its own status followed by
//     the downstream replies (SUCCESS then ERROR once the downstream node
//     failed), the last node verifying the CRC32C or CRC32 chunk checksums;
//     recovery stops the old writer, checks generation stamps and byte
//     counts as FsDatasetImpl.recoverRbw does and takes the new generation
//     stamp. READ_BLOCK with checksums, in 64 KiB packets as the 3.3.6
//     DataNode sends them; TRANSFER_BLOCK (copy a replica to a node a
//     client adds to its pipeline); BLOCK_CHECKSUM, MD5CRC and
//     COMPOSITE_CRC (see checksum.go). Replicas are files under
//     Options.Dir/datanode/<block pool>/{rbw,finalized} (datanode<i> for
//     the others). Finalized replicas are reported to the NameNode
//     in-process before the last ack, so complete() succeeds at once.
//   - Blocks go to min(replication, live DataNodes) distinct nodes,
//     rotating over them. A stopped DataNode is dead at once for placement
//     and reports but stays in block locations, as in the ten minutes
//     before a real NameNode declares a silent node dead: readers fall over
//     to the next replica.
//
// The namespace lives in memory: a new Start is a freshly formatted
// cluster. Modification and access times are milliseconds from
// Options.Clock, as getFileInfo reports them; YARN localization compares
// them exactly.
//
// With Options.Security the NameNode is secure: [TOKEN, KERBEROS] on its
// port and no SIMPLE, HDFS delegation tokens issued to Kerberos callers
// (getDelegationToken, renewDelegationToken, cancelDelegationToken; the
// Writable identifier, password = HMAC-SHA1(master key, identifier)) and
// accepted over TOKEN/DIGEST-MD5 until they expire (see Security).
//
// Not implemented: snapshot listings (getSnapshotListing), ACLs, the
// security., system. and raw. xattr namespaces, encryption zones, erasure
// coding, block tokens and SASL on the data transfer port, re-replication
// of under-replicated blocks, racks, and short-circuit reads. Unknown methods get
// RpcNoSuchMethodException, unknown data transfer ops an ERROR_UNSUPPORTED
// response.
//
// # Lifecycle
//
// Start listens on one port per daemon and returns a running Cluster;
// Close stops every daemon and joins every goroutine, closing all
// connections and files. The data directory belongs to the caller.
// DataNode(i).Stop and StopAfter (StopDataNode and StopDataNodeAfter for
// the first) are fault hooks that kill a DataNode (mid-transfer) for tests
// of interrupted uploads and pipeline recovery; BytesReceived counts the
// block data it accepted.
//
// # What it must never do
//
// It imports only ipc, proto and the mini cluster's delegation token
// manager (STYLE §1); it is test and local-mode
// infrastructure, never a production HDFS: nothing is persisted, and its
// security exists to test clients against, not to protect data.
package minihdfs
