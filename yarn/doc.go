// Package yarn holds Spindle's typed clients for the three YARN protocols:
// RMClient (ApplicationClientProtocol, with RM HA failover), the AM-RM
// client (ApplicationMasterProtocol) and the NodeManager client
// (ContainerManagementProtocol), plus the Go types for YARN records (IDs
// that print and parse as YARN does, Resource, AppSpec, AppReport,
// ContainerStatus, exit statuses) and the conversion to and from the wire.
//
// # What it must never do
//
// Callers never see generated protobuf types: conversions live in
// convert.go only. yarn reads no files or environment variables:
// RMOptionsFromConf translates an already-loaded configuration.
//
// # Kerberos
//
// RMOptions.Kerberos (set by RMOptionsFromConf when
// hadoop.security.authentication is kerberos) adds SASL GSSAPI with the
// caller's gokrb5 client; ObtainDelegationTokens gets the HDFS delegation
// token a secure cluster's containers need. yarn never logs in: the caller
// (cmd) makes the client from a keytab or ticket cache.
//
// # Errors
//
// Failures to authenticate (local Kerberos errors, SASL refusals) match
// ErrAuthentication and are never retried. Those the user can fix also
// match one condition of kerberos.go (ErrNoKerberosCredentials,
// ErrTicketExpired, ErrClientPrincipalUnknown, ErrKeytabNoKey,
// ErrKDCUnreachable, ErrClockSkew, ErrServerPrincipal,
// ErrServicePrincipalUnknown, ErrServerRequiresKerberos); messages name the
// condition and the configuration key, never a command-line flag.
//
// Remote Java exceptions match the sentinels of errors.go with errors.Is
// (ErrApplicationNotFound, ErrAMNotRegistered, …) and keep the
// *ipc.RemoteError reachable with errors.As; transport failures are
// *ipc.ConnError. Every error names the call and its identifiers. Whether
// a failed call is retried is decided in one place, RetryDecision, from the
// error and Hadoop's @Idempotent/@AtMostOnce annotation of the method.
//
// # Concurrency
//
// Clients are safe for concurrent use and hold connections until Close.
package yarn
