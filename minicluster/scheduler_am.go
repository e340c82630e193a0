package minicluster

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// The AM resource limit, as the CapacityScheduler of Hadoop 3.3.6 keeps
// it (hadoop-yarn-server-resourcemanager/src/main/java/org/apache/hadoop/
// yarn/server/resourcemanager/scheduler/capacity/LeafQueue.java,
// activateApplications): a new attempt is pending in its queue until
// activated, and only activated attempts are offered nodes for their AM
// container. An attempt is activated when its AM fits under the queue's
// AM limit (maximum-am-resource-percent of the queue's usable resources)
// and the user's AM limit of the queue, or when the queue has no active
// application (the limit never keeps a queue idle). Activation is
// retried, in submission order, whenever the cluster, the queue's
// applications or their attempts change; here, on every node heartbeat
// as well (the diagnostics are rewritten only when they change, so the
// RM's timestamp in them moves with what they say).
//
// Only the default partition is modelled (no node labels). The queue's
// current limit (queueResourceLimitsInfo, which its parent sets on each
// assignment) is taken as its maximum capacity of the cluster.

// Diagnostics of a waiting AM, SchedulerApplicationAttempt.AMState and
// CSAMContainerLaunchDiagnosticsConstants (same directory).
const (
	amStateInactivated       = "Application is added to the scheduler and is not yet activated. "
	diagQueueAMLimitExceeded = "Queue's AM resource limit exceeded. "
	diagUserAMLimitExceeded  = "User's AM resource limit exceeded. "
	diagClusterResourceEmpty = "Skipping AM assignment as cluster resource is empty. "
)

// holdsAMShare reports whether the attempt's AM counts against its
// queue's AM limit: from activation until the attempt ends
// (LeafQueue.removeApplicationAttempt gives the share back). Attempts
// past scheduling (recovered, registered) hold it too.
func (att *rmAttempt) holdsAMShare() bool {
	return att.live() && !att.app.state.Terminal() && (att.activated || att.state > attScheduled)
}

// amResourceOf is FiCaSchedulerApp.getAMResource: none for an unmanaged AM.
func amResourceOf(app *rmApp) yarn.Resource {
	if app.unmanaged {
		return yarn.Resource{}
	}
	return app.amResource
}

// multiplyAndNormalizeUp is ResourceCalculator.multiplyAndNormalizeUp:
// DefaultResourceCalculator rounds memory*by+0.5 up to the step and
// makes a 1-vcore resource of it (Resources.createResource(long));
// DominantResourceCalculator rounds each type's ceil(value*by) up.
func (r *ResourceManager) multiplyAndNormalizeUp(res yarn.Resource, by float64, step yarn.Resource) yarn.Resource {
	roundUp := func(v, s int64) int64 {
		if s <= 0 {
			return v
		}
		return (v + s - 1) / s * s
	}
	if !r.opts.DominantResources {
		mem := roundUp(int64(float64(res.MemoryMB)*by+0.5), step.MemoryMB)
		out := yarn.Resource{MemoryMB: mem}
		if mem > 0 {
			out.VCores = 1
		}
		return out
	}
	ceil := func(v float64) int64 { return int64(math.Ceil(float64(float32(v)))) }
	return yarn.Resource{MemoryMB: roundUp(ceil(float64(res.MemoryMB)*by), step.MemoryMB),
		VCores: int32(roundUp(ceil(float64(res.VCores)*by), int64(step.VCores)))}
}

// amLimit is LeafQueue.calculateAndGetAMResourceLimitPerPartition
// for the default partition: the queue's AM share of the larger of its
// guarantee and its current limit.
func (r *ResourceManager) amLimit(q *queue, cluster yarn.Resource) yarn.Resource {
	guaranteed, current := scaleRes(cluster, q.capacity), scaleRes(cluster, q.maxCapacity)
	usable := guaranteed
	if r.fits(guaranteed, current) {
		usable = current
	}
	return r.multiplyAndNormalizeUp(usable, q.amPercent, r.opts.MinAllocation)
}

// userAMLimit is LeafQueue.getUserAMResourceLimitPerPartition with
// YARN's default user limit (100%) and user-limit-factor (1): the AM share
// of the queue's guarantee, at most the queue's AM limit.
func (r *ResourceManager) userAMLimit(q *queue, cluster, queueLimit yarn.Resource) yarn.Resource {
	lim := r.multiplyAndNormalizeUp(scaleRes(cluster, q.capacity), q.amPercent, r.opts.MinAllocation)
	if queueLimit.MemoryMB < lim.MemoryMB { // Resources.min (memory first)
		return queueLimit
	}
	return lim
}

// activateLocked is LeafQueue.activateApplications for q: each pending
// attempt, in submission order, is activated if its AM fits, or told why
// not in its diagnostics. The limits and the queue's AM usage are worked
// out once, when the first pending attempt is met, and the usage then
// follows the activations (it runs on every node heartbeat).
func (r *ResourceManager) activateLocked(q *queue) {
	var s *amLimits
	for _, app := range q.apps {
		att := app.current()
		if att == nil || att.activated || att.state != attScheduled || app.state.Terminal() {
			continue
		}
		if s == nil {
			s = r.amLimitsLocked(q)
		}
		if s.cluster.MemoryMB <= 0 && s.cluster.VCores <= 0 {
			// LeafQueue.addApplicationAttempt skips activation while the
			// cluster has no resources.
			r.setAMDiagLocked(app, amStateInactivated+diagClusterResourceEmpty+s.pendingDetails(app))
			continue
		}
		amRes := amResourceOf(app)
		// The limit is waived while the queue has no active application
		// or no AM usage ("maximum-am-resource-percent is insufficient to
		// start a single application in queue").
		waived := s.active < 1 || (s.used.MemoryMB <= 0 && (!r.opts.DominantResources || s.used.VCores <= 0))
		if !r.fits(addRes(amRes, s.used), s.queue) && !waived {
			r.setAMDiagLocked(app, amStateInactivated+diagQueueAMLimitExceeded+s.pendingDetails(app))
			continue
		}
		if !r.fits(addRes(amRes, s.userUsed[app.user]), s.user) && !waived {
			r.setAMDiagLocked(app, amStateInactivated+diagUserAMLimitExceeded+s.pendingDetails(app))
			continue
		}
		att.activated = true
		s.used, s.active = addRes(s.used, amRes), s.active+1
		s.userUsed[app.user] = addRes(s.userUsed[app.user], amRes)
		app.diagnostics = r.activatedDiagLocked(app)
		r.lg.Info().Stringer("app_id", app.id).Str("user", app.user).Str("queue", q.name).Msg("application activated")
	}
}

// amLimits are a queue's AM limits and the AM resources its activated
// attempts hold, in all (used, by active attempts) and per user.
type amLimits struct {
	cluster, queue, user, used yarn.Resource
	active                     int
	userUsed                   map[string]yarn.Resource
}

func (r *ResourceManager) amLimitsLocked(q *queue) *amLimits {
	s := &amLimits{cluster: r.clusterResourceLocked(), userUsed: map[string]yarn.Resource{}}
	s.queue = r.amLimit(q, s.cluster)
	s.user = r.userAMLimit(q, s.cluster, s.queue)
	for _, app := range q.apps {
		if att := app.current(); att != nil && att.holdsAMShare() {
			res := amResourceOf(app)
			s.used, s.active = addRes(s.used, res), s.active+1
			s.userUsed[app.user] = addRes(s.userUsed[app.user], res)
		}
	}
	return s
}

// activateAllLocked runs activateLocked on every queue.
func (r *ResourceManager) activateAllLocked() {
	for _, q := range r.queues {
		r.activateLocked(q)
	}
}

// pendingDetails is FiCaSchedulerApp.getPendingAppDiagnosticMessage
// (hadoop-yarn-server-resourcemanager/.../scheduler/common/fica/
// FiCaSchedulerApp.java), for the default partition.
func (s *amLimits) pendingDetails(app *rmApp) string {
	return fmt.Sprintf(" Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = %s; Queue Resource Limit for AM = %s; "+
		"User AM Resource Limit of the queue = %s; Queue AM Resource Usage = %s; ",
		amResourceOf(app).String(), s.queue.String(), s.user.String(), s.used.String())
}

// setAMDiagLocked is SchedulerApplicationAttempt.updateAMContainerDiagnostics:
// "[<date>] " and msg. The diagnostics (and so their date) change only
// when msg does.
func (r *ResourceManager) setAMDiagLocked(app *rmApp, msg string) {
	if _, was, ok := strings.Cut(app.diagnostics, "] "); ok && was == msg {
		return
	}
	app.diagnostics = "[" + javaDate(time.Now()) + "] " + msg
}
