package yarn

import (
	"errors"
	"fmt"

	"github.com/spindle-yarn/spindle/ipc"
)

// Sentinels for the Java exceptions Spindle acts on. Use errors.Is; the
// *ipc.RemoteError with class and message stays reachable with errors.As.
var (
	ErrApplicationNotFound      = errors.New("yarn: application not found")
	ErrAttemptNotFound          = errors.New("yarn: application attempt not found")
	ErrAMNotRegistered          = errors.New("yarn: application master not registered")
	ErrInvalidAMRequest         = errors.New("yarn: invalid application master request")
	ErrInvalidResourceRequest   = errors.New("yarn: invalid resource request")
	ErrInvalidContainerRelease  = errors.New("yarn: invalid container release")
	ErrInvalidBlacklistRequest  = errors.New("yarn: invalid resource blacklist request")
	ErrApplicationIDNotProvided = errors.New("yarn: application id not provided")
	ErrFeatureNotEnabled        = errors.New("yarn: feature not enabled")
	ErrNMNotYetReady            = errors.New("yarn: node manager not yet ready")
	ErrInvalidContainer         = errors.New("yarn: invalid container")
	ErrContainerNotFound        = errors.New("yarn: container not found")
	ErrInvalidAuxService        = errors.New("yarn: invalid aux service")
	ErrStandby                  = errors.New("yarn: server is in standby")
	ErrRetriable                = errors.New("yarn: server busy, retry")
	ErrInvalidToken             = errors.New("yarn: invalid token")
	ErrAccessDenied             = errors.New("yarn: access denied")
	ErrYARN                     = errors.New("yarn: YARN exception")
	ErrAuthentication           = errors.New("yarn: authentication failed")
)

const exc = "org.apache.hadoop.yarn.exceptions."

// classToErr is the one table from Java exception class to sentinel
// (hadoop-wire.md §7). Subclasses map to their parent's sentinel.
var classToErr = map[string]error{
	exc + "ApplicationNotFoundException":                     ErrApplicationNotFound,
	exc + "ApplicationAttemptNotFoundException":              ErrAttemptNotFound,
	exc + "ApplicationMasterNotRegisteredException":          ErrAMNotRegistered,
	exc + "InvalidApplicationMasterRequestException":         ErrInvalidAMRequest,
	exc + "InvalidResourceRequestException":                  ErrInvalidResourceRequest,
	exc + "InvalidLabelResourceRequestException":             ErrInvalidResourceRequest,
	exc + "SchedulerInvalidResourceRequestException":         ErrInvalidResourceRequest,
	exc + "InvalidContainerReleaseException":                 ErrInvalidContainerRelease,
	exc + "InvalidResourceBlacklistRequestException":         ErrInvalidBlacklistRequest,
	exc + "ApplicationIdNotProvidedException":                ErrApplicationIDNotProvided,
	exc + "YARNFeatureNotEnabledException":                   ErrFeatureNotEnabled,
	exc + "NMNotYetReadyException":                           ErrNMNotYetReady,
	exc + "InvalidContainerException":                        ErrInvalidContainer,
	exc + "ContainerNotFoundException":                       ErrContainerNotFound,
	exc + "InvalidAuxServiceException":                       ErrInvalidAuxService,
	exc + "YarnException":                                    ErrYARN,
	"org.apache.hadoop.yarn.exceptions.YarnRuntimeException": ErrYARN,
	ipc.ClassStandbyException:                                ErrStandby,
	ipc.ClassRetriableException:                              ErrRetriable,
	ipc.ClassInvalidToken:                                    ErrInvalidToken,
	ipc.ClassAccessControl:                                   ErrAccessDenied,
	ipc.ClassAuthorization:                                   ErrAccessDenied,
	ipc.ClassSaslException:                                   ErrAuthentication,
}

// Error is a remote failure of a YARN call: it matches its sentinel with
// errors.Is and the *ipc.RemoteError with errors.As.
type Error struct {
	sentinel error
	Remote   *ipc.RemoteError
	cause    error // the original chain (may wrap Remote in an *ipc.ConnError)
}

func (e *Error) Error() string { return e.Remote.Error() }

// Is matches the sentinel for the Java class.
func (e *Error) Is(target error) bool { return target == e.sentinel }

// Unwrap gives access to the original chain and its *ipc.RemoteError.
func (e *Error) Unwrap() error { return e.cause }

// mapError turns an *ipc.RemoteError into an *Error with its sentinel and
// wraps it with the call's identifiers; other errors are wrapped as they are.
func mapError(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	auth := isAuthFailure(err)
	var re *ipc.RemoteError
	if errors.As(err, &re) {
		if s, ok := classToErr[re.Class]; ok {
			err = &Error{sentinel: s, Remote: re, cause: err}
		}
	}
	if auth && !errors.Is(err, ErrAuthentication) {
		err = authError(err)
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
