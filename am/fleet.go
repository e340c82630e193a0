package am

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// fleet is the TaskManager containers of one attempt: the ones being
// started, running or being stopped, the requests that keep them at the
// target, adoption of an earlier attempt's containers, launches, and what
// a completion or a failed start means (the one failure path,
// recordFailureLocked). The run loop drives it; the HTTP handlers read
// it. It has a lock of its own, never held while calling out to the
// Runner.
type fleet struct {
	// Set by newFleet, read-only afterwards.
	target int
	env    map[string]string // the TaskManagers' environment from the spec
	att    yarn.AttemptID
	self   yarn.ContainerID // the AM's own container: never adopted
	req    yarn.ContainerRequest
	res    map[string]yarn.LocalResource
	cmd    string
	amrm   *yarn.AMRMClient // safe for concurrent use
	nm     *yarn.NMClient   // safe for concurrent use
	tr     *Tracker         // safe for concurrent use
	m      *metrics
	lg     zerolog.Logger
	// spread: ask node-local on the nodes with room (nodes), see
	// amapi.TaskManagerSpec.ClusterNodes.
	spread bool
	nodes  *nodeView

	// launched carries each start's outcome from the launch goroutines
	// (counted by launchWG) to the run loop, the only receiver.
	launched chan launchResult
	launchWG sync.WaitGroup

	// mu guards the fields below.
	mu sync.Mutex
	// open is true while the application runs under this attempt: only
	// then are containers requested, adopted, started and replaced.
	open        bool
	tms         map[yarn.ContainerID]*taskManager
	counts      map[tmState]int // TaskManagers by state, kept by putLocked, setStateLocked and dropLocked
	restarts    int
	adopted     int
	completions []amapi.Completion // the last keptCompletions, oldest first
	// batch is the allocation request id of the last batch of requests:
	// each batch has ids of its own, so a total sent for it never
	// overtakes containers allocated for an earlier one (YARN-1902).
	batch int64
	// excess counts containers released unstarted because nobody wanted
	// them.
	excess int
	// liveSeq numbers the liveness connections (live.go); wake, buffered,
	// has the run loop reconcile at once after one closed.
	liveSeq     uint64
	earlyDeaths int
	wake        chan struct{}
	// askedAt are the times of the fleet's requests not yet matched by a
	// container (askedLocked counts them), as the fleet has seen it,
	// oldest first: lowered only when an allocate's response with the
	// container is in hand (allocated), never while one is in flight, so
	// a reconcile between the client taking a response and allocated does
	// not ask again for what just arrived. An allocation observes the
	// oldest one's wait (spindle_am_container_allocation_seconds), a
	// withdrawal drops the newest.
	askedAt []time.Time
	// registeredAt is when this attempt registered (adopt), and ready
	// whether the fleet has reached its target since
	// (spindle_am_fleet_ready_seconds).
	registeredAt time.Time
	ready        bool
	// now is the Runner's clock.
	now func() time.Time
	// headroom is the last allocate response's limit (haveHeadroom once
	// one came), for telling why TaskManagers stay pending (pending.go).
	headroom     yarn.Resource
	haveHeadroom bool
	// pendingShown is the reason the pending-reason gauge shows (""
	// before the first update).
	pendingShown string
}

type tmState string

const (
	tmLaunching tmState = "launching"
	tmRunning   tmState = "running"
	tmStopping  tmState = "stopping"
	// tmLost: its liveness connection closed (live.go); taken for dead
	// until the RM's completion report confirms it or it reconnects.
	tmLost tmState = "lost-unconfirmed"
)

type taskManager struct {
	c       yarn.Container
	state   tmState
	since   time.Time
	adopted bool
	live    uint64 // the generation of its open liveness connection, 0 for none
	// metricsPort is the port of its Prometheus endpoint, as its
	// launcher told this attempt on a liveness connection; 0 for none.
	metricsPort int
}

type launchResult struct {
	id  yarn.ContainerID
	err error
}

// launchEnv is what a TaskManager learns of the attempt that starts it.
type launchEnv struct {
	jmAddr, jmREST, tracking string
	creds                    *yarn.Credentials
}

const keptCompletions = 20

// Completion classes that are not ExitClass values.
const (
	classLaunchFailed      = "launch-failed"      // the NodeManager refused the start: a failure
	classLaunchRecoverable = "launch-recoverable" // the NodeManager was not ready or going away: not a failure
)

func newFleet(spec amapi.TaskManagerSpec, att yarn.AttemptID, self yarn.ContainerID, amrm *yarn.AMRMClient, nm *yarn.NMClient,
	tr *Tracker, m *metrics, lg zerolog.Logger) (*fleet, error) {
	f := &fleet{target: spec.Count, env: spec.Env, att: att, self: self, amrm: amrm, nm: nm, tr: tr, m: m, lg: lg, now: time.Now,
		launched: make(chan launchResult), tms: map[yarn.ContainerID]*taskManager{}, counts: map[tmState]int{}, res: map[string]yarn.LocalResource{}}
	f.req = yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: spec.MemoryMB, VCores: max(spec.VCores, 1)}, Priority: spec.Priority,
		Nodes: spec.Nodes, Racks: spec.Racks, RelaxLocality: spec.RelaxLocality, NodeLabel: spec.NodeLabel}
	f.cmd = spec.Command
	f.nodes = newNodeView(spec.ClusterNodes)
	// YARN refuses a label expression on anything but "*"
	// (AMRMClientImpl.checkNodeLabelExpression), and the payload's own
	// locations come first.
	f.spread = !spec.NoLocalitySpread && spec.NodeLabel == "" && len(spec.Nodes)+len(spec.Racks) == 0 && len(spec.ClusterNodes) > 0
	if !strings.Contains(f.cmd, "<LOG_DIR>") {
		f.cmd += " 1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.err"
	}
	for name, lf := range spec.Files {
		lr, err := lf.Resource()
		if err != nil {
			return nil, err
		}
		f.res[name] = lr
	}
	f.wake = make(chan struct{}, 1)
	m.target.Set(float64(spec.Count))
	f.updatePendingLocked()
	return f, nil
}

// setOpen opens the fleet (registered) or closes it (the application
// ends or the attempt shuts down).
func (f *fleet) setOpen(open bool) {
	f.mu.Lock()
	f.open = open
	f.mu.Unlock()
}

func (f *fleet) countLocked(s tmState) int { return f.counts[s] }

// askedLocked counts the fleet's requests not yet matched by a container.
func (f *fleet) askedLocked() int { return len(f.askedAt) }

// putLocked adds tm as id, setStateLocked moves tm to st, dropLocked
// removes id: the only ways the map and the states change, so that
// counting by state costs nothing (an allocate round touches every new
// container: counting by walking the map made it quadratic in the fleet).
func (f *fleet) putLocked(id yarn.ContainerID, tm *taskManager) {
	f.dropLocked(id)
	f.tms[id] = tm
	f.counts[tm.state]++
}

func (f *fleet) setStateLocked(tm *taskManager, st tmState) {
	f.counts[tm.state]--
	tm.state = st
	f.counts[st]++
}

func (f *fleet) dropLocked(id yarn.ContainerID) {
	if tm, ok := f.tms[id]; ok {
		f.counts[tm.state]--
		delete(f.tms, id)
	}
}

// activeLocked counts TaskManagers being started or running (not those
// being stopped or taken for dead).
func (f *fleet) activeLocked() int {
	return len(f.tms) - f.countLocked(tmStopping) - f.countLocked(tmLost)
}

func (f *fleet) updateGaugesLocked() {
	running := f.countLocked(tmRunning)
	f.m.pending.Set(float64(f.askedLocked()))
	f.m.launching.Set(float64(f.countLocked(tmLaunching)))
	f.m.running.Set(float64(running))
	if !f.ready && !f.registeredAt.IsZero() && running >= f.target {
		f.ready = true
		f.m.fleetReady.Set(max(f.now().Sub(f.registeredAt).Seconds(), 0))
	}
	f.updatePendingLocked()
}

// short reports whether the fleet is below its target or on its way
// there (requests pending, containers being started): the heartbeat is
// fast then.
func (f *fleet) short() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.askedLocked() > 0 || f.countLocked(tmLaunching) > 0 || f.activeLocked() < f.target
}

// progress is running / target.
func (f *fleet) progress() float32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.target == 0 {
		return 1
	}
	return min(float32(f.countLocked(tmRunning))/float32(f.target), 1)
}

// reconcile brings the outstanding requests in line with the target:
// it asks for what is missing (unless a backoff holds replacements back,
// then it returns when the hold ends) and withdraws what is too much.
func (f *fleet) reconcile(now time.Time) (changed bool, hold time.Time, fin *Final) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		return false, time.Time{}, nil
	}
	want := f.target - f.activeLocked() - f.askedLocked()
	switch {
	case want > 0:
		if h := f.tr.HoldUntil(); now.Before(h) {
			hold = h
			break
		}
		f.batch++
		for _, r := range f.batchLocked(want) {
			if err := f.amrm.AddRequest(r); err != nil {
				return changed, hold, &Final{Status: yarn.FinalFailed, Diagnostics: fmt.Sprintf("cannot request TaskManagers: %v", err)}
			}
			f.askedAt = append(f.askedAt, now)
			changed = true
		}
		f.lg.Debug().Int("count", want).Int64("allocation_request_id", f.batch).Msg("requesting TaskManager containers")
	case want < 0:
		n := f.removeLocked(-want)
		changed = n > 0
	}
	f.updateGaugesLocked()
	return changed, hold, nil
}

// batchLocked is n requests of the batch f.batch; f.mu is held. With
// the locality spread they name one node each (relaxed, so the scheduler
// falls back to the rack and any host), as many per node as fit there;
// the rest ask for any host.
func (f *fleet) batchLocked(n int) []yarn.ContainerRequest {
	var hosts []string
	if f.spread {
		hosts = f.nodes.spread(n, f.req.Resource, f.tr.Quarantined()) // the blacklist wins anyway
	}
	out := make([]yarn.ContainerRequest, n)
	for i := range out {
		out[i] = f.req
		out[i].AllocationRequestID = f.batch
		if i < len(hosts) {
			out[i].Nodes, out[i].RelaxLocality = []string{hosts[i]}, true
		}
	}
	return out
}

// removeLocked withdraws up to n of the fleet's outstanding requests,
// newest first, and returns how many it withdrew; f.mu is held.
func (f *fleet) removeLocked(n int) int {
	done := 0
	reqs := f.amrm.OutstandingRequests()
	for i := len(reqs) - 1; i >= 0 && done < n; i-- {
		if reqs[i].Priority == f.req.Priority && f.amrm.RemoveRequest(reqs[i]) {
			done++
		}
	}
	f.askedAt = f.askedAt[:max(len(f.askedAt)-done, 0)]
	return done
}

// withdraw removes every outstanding request.
func (f *fleet) withdraw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removeLocked(len(f.amrm.OutstandingRequests()))
	f.askedAt = nil
}

// allocated takes what one heartbeat brought: it keeps the new
// containers the fleet wants (and returns them, to be started), releases
// the excess, and handles the completions. A non-nil Final means the
// application ends: the containers returned then are released, never
// started.
func (f *fleet) allocated(res *yarn.AllocateResult, now time.Time) ([]yarn.Container, *Final) {
	var toLaunch []yarn.Container
	var fin *Final
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.updateGaugesLocked()
	f.headroom, f.haveHeadroom = res.Headroom, true
	for _, c := range res.Allocated {
		f.m.allocated.Inc()
		if c.Priority == f.req.Priority && len(f.askedAt) > 0 { // the client matched it to one of ours
			f.m.allocation.Observe(max(now.Sub(f.askedAt[0]).Seconds(), 0))
			f.askedAt = f.askedAt[1:]
		}
		f.nodes.seen(c.Node.Host, c.Resource)
		if !f.open || f.activeLocked() >= f.target {
			f.lg.Info().Stringer("container_id", c.ID).Str("node", c.Node.String()).Msg("releasing excess container: the fleet is complete")
			f.amrm.Release(c.ID)
			f.m.excess.Inc()
			f.excess++
			continue
		}
		f.putLocked(c.ID, &taskManager{c: c, state: tmLaunching, since: now})
		toLaunch = append(toLaunch, c)
	}
	f.m.excess.Add(float64(len(res.Excess)))
	f.excess += len(res.Excess)
	for _, st := range res.Completed {
		if end := f.completedLocked(st, now, fin != nil); end != nil {
			fin = end
		}
	}
	if fin != nil {
		for _, c := range toLaunch {
			f.dropLocked(c.ID)
			f.amrm.Release(c.ID)
		}
		return nil, fin
	}
	return toLaunch, nil
}

// completedLocked handles a completed container (ending: the
// application is already ending, only forget it); f.mu is held.
func (f *fleet) completedLocked(st yarn.ContainerStatus, now time.Time, ending bool) *Final {
	tm, ok := f.tms[st.ID]
	if !ok {
		f.lg.Debug().Stringer("container_id", st.ID).Int32("exit_status", st.ExitStatus).Msg("completed container is not a TaskManager of ours (released, or an earlier attempt's)")
		return nil
	}
	f.dropLocked(st.ID)
	if ending || tm.state == tmStopping || !f.open {
		return nil
	}
	class := Classify(st.ExitStatus)
	fl := amapi.Failure{At: now, Container: st.ID.String(), Node: tm.c.Node.Host, NodeHTTP: tm.c.NodeHTTPAddress, ExitStatus: st.ExitStatus, Diagnostics: amapi.OneLine(st.Diagnostics, 500)}
	lg := f.lg.With().Stringer("container_id", st.ID).Str("node", tm.c.Node.String()).Int32("exit_status", st.ExitStatus).Logger()
	switch class {
	case ExitClassFailed, ExitClassSucceeded:
		// A TaskManager that exits by itself, even with 0, is the
		// payload's doing: it counts (else `true` as a command would
		// replace itself forever).
		f.m.failed.Inc()
		return f.recordFailureLocked(fl, class.String(), "TaskManager failed", nil, lg)
	case ExitClassLost:
		f.m.lost.Inc()
		lg.Warn().Str("exit", yarn.ExitStatusText(st.ExitStatus)).Msg("TaskManager lost to the cluster; replacing it (not a failure)")
	default:
		lg.Info().Str("exit", yarn.ExitStatusText(st.ExitStatus)).Msg("TaskManager ended; replacing it")
	}
	f.replacedLocked(amapi.Completion{Failure: fl, ClassName: class.String()})
	return nil
}

// recordFailureLocked is the one failure path, for a TaskManager that
// failed and one that could not be started: the restart policy decides;
// the decision is kept with the completion and logged, a quarantined node
// is blacklisted, and the replacement is counted. It returns the
// application's end when the policy gives up. f.mu is held.
func (f *fleet) recordFailureLocked(fl amapi.Failure, class, what string, cause error, lg zerolog.Logger) *Final {
	d := f.tr.Failure(fl)
	c := amapi.Completion{Failure: fl, ClassName: class, Decision: d.Reason, DecisionCode: string(d.Code), QuarantinedNode: d.Quarantine}
	if d.GiveUp {
		f.keepLocked(c)
		lg.Error().Err(cause).Str("reason", d.Reason).Str("code", string(d.Code)).Msg(what + "; giving up")
		return &Final{Status: yarn.FinalFailed, Diagnostics: d.Reason}
	}
	lg.Warn().Err(cause).Dur("backoff", d.Delay).Str("reason", d.Reason).Str("code", string(d.Code)).Msg(what + "; replacing it")
	if d.Quarantine != "" {
		if err := f.amrm.Blacklist([]string{d.Quarantine}, nil); err != nil {
			lg.Warn().Err(err).Msg("blacklisting refused")
		}
	}
	f.replacedLocked(c)
	return nil
}

// replacedLocked keeps c and counts the replacement the next reconcile
// requests; f.mu is held.
func (f *fleet) replacedLocked(c amapi.Completion) {
	f.keepLocked(c)
	f.restarts++
	f.m.restarted.Inc()
}

func (f *fleet) keepLocked(c amapi.Completion) {
	f.completions = append(f.completions, c)
	if len(f.completions) > keptCompletions {
		f.completions = f.completions[len(f.completions)-keptCompletions:]
	}
}

// adopt takes over containers an earlier attempt left running (from the
// register response, or recovered by a restarted RM), up to the target;
// the rest are released.
func (f *fleet) adopt(cs []yarn.Container, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registeredAt = now
	for _, c := range cs {
		if c.ID == f.self {
			continue
		}
		if _, ok := f.tms[c.ID]; ok {
			continue
		}
		if !f.open || f.activeLocked() >= f.target {
			f.lg.Info().Stringer("container_id", c.ID).Msg("releasing an earlier attempt's container: the fleet is complete")
			f.amrm.Release(c.ID)
			continue
		}
		f.putLocked(c.ID, &taskManager{c: c, state: tmRunning, since: now, adopted: true})
		f.adopted++
		f.lg.Info().Stringer("container_id", c.ID).Str("node", c.Node.String()).Msg("adopted a TaskManager of an earlier attempt")
	}
	f.updateGaugesLocked()
}

// launch starts containers, one goroutine per NodeManager so that a slow
// node holds back only its own containers; results come back on
// f.launched. ctx is the kill context: ending it cuts the starts off.
func (f *fleet) launch(ctx context.Context, cs []yarn.Container, le launchEnv, mode amapi.Mode) {
	byNode := map[yarn.NodeID][]yarn.StartRequest{}
	for _, c := range cs {
		env := make(map[string]string, len(f.env)+7)
		for k, v := range f.env {
			env[k] = v
		}
		env[amapi.EnvAppID] = f.att.App.String()
		env[amapi.EnvAttemptID] = f.att.String()
		env[amapi.EnvMode] = string(mode)
		env[amapi.EnvAMURL] = le.tracking
		env[amapi.EnvJMAddress] = le.jmAddr
		env[amapi.EnvJMRESTAddress] = le.jmREST
		env[amapi.EnvResourceID] = c.ID.String()
		byNode[c.Node] = append(byNode[c.Node], yarn.StartRequest{Container: c, Launch: yarn.ContainerLaunchContext{
			Commands: []string{f.cmd}, Environment: env, LocalResources: f.res, Tokens: le.creds}})
	}
	for node, reqs := range byNode {
		f.launchWG.Go(func() {
			start := time.Now()
			res, err := f.nm.StartContainers(ctx, reqs)
			f.lg.Debug().Str("node", node.String()).Int("count", len(reqs)).Dur("duration", time.Since(start)).Msg("startContainers returned")
			for _, q := range reqs {
				lr := launchResult{id: q.Container.ID, err: err}
				if err == nil {
					lr.err = res.Failed[q.Container.ID]
				}
				f.launched <- lr
			}
		})
	}
}

// onLaunched records a start's outcome. A container that could not be
// started is released; the start error counts as a failure on its node
// unless it is recoverable (yarn.RecoverableStartError: the NodeManager
// was not ready yet or is going away, as nomad's restart tracker treats
// recoverable start errors), and the container is replaced.
func (f *fleet) onLaunched(lr launchResult, now time.Time) *Final {
	f.mu.Lock()
	defer f.mu.Unlock()
	tm, ok := f.tms[lr.id]
	if !ok {
		return nil // completed (or released) while being started
	}
	lg := f.lg.With().Stringer("container_id", lr.id).Str("node", tm.c.Node.String()).Logger()
	if lr.err == nil && tm.state == tmStopping {
		return nil // released as surplus while being started (live.go)
	}
	if lr.err == nil {
		f.setStateLocked(tm, tmRunning)
		tm.since = now
		lg.Info().Msg("TaskManager started")
		f.updateGaugesLocked()
		return nil
	}
	f.dropLocked(lr.id)
	f.amrm.Release(lr.id)
	f.m.launchErr.Inc()
	f.updateGaugesLocked()
	if !f.open {
		return nil
	}
	fl := amapi.Failure{At: now, Container: lr.id.String(), Node: tm.c.Node.Host, NodeHTTP: tm.c.NodeHTTPAddress, ExitStatus: yarn.ExitInvalid,
		Diagnostics: "could not start the container: " + amapi.OneLine(lr.err.Error(), 400)}
	if yarn.RecoverableStartError(lr.err) {
		lg.Warn().Err(lr.err).Msg("TaskManager could not be started: the NodeManager is not ready or going away; replacing it (not a failure)")
		f.replacedLocked(amapi.Completion{Failure: fl, ClassName: classLaunchRecoverable})
		return nil
	}
	return f.recordFailureLocked(fl, classLaunchFailed, "TaskManager could not be started", lr.err, lg)
}

// drainLaunches waits for every start in flight, recording the outcomes.
func (f *fleet) drainLaunches(now func() time.Time) {
	all := make(chan struct{})
	go func() {
		f.launchWG.Wait()
		close(all)
	}()
	for {
		select {
		case lr := <-f.launched:
			f.onLaunched(lr, now())
		case <-all:
			return
		}
	}
}

// stopAll stops every TaskManager, the nodes in parallel, within timeout.
func (f *fleet) stopAll(ctx context.Context, timeout time.Duration) {
	f.mu.Lock()
	byNode := map[yarn.NodeID][]yarn.ContainerID{}
	for id, tm := range f.tms {
		if tm.state == tmStopping {
			continue
		}
		f.setStateLocked(tm, tmStopping)
		byNode[tm.c.Node] = append(byNode[tm.c.Node], id)
	}
	f.updateGaugesLocked()
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for node, ids := range byNode {
		slices.SortFunc(ids, func(a, b yarn.ContainerID) int { return int(a.ID - b.ID) })
		wg.Go(func() {
			res, err := f.nm.StopContainers(ctx, node, ids)
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				// The RM kills them when the application ends anyway.
				f.lg.Warn().Err(err).Str("node", node.String()).Int("count", len(ids)).Msg("could not stop TaskManagers")
			}
		})
	}
	wg.Wait()
	f.lg.Info().Int("nodes", len(byNode)).Msg("TaskManagers stopped")
}

// fill writes the fleet's part of a Status; user (the application
// user) makes the containers' log links.
func (f *fleet) fill(s *amapi.Status, user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Target, s.Pending, s.Excess = f.target, f.askedLocked(), f.excess
	s.PendingReason, s.PendingDetail = f.pendingLocked()
	s.Launching, s.Running = f.countLocked(tmLaunching), f.countLocked(tmRunning)
	s.Adopted, s.Restarts = f.adopted, f.restarts
	s.LostUnconfirmed, s.EarlyDeaths = f.countLocked(tmLost), f.earlyDeaths
	s.Completions = slices.Clone(f.completions)
	if s.Completions == nil {
		s.Completions = []amapi.Completion{}
	}
	s.TaskManagers = make([]amapi.TaskManagerInfo, 0, len(f.tms))
	for id, tm := range f.tms {
		s.TaskManagers = append(s.TaskManagers, amapi.TaskManagerInfo{ContainerID: id.String(), Node: tm.c.Node.String(),
			NodeHTTP: tm.c.NodeHTTPAddress, State: string(tm.state), Since: tm.since, Adopted: tm.adopted, Live: tm.live != 0,
			Host: tm.c.Node.Host, MetricsPort: tm.metricsPort})
	}
	slices.SortFunc(s.TaskManagers, func(a, b amapi.TaskManagerInfo) int { return strings.Compare(a.ContainerID, b.ContainerID) })
	for i := range s.TaskManagers {
		t := &s.TaskManagers[i]
		t.LogURL = amapi.LogURL(t.NodeHTTP, t.ContainerID, user)
	}
	for i := range s.Completions {
		c := &s.Completions[i]
		c.LogURL = amapi.LogURL(c.NodeHTTP, c.Container, user)
	}
}
