package minicluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/internal/delegation"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// errRMDown is what a NodeManager's heartbeat gets while the RM restarts.
var errRMDown = errors.New("minicluster: the ResourceManager is not running")

// ResourceManager is an in-process YARN ResourceManager: the
// ApplicationClientProtocol and ApplicationMasterProtocol servers, the
// application and attempt state machines, a capacity-style scheduler and
// the AM launcher. NodeManagers of the same process register with it and
// heartbeat to it directly (the ResourceTracker protocol is not on the
// wire). All methods are safe for concurrent use.
type ResourceManager struct {
	opts RMOptions
	lg   zerolog.Logger

	amrm     *amrmSecrets
	rmTokens *delegation.Manager // RM delegation tokens; nil unless secure
	renewer  *tokenRenewer       // applications' HDFS tokens; nil without RMSecurity.HDFSLogin
	nmKeys   *keyRing
	ctKeys   *keyRing
	monitor  *time.Ticker

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // monitor, launchers, servers

	haMu sync.Mutex // serialises HA transitions
	ha   *haState   // nil without RMOptions.HA

	srvMu      sync.Mutex // guards the servers across restarts
	clientSrv  *ipc.Server
	amSrv      *ipc.Server
	clientAddr string
	amAddr     string

	mu         sync.Mutex
	closed     bool
	down       bool // restarting: servers closed, heartbeats refused
	clusterTS  int64
	epoch      int64
	appSeq     int32
	apps       map[yarn.ApplicationID]*rmApp
	appOrder   []*rmApp
	nodes      map[yarn.NodeID]*rmNode
	nodeOrder  []*rmNode
	queues     []*queue
	queueByNm  map[string]*queue
	containers map[yarn.ContainerID]*rmContainer
	restarts   int
}

// NewResourceManager starts an RM: it listens on both ports and serves
// until Close. ctx bounds only the start-up.
func NewResourceManager(ctx context.Context, opts RMOptions) (*ResourceManager, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if sec := opts.Security; sec != nil {
		if err := sec.validate(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &ResourceManager{
		opts:       opts,
		lg:         opts.Logger.With().Str("component", "resourcemanager").Logger(),
		amrm:       newAMRMSecrets(),
		nmKeys:     newKeyRing(),
		ctKeys:     newKeyRing(),
		clusterTS:  time.Now().UnixMilli(),
		apps:       map[yarn.ApplicationID]*rmApp{},
		nodes:      map[yarn.NodeID]*rmNode{},
		queueByNm:  map[string]*queue{},
		containers: map[yarn.ContainerID]*rmContainer{},
	}
	if sec := opts.Security; sec != nil {
		r.rmTokens = delegation.New(delegation.Options{Codec: rmTokenCodec, MaxLifetime: sec.TokenMaxLifetime, RenewInterval: sec.TokenRenewInterval})
	}
	for _, q := range opts.Queues {
		qq := &queue{name: q.Name, capacity: q.Capacity / 100, maxCapacity: q.MaxCapacity / 100, stopped: q.Stopped, amPercent: q.MaxAMResourcePercent}
		r.queues = append(r.queues, qq)
		r.queueByNm[q.Name] = qq
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if sec := opts.Security; sec != nil && sec.HDFSLogin != nil {
		r.renewer = newTokenRenewer(r.ctx, &yarn.Kerberos{Client: sec.HDFSLogin, ServerPrincipal: sec.NameNodePrincipal}, sec.TokenRemovalDelay, opts.Logger)
	}
	clientAddr, schedAddr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.ClientPort)), net.JoinHostPort(opts.Host, strconv.Itoa(opts.SchedulerPort))
	if opts.HA != nil {
		if err := r.reserveHA(); err != nil {
			r.cancel()
			return nil, err
		}
		clientAddr, schedAddr = r.ha.client[0], r.ha.sched[0]
	}
	if err := r.startServersRetrying(ctx, clientAddr, schedAddr); err != nil {
		r.cancel()
		return nil, err
	}
	r.monitor = time.NewTicker(r.monitorInterval())
	r.wg.Add(1)
	go r.runMonitor()
	if r.renewer != nil {
		r.wg.Add(2)
		go func() { defer r.wg.Done(); r.renewer.run() }()
		go func() { defer r.wg.Done(); r.renewer.cancelLoop() }()
	}
	r.lg.Info().Str("rm_addr", r.clientAddr).Str("scheduler_addr", r.amAddr).Int64("cluster_timestamp", r.clusterTS).Msg("resourcemanager started")
	return r, nil
}

func (r *ResourceManager) monitorInterval() time.Duration {
	d := min(r.opts.AMExpiry, r.opts.NMExpiry, r.opts.ContainerAllocationExpiry) / 4
	return min(max(d, 5*time.Millisecond), time.Second)
}

// startServers builds fresh IPC servers (an ipc.Server cannot be reused
// after Close) and serves them on the given addresses.
func (r *ResourceManager) startServers(clientAddr, amAddr string) error {
	csOpts, err := r.clientServerOptions()
	if err != nil {
		return err
	}
	cl, err := net.Listen("tcp", clientAddr)
	if err != nil {
		return fmt.Errorf("minicluster: resourcemanager client port: %w", err)
	}
	al, err := net.Listen("tcp", amAddr)
	if err != nil {
		cl.Close()
		return fmt.Errorf("minicluster: resourcemanager scheduler port: %w", err)
	}
	// ClientRMService: see clientServerOptions.
	cs := ipc.NewServer(csOpts)
	cs.Register(yarn.ProtocolClient, r.clientService())
	// ApplicationMasterService forces TOKEN even on insecure clusters.
	as := ipc.NewServer(ipc.ServerOptions{Mechanisms: []ipc.ServerMechanism{&ipc.TokenServerMechanism{Secrets: r.amrm, QOPs: r.opts.QOPs}}, Logger: r.opts.Logger})
	as.Register(yarn.ProtocolAM, r.amService())
	r.srvMu.Lock()
	r.clientSrv, r.amSrv = cs, as
	r.clientAddr, r.amAddr = cl.Addr().String(), al.Addr().String()
	r.srvMu.Unlock()
	r.wg.Add(2)
	go func() { defer r.wg.Done(); _ = cs.Serve(cl) }()
	go func() { defer r.wg.Done(); _ = as.Serve(al) }()
	return nil
}

// startServersRetrying starts the servers, retrying while the addresses
// are still held by listeners just closed (or briefly by someone else).
func (r *ResourceManager) startServersRetrying(ctx context.Context, clientAddr, amAddr string) error {
	var err error
	for range 50 {
		if err = r.startServers(clientAddr, amAddr); err == nil {
			return nil
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}

func (r *ResourceManager) stopServers() {
	r.srvMu.Lock()
	cs, as := r.clientSrv, r.amSrv
	r.srvMu.Unlock()
	if cs != nil {
		cs.Close()
	}
	if as != nil {
		as.Close()
	}
}

// ClientAddr is the ApplicationClientProtocol address, host:port
// (yarn.resourcemanager.address).
func (r *ResourceManager) ClientAddr() string {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	return r.clientAddr
}

// SchedulerAddr is the ApplicationMasterProtocol address, host:port
// (yarn.resourcemanager.scheduler.address).
func (r *ResourceManager) SchedulerAddr() string {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	return r.amAddr
}

// ClusterTimestamp is the RM's start time, the first part of the
// application ids it hands out; it changes when the RM restarts.
func (r *ResourceManager) ClusterTimestamp() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.clusterTS
}

// Close stops the RM: its servers, monitor, AM launchers and token
// renewer (renewals and cancellations still queued are dropped, as when a
// real RM stops). It does not stop NodeManagers. Idempotent.
func (r *ResourceManager) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	r.down = true
	r.mu.Unlock()
	r.cancel()
	if r.ha != nil {
		r.haMu.Lock()
		if r.ha.election != nil {
			r.ha.election.Stop()
		}
		r.haMu.Unlock()
	}
	r.stopServers()
	r.monitor.Stop()
	r.wg.Wait()
	r.lg.Info().Msg("resourcemanager stopped")
	return nil
}

// Restart simulates a work-preserving ResourceManager restart (recovery
// enabled, as on any production cluster): both ports go away and come back
// on the same addresses; applications, attempts, running containers and
// master keys survive (they live in the state store); what lives only in
// memory does not: AM registrations (an AM that allocates before it
// registers again gets ApplicationMasterNotRegisteredException), the
// outstanding asks, and containers allocated but not yet handed to their
// AM. New
// containers carry the next RM epoch in their ids, and new applications
// the new cluster timestamp. down, if positive, is how long the ports stay
// closed. With RMSecurity.HDFSLogin, the token renewer's state is lost
// too, and the HDFS delegation tokens of every unfinished application are
// renewed once and scheduled again before the ports reopen (YARN does it
// asynchronously while recovering; a token that no longer renews is only
// logged, the application keeps running); finished applications' tokens
// still waiting for TokenRemovalDelay are never cancelled, as in YARN.
func (r *ResourceManager) Restart(ctx context.Context, down time.Duration) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.down = true
	r.mu.Unlock()
	clientAddr, amAddr := r.ClientAddr(), r.SchedulerAddr()
	r.stopServers()
	if down > 0 {
		t := time.NewTimer(down)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	if err := r.recoverAndServe(ctx, clientAddr, amAddr); err != nil {
		return err
	}
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
	r.lg.Info().Int64("epoch", r.epoch).Msg("resourcemanager restarted")
	return nil
}

// recoverAndServe is what an RM coming up (a restart, or a standby
// becoming active) does before it answers: it loads the state store
// (recoverLocked, the token renewer's state) and starts its servers on
// the given addresses.
func (r *ResourceManager) recoverAndServe(ctx context.Context, clientAddr, amAddr string) error {
	r.mu.Lock()
	r.recoverLocked()
	recovered := r.recoverTokensLocked()
	r.mu.Unlock()
	r.recoverTokens(ctx, recovered)
	return r.startServersRetrying(ctx, clientAddr, amAddr)
}

// recoverLocked drops the RM's volatile state, as a restarted RM has only
// what its state store kept.
func (r *ResourceManager) recoverLocked() {
	r.restarts++
	r.epoch++
	r.clusterTS = max(time.Now().UnixMilli(), r.clusterTS+1)
	r.appSeq = 0
	now := time.Now()
	for _, app := range r.appOrder {
		att := app.current()
		if att == nil || att.done() {
			continue
		}
		att.registered = false
		att.lastResponse = nil
		att.asks = map[schedKey]map[string]*ask{}
		att.missed = map[schedKey]int{}
		att.lastPing = now
		att.nmTokenNodes = map[yarn.NodeID]bool{}
		for _, c := range att.newlyAllocated {
			r.releaseResourcesLocked(c)
			delete(r.containers, c.id)
			c.node.toKill = append(c.node.toKill, c.id)
		}
		att.newlyAllocated = nil
	}
	for _, n := range r.nodeOrder {
		n.lastHeartbeat = now
	}
}

func (r *ResourceManager) runMonitor() {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.monitor.C:
			r.checkExpiry(time.Now())
		}
	}
}

// checkExpiry runs the liveness monitors: AMLivelinessMonitor,
// NMLivelinessMonitor and ContainerAllocationExpirer.
func (r *ResourceManager) checkExpiry(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return
	}
	for _, n := range r.nodeOrder {
		if (n.state == yarn.NodeRunning || n.state == yarn.NodeUnhealthy) && now.Sub(n.lastHeartbeat) > r.opts.NMExpiry {
			r.lg.Info().Str("node", n.id.String()).Msg("node expired: no heartbeat within yarn.nm.liveness-monitor.expiry-interval-ms; LOST")
			r.nodeUnusableLocked(n, yarn.NodeLost, lostContainerDiag)
		}
	}
	for _, app := range r.appOrder {
		att := app.current()
		if att == nil {
			continue
		}
		switch att.state {
		case attLaunched, attRunning, attFinishing:
			if now.Sub(att.lastPing) > r.opts.AMExpiry {
				if att.state == attFinishing {
					r.finishAttemptLocked(att)
					continue
				}
				r.lg.Info().Stringer("attempt_id", att.id).Msg("application master expired")
				r.failAttemptLocked(att, fmt.Sprintf("ApplicationMaster for attempt %s timed out", att.id), true)
			}
		}
	}
	for _, c := range r.containers {
		if !c.started && !c.am && !c.completed && now.Sub(c.allocatedAt) > r.opts.ContainerAllocationExpiry {
			c.node.toKill = append(c.node.toKill, c.id)
			r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitAborted, "Container expired since it was unused"))
		}
	}
}

// rmNode is the RM's view of a NodeManager (RMNode + SchedulerNode).
type rmNode struct {
	id            yarn.NodeID
	httpPort      int
	rack          string
	capability    yarn.Resource
	used          yarn.Resource
	containers    map[yarn.ContainerID]*rmContainer
	state         yarn.NodeState
	healthReport  string
	lastHealthAt  time.Time
	lastHeartbeat time.Time
	toKill        []yarn.ContainerID
	appsToClean   []yarn.ApplicationID
}

func (n *rmNode) httpAddress() string {
	return net.JoinHostPort(n.id.Host, strconv.Itoa(n.httpPort))
}

func (n *rmNode) available() yarn.Resource { return subRes(n.capability, n.used) }

// nodeRegistration is what a NodeManager sends when it (re)registers.
type nodeRegistration struct {
	id         yarn.NodeID
	httpPort   int
	rack       string
	capability yarn.Resource
	// running are the containers the node still runs (a reconnect after an
	// RM restart); empty for a freshly started node.
	running []yarn.ContainerID
}

// nodeStatus is one heartbeat: every container the node knows (running
// ones, and completed ones not yet reported) and its health.
type nodeStatus struct {
	id           yarn.NodeID
	containers   []*yarnpb.ContainerStatusProto
	healthy      bool
	healthReport string
}

// heartbeatResponse tells the node what to do.
type heartbeatResponse struct {
	kill        []yarn.ContainerID
	cleanupApps []yarn.ApplicationID
	nmKey       masterKey
	ctKey       masterKey
	reregister  bool
}

// registerNode is ResourceTrackerService.registerNodeManager.
func (r *ResourceManager) registerNode(reg nodeRegistration) (nmKey, ctKey masterKey, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return masterKey{}, masterKey{}, errRMDown
	}
	now := time.Now()
	n := r.nodes[reg.id]
	if n == nil {
		n = &rmNode{id: reg.id, containers: map[yarn.ContainerID]*rmContainer{}}
		r.nodes[reg.id] = n
		r.nodeOrder = append(r.nodeOrder, n)
	} else {
		// A reconnecting node: what it no longer runs is lost
		// (ReconnectNodeTransition removes the old node from the scheduler).
		still := map[yarn.ContainerID]bool{}
		for _, id := range reg.running {
			still[id] = true
		}
		for _, c := range sortedContainers(n.containers) {
			if !still[c.id] {
				r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitAborted, lostContainerDiag))
			}
		}
		n.toKill, n.appsToClean = nil, nil
	}
	wasUsable := n.state == yarn.NodeRunning
	n.httpPort, n.rack, n.capability = reg.httpPort, reg.rack, reg.capability
	n.state, n.healthReport, n.lastHealthAt, n.lastHeartbeat = yarn.NodeRunning, "", now, now
	if !wasUsable {
		r.nodeUpdatedLocked(n)
	}
	r.lg.Info().Str("node", n.id.String()).Str("rack", n.rack).Stringer("capability", n.capability).Msg("node registered")
	return r.nmKeys.cur(), r.ctKeys.cur(), nil
}

// nodeHeartbeat is ResourceTrackerService.nodeHeartbeat plus the
// scheduler's NODE_UPDATE: it takes the node's container statuses and
// hands out containers on the node.
func (r *ResourceManager) nodeHeartbeat(st nodeStatus) (heartbeatResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return heartbeatResponse{}, errRMDown
	}
	n := r.nodes[st.id]
	if n == nil || n.state == yarn.NodeLost {
		return heartbeatResponse{reregister: true}, nil
	}
	now := time.Now()
	n.lastHeartbeat = now
	n.lastHealthAt = now
	switch {
	case !st.healthy && n.state == yarn.NodeRunning:
		n.healthReport = st.healthReport
		r.lg.Info().Str("node", n.id.String()).Str("health_report", st.healthReport).Msg("node unhealthy")
		r.nodeUnusableLocked(n, yarn.NodeUnhealthy, lostContainerDiag)
	case st.healthy && n.state == yarn.NodeUnhealthy:
		n.state, n.healthReport = yarn.NodeRunning, ""
		r.nodeUpdatedLocked(n)
	}
	for _, s := range st.containers {
		id := yarn.ContainerIDFromProto(s.GetContainerId())
		c := r.containers[id]
		if c == nil {
			if s.GetState() != yarnpb.ContainerStateProto_C_COMPLETE {
				n.toKill = append(n.toKill, id) // the RM no longer knows it
			}
			continue
		}
		c.started = true
		if s.GetState() == yarnpb.ContainerStateProto_C_COMPLETE {
			r.completeContainerLocked(c, s)
		}
	}
	resp := heartbeatResponse{kill: n.toKill, cleanupApps: n.appsToClean, nmKey: r.nmKeys.cur(), ctKey: r.ctKeys.cur()}
	n.toKill, n.appsToClean = nil, nil
	if n.state == yarn.NodeRunning {
		r.scheduleLocked(n)
	}
	return resp, nil
}

// lostContainerDiag is SchedulerUtils.LOST_CONTAINER.
const lostContainerDiag = "Container released on a *lost* node"

// nodeUnusableLocked takes a node out of scheduling (LOST or UNHEALTHY):
// its containers complete as lost, and running applications hear about
// the node in updated_nodes.
func (r *ResourceManager) nodeUnusableLocked(n *rmNode, state yarn.NodeState, diag string) {
	n.state = state
	for _, c := range sortedContainers(n.containers) {
		n.toKill = append(n.toKill, c.id)
		r.completeContainerLocked(c, abnormalStatus(c.id, yarn.ExitAborted, diag))
	}
	r.nodeUpdatedLocked(n)
}

// nodeUpdatedLocked queues a node report for every live attempt's next
// allocate response (RMAppImpl.processNodeUpdate).
func (r *ResourceManager) nodeUpdatedLocked(n *rmNode) {
	rep := r.nodeReportLocked(n)
	if n.state.Usable() {
		rep.NodeUpdateType = yarnpb.NodeUpdateTypeProto_NODE_USABLE.Enum()
	} else {
		rep.NodeUpdateType = yarnpb.NodeUpdateTypeProto_NODE_UNUSABLE.Enum()
	}
	for _, app := range r.appOrder {
		if att := app.current(); att != nil && !att.done() && !app.state.Terminal() {
			att.updatedNodes = append(att.updatedNodes, rep)
		}
	}
}

func (r *ResourceManager) activeNodesLocked() int {
	k := 0
	for _, n := range r.nodeOrder {
		if n.state == yarn.NodeRunning {
			k++
		}
	}
	return k
}

// clusterResourceLocked is the capacity of the usable nodes.
func (r *ResourceManager) clusterResourceLocked() yarn.Resource {
	var t yarn.Resource
	for _, n := range r.nodeOrder {
		if n.state == yarn.NodeRunning {
			t = addRes(t, n.capability)
		}
	}
	return t
}

func (r *ResourceManager) clusterAvailableLocked() yarn.Resource {
	var t yarn.Resource
	for _, n := range r.nodeOrder {
		if n.state == yarn.NodeRunning {
			t = addRes(t, nonNegative(n.available()))
		}
	}
	return t
}

// maxAllocationLocked is the largest container the scheduler grants: the
// configured maximum, capped by the largest registered node
// (ClusterNodeTracker.getMaxAllowedAllocation).
func (r *ResourceManager) maxAllocationLocked() yarn.Resource {
	if len(r.nodeOrder) == 0 {
		return r.opts.MaxAllocation
	}
	var biggest yarn.Resource
	for _, n := range r.nodeOrder {
		if n.state != yarn.NodeLost {
			biggest = maxRes(biggest, n.capability)
		}
	}
	if biggest.MemoryMB == 0 && biggest.VCores == 0 {
		return r.opts.MaxAllocation
	}
	return minRes(r.opts.MaxAllocation, biggest)
}

// RollMasterKeys rolls the AMRMToken and NMToken master keys, as the RM
// does every yarn.resourcemanager.am-rm-tokens.master-key-rolling-interval-secs
// and yarn.resourcemanager.nm-tokens.master-key-rolling-interval-secs. The
// previous keys stay valid; each AM gets a new AMRMToken in its next
// allocate response, and new NMTokens with its next containers.
func (r *ResourceManager) RollMasterKeys() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.amrm.keys.roll()
	r.nmKeys.roll()
	for _, app := range r.appOrder {
		if att := app.current(); att != nil && att.live() {
			att.nmTokenNodes = map[yarn.NodeID]bool{}
		}
	}
	r.lg.Info().Msg("master keys rolled")
}

// MaxAllocation is the largest container the scheduler currently grants.
func (r *ResourceManager) MaxAllocation() yarn.Resource {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.maxAllocationLocked()
}

// ErrClosed is returned by operations on a closed cluster, RM or NM.
var ErrClosed = errors.New("minicluster: closed")
