package minihdfs

// RecoverTruncates runs the block recoveries pending truncates wait for at
// once, instead of at the lease monitor's next tick.
func RecoverTruncates(c *Cluster) { c.nn.recoverTruncates() }

// ReplicaLength is the length and generation stamp of DataNode d's replica
// of block id, and whether it holds one.
func ReplicaLength(d *DataNode, id uint64) (length int64, gs uint64, ok bool) {
	st, ok := d.dn.replicaState(id)
	return st.length, st.gs, ok
}
