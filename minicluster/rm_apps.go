package minicluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// attemptState is RMAppAttemptState, reduced to what can be observed.
type attemptState int

const (
	attScheduled attemptState = iota // waiting for the AM container
	attAllocated                     // AM container allocated, launching
	attLaunched                      // AM container started, not registered
	attRunning                       // registered
	attFinishing                     // unregistered, AM container still running
	attFinished
	attFailed
	attKilled
)

var attemptStateNames = [...]string{"SCHEDULED", "ALLOCATED", "LAUNCHED", "RUNNING", "FINISHING", "FINISHED", "FAILED", "KILLED"}

func (s attemptState) String() string { return attemptStateNames[s] }

// rmApp is an application (RMAppImpl).
type rmApp struct {
	id          yarn.ApplicationID
	sub         *yarnpb.ApplicationSubmissionContextProto
	user        string
	queue       *queue
	queueName   string
	name        string
	appType     string
	tags        []string
	priority    int32
	unmanaged   bool
	keep        bool
	maxAttempts int

	state       yarn.AppState
	final       yarn.FinalStatus
	diagnostics string
	progress    float32
	// trackingURL and origTrackingURL are what the AM registered or
	// finished with.
	origTrackingURL string

	submitTime, startTime, launchTime, finishTime time.Time
	amResource                                    yarn.Resource

	attempts       []*rmAttempt
	failedAttempts int
	finishCalls    int
	nodesUsed      map[yarn.NodeID]bool

	used                        yarn.Resource
	numContainers               int
	memorySeconds, vcoreSeconds int64
}

func (a *rmApp) current() *rmAttempt {
	if len(a.attempts) == 0 {
		return nil
	}
	return a.attempts[len(a.attempts)-1]
}

// schedKey is the RM's SchedulerRequestKey as an AM can set it.
type schedKey struct {
	priority int32
	allocID  int64
}

func (k schedKey) less(o schedKey) bool {
	if k.priority != o.priority {
		return k.priority < o.priority
	}
	return k.allocID < o.allocID
}

// ask is one entry of an attempt's request table.
type ask struct {
	count      int32
	capability yarn.Resource
	relax      bool
}

// rmAttempt is an application attempt (RMAppAttemptImpl, plus its
// ApplicationMasterService and scheduler state).
type rmAttempt struct {
	id    yarn.AttemptID
	app   *rmApp
	state attemptState
	token *ipc.Token

	amContainer *rmContainer
	diagnostics string
	// activated: the scheduler took the attempt from its queue's pending
	// applications (scheduler_am.go); only then is its AM container
	// scheduled.
	activated bool

	registered   bool
	registeredAt time.Time // the last registration, kept across RM restarts
	lastResponse *yarnpb.AllocateResponseProto
	lastPing     time.Time
	host         string
	rpcPort      int32
	trackingURL  string

	nextSeq        int64
	asks           map[schedKey]map[string]*ask
	missed         map[schedKey]int
	blacklist      map[string]bool
	newlyAllocated []*rmContainer
	justFinished   []*yarnpb.ContainerStatusProto
	updatedNodes   []*yarnpb.NodeReportProto
	nmTokenNodes   map[yarn.NodeID]bool
}

func (a *rmAttempt) done() bool { return a.state >= attFinished }

func (a *rmAttempt) live() bool { return a.state < attFinished }

// rmContainer is an allocated container (RMContainerImpl).
type rmContainer struct {
	id          yarn.ContainerID
	node        *rmNode
	resource    yarn.Resource
	priority    int32
	allocReqID  int64
	app         *rmApp
	am          bool
	started     bool // the node reported it
	completed   bool
	allocatedAt time.Time
	token       *ipc.Token
}

func sortedContainers(m map[yarn.ContainerID]*rmContainer) []*rmContainer {
	out := make([]*rmContainer, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].id, out[j].id
		if a.Attempt != b.Attempt {
			return a.Attempt.String() < b.Attempt.String()
		}
		return a.ID < b.ID
	})
	return out
}

// abnormalStatus is SchedulerUtils.createAbnormalContainerStatus: a
// completed status the RM makes up (released, lost, expired, killed).
func abnormalStatus(id yarn.ContainerID, exit int32, diag string) *yarnpb.ContainerStatusProto {
	return &yarnpb.ContainerStatusProto{ContainerId: yarn.ContainerIDToProto(id), State: yarnpb.ContainerStateProto_C_COMPLETE.Enum(),
		Diagnostics: proto.String(diag), ExitStatus: proto.Int32(exit)}
}

// javaDate formats like java.util.Date.toString with a numeric zone, as
// the capacity scheduler's diagnostics show it.
func javaDate(t time.Time) string { return t.Format("Mon Jan 02 15:04:05 -0700 2006") }

func (r *ResourceManager) trackingBase() string { return "http://" + r.opts.WebAddress }

// startAttemptLocked creates the next attempt and asks the scheduler for
// its AM container (or, for an unmanaged AM, lets the submitter run it).
func (r *ResourceManager) startAttemptLocked(app *rmApp) *rmAttempt {
	att := &rmAttempt{
		id:           yarn.AttemptID{App: app.id, Attempt: int32(len(app.attempts) + 1)},
		app:          app,
		asks:         map[schedKey]map[string]*ask{},
		missed:       map[schedKey]int{},
		blacklist:    map[string]bool{},
		nmTokenNodes: map[yarn.NodeID]bool{},
		rpcPort:      -1,
		lastPing:     time.Now(),
	}
	att.token = r.amrm.createToken(att.id)
	app.attempts = append(app.attempts, att)
	app.state = yarn.StateAccepted
	if app.unmanaged {
		att.state = attLaunched
		app.launchTime = time.Now()
		app.diagnostics = ""
		return att
	}
	att.state = attScheduled
	if app.queue != nil {
		r.activateLocked(app.queue)
	} else {
		att.activated = true
		app.diagnostics = r.activatedDiagLocked(app)
	}
	return att
}

// activatedDiagLocked is the capacity scheduler's diagnostic for an
// application waiting for its AM container.
func (r *ResourceManager) activatedDiagLocked(app *rmApp) string {
	part := r.clusterResourceLocked()
	q := app.queue
	scale := func(f float64) yarn.Resource {
		return yarn.Resource{MemoryMB: int64(float64(part.MemoryMB) * f), VCores: int32(float64(part.VCores) * f)}
	}
	usedPct := 0.0
	if part.MemoryMB > 0 {
		usedPct = float64(q.used.MemoryMB) / float64(part.MemoryMB) * 100
	}
	return fmt.Sprintf("[%s] Application is Activated, waiting for resources to be assigned for AM.  Details : AM Partition = <DEFAULT_PARTITION> ; "+
		"Partition Resource = %s ; Queue's Absolute capacity = %.1f %% ; Queue's Absolute used capacity = %.1f %% ; Queue's Absolute max capacity = %.1f %% ; "+
		"Queue's capacity (absolute resource) = %s ; Queue's used capacity (absolute resource) = %s ; Queue's max capacity (absolute resource) = %s ; ",
		javaDate(time.Now()), part.String(), q.capacity*100, usedPct, q.maxCapacity*100,
		scale(q.capacity).String(), q.used.String(), scale(q.maxCapacity).String())
}

// launchAM is AMLauncher.launch: the RM, as a client of the node's
// ContainerManagementProtocol authenticated with an NMToken, starts the AM
// container with the AMRMToken added to its tokens.
func (r *ResourceManager) launchAM(att *rmAttempt, c *rmContainer, clc *yarnpb.ContainerLaunchContextProto, nmToken *ipc.Token) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	err := r.startAMContainer(ctx, c, clc, nmToken)
	r.mu.Lock()
	defer r.mu.Unlock()
	if att.app.current() != att || att.state != attAllocated {
		return // killed, or the AM registered before this returned
	}
	if err != nil {
		r.lg.Warn().Err(err).Stringer("attempt_id", att.id).Msg("AM launch failed")
		c.node.toKill = append(c.node.toKill, c.id)
		r.failAttemptLocked(att, fmt.Sprintf("Error launching %s. Got exception: %v", att.id, err), true)
		return
	}
	r.amLaunchedLocked(att)
}

func (r *ResourceManager) amLaunchedLocked(att *rmAttempt) {
	att.state = attLaunched
	att.lastPing = time.Now()
	att.app.launchTime = att.lastPing
	att.app.diagnostics = "AM container is launched, waiting for AM container to Register with RM"
	r.lg.Info().Stringer("attempt_id", att.id).Stringer("container_id", att.amContainer.id).Msg("AM container launched")
}

func (r *ResourceManager) startAMContainer(ctx context.Context, c *rmContainer, clc *yarnpb.ContainerLaunchContextProto, nmToken *ipc.Token) error {
	conn, err := ipc.Dial(ctx, ipc.Options{Addr: c.node.id.String(), Peer: ipc.PeerNodeManager, Protocol: yarn.ProtocolContainer,
		Mechanisms: []ipc.ClientMechanism{&ipc.TokenMechanism{Token: nmToken}}, IdleTimeout: -1})
	if err != nil {
		return err
	}
	defer conn.Close()
	req := &yarnpb.StartContainersRequestProto{StartContainerRequest: []*yarnpb.StartContainerRequestProto{
		{ContainerLaunchContext: clc, ContainerToken: c.token.Proto()}}}
	var resp yarnpb.StartContainersResponseProto
	if err := conn.Call(ctx, "startContainers", req, &resp); err != nil {
		return err
	}
	for _, f := range resp.GetFailedRequests() {
		e := f.GetException()
		return fmt.Errorf("%s: %s", e.GetClassName(), e.GetMessage())
	}
	return nil
}

// amCLCLocked is the AM's launch context as the RM sends it: the
// submitted one plus APPLICATION_WEB_PROXY_BASE, APP_SUBMIT_TIME_ENV and
// the AMRMToken in its credentials (AMLauncher.createAMContainerLaunchContext,
// setupTokens).
func (r *ResourceManager) amCLCLocked(att *rmAttempt) (*yarnpb.ContainerLaunchContextProto, error) {
	app := att.app
	clc := proto.Clone(app.sub.GetAmContainerSpec()).(*yarnpb.ContainerLaunchContextProto)
	if clc == nil {
		clc = &yarnpb.ContainerLaunchContextProto{}
	}
	clc.Environment = append(clc.Environment,
		&yarnpb.StringStringMapProto{Key: proto.String("APPLICATION_WEB_PROXY_BASE"), Value: proto.String("/proxy/" + app.id.String())},
		&yarnpb.StringStringMapProto{Key: proto.String("APP_SUBMIT_TIME_ENV"), Value: proto.String(fmt.Sprint(msOf(app.submitTime)))})
	creds := &ipc.Credentials{}
	if clc.Tokens != nil {
		c, err := ipc.ParseCredentials(clc.GetTokens())
		if err != nil {
			return nil, err
		}
		creds = c
	}
	creds.AddToken(att.token.Service, att.token)
	clc.Tokens = creds.Marshal()
	return clc, nil
}

// registerLocked records an AM registration.
func (r *ResourceManager) registerLocked(att *rmAttempt, host string, port int32, tracking string) {
	att.registered = true
	att.lastResponse = &yarnpb.AllocateResponseProto{ResponseId: proto.Int32(0)}
	att.lastPing = time.Now()
	att.registeredAt = att.lastPing
	att.host, att.rpcPort, att.trackingURL = host, port, tracking
	if att.state < attRunning {
		att.state = attRunning
		app := att.app
		app.state = yarn.StateRunning
		app.diagnostics = ""
		app.origTrackingURL = tracking
		if app.launchTime.IsZero() {
			app.launchTime = att.lastPing
		}
	}
}

// amContainerFinishedLocked handles the AM container's completion: the
// end of a finishing attempt, or the failure of a live one.
func (r *ResourceManager) amContainerFinishedLocked(att *rmAttempt, st *yarnpb.ContainerStatusProto) {
	switch {
	case att.done():
	case att.state == attFinishing:
		r.finishAttemptLocked(att)
	default:
		exit := st.GetExitStatus()
		diag := fmt.Sprintf("AM Container for %s exited with  exitCode: %d\nFailing this attempt.Diagnostics: %sFor more detailed output, check the application tracking page: %s/cluster/app/%s Then click on links to logs of each attempt.\n",
			att.id, exit, st.GetDiagnostics(), r.trackingBase(), att.app.id)
		// Exits the cluster caused do not count against max attempts
		// (RMAppAttemptImpl.shouldCountTowardsMaxAttemptRetry).
		counted := true
		switch exit {
		case yarn.ExitAborted, yarn.ExitPreempted, yarn.ExitDisksFailed, yarn.ExitKilledByResourceManager:
			counted = false
		}
		r.failAttemptLocked(att, diag, counted)
	}
}

// failAttemptLocked ends a live attempt as FAILED and starts the next one,
// or fails the application when no attempts are left.
func (r *ResourceManager) failAttemptLocked(att *rmAttempt, diag string, counted bool) {
	if att.done() {
		return
	}
	app := att.app
	att.state = attFailed
	att.diagnostics = diag
	att.registered = false
	r.amrm.removeAttempt(att.id)
	r.stopAttemptLocked(att, !app.keep)
	if counted {
		app.failedAttempts++
	}
	r.lg.Info().Stringer("attempt_id", att.id).Int("failed_attempts", app.failedAttempts).Int("max_attempts", app.maxAttempts).Msg("attempt failed")
	if app.unmanaged {
		r.endAppLocked(app, yarn.StateFailed, yarn.FinalFailed,
			fmt.Sprintf("Unmanaged application %s failed due to %s. Failing the application.", app.id, diag))
		return
	}
	if app.failedAttempts < app.maxAttempts {
		next := r.startAttemptLocked(app)
		app.diagnostics = diag
		if app.keep {
			// Running containers and finished-but-unreported statuses move
			// to the new attempt (transferStateFromPreviousAttempt).
			next.justFinished = att.justFinished
			next.nextSeq = 0
		}
		return
	}
	global := ""
	if app.maxAttempts != r.opts.MaxAttempts {
		global = fmt.Sprintf(" (global limit =%d; local limit is =%d)", r.opts.MaxAttempts, app.maxAttempts)
	}
	r.endAppLocked(app, yarn.StateFailed, yarn.FinalFailed,
		fmt.Sprintf("Application %s failed %d times%s due to %s. Failing the application.", app.id, app.maxAttempts, global, diag))
}

// stopAttemptLocked kills the attempt's AM container and, unless kept for
// the next attempt, the application's other containers; it drops its asks.
func (r *ResourceManager) stopAttemptLocked(att *rmAttempt, all bool) {
	att.asks = map[schedKey]map[string]*ask{}
	for _, c := range att.newlyAllocated {
		if !c.completed {
			c.node.toKill = append(c.node.toKill, c.id)
			r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitKilledByResourceManager, "Container killed by the ResourceManager"))
		}
	}
	att.newlyAllocated = nil
	if c := att.amContainer; c != nil && !c.completed {
		c.node.toKill = append(c.node.toKill, c.id)
		r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitKilledByResourceManager, "Container killed by the ResourceManager"))
	}
	if !all {
		return
	}
	for _, c := range r.appContainersLocked(att.app) {
		c.node.toKill = append(c.node.toKill, c.id)
		r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitKilledByResourceManager, "Container killed by the ResourceManager"))
	}
}

func (r *ResourceManager) appContainersLocked(app *rmApp) []*rmContainer {
	var out []*rmContainer
	for _, n := range r.nodeOrder {
		for _, c := range sortedContainers(n.containers) {
			if c.app == app && !c.completed {
				out = append(out, c)
			}
		}
	}
	return out
}

// finishAttemptLocked ends an unregistered attempt once its AM container
// exited (or its finishing time ran out): the application's remaining
// containers are killed and the nodes clean up.
func (r *ResourceManager) finishAttemptLocked(att *rmAttempt) {
	att.state = attFinished
	r.amrm.removeAttempt(att.id)
	r.stopAttemptLocked(att, true)
	r.cleanupAppLocked(att.app)
	if att.app.state.Terminal() {
		r.appTokensDoneLocked(att.app) // FINISHED
	}
}

// endAppLocked moves an application to a final state.
func (r *ResourceManager) endAppLocked(app *rmApp, state yarn.AppState, final yarn.FinalStatus, diag string) {
	app.state, app.final, app.diagnostics = state, final, diag
	app.finishTime = time.Now()
	if q := app.queue; q != nil {
		if state == yarn.StateKilled {
			q.killed++
		} else {
			q.failed++
		}
	}
	app.progress = 1
	for _, att := range app.attempts {
		if att.live() {
			if state == yarn.StateKilled {
				att.state = attKilled
			} else {
				att.state = attFailed
			}
			r.amrm.removeAttempt(att.id)
			r.stopAttemptLocked(att, true)
		}
	}
	if cur := app.current(); cur != nil {
		r.stopAttemptLocked(cur, true)
	}
	r.cleanupAppLocked(app)
	r.appTokensDoneLocked(app)
	r.lg.Info().Stringer("app_id", app.id).Stringer("state", state).Stringer("final_status", final).Msg("application ended")
}

// cleanupAppLocked tells every node the application ran on to clean up.
func (r *ResourceManager) cleanupAppLocked(app *rmApp) {
	if app.queue != nil {
		app.queue.removeApp(app)
	}
	for id := range app.nodesUsed {
		if n := r.nodes[id]; n != nil {
			n.appsToClean = append(n.appsToClean, app.id)
		}
	}
	app.nodesUsed = map[yarn.NodeID]bool{}
}

// killAppLocked is forceKillApplication's effect (RMAppKillByClientEvent).
func (r *ResourceManager) killAppLocked(app *rmApp, diag string) {
	r.endAppLocked(app, yarn.StateKilled, yarn.FinalKilled, diag)
}

// releaseResourcesLocked gives a container's resources back to its node,
// queue and application.
func (r *ResourceManager) releaseResourcesLocked(c *rmContainer) {
	if _, ok := c.node.containers[c.id]; !ok {
		return
	}
	delete(c.node.containers, c.id)
	c.node.used = subRes(c.node.used, c.resource)
	c.app.used = subRes(c.app.used, c.resource)
	c.app.numContainers--
	if c.app.queue != nil {
		c.app.queue.used = subRes(c.app.queue.used, c.resource)
	}
	secs := int64(time.Since(c.allocatedAt) / time.Second)
	c.app.memorySeconds += secs * c.resource.MemoryMB
	c.app.vcoreSeconds += secs * int64(c.resource.VCores)
}

// completeContainerLocked records a container's completion and reports it
// to whoever must hear of it: the attempt (AM container) or the current
// attempt's next allocate response.
func (r *ResourceManager) completeContainerLocked(c *rmContainer, st *yarnpb.ContainerStatusProto) {
	if c.completed {
		return
	}
	c.completed = true
	r.releaseResourcesLocked(c)
	delete(r.containers, c.id)
	app := c.app
	if c.am {
		for _, att := range app.attempts {
			if att.amContainer == c {
				r.amContainerFinishedLocked(att, st)
			}
		}
		return
	}
	att := app.current()
	if att == nil || att.done() {
		return
	}
	if c.id.Attempt != att.id && !app.keep {
		return
	}
	for i, nc := range att.newlyAllocated {
		if nc == c { // completed before the AM pulled it
			att.newlyAllocated = append(att.newlyAllocated[:i], att.newlyAllocated[i+1:]...)
			break
		}
	}
	att.justFinished = append(att.justFinished, st)
}

// diagnosticsSummary trims a diagnostic to its first line, for logs.
func diagnosticsSummary(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// AttemptRegisteredAt reports when attempt id last registered its AM
// (again after a restart or failover), and whether the RM holds that
// registration now.
func (r *ResourceManager) AttemptRegisteredAt(id yarn.AttemptID) (at time.Time, registered bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	app := r.apps[id.App]
	if app == nil {
		return time.Time{}, false
	}
	for _, att := range app.attempts {
		if att.id == id {
			return att.registeredAt, att.registered
		}
	}
	return time.Time{}, false
}
