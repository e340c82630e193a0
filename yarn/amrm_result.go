package yarn

import (
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// What one allocate heartbeat brings back: AllocateResult and how an
// AllocateResponseProto is folded into it and into the client's state.

// AMCommand is AMCommandProto: an order old RMs (before 2.6) gave in an
// allocate response.
type AMCommand int32

// AM commands.
const (
	AMCommandNone     AMCommand = 0
	AMCommandResync   AMCommand = 1 // AM_RESYNC: register again and resend everything
	AMCommandShutdown AMCommand = 2 // AM_SHUTDOWN: the attempt is over
)

// Preemption is the RM's notice that it is about to take containers back.
type Preemption struct {
	// Strict lists containers the RM will preempt whatever the AM does.
	Strict []ContainerID
	// Contract lists containers the RM will preempt unless the AM frees
	// Resources some other way.
	Contract  []ContainerID
	Resources []ResourceAsk
}

// AllocateResult is what one Allocate brought.
type AllocateResult struct {
	// Allocated are new containers, each matched to (and consuming) an
	// outstanding request. Start them before their container token
	// expires, or release them.
	Allocated []Container
	// Excess are containers the RM allocated beyond what was outstanding
	// (a request was withdrawn, or already satisfied, while a heartbeat
	// was in flight). The client releases them with the next Allocate;
	// they later appear in Completed with ExitAborted.
	Excess []Container
	// Completed reports each finished container once.
	Completed []ContainerStatus
	// UpdatedNodes are nodes whose state changed (e.g. lost, unhealthy).
	UpdatedNodes []NodeReport
	// Preemption is nil unless the RM plans to preempt.
	Preemption *Preemption
	// Headroom is what the application may still get (the response's limit).
	Headroom        Resource
	NumClusterNodes int32
	// NMTokens are the NMTokens that came with this response; they are
	// already in the client's NMTokens store.
	NMTokens []NMToken
	// AMRMToken is the new AMRMToken if the RM rolled its key; the client
	// uses it for new connections from now on.
	AMRMToken *ipc.Token
	// ApplicationPriority is the application's current priority.
	ApplicationPriority int32
	// PreviousAttemptContainers are containers of earlier attempts the RM
	// recovered after its restart (or reported at a re-registration).
	PreviousAttemptContainers []Container
	// Command is the AM command of the last response (old RMs only);
	// the client has acted on it already.
	Command AMCommand
	// Resynced reports that the client registered again during this call
	// (the RM restarted or failed over, or said AM_RESYNC) and resent every
	// outstanding request, release and blacklist entry.
	Resynced bool
}

// absorb folds an allocate response into res and the client's state; mu
// is held.
func (c *AMRMClient) absorb(resp *yarnpb.AllocateResponseProto, res *AllocateResult) {
	for _, t := range resp.GetNmTokens() {
		nt := nmTokenFromProto(t)
		c.nmt.Set(nt.Node, nt.Token)
		res.NMTokens = append(res.NMTokens, nt)
	}
	for _, p := range resp.GetAllocatedContainers() {
		ct := containerFromProto(p)
		if _, ok := c.asks.allocated(ct); ok {
			res.Allocated = append(res.Allocated, ct)
			continue
		}
		c.lg.Info().Stringer("container_id", ct.ID).Str("node", ct.Node.String()).Msg("releasing excess container nobody asked for")
		res.Excess = append(res.Excess, ct)
		c.releaseLocked(ct.ID)
	}
	for _, p := range resp.GetCompletedContainerStatuses() {
		st := containerStatusFromProto(p)
		delete(c.released, st.ID)
		res.Completed = append(res.Completed, st)
	}
	for _, p := range resp.GetUpdatedNodes() {
		res.UpdatedNodes = append(res.UpdatedNodes, nodeReportFromProto(p))
	}
	if p := resp.GetPreempt(); p != nil {
		pr := &Preemption{}
		for _, ct := range p.GetStrictContract().GetContainer() {
			pr.Strict = append(pr.Strict, ContainerIDFromProto(ct.GetId()))
		}
		for _, ct := range p.GetContract().GetContainer() {
			pr.Contract = append(pr.Contract, ContainerIDFromProto(ct.GetId()))
		}
		for _, r := range p.GetContract().GetResource() {
			pr.Resources = append(pr.Resources, resourceAskFromProto(r.GetResource()))
		}
		res.Preemption = pr
	}
	if resp.Limit != nil {
		res.Headroom = ResourceFromProto(resp.GetLimit())
	}
	res.NumClusterNodes = resp.GetNumClusterNodes()
	if resp.ApplicationPriority != nil {
		res.ApplicationPriority = resp.GetApplicationPriority().GetPriority()
	}
	for _, p := range resp.GetContainersFromPreviousAttempts() {
		res.PreviousAttemptContainers = append(res.PreviousAttemptContainers, containerFromProto(p))
	}
	if t := resp.GetAmRmToken(); t != nil {
		tok := ipc.TokenFromProto(t)
		c.token = tok
		c.f.setMechanisms(amrmMechanisms(tok, c.opts.QOPs))
		res.AMRMToken = tok
		c.lg.Info().Msg("ResourceManager rolled the AMRMToken; new connections use the new one")
	}
	res.Command = AMCommandNone
	if resp.AMCommand != nil { // unset reads as AM_RESYNC, the enum's first value
		res.Command = AMCommand(resp.GetAMCommand())
	}
}
