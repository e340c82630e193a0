package minicluster

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// Java exception classes of the YARN protocols (org.apache.hadoop.yarn.exceptions).
const (
	excPrefix                = "org.apache.hadoop.yarn.exceptions."
	classAMNotRegistered     = excPrefix + "ApplicationMasterNotRegisteredException"
	classInvalidAMRequest    = excPrefix + "InvalidApplicationMasterRequestException"
	classAttemptNotFound     = excPrefix + "ApplicationAttemptNotFoundException"
	classInvalidRelease      = excPrefix + "InvalidContainerReleaseException"
	classInvalidBlacklist    = excPrefix + "InvalidResourceBlacklistRequestException"
	classApplicationNotFound = excPrefix + "ApplicationNotFoundException"
	classAppIDNotProvided    = excPrefix + "ApplicationIdNotProvidedException"
	classFeatureNotEnabled   = excPrefix + "YARNFeatureNotEnabledException"
	classYarnException       = excPrefix + "YarnException"
)

// amService is ApplicationMasterService: registerApplicationMaster,
// allocate and finishApplicationMaster, for callers authenticated with an
// AMRMToken (the token's user is the attempt id).
func (r *ResourceManager) amService() *ipc.Service {
	return &ipc.Service{Version: 1, Methods: map[string]ipc.Handler{
		"registerApplicationMaster": ipc.Unary(func() *yarnpb.RegisterApplicationMasterRequestProto {
			return &yarnpb.RegisterApplicationMasterRequestProto{}
		}, r.registerApplicationMaster),
		"allocate": ipc.Unary(func() *yarnpb.AllocateRequestProto { return &yarnpb.AllocateRequestProto{} }, r.allocate),
		"finishApplicationMaster": ipc.Unary(func() *yarnpb.FinishApplicationMasterRequestProto {
			return &yarnpb.FinishApplicationMasterRequestProto{}
		}, r.finishApplicationMaster),
	}}
}

// callerAttemptLocked finds the attempt the caller's AMRMToken names.
func (r *ResourceManager) callerAttemptLocked(call *ipc.ServerCall) (yarn.AttemptID, *rmAttempt, error) {
	id, err := yarn.ParseAttemptID(call.User)
	if err != nil {
		return id, nil, &ipc.ServerError{Class: ipc.ClassAccessControl, Message: "No AMRMToken found for user " + call.User}
	}
	app := r.apps[id.App]
	if app == nil {
		return id, nil, nil
	}
	for _, a := range app.attempts {
		if a.id == id {
			return id, a, nil
		}
	}
	return id, nil, nil
}

func (r *ResourceManager) registerApplicationMaster(_ context.Context, call *ipc.ServerCall, req *yarnpb.RegisterApplicationMasterRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, att, err := r.callerAttemptLocked(call)
	if err != nil {
		return nil, err
	}
	if att == nil || !att.live() {
		return nil, ipc.NewServerError(classInvalidAMRequest, "Application doesn't exist in cache %s", id)
	}
	if att.registered {
		return nil, ipc.NewServerError(classInvalidAMRequest, "Application Master is already registered : %s", id.App)
	}
	first := att.state < attRunning
	r.registerLocked(att, req.GetHost(), req.GetRpcPort(), req.GetTrackingUrl())
	r.lg.Info().Stringer("attempt_id", id).Str("host", req.GetHost()).Msg("application master registered")
	app := att.app
	resp := &yarnpb.RegisterApplicationMasterResponseProto{
		MaximumCapability:      yarn.ResourceToProto(r.maxAllocationLocked()),
		Queue:                  proto.String(app.queueName),
		SchedulerResourceTypes: []yarnpb.SchedulerResourceTypes{yarnpb.SchedulerResourceTypes_MEMORY},
		ResourceTypes: []*yarnpb.ResourceTypeInfoProto{
			{Name: proto.String("memory-mb"), Units: proto.String("Mi"), Type: yarnpb.ResourceTypesProto_COUNTABLE.Enum()},
			{Name: proto.String("vcores"), Units: proto.String(""), Type: yarnpb.ResourceTypesProto_COUNTABLE.Enum()},
		},
	}
	if r.opts.DominantResources {
		resp.SchedulerResourceTypes = append(resp.SchedulerResourceTypes, yarnpb.SchedulerResourceTypes_CPU)
	}
	resp.Application_ACLs = app.sub.GetAmContainerSpec().GetApplication_ACLs()
	if first && app.keep && att.id.Attempt > 1 {
		// The containers earlier attempts left running, with NMTokens for
		// their nodes (ApplicationMasterService.registerApplicationMaster).
		for _, c := range r.appContainersLocked(app) {
			if c.am || c.id.Attempt == att.id {
				continue
			}
			resp.ContainersFromPreviousAttempts = append(resp.ContainersFromPreviousAttempts, containerProto(c))
			if !att.nmTokenNodes[c.node.id] {
				att.nmTokenNodes[c.node.id] = true
				resp.NmTokensFromPreviousAttempts = append(resp.NmTokensFromPreviousAttempts, &yarnpb.NMTokenProto{
					NodeId: yarn.NodeIDToProto(c.node.id), Token: createNMToken(r.nmKeys.cur(), att.id, c.node.id, app.user).Proto()})
			}
		}
	}
	return resp, nil
}

func (r *ResourceManager) allocate(_ context.Context, call *ipc.ServerCall, req *yarnpb.AllocateRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, att, err := r.callerAttemptLocked(call)
	if err != nil {
		return nil, err
	}
	if att == nil || !att.live() {
		return nil, ipc.NewServerError(classAttemptNotFound, "Application attempt %s doesn't exist in ApplicationMasterService cache.", id)
	}
	att.lastPing = time.Now()
	if !att.registered {
		return nil, ipc.NewServerError(classAMNotRegistered,
			"AM is not registered for known application attempt: %s or RM had restarted after AM registered.  AM should re-register.", id)
	}
	last := att.lastResponse.GetResponseId()
	switch {
	case req.GetResponseId()+1 == last:
		return proto.Clone(att.lastResponse), nil // a repeat of the last heartbeat
	case req.GetResponseId()+1 < last:
		return nil, ipc.NewServerError(classInvalidAMRequest,
			"Invalid responseId in AllocateRequest from application attempt: %s, expect responseId to be %d", id, last+1)
	}
	app := att.app
	// Validate everything before changing anything (DefaultAMSProcessor.allocate).
	for _, h := range req.GetBlacklistRequest().GetBlacklistAdditions() {
		if h == anyHost {
			return nil, ipc.NewServerError(classInvalidBlacklist, "Cannot add * to the blacklist!")
		}
	}
	for _, a := range req.GetAsk() {
		if err := r.validateResource(yarn.ResourceFromProto(a.GetCapability())); err != nil {
			r.lg.Warn().Err(err).Stringer("attempt_id", id).Msg("invalid resource ask")
			return nil, err
		}
	}
	for _, p := range req.GetRelease() {
		cid := yarn.ContainerIDFromProto(p)
		if cid.Attempt.App != app.id {
			return nil, ipc.NewServerError(classInvalidRelease, "Cannot release container : %s not belonging to this application attempt : %s", cid, id)
		}
	}
	r.updateAsksLocked(att, req.GetAsk())
	for _, p := range req.GetRelease() {
		if c := r.containers[yarn.ContainerIDFromProto(p)]; c != nil && c.app == app && !c.am {
			c.node.toKill = append(c.node.toKill, c.id)
			r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitAborted, "Container released by application"))
		}
	}
	if bl := req.GetBlacklistRequest(); bl != nil {
		for _, h := range bl.GetBlacklistAdditions() {
			att.blacklist[h] = true
		}
		for _, h := range bl.GetBlacklistRemovals() {
			delete(att.blacklist, h)
		}
	}
	if req.Progress != nil {
		app.progress = min(max(req.GetProgress(), 0), 1)
	}
	if req.TrackingUrl != nil {
		att.trackingURL = req.GetTrackingUrl()
		app.origTrackingURL = att.trackingURL
	}
	resp := &yarnpb.AllocateResponseProto{ResponseId: proto.Int32((last + 1) & 0x7fffffff)}
	r.pullAllocatedLocked(att, resp)
	resp.CompletedContainerStatuses, att.justFinished = att.justFinished, nil
	resp.UpdatedNodes, att.updatedNodes = att.updatedNodes, nil
	resp.Limit = yarn.ResourceToProto(r.headroomLocked(app))
	resp.NumClusterNodes = proto.Int32(int32(r.activeNodesLocked()))
	resp.ApplicationPriority = &yarnpb.PriorityProto{Priority: proto.Int32(app.priority)}
	// A rolled AMRM key: hand the AM a token signed with the new one.
	if id, err := yarn.ParseAMRMTokenIdentifier(att.token.Identifier); err == nil && id.KeyID != r.amrm.keys.cur().id {
		att.token = r.amrm.createToken(att.id)
		resp.AmRmToken = att.token.Proto()
	}
	att.lastResponse = resp
	return proto.Clone(resp), nil
}

func (r *ResourceManager) finishApplicationMaster(_ context.Context, call *ipc.ServerCall, req *yarnpb.FinishApplicationMasterRequestProto) (proto.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, att, err := r.callerAttemptLocked(call)
	if err != nil {
		return nil, err
	}
	app := r.apps[id.App]
	if app != nil && app.state.Terminal() && (app.finishCalls > 0 || app.state != yarn.StateFinished) {
		app.finishCalls++
		return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(true)}, nil
	}
	if att == nil || !att.live() {
		return nil, ipc.NewServerError(classInvalidAMRequest, "Application doesn't exist in cache %s", id)
	}
	if !att.registered {
		return nil, ipc.NewServerError(classAMNotRegistered, "Application Master is trying to unregister before registering for: %s", id.App)
	}
	att.lastPing = time.Now()
	if att.state == attFinishing {
		app.finishCalls++
		return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(true)}, nil
	}
	// The first call starts unregistration (FINAL_SAVING, then FINISHING)
	// and answers false; once the final state is stored the next answers true.
	att.state = attFinishing
	app.finishCalls++
	att.asks = map[schedKey]map[string]*ask{}
	if req.TrackingUrl != nil && req.GetTrackingUrl() != "" {
		app.origTrackingURL = req.GetTrackingUrl()
	}
	app.state = yarn.StateFinished
	app.final = yarn.FinalStatus(req.GetFinalApplicationStatus())
	app.diagnostics = req.GetDiagnostics()
	app.finishTime = time.Now()
	app.progress = 1
	if app.queue != nil {
		app.queue.completed++
	}
	r.lg.Info().Stringer("attempt_id", id).Stringer("final_status", app.final).Str("diagnostics", diagnosticsSummary(app.diagnostics)).Msg("application master unregistered")
	if app.unmanaged {
		r.finishAttemptLocked(att)
	}
	return &yarnpb.FinishApplicationMasterResponseProto{IsUnregistered: proto.Bool(false)}, nil
}
