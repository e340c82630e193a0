package yarn

import "github.com/spindle-yarn/spindle/ipc"

// Credentials are Hadoop credentials: tokens and secrets by alias, the
// content of $HADOOP_TOKEN_FILE_LOCATION and of a launch context's tokens.
// It is ipc's type, aliased so that layers above yarn need not import ipc.
type Credentials = ipc.Credentials

// Token is a Hadoop token (ipc's type). It prints and logs without secrets.
type Token = ipc.Token

// Token kinds an ApplicationMaster handles.
const (
	KindAMRMToken      = ipc.KindAMRMToken
	KindNMToken        = ipc.KindNMToken
	KindHDFSDelegation = ipc.KindHDFSDelegation
	KindRMDelegation   = ipc.KindRMDelegation
)

// ParseCredentials decodes a token storage file (HDTS format 0 or 1), as
// an AM reads its container_tokens file.
func ParseCredentials(b []byte) (*Credentials, error) { return ipc.ParseCredentials(b) }
