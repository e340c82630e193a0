package minihdfs

// RecoverTruncates runs the block recoveries pending truncates wait for at
// once, instead of at the lease monitor's next tick.
func RecoverTruncates(c *Cluster) { c.nn.recoverTruncates() }
