// Package am will be Spindle's ApplicationMaster runtime: register, the
// allocate heartbeat, container requests and launches, the restart tracker
// and unregister (issue #6). It imports yarn and hdfs, never proto or ipc.
package am
