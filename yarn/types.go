package yarn

import (
	"fmt"
	"time"

	"github.com/spindle-yarn/spindle/ipc"
)

// Resource is an amount of cluster resources. Extra holds resource types
// beyond memory and vcores (e.g. "yarn.io/gpu"), in their base units.
type Resource struct {
	MemoryMB int64
	VCores   int32
	Extra    map[string]int64
}

// String prints r as Java's Resource.toString does, e.g.
// <memory:1024, vCores:1, yarn.io/gpu: 2>, extras in name order.
func (r Resource) String() string {
	s := fmt.Sprintf("<memory:%d, vCores:%d", r.MemoryMB, r.VCores)
	for _, k := range sortedKeys(r.Extra) {
		s += fmt.Sprintf(", %s: %d", k, r.Extra[k])
	}
	return s + ">"
}

// Fits reports whether r fits within max in every dimension max knows.
func (r Resource) Fits(max Resource) bool {
	if r.MemoryMB > max.MemoryMB || r.VCores > max.VCores {
		return false
	}
	for k, v := range r.Extra {
		if m, ok := max.Extra[k]; ok && v > m {
			return false
		}
	}
	return true
}

// LocalResourceType is how the NodeManager materialises a resource.
type LocalResourceType int32

// Values equal LocalResourceTypeProto.
const (
	Archive LocalResourceType = 1 // unpacked (zip, tar, tgz, jar)
	File    LocalResourceType = 2
	Pattern LocalResourceType = 3 // unpack only entries matching Pattern
)

// Visibility is who may share a localized resource.
type Visibility int32

// Values equal LocalResourceVisibilityProto.
const (
	Public      Visibility = 1 // all users; the file and its ancestors must be world-readable
	Private     Visibility = 2 // all applications of the user
	Application Visibility = 3 // this application only
)

// URL is a resource location as YARN's URL record: scheme, host, port, file.
// Port -1 means "no port", which YARN needs spelled out when Host is set.
type URL struct {
	Scheme, Host, File, UserInfo string
	Port                         int32
}

func (u URL) String() string {
	s := u.Scheme + "://"
	if u.UserInfo != "" {
		s += u.UserInfo + "@"
	}
	s += u.Host
	if u.Host != "" && u.Port >= 0 {
		s += fmt.Sprintf(":%d", u.Port)
	}
	return s + u.File
}

// LocalResource is a file the NodeManager downloads into a container's
// working directory. Timestamp must equal the source's modification time in
// ms exactly, or localization fails.
type LocalResource struct {
	URL        URL
	Size       int64
	Timestamp  int64
	Type       LocalResourceType
	Visibility Visibility
	Pattern    string
}

// ContainerLaunchContext is what a container runs: command, environment,
// local resources (keyed by link name) and tokens.
type ContainerLaunchContext struct {
	Commands       []string
	Environment    map[string]string
	LocalResources map[string]LocalResource
	// Tokens become the container's container_tokens file. Nil sends none.
	Tokens *ipc.Credentials
	// ServiceData are payloads for NodeManager aux services.
	ServiceData map[string][]byte
	// ACLs maps "VIEW_APP"/"MODIFY_APP" to an ACL string.
	ACLs map[ACLType]string
}

// ACLType is an application access type.
type ACLType int32

// Values equal ApplicationAccessTypeProto.
const (
	ViewApp   ACLType = 1
	ModifyApp ACLType = 2
)

// LogAggregation selects which container logs the NodeManager aggregates.
type LogAggregation struct {
	IncludePattern, ExcludePattern                     string
	RolledLogsIncludePattern, RolledLogsExcludePattern string
	PolicyClassName, PolicyParameters                  string
}

// AppSpec is an ApplicationSubmissionContext: what submitApplication sends.
type AppSpec struct {
	ID       ApplicationID
	Name     string
	Queue    string // "" means "default"
	Priority int32
	Type     string // "" means "YARN"
	Tags     []string
	// NodeLabelExpression applies to the application's containers.
	NodeLabelExpression string
	// AM is the AM container's launch context and AMResource its size.
	AM         ContainerLaunchContext
	AMResource Resource
	// AMNodeLabelExpression applies to the AM container only.
	AMNodeLabelExpression string
	// MaxAttempts 0 means the RM's yarn.resourcemanager.am.max-attempts.
	MaxAttempts int32
	// AttemptFailuresValidityInterval: failures older than this do not count; 0 means never expire (-1 on the wire).
	AttemptFailuresValidityInterval time.Duration
	KeepContainersAcrossAttempts    bool
	UnmanagedAM                     bool
	// KeepTokensAfterFinish leaves delegation tokens valid after the
	// application ends (cancel_tokens_when_complete=false).
	KeepTokensAfterFinish bool
	LogAggregation        *LogAggregation
	// Lifetime, if positive, makes the RM kill the application after it (APP_TIMEOUT_LIFETIME).
	Lifetime time.Duration
}

// AppState is YarnApplicationStateProto.
type AppState int32

// Application states, as YARN numbers them.
const (
	StateNew       AppState = 1
	StateNewSaving AppState = 2
	StateSubmitted AppState = 3
	StateAccepted  AppState = 4
	StateRunning   AppState = 5
	StateFinished  AppState = 6
	StateFailed    AppState = 7
	StateKilled    AppState = 8
)

var appStateNames = map[AppState]string{StateNew: "NEW", StateNewSaving: "NEW_SAVING", StateSubmitted: "SUBMITTED",
	StateAccepted: "ACCEPTED", StateRunning: "RUNNING", StateFinished: "FINISHED", StateFailed: "FAILED", StateKilled: "KILLED"}

func (s AppState) String() string {
	if n, ok := appStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("AppState(%d)", int32(s))
}

// Terminal reports FINISHED, FAILED and KILLED.
func (s AppState) Terminal() bool { return s == StateFinished || s == StateFailed || s == StateKilled }

// ParseAppState parses a state name as the yarn CLI prints it.
func ParseAppState(s string) (AppState, error) {
	for k, v := range appStateNames {
		if v == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("yarn: unknown application state %q (want one of NEW, NEW_SAVING, SUBMITTED, ACCEPTED, RUNNING, FINISHED, FAILED, KILLED)", s)
}

// FinalStatus is FinalApplicationStatusProto, the AM's verdict.
type FinalStatus int32

// Final statuses, as YARN numbers them.
const (
	FinalUndefined FinalStatus = 0
	FinalSucceeded FinalStatus = 1
	FinalFailed    FinalStatus = 2
	FinalKilled    FinalStatus = 3
	FinalEnded     FinalStatus = 4
)

func (f FinalStatus) String() string {
	switch f {
	case FinalUndefined:
		return "UNDEFINED"
	case FinalSucceeded:
		return "SUCCEEDED"
	case FinalFailed:
		return "FAILED"
	case FinalKilled:
		return "KILLED"
	case FinalEnded:
		return "ENDED"
	}
	return fmt.Sprintf("FinalStatus(%d)", int32(f))
}

// AppReport is an ApplicationReport.
type AppReport struct {
	ID                  ApplicationID
	CurrentAttempt      AttemptID
	User, Queue, Name   string
	Type                string
	Tags                []string
	Host                string // AM host, "N/A" until registered
	RPCPort             int32  // -1 until registered
	TrackingURL         string
	OriginalTrackingURL string
	Diagnostics         string
	State               AppState
	FinalStatus         FinalStatus
	Progress            float32
	StartTime           time.Time
	LaunchTime          time.Time
	FinishTime          time.Time // zero while running
	SubmitTime          time.Time
	Priority            int32
	Unmanaged           bool
	// ClientToAMToken authenticates a client to the AM (secure clusters).
	ClientToAMToken *ipc.Token
	// AMRMToken is set for unmanaged AMs only.
	AMRMToken *ipc.Token
	// Usage is the aggregate resource usage, if the RM reported it.
	Usage *AppUsage
}

// AppUsage is ApplicationResourceUsageReport.
type AppUsage struct {
	UsedContainers, ReservedContainers int32
	Used, Reserved, Needed             Resource
	MemorySeconds, VCoreSeconds        int64
	QueueUsagePercentage               float32
	ClusterUsagePercentage             float32
}

// ContainerState is ContainerStateProto.
type ContainerState int32

// Container states.
const (
	ContainerNew      ContainerState = 1
	ContainerRunning  ContainerState = 2
	ContainerComplete ContainerState = 3
)

func (s ContainerState) String() string {
	switch s {
	case ContainerNew:
		return "NEW"
	case ContainerRunning:
		return "RUNNING"
	case ContainerComplete:
		return "COMPLETE"
	}
	return fmt.Sprintf("ContainerState(%d)", int32(s))
}

// ContainerStatus is a container's state, exit status and diagnostics.
type ContainerStatus struct {
	ID          ContainerID
	State       ContainerState
	ExitStatus  int32 // see the Exit* constants; otherwise the process exit code
	Diagnostics string
	Capability  Resource
	// Attributes such as HOST and IPS (NodeManager-reported).
	Attributes map[string]string
}

// Container is an allocated container.
type Container struct {
	ID                  ContainerID
	Node                NodeID
	NodeHTTPAddress     string
	Resource            Resource
	Priority            int32
	AllocationRequestID int64
	Version             int32
	Tags                []string
	// Token is the container token, passed to the NodeManager at start.
	Token *ipc.Token
}

// NodeState is NodeStateProto.
type NodeState int32

// Node states.
const (
	NodeNew             NodeState = 1
	NodeRunning         NodeState = 2
	NodeUnhealthy       NodeState = 3
	NodeDecommissioned  NodeState = 4
	NodeLost            NodeState = 5
	NodeRebooted        NodeState = 6
	NodeDecommissioning NodeState = 7
	NodeShutdown        NodeState = 8
)

var nodeStateNames = map[NodeState]string{NodeNew: "NEW", NodeRunning: "RUNNING", NodeUnhealthy: "UNHEALTHY", NodeDecommissioned: "DECOMMISSIONED",
	NodeLost: "LOST", NodeRebooted: "REBOOTED", NodeDecommissioning: "DECOMMISSIONING", NodeShutdown: "SHUTDOWN"}

func (s NodeState) String() string {
	if n, ok := nodeStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("NodeState(%d)", int32(s))
}

// Usable reports whether the scheduler may place containers on the node.
func (s NodeState) Usable() bool { return s == NodeRunning }

// NodeReport describes a NodeManager.
type NodeReport struct {
	ID            NodeID
	HTTPAddress   string
	Rack          string
	Used          Resource
	Capability    Resource
	NumContainers int32
	State         NodeState
	HealthReport  string
	LastHealthAt  time.Time
	Labels        []string
}

// ClusterMetrics counts NodeManagers by state.
type ClusterMetrics struct {
	NodeManagers, Active, Decommissioned, Decommissioning, Lost, Unhealthy, Rebooted, Shutdown int32
}

// QueueInfo describes a scheduler queue.
type QueueInfo struct {
	Name, Path                                 string
	Capacity, MaximumCapacity, CurrentCapacity float32
	State                                      string // RUNNING, STOPPED, DRAINING
	Children                                   []QueueInfo
	Applications                               []AppReport
	AccessibleNodeLabels                       []string
	DefaultNodeLabelExpression                 string
}

// QueueACL lists what the current user may do on a queue.
type QueueACL struct {
	Queue string
	ACLs  []string // SUBMIT_APPLICATIONS, ADMINISTER_QUEUE
}

// Container exit statuses (org.apache.hadoop.yarn.api.records.ContainerExitStatus).
// Any other value is the process's exit code (137/143 after SIGKILL/SIGTERM).
const (
	ExitSuccess                    int32 = 0
	ExitInvalid                    int32 = -1000 // not yet set
	ExitAborted                    int32 = -100  // released by the AM, or lost with its node
	ExitDisksFailed                int32 = -101
	ExitPreempted                  int32 = -102
	ExitKilledExceededVMem         int32 = -103
	ExitKilledExceededPMem         int32 = -104
	ExitKilledByAppMaster          int32 = -105
	ExitKilledByResourceManager    int32 = -106
	ExitKilledAfterAppCompletion   int32 = -107
	ExitKilledByContainerScheduler int32 = -108
	ExitKilledForExcessLogs        int32 = -109
)

// ExitStatusText names an exit status constant; process exit codes print as "exit code N".
func ExitStatusText(s int32) string {
	switch s {
	case ExitSuccess:
		return "SUCCESS"
	case ExitInvalid:
		return "INVALID"
	case ExitAborted:
		return "ABORTED"
	case ExitDisksFailed:
		return "DISKS_FAILED"
	case ExitPreempted:
		return "PREEMPTED"
	case ExitKilledExceededVMem:
		return "KILLED_EXCEEDED_VMEM"
	case ExitKilledExceededPMem:
		return "KILLED_EXCEEDED_PMEM"
	case ExitKilledByAppMaster:
		return "KILLED_BY_APPMASTER"
	case ExitKilledByResourceManager:
		return "KILLED_BY_RESOURCEMANAGER"
	case ExitKilledAfterAppCompletion:
		return "KILLED_AFTER_APP_COMPLETION"
	case ExitKilledByContainerScheduler:
		return "KILLED_BY_CONTAINER_SCHEDULER"
	case ExitKilledForExcessLogs:
		return "KILLED_FOR_EXCESS_LOGS"
	}
	return fmt.Sprintf("exit code %d", s)
}

// ExitIsFailure reports whether a completed container's exit status is the
// application's own fault (a non-zero exit or a memory limit), as opposed to
// a loss the cluster caused (preemption, node loss, disks, kills by the RM or
// AM), which restart policies should not count against the application.
func ExitIsFailure(s int32) bool {
	switch s {
	case ExitSuccess, ExitAborted, ExitDisksFailed, ExitPreempted, ExitKilledByAppMaster,
		ExitKilledByResourceManager, ExitKilledAfterAppCompletion, ExitKilledByContainerScheduler:
		return false
	}
	return true
}
