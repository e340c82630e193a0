package minihdfs

import (
	"fmt"

	"github.com/spindle-yarn/spindle/ipc"
)

// Java exception classes the NameNode throws, by the class name HDFS puts in
// the RPC response header. Clients map these (colinmarc/hdfs turns the
// first five into os.ErrNotExist, os.ErrExist, os.ErrPermission, ...).
const (
	classFileNotFound        = "java.io.FileNotFoundException"
	classFileAlreadyExists   = "org.apache.hadoop.fs.FileAlreadyExistsException"
	classAccessControl       = "org.apache.hadoop.security.AccessControlException"
	classParentNotDirectory  = "org.apache.hadoop.fs.ParentNotDirectoryException"
	classPathNotEmptyDir     = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	classInvalidPath         = "org.apache.hadoop.fs.InvalidPathException"
	classAlreadyBeingCreated = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	classLeaseExpired        = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	classNotReplicatedYet    = "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException"
	classIllegalArgument     = "org.apache.hadoop.HadoopIllegalArgumentException"
	classIOException         = "java.io.IOException"
	classRecoveryInProgress  = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
	classSnapshot            = "org.apache.hadoop.hdfs.protocol.SnapshotException"
	classSnapshotAccess      = "org.apache.hadoop.hdfs.protocol.SnapshotAccessControlException"
)

// remote returns the error a handler hands to ipc.Server to send the Java
// exception cls. HDFS sends the message followed by the server's stack
// trace; the mini NameNode sends the message alone, so the first line a
// client shows is the same.
func remote(cls, format string, args ...any) error {
	return &ipc.ServerError{Class: cls, Message: fmt.Sprintf(format, args...)}
}

func errFileNotFound(format string, args ...any) error {
	return remote(classFileNotFound, format, args...)
}

func errIO(format string, args ...any) error { return remote(classIOException, format, args...) }
