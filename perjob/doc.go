// Package perjob will implement the per-job mode: a dedicated cluster for
// one job that ends with it, issue #7. It may import am, yarn and hdfs; it
// never imports session.
package perjob
