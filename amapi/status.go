package amapi

import (
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// The AM's HTTP endpoint, its tracking URL (the RM's web proxy forwards
// /proxy/<app id>/ to it):
//
//	GET  /               status page (HTML)
//	GET  /v1/status      Status as JSON (StatusPath)
//	GET  /v1/jobmanager  JobManagerInfo as JSON (DiscoveryPath)
//	POST /v1/stop        graceful stop; needs "Authorization: Bearer <stop secret>" (StopPath)
//	GET  /v1/credentials the TaskManagers' current credentials (CredentialsPath);
//	                     needs "Authorization: Bearer <credentials secret>"
//	GET  /metrics        Prometheus metrics
const (
	// StatusPath answers with Status.
	StatusPath = "/v1/status"
	// DiscoveryPath answers with the current JobManager (JobManagerInfo).
	// A TaskManager that lost its JobManager finds the current AM's URL
	// in the application report (OriginalTrackingURL: each attempt
	// registers its own) and asks it here (Locator).
	DiscoveryPath = "/v1/jobmanager"
	// StopPath takes a graceful stop, authenticated by the stop secret.
	StopPath = "/v1/stop"
)

// Why TaskManager requests are pending (Status.PendingReason, and the
// reason label of spindle_am_taskmanagers_pending_reason). The codes are
// an API: only ever added.
const (
	// PendingNone: nothing is pending.
	PendingNone = "none"
	// PendingScheduling: the RM has room for them; it places containers
	// as NodeManagers heartbeat (and waits for locality).
	PendingScheduling = "scheduling"
	// PendingNoRoom: the RM's headroom for the application (its queue's
	// limit or the cluster's free resources, whichever is less) is below
	// one TaskManager.
	PendingNoRoom = "no_room"
	// PendingBlacklisted: every node that could run a TaskManager is
	// blacklisted (quarantined after failures).
	PendingBlacklisted = "blacklisted"
	// PendingNodeLabel: no node known to the AM has the requested node
	// label.
	PendingNodeLabel = "node_label"
)

// PendingReasons lists the Pending* codes.
var PendingReasons = []string{PendingNone, PendingScheduling, PendingNoRoom, PendingBlacklisted, PendingNodeLabel}

// Phase is where a Runner is in its life.
type Phase string

// Phases.
const (
	PhaseStarting Phase = "starting" // before registration
	PhaseRunning  Phase = "running"
	PhaseStopping Phase = "stopping" // a kill: stopping containers, unregistering
	PhaseFinished Phase = "finished" // unregistered with a final status
	PhaseShutdown Phase = "shutdown" // left for the next attempt
)

// JobManagerInfo is where the JobManager is (DiscoveryPath).
type JobManagerInfo struct {
	AppID       string `json:"app_id"`
	AttemptID   string `json:"attempt_id"`
	Address     string `json:"address"`
	RESTAddress string `json:"rest_address"`
	PID         int    `json:"pid,omitempty"`
	State       string `json:"state"`
	Restarts    int    `json:"restarts"`
	// MetricsPort is the port of the JobManager's Prometheus endpoint
	// (on Address's host), 0 without one (ProcessSpec.Metrics).
	MetricsPort int `json:"metrics_port,omitempty"`
}

// TaskManagerInfo is one TaskManager container.
type TaskManagerInfo struct {
	ContainerID string    `json:"container_id"`
	Node        string    `json:"node"`
	NodeHTTP    string    `json:"node_http_address,omitempty"`
	State       string    `json:"state"`
	Since       time.Time `json:"since"`
	Adopted     bool      `json:"adopted,omitempty"`
	// Live is true while the TaskManager holds its liveness connection
	// (LivePath) to this AM.
	Live bool `json:"live,omitempty"`
	// Host is the node's host name (Node without the NodeManager's
	// port).
	Host string `json:"host,omitempty"`
	// MetricsPort is the port of the TaskManager's Prometheus endpoint
	// on Host, as its launcher told this AM (LivePath's
	// MetricsPortParam); 0 when it told none.
	MetricsPort int `json:"metrics_port,omitempty"`
	// LogURL is the container's log page on its NodeManager's web UI.
	LogURL string `json:"log_url,omitempty"`
}

// Status is the AM's state, as /v1/status serves it. It is an API:
// fields are only ever added.
type Status struct {
	AppID       string `json:"app_id"`
	AttemptID   string `json:"attempt_id"`
	ContainerID string `json:"container_id"`
	// NodeHTTP is the AM container's NodeManager web address, LogURL its
	// log page there (the JobManager's logs: it runs in this container).
	NodeHTTP string `json:"node_http_address,omitempty"`
	LogURL   string `json:"log_url,omitempty"`
	Mode     Mode   `json:"mode"`
	// Attempt is the attempt's number (1 for the first AM).
	Attempt int32 `json:"attempt"`
	// Payload is the payload's name (Spec.Payload), "" if the submitter
	// did not say.
	Payload      string         `json:"payload,omitempty"`
	Phase        Phase          `json:"phase"`
	TrackingURL  string         `json:"tracking_url"`
	RegisteredAt *time.Time     `json:"registered_at,omitempty"`
	JobManager   JobManagerInfo `json:"jobmanager"`
	Target       int            `json:"target"`
	Pending      int            `json:"pending"`
	Launching    int            `json:"launching"`
	Running      int            `json:"running"`
	Adopted      int            `json:"adopted"`
	Progress     float32        `json:"progress"`
	Restarts     int            `json:"restarts"`
	// Excess counts containers the RM allocated beyond the fleet's asks
	// (spindle_am_containers_released_excess_total), released unstarted.
	Excess int `json:"excess"`
	// LostUnconfirmed counts TaskManagers whose liveness connection
	// (LivePath) closed and whose end the RM has not reported yet: their
	// replacements are already asked for. EarlyDeaths counts every such
	// TaskManager of the attempt.
	LostUnconfirmed int               `json:"lost_unconfirmed"`
	EarlyDeaths     int               `json:"early_deaths"`
	TaskManagers    []TaskManagerInfo `json:"taskmanagers"`
	// Completions are the last TaskManager containers that ended (or
	// could not be started), newest last, each classified.
	Completions      []Completion `json:"completions"`
	Policy           PolicyState  `json:"policy"`
	JobManagerPolicy PolicyState  `json:"jobmanager_policy"`
	LastHeartbeat    *time.Time   `json:"last_heartbeat,omitempty"`
	HeartbeatError   string       `json:"heartbeat_error,omitempty"`
	FinalStatus      string       `json:"final_status,omitempty"`
	Diagnostics      string       `json:"diagnostics,omitempty"`
	// Result is a per-job job's result, once its JobManager has exited
	// (result.go).
	Result *Result `json:"result,omitempty"`
	// PendingReason says why the Pending TaskManagers wait, as the AM
	// sees it (a Pending* code, PendingNone when none is pending);
	// PendingDetail says it in words, with the fix where one is known.
	PendingReason string `json:"pending_reason,omitempty"`
	PendingDetail string `json:"pending_detail,omitempty"`
}

// Completion is one completed TaskManager container, for the status page.
type Completion struct {
	Failure
	// ClassName is what the exit meant: "succeeded", "failed", "lost",
	// "killed-by-am" (the exit classes), "launch-failed" (the NodeManager
	// refused the start: a failure) or "launch-recoverable" (the
	// NodeManager was not ready or going away: not a failure).
	ClassName string `json:"class"`
	// Decision is what the restart policy said (failures only), in words.
	Decision string `json:"decision,omitempty"`
	// DecisionCode is the decision as a stable code (failures only):
	// "replace_now", "backoff" or "max_failures_exceeded".
	DecisionCode string `json:"decision_code,omitempty"`
	// QuarantinedNode is the node the decision blacklisted, if any.
	QuarantinedNode string `json:"quarantined_node,omitempty"`
}

// Failure is one failed container (or JobManager process) as the policy
// sees it.
type Failure struct {
	At time.Time `json:"time"`
	// Container is the container id, empty for the JobManager process.
	Container string `json:"container_id,omitempty"`
	// Node is the NodeManager host, empty if none.
	Node string `json:"node,omitempty"`
	// NodeHTTP is the NodeManager's web address (host:port), LogURL the
	// container's log page there (the NodeManager web UI's
	// /node/containerlogs/<container>/<user>); empty if unknown.
	NodeHTTP string `json:"node_http_address,omitempty"`
	LogURL   string `json:"log_url,omitempty"`
	// ExitStatus is the container exit status or process exit code.
	ExitStatus int32 `json:"exit_status"`
	// Diagnostics are the NodeManager's (or the launch error's) words,
	// trimmed.
	Diagnostics string `json:"diagnostics,omitempty"`
}

// LogURL is the NodeManager web UI page of a container's logs
// (/node/containerlogs/<container>/<user>, the link YARN's UIs give); ""
// without a node web address, container or user.
func LogURL(nodeHTTP, container, user string) string {
	if nodeHTTP == "" || container == "" || user == "" {
		return ""
	}
	return "http://" + nodeHTTP + "/node/containerlogs/" + container + "/" + user
}

func (f Failure) String() string {
	var b strings.Builder
	if f.Container != "" {
		b.WriteString(f.Container)
	} else {
		b.WriteString("JobManager")
	}
	if f.Node != "" {
		b.WriteString(" on " + f.Node)
	}
	b.WriteString(": " + yarn.ExitStatusText(f.ExitStatus))
	if d := OneLine(f.Diagnostics, 200); d != "" {
		b.WriteString(" (" + d + ")")
	}
	return b.String()
}

// Quarantine is one quarantined node.
type Quarantine struct {
	Node  string    `json:"node"`
	Until time.Time `json:"until"`
}

// PolicyState is the tracker's state for the status page.
type PolicyState struct {
	FailuresInWindow int          `json:"failures_in_window"`
	MaxFailures      int          `json:"max_failures"`
	Window           string       `json:"window"`
	TotalFailures    int          `json:"total_failures"`
	BackoffUntil     *time.Time   `json:"backoff_until,omitempty"`
	Quarantined      []Quarantine `json:"quarantined"`
	LastDecision     string       `json:"last_decision,omitempty"`
	LastDecisionCode string       `json:"last_decision_code,omitempty"`
	LastFailures     []Failure    `json:"last_failures"`
}

// OneLine condenses s, a NodeManager diagnostic (multi-line, each entry
// stamped "[date time]", often repeated) or a log excerpt, into one line
// of at most n bytes: stamps and the launcher's boilerplate go, repeated
// lines are kept once, the rest is joined with " | ".
func OneLine(s string, n int) string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			if i := strings.IndexByte(l, ']'); i > 0 && i < 32 {
				l = strings.TrimSpace(l[i+1:])
			}
		}
		if l == "" || seen[l] || boilerplate(l) {
			continue
		}
		seen[l] = true
		parts = append(parts, l)
	}
	out := strings.Join(parts, " | ")
	if len(out) > n {
		out = out[:n] + "…"
	}
	return out
}

// boilerplate reports NodeManager diagnostic lines that say nothing the
// exit status does not.
func boilerplate(l string) bool {
	for _, p := range []string{"Exception from container-launch", "Container id:", "Exit code:", "Error file:",
		"Last 4096 bytes of prelaunch.err", "Last 4096 bytes of stderr", "Container exited with a non-zero exit code"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}
