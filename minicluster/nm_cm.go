package minicluster

import (
	"context"
	"crypto/hmac"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// service is ContainerManagerImpl's startContainers, stopContainers and
// getContainerStatuses. The caller is authenticated by its NMToken; the
// token's user is the application attempt it was issued to.
func (n *NodeManager) service() *ipc.Service {
	return &ipc.Service{Version: 1, Methods: map[string]ipc.Handler{
		"startContainers": ipc.Unary(func() *yarnpb.StartContainersRequestProto { return &yarnpb.StartContainersRequestProto{} }, n.startContainers),
		"stopContainers":  ipc.Unary(func() *yarnpb.StopContainersRequestProto { return &yarnpb.StopContainersRequestProto{} }, n.stopContainers),
		"getContainerStatuses": ipc.Unary(func() *yarnpb.GetContainerStatusesRequestProto {
			return &yarnpb.GetContainerStatusesRequestProto{}
		}, n.getContainerStatuses),
	}}
}

func callerAttempt(call *ipc.ServerCall) (yarn.AttemptID, error) {
	id, err := yarn.ParseAttemptID(call.User)
	if err != nil {
		return id, ipc.NewServerError(classYarnException, "Unauthorized request: no NMToken found")
	}
	return id, nil
}

func (n *NodeManager) startContainers(_ context.Context, call *ipc.ServerCall, req *yarnpb.StartContainersRequestProto) (proto.Message, error) {
	caller, err := callerAttempt(call)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	registered := n.registered
	n.mu.Unlock()
	if !registered {
		return nil, ipc.NewServerError(excPrefix+"NMNotYetReadyException", "Rejecting new containers as NodeManager has not yet connected with ResourceManager")
	}
	resp := &yarnpb.StartContainersResponseProto{}
	for _, scr := range req.GetStartContainerRequest() {
		id, err := n.startContainer(caller, scr)
		if err != nil {
			se := err.(*ipc.ServerError)
			resp.FailedRequests = append(resp.FailedRequests, &yarnpb.ContainerExceptionMapProto{ContainerId: yarn.ContainerIDToProto(id),
				Exception: serializedException(se.Class, se.Message)})
			continue
		}
		resp.SucceededRequests = append(resp.SucceededRequests, yarn.ContainerIDToProto(id))
	}
	return resp, nil
}

// startContainer checks one request (verifyAndGetContainerTokenIdentifier,
// authorizeStartAndResourceIncreaseRequest) and starts the container.
func (n *NodeManager) startContainer(caller yarn.AttemptID, scr *yarnpb.StartContainerRequestProto) (yarn.ContainerID, error) {
	tok := scr.GetContainerToken()
	var tid yarnpb.ContainerTokenIdentifierProto
	if tok == nil || proto.Unmarshal(tok.GetIdentifier(), &tid) != nil || tid.ContainerId == nil {
		return yarn.ContainerID{}, ipc.NewServerError(ipc.ClassInvalidToken, "Invalid container token used for starting container on : %s", n.id)
	}
	id := yarn.ContainerIDFromProto(tid.GetContainerId())
	k, ok := n.ctKeys.byID(tid.GetMasterKeyId())
	if !ok || !hmac.Equal(k.password(tok.GetIdentifier()), tok.GetPassword()) {
		return id, ipc.NewServerError(ipc.ClassInvalidToken, "Invalid container token used for starting container on : %s", n.id)
	}
	if caller.App != id.Attempt.App {
		return id, ipc.NewServerError(classYarnException,
			"Unauthorized request to start container.\nNMToken for application attempt : %s was used for starting container with container token issued for application attempt : %s",
			caller, id.Attempt)
	}
	if now := time.Now().UnixMilli(); tid.GetExpiryTimeStamp() < now {
		return id, ipc.NewServerError(classYarnException,
			"Unauthorized request to start container.\nThis token is expired. current time is %d found %d\nNote: System times on machines may be out of sync. Check system time and time zones.",
			now, tid.GetExpiryTimeStamp())
	}
	if tid.GetNmHostAddr() != n.id.String() {
		return id, ipc.NewServerError(ipc.ClassInvalidToken, "Given Container %s identifier is not valid for current Node manager. Expected : %s Found : %s",
			id, n.id, tid.GetNmHostAddr())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running {
		return id, ipc.NewServerError(classYarnException, "NodeManager %s is shutting down", n.id)
	}
	if c := n.containers[id]; c != nil {
		if c.isDone() {
			return id, ipc.NewServerError(classYarnException, "Unauthorized request to start container.\n Attempt to relaunch the same container with id %s.", id)
		}
		return id, ipc.NewServerError(classYarnException, "Container %s already is running on this node!!", id)
	}
	user := tid.GetAppSubmitter()
	appDir := filepath.Join(n.localDir, "usercache", user, "appcache", id.Attempt.App.String())
	c := &container{n: n, id: id, user: user, resource: yarn.ResourceFromProto(tid.GetResource()), clc: scr.GetContainerLaunchContext(),
		workDir: filepath.Join(appDir, id.String()), logDir: filepath.Join(n.logDir, id.Attempt.App.String(), id.String()),
		done: make(chan struct{}), exitStatus: yarn.ExitInvalid}
	if c.clc == nil {
		c.clc = &yarnpb.ContainerLaunchContextProto{}
	}
	c.am = tid.GetContainerType() == yarnpb.ContainerTypeProto_APPLICATION_MASTER
	if n.simulates(c) {
		c.sim = make(chan int, 1)
	}
	n.containers[id] = c
	n.wg.Add(1)
	if c.sim != nil {
		go c.runSimulated()
	} else {
		go c.run()
	}
	n.lg.Debug().Stringer("container_id", id).Msg("container starting")
	return id, nil
}

// authorize is authorizeGetAndStopContainerRequest.
func (n *NodeManager) authorize(caller yarn.AttemptID, id yarn.ContainerID, stop bool) error {
	if caller.App == id.Attempt.App {
		return nil
	}
	if stop {
		return ipc.NewServerError(classYarnException, "%s attempted to stop non-application container : %s", caller, id)
	}
	return ipc.NewServerError(classYarnException, "%s attempted to get status for non-application container : %s", caller, id)
}

func (n *NodeManager) stopContainers(_ context.Context, call *ipc.ServerCall, req *yarnpb.StopContainersRequestProto) (proto.Message, error) {
	caller, err := callerAttempt(call)
	if err != nil {
		return nil, err
	}
	resp := &yarnpb.StopContainersResponseProto{}
	for _, p := range req.GetContainerId() {
		id := yarn.ContainerIDFromProto(p)
		fail := func(err error) {
			se := err.(*ipc.ServerError)
			resp.FailedRequests = append(resp.FailedRequests, &yarnpb.ContainerExceptionMapProto{ContainerId: p, Exception: serializedException(se.Class, se.Message)})
		}
		if err := n.authorize(caller, id, true); err != nil {
			fail(err)
			continue
		}
		n.mu.Lock()
		c := n.containers[id]
		n.mu.Unlock()
		if c == nil {
			fail(ipc.NewServerError(classYarnException, "Container %s is not handled by this NodeManager", id))
			continue
		}
		n.killContainer(c, yarn.ExitKilledByAppMaster, "Container killed by the ApplicationMaster.")
		resp.SucceededRequests = append(resp.SucceededRequests, p)
	}
	return resp, nil
}

func (n *NodeManager) getContainerStatuses(_ context.Context, call *ipc.ServerCall, req *yarnpb.GetContainerStatusesRequestProto) (proto.Message, error) {
	caller, err := callerAttempt(call)
	if err != nil {
		return nil, err
	}
	resp := &yarnpb.GetContainerStatusesResponseProto{}
	for _, p := range req.GetContainerId() {
		id := yarn.ContainerIDFromProto(p)
		if err := n.authorize(caller, id, false); err != nil {
			se := err.(*ipc.ServerError)
			resp.FailedRequests = append(resp.FailedRequests, &yarnpb.ContainerExceptionMapProto{ContainerId: p, Exception: serializedException(se.Class, se.Message)})
			continue
		}
		n.mu.Lock()
		c := n.containers[id]
		n.mu.Unlock()
		if c == nil {
			resp.FailedRequests = append(resp.FailedRequests, &yarnpb.ContainerExceptionMapProto{ContainerId: p,
				Exception: serializedException(classYarnException, fmt.Sprintf("Container %s is not handled by this NodeManager", id))})
			continue
		}
		resp.Status = append(resp.Status, c.status())
	}
	return resp, nil
}
