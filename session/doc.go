// Package session will implement the long-running session mode (a
// JobManager in the AM container and a fleet of TaskManagers), issue #7. It
// may import am, yarn and hdfs; it never imports perjob.
package session
