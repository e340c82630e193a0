// Package minicluster will be the embedded YARN and HDFS cluster used by the
// end-to-end tests and by local mode (issues #4 and #5), built on the same
// ipc server code the clients' tests use.
package minicluster
