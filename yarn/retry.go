package yarn

import (
	"errors"

	"github.com/spindle-yarn/spindle/ipc"
)

// Method names of the three YARN protocols (the rpc names in their service
// definitions).
const (
	mGetNewApplication     = "getNewApplication"
	mSubmitApplication     = "submitApplication"
	mGetApplicationReport  = "getApplicationReport"
	mGetApplications       = "getApplications"
	mForceKillApplication  = "forceKillApplication"
	mGetClusterMetrics     = "getClusterMetrics"
	mGetClusterNodes       = "getClusterNodes"
	mGetQueueInfo          = "getQueueInfo"
	mGetQueueUserAcls      = "getQueueUserAcls"
	mGetDelegationToken    = "getDelegationToken"
	mRenewDelegationToken  = "renewDelegationToken"
	mCancelDelegationToken = "cancelDelegationToken"

	mRegisterApplicationMaster = "registerApplicationMaster"
	mAllocate                  = "allocate"
	mFinishApplicationMaster   = "finishApplicationMaster"

	mStartContainers      = "startContainers"
	mStopContainers       = "stopContainers"
	mGetContainerStatuses = "getContainerStatuses"
)

// Protocol names (the @ProtocolInfo names of the PB interfaces).
const (
	ProtocolClient    = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"
	ProtocolAM        = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB"
	ProtocolContainer = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB"
)

// Idempotency is Hadoop's retry annotation of a method.
type Idempotency int

const (
	// NotAnnotated methods are never retried after they may have reached the server.
	NotAnnotated Idempotency = iota
	// Idempotent methods (@Idempotent) may be retried on any server.
	Idempotent
	// AtMostOnce methods (@AtMostOnce) are retried only with the same call
	// id, which the server's retry cache deduplicates; YARN's RM has no
	// retry cache for them, so Spindle treats them like NotAnnotated
	// except where the protocol itself defines the retry (allocate's
	// response_id, finish's isUnregistered loop).
	AtMostOnce
)

// idempotency copies the annotations of ApplicationClientProtocol,
// ApplicationBaseProtocol, ApplicationMasterProtocol and
// ContainerManagementProtocol (Hadoop trunk, unchanged since 3.1).
var idempotency = map[string]Idempotency{
	mGetNewApplication:            Idempotent,
	mSubmitApplication:            Idempotent,
	mForceKillApplication:         Idempotent,
	mGetClusterMetrics:            Idempotent,
	mGetClusterNodes:              Idempotent,
	mGetQueueInfo:                 Idempotent,
	mGetQueueUserAcls:             Idempotent,
	"moveApplicationAcrossQueues": Idempotent,
	"getNewReservation":           Idempotent,
	"submitReservation":           Idempotent,
	"updateApplicationPriority":   Idempotent,
	"updateApplicationTimeouts":   Idempotent,
	mGetApplicationReport:         Idempotent,
	mGetApplications:              Idempotent,
	"getApplicationAttemptReport": Idempotent,
	"getApplicationAttempts":      Idempotent,
	"getContainerReport":          Idempotent,
	"getContainers":               Idempotent,
	mGetDelegationToken:           Idempotent,
	mRenewDelegationToken:         Idempotent,
	mCancelDelegationToken:        Idempotent,
	mRegisterApplicationMaster:    Idempotent,
	mFinishApplicationMaster:      AtMostOnce,
	mAllocate:                     AtMostOnce,
	// ContainerManagementProtocol carries no annotations.
}

// MethodIdempotency returns Hadoop's annotation for a YARN method.
func MethodIdempotency(method string) Idempotency { return idempotency[method] }

// RetryAction is what to do after a failed call.
type RetryAction int

const (
	// Fail returns the error to the caller.
	Fail RetryAction = iota
	// RetrySame retries on the same server after a backoff.
	RetrySame
	// Failover tries the next server (RM HA) after a backoff.
	Failover
)

// RetryDecision is the one function that decides retries, from the error and
// the method's idempotency (hadoop-wire.md §7, RetryPolicies
// FailoverOnNetworkExceptionRetry):
//   - connection refused, EOF, reset and StandbyException: fail over, since
//     the request did not reach an active server (a dial failure never
//     reached anyone; other transport errors only for idempotent methods);
//   - RetriableException: retry the same server;
//   - InvalidToken, AccessControlException, SASL and Kerberos failures
//     (local ones too: no ticket, KDC unreachable) and every other remote
//     exception: fail.
func RetryDecision(err error, method string) RetryAction {
	if err == nil || isAuthFailure(err) {
		return Fail
	}
	var re *ipc.RemoteError
	if errors.As(err, &re) {
		switch re.Class {
		case ipc.ClassStandbyException:
			return Failover
		case ipc.ClassRetriableException:
			return RetrySame
		}
		return Fail
	}
	var ce *ipc.ConnError
	if errors.As(err, &ce) {
		if ce.Op == "dial" {
			return Failover // never reached a server
		}
		if MethodIdempotency(method) == Idempotent {
			return Failover
		}
	}
	return Fail
}

// IsTransport reports whether err is a transport failure: a connection
// refused, lost or cut, or a call without an answer within the call
// timeout (an *ipc.ConnError), as opposed to an answer of the server.
// After one, an allocate may be sent again with the next heartbeat: the
// response id makes the resend safe (see AMRMClient.Allocate).
func IsTransport(err error) bool {
	var ce *ipc.ConnError
	return errors.As(err, &ce)
}
