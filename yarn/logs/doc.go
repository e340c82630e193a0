// Package logs owns YARN's container log formats and where to find them:
// the TFile/BCFile container (tfile.go) and the aggregated log file a
// NodeManager writes into it when an application ends (aggregated.go,
// Hadoop's AggregatedLogFormat with the TFile controller), the remote
// application log directory layouts of Hadoop 3.x (layout.go), and the
// NodeManager's log web services with their SPNEGO authentication
// (nmweb.go), for the logs of running containers.
//
// It writes files too, byte for byte as Hadoop's LogWriter does, so the
// mini cluster aggregates logs that `yarn logs` reads.
//
// # What it must never do
//
// Trust lengths read from a file or a server: every length is checked
// against what is left before anything is allocated. It reads no
// configuration files and no environment: AggregationFromConf takes a
// loaded configuration. It does not log.
//
// # Errors
//
// ErrFormat for a file that is not a readable aggregated log (a TFile
// written with another compression than none or gz is named as such);
// ErrContainerNotFound and ErrUnauthorized for the NodeManager's 404 and
// 401/403.
package logs
