// Package conf reads Hadoop configuration (core-site.xml, hdfs-site.xml,
// yarn-site.xml) the way Hadoop's org.apache.hadoop.conf.Configuration
// does, and answers the questions Spindle asks of it: where the
// ResourceManagers and NameNodes are, how to authenticate, and how long to
// wait and retry.
//
// # What it owns
//
//   - The XML resource format (Parse, AddResource): <property> elements with
//     <name>, <value>, <final>, tolerated <description>/<source>, and the
//     attribute form <property name=".." value=".." final="true"/>.
//   - Resource layering (AddResource, Merge, the Load functions): later
//     resources override earlier ones unless an earlier one marked the key
//     final. Set overrides everything, as Hadoop's set does.
//   - Hadoop's variable expansion in Get: ${key}, ${env.NAME},
//     ${env.NAME:-default}, ${env.NAME-default}, and ${name} from
//     Options.SystemProperties, at most 20 substitutions (MAX_SUBST).
//   - Typed getters with Hadoop's syntax (GetInt, GetInt64, GetBool,
//     GetDuration with ns/us/ms/s/m/h/d suffixes, GetStrings).
//   - Key names (Key* constants), Hadoop 3.3 defaults (Default*), and
//     helpers: RMAddresses (including RM HA), RMRetry, DefaultFS and
//     NameNodes (including HDFS HA), Security, IPC.
//
// # What it must never do
//
// It never reads environment variables: ${env.NAME} goes through
// Options.Env, which the caller (cmd) sets, typically to os.LookupEnv. It
// never reads files except the paths handed to Load, LoadDirs, LoadFiles
// and AddFile; finding HADOOP_CONF_DIR or YARN_CONF_DIR is cmd's job. It
// does no network or DNS lookups: addresses are returned as configured
// host:port strings, and _HOST in principals is left for the connection
// code to substitute. It does not log.
//
// # Lifecycle and concurrency
//
// Build a Configuration with New or a Load function, add resources, then
// read it. All methods are safe for concurrent use. Nothing needs closing.
//
// # Errors
//
// Every error is a *ParseError or a *ValueError, and wraps one of the Err*
// sentinels, so callers use errors.Is and errors.As rather than text.
//
// A resource that cannot be parsed yields exactly one *ParseError naming the
// resource and the line, for example
//
//	conf: /etc/hadoop/conf/yarn-site.xml:12: unexpected EOF in <property>
//
// and the Configuration is left unchanged. A value that a getter or helper
// cannot use yields a *ValueError naming the key and where its value was
// defined:
//
//	conf: /etc/hadoop/conf/yarn-site.xml:40: ipc.ping.interval: invalid integer "60s"
//
// Limits: a resource may be at most Options.MaxBytes long (default 64 MiB,
// ErrTooLarge) and hold at most Options.MaxProperties <property> elements
// (default 100000, ErrTooManyProperties); elements may nest 64 deep.
//
// # Differences from Hadoop
//
// XInclude is not followed (ErrXInclude). Only the deprecated keys
// fs.default.name and dfs.federation.nameservices are mapped to their
// replacements. There are no *-default.xml files: the helpers apply Hadoop's
// defaults themselves. GetBool rejects values other than true/false where
// Hadoop silently uses the default.
package conf
