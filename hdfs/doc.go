// Package hdfs owns the staging-directory lifecycle of a Spindle
// application on HDFS (through github.com/colinmarc/hdfs/v2) or on a local
// filesystem (file://): uploading the application's files, reporting for
// each the facts a YARN LocalResource needs (URL, size, and the
// modification time the filesystem reports, which YARN checks to the
// millisecond), a content-addressed upload cache, and cleanup.
//
// # Layout
//
//	<home>/.spindle/<application id>/   staging directory, 0700, files 0600 (APPLICATION)
//	<home>/.spindle/cache/<sha256>[.ext] the user's cache, 0700, entries 0600 (PRIVATE)
//	<PublicCacheDir>/<sha256>[.ext]     optional, filled by an administrator (Publish), world-readable (PUBLIC)
//
// Archives keep their extension (.zip for a directory shipped as an
// archive) because the NodeManager picks the unpacker by name. Cache
// entries are immutable: they appear only by renaming a completely
// uploaded file into place, and all carry CacheModTime, so two submissions
// racing to upload the same content leave a valid entry either way. A
// second submission of unchanged files uploads nothing; a changed file has
// a new digest and is uploaded again.
//
// # What it must never do
//
// It imports no other Spindle package except conf (STYLE §1): it returns
// its own StagedFile, Visibility and ResourceType, which package yarn maps
// to LocalResources, and never a protobuf or colinmarc type. It reads no
// environment variables or Hadoop files: the caller passes a
// *conf.Configuration, and for a secure HDFS a gokrb5 client the caller
// logged in (Options.KerberosClient): SIMPLE or KERBEROS authentication to
// the NameNode. Delegation tokens are package yarn's business
// (ObtainDelegationTokens), not staging's.
//
// # Lifecycle
//
// New validates Options and checks that the NameNode answers. A Stager
// holds no connection: each call (Stage, Delete, Stat, Publish) connects
// for itself with its context, up to Options.Parallelism clients for Stage,
// and closes them before it returns. Cancelling the context closes the
// call's connections, which interrupts an upload even while it is blocked
// on a DataNode. The staging directory is removed by Delete: by the AM on a
// clean finish, by the client when submission fails; `spindle gc` (not
// here yet) will find the ones whose application has ended.
//
// # Errors
//
// Stage either returns a StagedFile for every file or an error after it
// has removed the staging directory: an interrupted upload (a DataNode that
// dies, a cancelled context) leaves neither a staging directory nor a
// partial cache entry. Invalid arguments wrap ErrInvalid; a missing or
// refused Kerberos login wraps ErrAuthentication and names its condition
// (ErrNoKerberosCredentials, ErrKerberosRefused) and the configuration key,
// never a command-line flag. Filesystem
// errors are wrapped with %w, so errors.Is(err, os.ErrNotExist),
// os.ErrPermission and context.Canceled work.
package hdfs
