package launch

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// EventWaiting is emitted while an application is ACCEPTED each time the
// RM's diagnostics say something new about why it waits (see Waiting).
const EventWaiting = "waiting"

// Reason codes of a waiting event (Event.Reason). They are an API: codes
// are only ever added.
const (
	// ReasonAMResourceLimit: the queue's ApplicationMasters already hold
	// its AM share (maximum-am-resource-percent); the application is not
	// activated until one ends.
	ReasonAMResourceLimit = "am_resource_limit"
	// ReasonUserAMResourceLimit: the user's ApplicationMasters already
	// hold the user's part of the queue's AM share.
	ReasonUserAMResourceLimit = "user_am_resource_limit"
	// ReasonQueueAtCapacity: the queue uses its maximum capacity, so the
	// AM container waits for containers of the queue to end.
	ReasonQueueAtCapacity = "queue_at_capacity"
	// ReasonNodeLabelNoNodes: the AM's node label has no running
	// NodeManager.
	ReasonNodeLabelNoNodes = "node_label_no_nodes"
	// ReasonClusterEmpty: the cluster has no running NodeManager.
	ReasonClusterEmpty = "cluster_empty"
	// ReasonNoRoom: the last NodeManager the scheduler looked at had no
	// room for the AM container.
	ReasonNoRoom = "no_room"
	// ReasonAttemptFailed: the previous AM attempt failed; the next one
	// waits for its container.
	ReasonAttemptFailed = "attempt_failed"
	// ReasonTaskManagersPrefix prefixes the AM's reason for pending
	// TaskManagers (amapi.Pending*: "taskmanagers_no_room",
	// "taskmanagers_blacklisted", "taskmanagers_node_label") in a waiting
	// event of a running application.
	ReasonTaskManagersPrefix = "taskmanagers_"
)

// TaskManagersWaiting reads the AM's status: ok when its TaskManagers
// are pending for a reason other than the scheduler's routine.
func TaskManagersWaiting(st amapi.Status) (w Waiting, ok bool) {
	switch st.PendingReason {
	case amapi.PendingNoRoom, amapi.PendingBlacklisted, amapi.PendingNodeLabel:
		msg, fix, _ := strings.Cut(st.PendingDetail, "; fix: ")
		return Waiting{Reason: ReasonTaskManagersPrefix + st.PendingReason, Message: msg, Fix: fix}, true
	}
	return Waiting{}, false
}

// Waiting is what the RM's diagnostics of an ACCEPTED application say
// about why it waits. Hadoop's CapacityScheduler writes them
// (SchedulerApplicationAttempt.updateAMContainerDiagnostics, with the
// details of FiCaSchedulerApp.getPendingAppDiagnosticMessage and
// getActivedAppDiagnosticMessage and the texts of
// CSAMContainerLaunchDiagnosticsConstants, in
// hadoop-yarn-server-resourcemanager/src/main/java/org/apache/hadoop/yarn/
// server/resourcemanager/scheduler/; RMAppImpl.getDiagnostics shows the
// attempt's while the application has none of its own).
type Waiting struct {
	// Reason is one of the Reason codes.
	Reason string
	// Message says why, in words; Fix what the user can do ("" if
	// nothing but waiting). Neither carries the RM's timestamps, so that
	// a change of either is a change of what the RM says.
	Message, Fix string
}

var (
	reResourceField = func(name string) *regexp.Regexp {
		return regexp.MustCompile(regexp.QuoteMeta(name) + ` = <memory:(\d+), vCores:(\d+)>`)
	}
	reAMRequest      = reResourceField("AM Resource Request")
	reQueueAMLimit   = reResourceField("Queue Resource Limit for AM")
	reUserAMLimit    = reResourceField("User AM Resource Limit of the queue")
	reQueueAMUsage   = reResourceField("Queue AM Resource Usage")
	rePartitionRes   = reResourceField("Partition Resource")
	reQueueUsedRes   = reResourceField("Queue's used capacity (absolute resource)")
	reQueueMaxRes    = reResourceField("Queue's max capacity (absolute resource)")
	reAMPartition    = regexp.MustCompile(`AM Partition = (\S+)`)
	reLastNodeAvail  = regexp.MustCompile(`Last Node which was processed for the application : (\S+) \(.*Available resource : <memory:(\d+), vCores:(\d+)>`)
	reQueueUsedPct   = regexp.MustCompile(`Queue's Absolute used capacity = ([0-9.]+) %`)
	reQueueMaxPct    = regexp.MustCompile(`Queue's Absolute max capacity = ([0-9.]+) %`)
	defaultPartition = "<DEFAULT_PARTITION>"
)

// clusterEmpty is the reason of an AM that waits for the first NodeManager.
var clusterEmpty = Waiting{Reason: ReasonClusterEmpty, Message: "the cluster has no running NodeManager, so YARN cannot place the AM",
	Fix: "start NodeManagers (yarn node -list -all shows their states)"}

func findResource(re *regexp.Regexp, s string) (yarn.Resource, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return yarn.Resource{}, false
	}
	mem, _ := strconv.ParseInt(m[1], 10, 64)
	vc, _ := strconv.ParseInt(m[2], 10, 32)
	return yarn.Resource{MemoryMB: mem, VCores: int32(vc)}, true
}

func mb(r yarn.Resource) string { return strconv.FormatInt(r.MemoryMB, 10) + " MB" }

// queueKey is a capacity-scheduler key of queue (a leaf name or a path).
func queueKey(queue, key string) string {
	if queue == "" {
		queue = "default"
	}
	if queue != "root" && !strings.HasPrefix(queue, "root.") {
		queue = "root." + queue
	}
	return "yarn.scheduler.capacity." + queue + "." + key
}

// ClassifyWaiting reads the diagnostics of an ACCEPTED application in
// queue whose AM container asks for am (zero if unknown). ok is false
// when they say nothing the user needs to act on or wait for: the
// routine steps (activated with nothing in the way, AM container
// assigned, launched) and diagnostics it does not know.
func ClassifyWaiting(diag, queue string, am yarn.Resource) (w Waiting, ok bool) {
	if queue == "" {
		queue = "default"
	}
	share := fmt.Sprintf("the queue's AM share: yarn.scheduler.capacity.maximum-am-resource-percent (all queues, default 0.1) or %s",
		queueKey(queue, "maximum-am-resource-percent"))
	switch {
	case strings.Contains(diag, "Queue's AM resource limit exceeded"):
		req, _ := findResource(reAMRequest, diag)
		limit, _ := findResource(reQueueAMLimit, diag)
		used, _ := findResource(reQueueAMUsage, diag)
		w = Waiting{Reason: ReasonAMResourceLimit,
			Message: fmt.Sprintf("YARN will not start the AM yet: ApplicationMasters in queue %s may hold %s in all (its maximum-am-resource-percent), "+
				"they hold %s, and this AM needs %s", queue, mb(limit), mb(used), mb(req)),
			Fix: fmt.Sprintf("it starts when another application of the queue ends; or raise %s", share)}
		if room := limit.MemoryMB - used.MemoryMB; room > 0 && room < req.MemoryMB {
			w.Fix += fmt.Sprintf("; or ask for a smaller JobManager (-jm %dm or less)", room)
		} else {
			w.Fix += "; or ask for a smaller JobManager (-jm)"
		}
		w.Fix += "; or submit to another queue (--queue)"
		return w, true
	case strings.Contains(diag, "User's AM resource limit exceeded"):
		req, _ := findResource(reAMRequest, diag)
		limit, _ := findResource(reUserAMLimit, diag)
		return Waiting{Reason: ReasonUserAMResourceLimit,
			Message: fmt.Sprintf("YARN will not start the AM yet: your ApplicationMasters in queue %s already hold the %s one user may have there, "+
				"and this AM needs %s", queue, mb(limit), mb(req)),
			Fix: fmt.Sprintf("it starts when another of your applications in the queue ends; or raise the queue's user limit (%s, %s) or %s; "+
				"or ask for a smaller JobManager (-jm); or submit to another queue (--queue)",
				queueKey(queue, "user-limit-factor"), queueKey(queue, "minimum-user-limit-percent"), share)}, true
	case strings.Contains(diag, "Skipping AM assignment as cluster resource is empty"):
		return clusterEmpty, true
	case strings.HasPrefix(diag, "AM Container for ") && strings.Contains(diag, "Failing this attempt"):
		first, _, _ := strings.Cut(diag, "\n")
		return Waiting{Reason: ReasonAttemptFailed, Message: "the previous AM attempt failed (" + strings.TrimSpace(first) + "); YARN starts the next one",
			Fix: "the AM's log says why: follow the tracking URL, or yarn logs -applicationId"}, true
	case strings.Contains(diag, "Application is Activated, waiting for resources to be assigned for AM"):
		return classifyActivated(diag, queue, am)
	}
	return Waiting{}, false
}

// classifyActivated reads getActivedAppDiagnosticMessage and, on a real
// RM, the last node processed (FiCaSchedulerApp.updateNodeInfoForAMDiagnostics).
func classifyActivated(diag, queue string, am yarn.Resource) (Waiting, bool) {
	part := defaultPartition
	if m := reAMPartition.FindStringSubmatch(diag); m != nil {
		part = m[1]
	}
	partRes, havePart := findResource(rePartitionRes, diag)
	if havePart && partRes.MemoryMB <= 0 {
		if part != defaultPartition {
			return Waiting{Reason: ReasonNodeLabelNoNodes,
				Message: fmt.Sprintf("no running NodeManager has node label %q (its partition has no resources), so the AM cannot be placed", part),
				Fix:     "use another --node-label (yarn cluster --list-node-labels; yarn node -list -showDetails shows each node's labels), or none"}, true
		}
		return clusterEmpty, true
	}
	used, haveUsed := findResource(reQueueUsedRes, diag)
	maxRes, haveMax := findResource(reQueueMaxRes, diag)
	full := false
	if haveUsed && haveMax && maxRes.MemoryMB > 0 {
		full = used.MemoryMB+max(am.MemoryMB, 0) > maxRes.MemoryMB
	} else if u, m := reQueueUsedPct.FindStringSubmatch(diag), reQueueMaxPct.FindStringSubmatch(diag); u != nil && m != nil {
		up, _ := strconv.ParseFloat(u[1], 64)
		mp, _ := strconv.ParseFloat(m[1], 64)
		full = up >= mp
	}
	if full {
		return Waiting{Reason: ReasonQueueAtCapacity,
			Message: fmt.Sprintf("queue %s is at its maximum capacity (%s of %s in use), so the AM container waits for containers of the queue to end",
				queue, mb(used), mb(maxRes)),
			Fix: fmt.Sprintf("it starts when the queue has room; or raise %s; or submit to another queue (--queue)", queueKey(queue, "maximum-capacity"))}, true
	}
	if m := reLastNodeAvail.FindStringSubmatch(diag); m != nil && am.MemoryMB > 0 {
		if avail, _ := strconv.ParseInt(m[2], 10, 64); avail < am.MemoryMB {
			return Waiting{Reason: ReasonNoRoom,
				Message: fmt.Sprintf("no NodeManager the scheduler looked at had %s free for the AM container", mb(am)),
				Fix:     "it starts when containers end and a node has room; or ask for a smaller JobManager (-jm)"}, true
		}
	}
	return Waiting{}, false
}
