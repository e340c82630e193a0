package minicluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// clientService is ClientRMService: the methods a submitter and the yarn
// CLI use. Methods it does not serve answer RpcNoSuchMethodException.
func (r *ResourceManager) clientService() *ipc.Service {
	return &ipc.Service{Version: 1, Methods: map[string]ipc.Handler{
		"getNewApplication": ipc.Unary(func() *yarnpb.GetNewApplicationRequestProto { return &yarnpb.GetNewApplicationRequestProto{} }, r.getNewApplication),
		"submitApplication": ipc.Unary(func() *yarnpb.SubmitApplicationRequestProto { return &yarnpb.SubmitApplicationRequestProto{} }, r.submitApplication),
		"getApplicationReport": ipc.Unary(func() *yarnpb.GetApplicationReportRequestProto {
			return &yarnpb.GetApplicationReportRequestProto{}
		}, r.getApplicationReport),
		"forceKillApplication": ipc.Unary(func() *yarnpb.KillApplicationRequestProto { return &yarnpb.KillApplicationRequestProto{} }, r.forceKillApplication),
		"getApplications":      ipc.Unary(func() *yarnpb.GetApplicationsRequestProto { return &yarnpb.GetApplicationsRequestProto{} }, r.getApplications),
		"getClusterMetrics":    ipc.Unary(func() *yarnpb.GetClusterMetricsRequestProto { return &yarnpb.GetClusterMetricsRequestProto{} }, r.getClusterMetrics),
		"getClusterNodes":      ipc.Unary(func() *yarnpb.GetClusterNodesRequestProto { return &yarnpb.GetClusterNodesRequestProto{} }, r.getClusterNodes),
		"getQueueInfo":         ipc.Unary(func() *yarnpb.GetQueueInfoRequestProto { return &yarnpb.GetQueueInfoRequestProto{} }, r.getQueueInfo),
		"getQueueUserAcls": ipc.Unary(func() *yarnpb.GetQueueUserAclsInfoRequestProto {
			return &yarnpb.GetQueueUserAclsInfoRequestProto{}
		}, r.getQueueUserAcls),
		"getResourceTypeInfo": ipc.Unary(func() *yarnpb.GetAllResourceTypeInfoRequestProto {
			return &yarnpb.GetAllResourceTypeInfoRequestProto{}
		}, r.getResourceTypeInfo),
		"getResourceProfiles": ipc.Unary(func() *yarnpb.GetAllResourceProfilesRequestProto {
			return &yarnpb.GetAllResourceProfilesRequestProto{}
		}, func(context.Context, *ipc.ServerCall, *yarnpb.GetAllResourceProfilesRequestProto) (proto.Message, error) {
			return nil, ipc.NewServerError(classFeatureNotEnabled, "Resource profile is not enabled, please enable resource profile feature before using its functions. (by setting yarn.resourcemanager.resource-profiles.enabled to true)")
		}),
		"getApplicationAttempts": ipc.Unary(func() *yarnpb.GetApplicationAttemptsRequestProto {
			return &yarnpb.GetApplicationAttemptsRequestProto{}
		}, r.getApplicationAttempts),
		"getApplicationAttemptReport": ipc.Unary(func() *yarnpb.GetApplicationAttemptReportRequestProto {
			return &yarnpb.GetApplicationAttemptReportRequestProto{}
		}, r.getApplicationAttemptReport),
		"getDelegationToken": ipc.Unary(func() *commonpb.GetDelegationTokenRequestProto { return &commonpb.GetDelegationTokenRequestProto{} }, r.getDelegationToken),
		"renewDelegationToken": ipc.Unary(func() *commonpb.RenewDelegationTokenRequestProto { return &commonpb.RenewDelegationTokenRequestProto{} },
			r.renewDelegationToken),
		"cancelDelegationToken": ipc.Unary(func() *commonpb.CancelDelegationTokenRequestProto {
			return &commonpb.CancelDelegationTokenRequestProto{}
		},
			r.cancelDelegationToken),
		"getClusterNodeLabels": ipc.Unary(func() *yarnpb.GetClusterNodeLabelsRequestProto { return &yarnpb.GetClusterNodeLabelsRequestProto{} },
			func(context.Context, *ipc.ServerCall, *yarnpb.GetClusterNodeLabelsRequestProto) (proto.Message, error) {
				return &yarnpb.GetClusterNodeLabelsResponseProto{}, nil
			}),
		"getNodeToLabels": ipc.Unary(func() *yarnpb.GetNodesToLabelsRequestProto { return &yarnpb.GetNodesToLabelsRequestProto{} },
			func(context.Context, *ipc.ServerCall, *yarnpb.GetNodesToLabelsRequestProto) (proto.Message, error) {
				return &yarnpb.GetNodesToLabelsResponseProto{}, nil
			}),
	}}
}

func (r *ResourceManager) getNewApplication(context.Context, *ipc.ServerCall, *yarnpb.GetNewApplicationRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.appSeq++
	id := yarn.ApplicationID{ClusterTimestamp: r.clusterTS, ID: r.appSeq}
	return &yarnpb.GetNewApplicationResponseProto{ApplicationId: yarn.AppIDToProto(id), MaximumCapability: yarn.ResourceToProto(r.maxAllocationLocked())}, nil
}

func (r *ResourceManager) submitApplication(ctx context.Context, call *ipc.ServerCall, req *yarnpb.SubmitApplicationRequestProto) (proto.Message, error) {
	sub := req.GetApplicationSubmissionContext()
	if sub == nil || sub.ApplicationId == nil {
		return nil, ipc.NewServerError(classAppIDNotProvided, "ApplicationIdNotProvidedException: application_id is not provided")
	}
	id := yarn.AppIDFromProto(sub.GetApplicationId())
	amResource, dup, err := r.checkSubmission(id, sub)
	if err != nil {
		return nil, err
	}
	if dup {
		return &yarnpb.SubmitApplicationResponseProto{}, nil // an earlier submission of the same application
	}
	// On a secure cluster the DelegationTokenRenewer renews the
	// application's tokens before it starts; a token that does not renew
	// rejects it. The calls to the NameNode run outside the RM's lock.
	rejected, rpcErr := r.addAppTokens(ctx, id, sub)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.apps[id] != nil {
		return &yarnpb.SubmitApplicationResponseProto{}, nil // submitted meanwhile
	}
	user := appUser(call)
	if user == "" {
		user = "dr.who"
	}
	app := &rmApp{id: id, sub: proto.Clone(sub).(*yarnpb.ApplicationSubmissionContextProto), user: user,
		queueName: sub.GetQueue(), name: sub.GetApplicationName(), appType: sub.GetApplicationType(),
		tags: append([]string(nil), sub.GetApplicationTags()...), priority: sub.GetPriority().GetPriority(),
		unmanaged: sub.GetUnmanagedAm(), keep: sub.GetKeepContainersAcrossApplicationAttempts(),
		submitTime: time.Now(), nodesUsed: map[yarn.NodeID]bool{}, amResource: amResource}
	app.startTime = app.submitTime
	app.maxAttempts = int(sub.GetMaxAppAttempts())
	if app.maxAttempts <= 0 || app.maxAttempts > r.opts.MaxAttempts {
		app.maxAttempts = r.opts.MaxAttempts
	}
	r.apps[id] = app
	r.appOrder = append(r.appOrder, app)
	if rejected != "" {
		// RMAppEventType.APP_REJECTED: FAILED with the renewer's message.
		app.state, app.final = yarn.StateFailed, yarn.FinalFailed
		app.diagnostics = rejected
		app.finishTime = time.Now()
		if rpcErr != nil {
			return nil, rpcErr
		}
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	q := r.queueByNm[app.queueName]
	if q == nil {
		app.state, app.final = yarn.StateFailed, yarn.FinalFailed
		app.diagnostics = fmt.Sprintf("Application %s submitted by user %s to unknown queue: %s", id, user, app.queueName)
		app.finishTime = time.Now()
		r.appTokensDoneLocked(app)
		r.lg.Info().Stringer("app_id", id).Str("queue", app.queueName).Msg("application rejected: unknown queue")
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	if q.stopped {
		// CapacityScheduler.addApplication: the queue refuses it.
		app.state, app.final = yarn.StateFailed, yarn.FinalFailed
		app.diagnostics = fmt.Sprintf("Queue root.%s is STOPPED. Cannot accept submission of application: %s", q.name, id)
		app.finishTime = time.Now()
		r.appTokensDoneLocked(app)
		r.lg.Info().Stringer("app_id", id).Str("queue", q.name).Msg("application rejected: queue stopped")
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	app.queue = q
	q.apps = append(q.apps, app)
	q.submitted++
	r.startAttemptLocked(app)
	r.lg.Info().Stringer("app_id", id).Str("user", user).Str("queue", q.name).Msg("application submitted")
	return &yarnpb.SubmitApplicationResponseProto{}, nil
}

// checkSubmission is what RMAppManager checks before it creates the
// application: dup reports an earlier submission of the same id (the
// answer is success), and the AM resource must fit; it returns the
// normalized AM resource.
func (r *ResourceManager) checkSubmission(id yarn.ApplicationID, sub *yarnpb.ApplicationSubmissionContextProto) (amResource yarn.Resource, dup bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.apps[id] != nil {
		return amResource, true, nil
	}
	if sub.GetUnmanagedAm() {
		return amResource, false, nil
	}
	var amRes *yarnpb.ResourceProto
	if rr := sub.GetAmContainerResourceRequest(); len(rr) > 0 {
		amRes = rr[0].GetCapability()
	} else {
		amRes = sub.GetResource()
	}
	if amRes == nil {
		return amResource, false, ipc.NewServerError(classInvalidResourceRequest, "Invalid resource request, no resources requested")
	}
	res := yarn.ResourceFromProto(amRes)
	if err := r.validateResource(res); err != nil {
		return amResource, false, err
	}
	return r.normalize(res), false, nil
}

func (r *ResourceManager) getApplicationReport(_ context.Context, _ *ipc.ServerCall, req *yarnpb.GetApplicationReportRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := yarn.AppIDFromProto(req.GetApplicationId())
	app := r.apps[id]
	if app == nil {
		return nil, ipc.NewServerError(classApplicationNotFound, "Application with id '%s' doesn't exist in RM. Please check that the job submission was successful.", id)
	}
	return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: r.appReportLocked(app)}, nil
}

func (r *ResourceManager) forceKillApplication(_ context.Context, call *ipc.ServerCall, req *yarnpb.KillApplicationRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := yarn.AppIDFromProto(req.GetApplicationId())
	app := r.apps[id]
	if app == nil {
		return nil, ipc.NewServerError(classApplicationNotFound, "Trying to kill an absent application %s", id)
	}
	if app.state.Terminal() {
		return &yarnpb.KillApplicationResponseProto{IsKillCompleted: proto.Bool(true)}, nil
	}
	host := ""
	if call.RemoteAddr != nil {
		host, _, _ = net.SplitHostPort(call.RemoteAddr.String())
	}
	msg := fmt.Sprintf("Application %s was killed by user %s at %s", id, appUser(call), host)
	if req.Diagnostics != nil {
		msg += " with diagnostic message: " + req.GetDiagnostics()
	}
	r.killAppLocked(app, msg)
	// The kill is dispatched; the client asks again until it is complete.
	return &yarnpb.KillApplicationResponseProto{IsKillCompleted: proto.Bool(false)}, nil
}

func (r *ResourceManager) getApplications(_ context.Context, _ *ipc.ServerCall, req *yarnpb.GetApplicationsRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lower := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = strings.ToLower(strings.TrimSpace(s))
		}
		return out
	}
	types, queues, tags := lower(req.GetApplicationTypes()), req.GetQueues(), lower(req.GetApplicationTags())
	resp := &yarnpb.GetApplicationsResponseProto{}
	for _, app := range r.appOrder {
		if len(types) > 0 && !slices.Contains(types, strings.ToLower(orDefault(app.appType, "YARN"))) {
			continue
		}
		if st := req.GetApplicationStates(); len(st) > 0 && !slices.Contains(st, yarnpb.YarnApplicationStateProto(app.state)) {
			continue
		}
		if us := req.GetUsers(); len(us) > 0 && !slices.Contains(us, app.user) {
			continue
		}
		if len(queues) > 0 && !slices.Contains(queues, app.queueName) {
			continue
		}
		if req.StartBegin != nil && msOf(app.startTime) < req.GetStartBegin() || req.StartEnd != nil && msOf(app.startTime) > req.GetStartEnd() {
			continue
		}
		if req.FinishBegin != nil && msOf(app.finishTime) < req.GetFinishBegin() || req.FinishEnd != nil && msOf(app.finishTime) > req.GetFinishEnd() {
			continue
		}
		if len(tags) > 0 && !slices.ContainsFunc(app.tags, func(t string) bool { return slices.Contains(tags, strings.ToLower(t)) }) {
			continue
		}
		if req.Name != nil && app.name != req.GetName() {
			continue
		}
		resp.Applications = append(resp.Applications, r.appReportLocked(app))
		if req.Limit != nil && req.GetLimit() > 0 && int64(len(resp.Applications)) >= req.GetLimit() {
			break
		}
	}
	return resp, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// appReportLocked is RMAppImpl.createAndGetApplicationReport, field for
// field as the 3.3.6 captures show it.
func (r *ResourceManager) appReportLocked(app *rmApp) *yarnpb.ApplicationReportProto {
	att := app.current()
	rep := &yarnpb.ApplicationReportProto{
		ApplicationId:          yarn.AppIDToProto(app.id),
		User:                   proto.String(app.user),
		Queue:                  proto.String(app.queueName),
		Name:                   proto.String(orDefault(app.name, "N/A")),
		Host:                   proto.String("N/A"),
		RpcPort:                proto.Int32(-1),
		YarnApplicationState:   yarnpb.YarnApplicationStateProto(app.state).Enum(),
		TrackingUrl:            proto.String(fmt.Sprintf("%s/proxy/%s/", r.trackingBase(), app.id)),
		Diagnostics:            proto.String(app.diagnostics),
		StartTime:              proto.Int64(msOf(app.startTime)),
		FinishTime:             proto.Int64(msOf(app.finishTime)),
		FinalApplicationStatus: yarnpb.FinalApplicationStatusProto(app.final).Enum(),
		OriginalTrackingUrl:    proto.String(orDefault(app.origTrackingURL, "N/A")),
		Progress:               proto.Float32(app.progress),
		ApplicationType:        proto.String(orDefault(app.appType, "YARN")),
		ApplicationTags:        app.tags,
		LogAggregationStatus:   yarnpb.LogAggregationStatusProto_LOG_DISABLED.Enum(),
		UnmanagedApplication:   proto.Bool(app.unmanaged),
		Priority:               &yarnpb.PriorityProto{Priority: proto.Int32(app.priority)},
		AppNodeLabelExpression: proto.String("<Not set>"),
		AmNodeLabelExpression:  proto.String("<DEFAULT_PARTITION>"),
		AppTimeouts: []*yarnpb.AppTimeoutsMapProto{{
			ApplicationTimeoutType: yarnpb.ApplicationTimeoutTypeProto_APP_TIMEOUT_LIFETIME.Enum(),
			ApplicationTimeout: &yarnpb.ApplicationTimeoutProto{ApplicationTimeoutType: yarnpb.ApplicationTimeoutTypeProto_APP_TIMEOUT_LIFETIME.Enum(),
				ExpireTime: proto.String("UNLIMITED"), RemainingTime: proto.Int64(-1)},
		}},
		LaunchTime: proto.Int64(msOf(app.launchTime)),
		SubmitTime: proto.Int64(msOf(app.submitTime)),
	}
	if app.unmanaged {
		rep.AmNodeLabelExpression = nil
	}
	if att != nil {
		rep.CurrentApplicationAttemptId = yarn.AttemptIDToProto(att.id)
		if (app.state == yarn.StateRunning || app.state == yarn.StateFinished) && att.state >= attRunning {
			rep.Host, rep.RpcPort = proto.String(att.host), proto.Int32(att.rpcPort)
		}
		if app.unmanaged && att.live() {
			rep.AmRmToken = att.token.Proto()
		}
	}
	if app.state == yarn.StateKilled || app.state == yarn.StateFailed {
		rep.TrackingUrl = proto.String(fmt.Sprintf("%s/cluster/app/%s", r.trackingBase(), app.id))
		rep.OriginalTrackingUrl = rep.TrackingUrl
	}
	usage := &yarnpb.ApplicationResourceUsageReportProto{
		MemorySeconds: proto.Int64(app.memorySeconds), VcoreSeconds: proto.Int64(app.vcoreSeconds),
		PreemptedMemorySeconds: proto.Int64(0), PreemptedVcoreSeconds: proto.Int64(0),
		ApplicationResourceUsageMap: []*yarnpb.StringLongMapProto{
			{Key: proto.String("memory-mb"), Value: proto.Int64(app.memorySeconds)},
			{Key: proto.String("vcores"), Value: proto.Int64(app.vcoreSeconds)}},
		ApplicationPreemptedResourceUsageMap: []*yarnpb.StringLongMapProto{
			{Key: proto.String("memory-mb"), Value: proto.Int64(0)}, {Key: proto.String("vcores"), Value: proto.Int64(0)}},
	}
	if app.state.Terminal() {
		none := yarn.Resource{MemoryMB: -1, VCores: -1}
		usage.NumUsedContainers, usage.NumReservedContainers = proto.Int32(-1), proto.Int32(-1)
		usage.UsedResources, usage.ReservedResources, usage.NeededResources = yarn.ResourceToProto(none), yarn.ResourceToProto(none), yarn.ResourceToProto(none)
	} else {
		usage.NumUsedContainers, usage.NumReservedContainers = proto.Int32(int32(app.numContainers)), proto.Int32(0)
		usage.UsedResources, usage.ReservedResources = yarn.ResourceToProto(app.used), yarn.ResourceToProto(yarn.Resource{})
		needed := app.used
		if att != nil {
			_, p := att.pending()
			needed = addRes(needed, p)
		}
		usage.NeededResources = yarn.ResourceToProto(needed)
		if cl := r.clusterResourceLocked(); cl.MemoryMB > 0 {
			pct := float32(float64(app.used.MemoryMB) / float64(cl.MemoryMB) * 100)
			usage.ClusterUsagePercentage = proto.Float32(pct)
			if app.queue != nil && app.queue.capacity > 0 {
				usage.QueueUsagePercentage = proto.Float32(float32(float64(pct) / app.queue.capacity))
			}
		}
	}
	rep.AppResource_Usage = usage
	return rep
}

func (r *ResourceManager) getClusterMetrics(context.Context, *ipc.ServerCall, *yarnpb.GetClusterMetricsRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m struct{ active, lost, unhealthy int32 }
	for _, n := range r.nodeOrder {
		switch n.state {
		case yarn.NodeRunning:
			m.active++
		case yarn.NodeLost:
			m.lost++
		case yarn.NodeUnhealthy:
			m.unhealthy++
		}
	}
	zero := proto.Int32(0)
	return &yarnpb.GetClusterMetricsResponseProto{ClusterMetrics: &yarnpb.YarnClusterMetricsProto{
		NumNodeManagers: proto.Int32(m.active + m.unhealthy), NumDecommissionedNms: zero, NumActiveNms: proto.Int32(m.active),
		NumLostNms: proto.Int32(m.lost), NumUnhealthyNms: proto.Int32(m.unhealthy), NumRebootedNms: zero, NumDecommissioningNms: zero, NumShutdownNms: zero,
	}}, nil
}

func (r *ResourceManager) nodeReportLocked(n *rmNode) *yarnpb.NodeReportProto {
	rep := &yarnpb.NodeReportProto{
		NodeId:               yarn.NodeIDToProto(n.id),
		HttpAddress:          proto.String(n.httpAddress()),
		RackName:             proto.String(n.rack),
		Used:                 yarn.ResourceToProto(n.used),
		Capability:           yarn.ResourceToProto(n.capability),
		NodeState:            yarnpb.NodeStateProto(n.state).Enum(),
		HealthReport:         proto.String(n.healthReport),
		LastHealthReportTime: proto.Int64(msOf(n.lastHealthAt)),
	}
	if k := len(n.containers); k > 0 {
		rep.NumContainers = proto.Int32(int32(k))
	}
	return rep
}

func (r *ResourceManager) getClusterNodes(_ context.Context, _ *ipc.ServerCall, req *yarnpb.GetClusterNodesRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resp := &yarnpb.GetClusterNodesResponseProto{}
	for _, n := range r.nodeOrder {
		if st := req.GetNodeStates(); len(st) > 0 && !slices.Contains(st, yarnpb.NodeStateProto(n.state)) {
			continue
		}
		resp.NodeReports = append(resp.NodeReports, r.nodeReportLocked(n))
	}
	return resp, nil
}

func (r *ResourceManager) getQueueInfo(_ context.Context, _ *ipc.ServerCall, req *yarnpb.GetQueueInfoRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := strings.TrimPrefix(req.GetQueueName(), "root.")
	cluster := r.clusterResourceLocked()
	info := func(q *queue) *yarnpb.QueueInfoProto {
		cur := float32(0)
		if g := float64(cluster.MemoryMB) * q.capacity; g > 0 {
			cur = float32(float64(q.used.MemoryMB) / g)
		}
		var running, pending int64
		var pendMem, pendV, pendC int64
		var apps []*yarnpb.ApplicationReportProto
		for _, a := range q.apps {
			if a.state == yarn.StateRunning {
				running++
			} else {
				pending++
			}
			if att := a.current(); att != nil {
				n, p := att.pending()
				pendC += int64(n)
				pendMem += p.MemoryMB
				pendV += int64(p.VCores)
			}
			if req.GetIncludeApplications() {
				apps = append(apps, r.appReportLocked(a))
			}
		}
		var containers int64
		for _, n := range r.nodeOrder {
			for _, c := range n.containers {
				if c.app.queue == q {
					containers++
				}
			}
		}
		avail := nonNegative(subRes(scaleRes(cluster, q.maxCapacity), q.used))
		return &yarnpb.QueueInfoProto{
			QueueName: proto.String(q.name), Capacity: proto.Float32(float32(q.capacity)), MaximumCapacity: proto.Float32(float32(q.maxCapacity)),
			CurrentCapacity: proto.Float32(cur), State: queueState(q), Applications: apps,
			AccessibleNodeLabels: []string{"*"},
			QueueStatistics: &yarnpb.QueueStatisticsProto{
				NumAppsSubmitted: proto.Int64(int64(q.submitted)), NumAppsRunning: proto.Int64(running), NumAppsPending: proto.Int64(pending),
				NumAppsCompleted: proto.Int64(int64(q.completed)), NumAppsKilled: proto.Int64(int64(q.killed)), NumAppsFailed: proto.Int64(int64(q.failed)),
				NumActiveUsers: proto.Int64(0), AvailableMemoryMB: proto.Int64(avail.MemoryMB), AllocatedMemoryMB: proto.Int64(q.used.MemoryMB),
				PendingMemoryMB: proto.Int64(pendMem), ReservedMemoryMB: proto.Int64(0), AvailableVCores: proto.Int64(int64(avail.VCores)),
				AllocatedVCores: proto.Int64(int64(q.used.VCores)), PendingVCores: proto.Int64(pendV), ReservedVCores: proto.Int64(0),
				AllocatedContainers: proto.Int64(containers), PendingContainers: proto.Int64(pendC), ReservedContainers: proto.Int64(0),
			},
			PreemptionDisabled: proto.Bool(true), IntraQueuePreemptionDisabled: proto.Bool(true), QueuePath: proto.String("root." + q.name),
		}
	}
	if name == "root" {
		root := &yarnpb.QueueInfoProto{QueueName: proto.String("root"), Capacity: proto.Float32(1), MaximumCapacity: proto.Float32(1),
			State: yarnpb.QueueStateProto_Q_RUNNING.Enum(), AccessibleNodeLabels: []string{"*"}, QueuePath: proto.String("root")}
		if req.GetIncludeChildQueues() {
			for _, q := range r.queues {
				root.ChildQueues = append(root.ChildQueues, info(q))
			}
		}
		return &yarnpb.GetQueueInfoResponseProto{QueueInfo: root}, nil
	}
	q := r.queueByNm[name]
	if q == nil {
		return nil, ipc.NewServerError(ipc.ClassIOException, "Unknown queue: %s", req.GetQueueName())
	}
	return &yarnpb.GetQueueInfoResponseProto{QueueInfo: info(q)}, nil
}

func (r *ResourceManager) getQueueUserAcls(context.Context, *ipc.ServerCall, *yarnpb.GetQueueUserAclsInfoRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	acls := []yarnpb.QueueACLProto{yarnpb.QueueACLProto_QACL_SUBMIT_APPLICATIONS, yarnpb.QueueACLProto_QACL_ADMINISTER_QUEUE}
	resp := &yarnpb.GetQueueUserAclsInfoResponseProto{QueueUserAcls: []*yarnpb.QueueUserACLInfoProto{{QueueName: proto.String("root"), UserAcls: acls}}}
	for _, q := range r.queues {
		resp.QueueUserAcls = append(resp.QueueUserAcls, &yarnpb.QueueUserACLInfoProto{QueueName: proto.String("root." + q.name), UserAcls: acls})
	}
	return resp, nil
}

func (r *ResourceManager) getResourceTypeInfo(context.Context, *ipc.ServerCall, *yarnpb.GetAllResourceTypeInfoRequestProto) (proto.Message, error) {
	return &yarnpb.GetAllResourceTypeInfoResponseProto{ResourceTypeInfo: []*yarnpb.ResourceTypeInfoProto{
		{Name: proto.String("memory-mb"), Units: proto.String("Mi"), Type: yarnpb.ResourceTypesProto_COUNTABLE.Enum()},
		{Name: proto.String("vcores"), Units: proto.String(""), Type: yarnpb.ResourceTypesProto_COUNTABLE.Enum()},
	}}, nil
}

var attemptStateProto = map[attemptState]yarnpb.YarnApplicationAttemptStateProto{
	attScheduled: yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_SCHEDULED,
	attAllocated: yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_ALLOCATED,
	attLaunched:  yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_LAUNCHED,
	attRunning:   yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_RUNNING,
	attFinishing: yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_FINISHING,
	attFinished:  yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_FINISHED,
	attFailed:    yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_FAILED,
	attKilled:    yarnpb.YarnApplicationAttemptStateProto_APP_ATTEMPT_KILLED,
}

func (r *ResourceManager) attemptReportLocked(att *rmAttempt) *yarnpb.ApplicationAttemptReportProto {
	rep := &yarnpb.ApplicationAttemptReportProto{
		ApplicationAttemptId:        yarn.AttemptIDToProto(att.id),
		Host:                        proto.String(orDefault(att.host, "N/A")),
		RpcPort:                     proto.Int32(att.rpcPort),
		TrackingUrl:                 proto.String(fmt.Sprintf("%s/proxy/%s/", r.trackingBase(), att.app.id)),
		OriginalTrackingUrl:         proto.String(orDefault(att.trackingURL, "N/A")),
		Diagnostics:                 proto.String(att.diagnostics),
		YarnApplicationAttemptState: attemptStateProto[att.state].Enum(),
	}
	if att.amContainer != nil {
		rep.AmContainerId = yarn.ContainerIDToProto(att.amContainer.id)
	}
	return rep
}

func (r *ResourceManager) getApplicationAttempts(_ context.Context, _ *ipc.ServerCall, req *yarnpb.GetApplicationAttemptsRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := yarn.AppIDFromProto(req.GetApplicationId())
	app := r.apps[id]
	if app == nil {
		return nil, ipc.NewServerError(classApplicationNotFound, "Application with id '%s' doesn't exist in RM. Please check that the job submission was successful.", id)
	}
	resp := &yarnpb.GetApplicationAttemptsResponseProto{}
	for _, a := range app.attempts {
		resp.ApplicationAttempts = append(resp.ApplicationAttempts, r.attemptReportLocked(a))
	}
	return resp, nil
}

func (r *ResourceManager) getApplicationAttemptReport(_ context.Context, _ *ipc.ServerCall, req *yarnpb.GetApplicationAttemptReportRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := yarn.AttemptIDFromProto(req.GetApplicationAttemptId())
	if app := r.apps[id.App]; app != nil {
		for _, a := range app.attempts {
			if a.id == id {
				return &yarnpb.GetApplicationAttemptReportResponseProto{ApplicationAttemptReport: r.attemptReportLocked(a)}, nil
			}
		}
		return nil, ipc.NewServerError(excPrefix+"ApplicationAttemptNotFoundException", "ApplicationAttempt with id '%s' doesn't exist in RM.", id)
	}
	return nil, ipc.NewServerError(classApplicationNotFound, "Application with id '%s' doesn't exist in RM. Please check that the job submission was successful.", id.App)
}

func queueState(q *queue) *yarnpb.QueueStateProto {
	if q.stopped {
		return yarnpb.QueueStateProto_Q_STOPPED.Enum()
	}
	return yarnpb.QueueStateProto_Q_RUNNING.Enum()
}
