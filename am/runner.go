package am

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// Runner is the ApplicationMaster of one application attempt: it
// registers, runs the JobManager as a child process, keeps the
// TaskManager fleet at its target and ends the application when asked to
// (or when the restart policy gives up, or a per-job JobManager exits).
//
// Run blocks; the caller owns the goroutine. Stop asks for a graceful
// stop (a kill in STYLE §6 terms: TaskManagers stopped, JobManager
// stopped, unregistered SUCCEEDED, staging removed). Cancelling Run's
// context is a shutdown: the JobManager stops, the TaskManagers keep
// running and the application stays registered for the next attempt.
type Runner struct {
	opts  Options
	spec  amapi.Spec
	att   yarn.AttemptID
	lg    zerolog.Logger
	amrm  *yarn.AMRMClient
	nm    *yarn.NMClient
	tmTr  *Tracker
	jmTr  *Tracker
	m     *metrics
	tmReq yarn.ContainerRequest
	tmRes map[string]yarn.LocalResource
	tmCmd string

	stopc    chan string // graceful stop requests, with diagnostics
	launched chan launchResult
	launchWG sync.WaitGroup

	done      chan struct{}
	runMu     sync.Mutex
	running   bool
	cancelRun context.CancelFunc
	closeOnce sync.Once

	// mu guards the state below: the loop writes it, the HTTP handlers
	// read it.
	mu           sync.Mutex
	phase        amapi.Phase
	tms          map[yarn.ContainerID]*taskManager
	restarts     int
	completions  []amapi.Completion
	trackingURL  string
	jm           *jobManager
	jmState      string
	jmRestarts   int
	final        *Final
	registeredAt time.Time
	lastHB       time.Time
	lastHBErr    string
	adopted      int
	// creds are the AM's credentials, tmCred what TaskManagers get
	// (without the AMRMToken); credGen counts token refreshes, and
	// credChanged is closed and replaced at each.
	creds       *yarn.Credentials
	tmCred      *yarn.Credentials
	credGen     uint64
	credChanged chan struct{}
	// httpStop is closed when Run ends, to release long polls.
	httpStop chan struct{}
}

// Final is how the application ended.
type Final struct {
	Status      yarn.FinalStatus
	Diagnostics string
}

type tmState string

const (
	tmLaunching tmState = "launching"
	tmRunning   tmState = "running"
	tmStopping  tmState = "stopping"
)

type taskManager struct {
	c       yarn.Container
	state   tmState
	since   time.Time
	adopted bool
}

type launchResult struct {
	id  yarn.ContainerID
	err error
}

// maxDiagnostics bounds the diagnostics sent to the RM (YARN keeps 64 KB).
const maxDiagnostics = 8 << 10

// New validates opts and prepares the clients; it does not dial.
func New(opts Options) (*Runner, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	tok, err := yarn.AMRMTokenFromCredentials(opts.Credentials)
	if err != nil {
		return nil, err
	}
	lg := opts.Logger.With().Str("component", "am").Stringer("app_id", opts.Container.Attempt.App).
		Stringer("attempt_id", opts.Container.Attempt).Logger()
	amo := opts.AMRM
	amo.Token = tok
	amo.Logger = opts.Logger
	amrm, err := yarn.NewAMRMClient(amo)
	if err != nil {
		return nil, err
	}
	nmo := opts.NM
	nmo.Tokens = amrm.NMTokens()
	nmo.Logger = opts.Logger
	nm, err := yarn.NewNMClient(nmo)
	if err != nil {
		amrm.Close()
		return nil, err
	}
	spec := opts.Spec
	tm := spec.TaskManagers
	r := &Runner{opts: opts, spec: spec, att: opts.Container.Attempt, lg: lg, amrm: amrm, nm: nm,
		tmTr: NewTracker("TaskManager", spec.Restart, opts.Rand), jmTr: NewTracker("JobManager", spec.Restart, opts.Rand),
		m: newMetrics(), creds: opts.Credentials, tmCred: forwardable(opts.Credentials), credChanged: make(chan struct{}), httpStop: make(chan struct{}),
		stopc: make(chan string, 1), launched: make(chan launchResult), done: make(chan struct{}),
		phase: amapi.PhaseStarting, tms: map[yarn.ContainerID]*taskManager{}}
	r.tmReq = yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: tm.MemoryMB, VCores: max(tm.VCores, 1)}, Priority: tm.Priority,
		Nodes: tm.Nodes, Racks: tm.Racks, RelaxLocality: tm.RelaxLocality, NodeLabel: tm.NodeLabel}
	r.tmCmd = tm.Command
	if !strings.Contains(r.tmCmd, "<LOG_DIR>") {
		r.tmCmd += " 1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.err"
	}
	r.tmRes = map[string]yarn.LocalResource{}
	for name, f := range tm.Files {
		lr, err := f.Resource()
		if err != nil {
			return nil, err
		}
		r.tmRes[name] = lr
	}
	r.m.target.Set(float64(tm.Count))
	return r, nil
}

// Done is closed when Run has returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Stop asks the running AM to end the application gracefully: stop the
// TaskManagers, then the JobManager, unregister SUCCEEDED with
// diagnostics, remove the staging directory. It does not wait (see Done).
func (r *Runner) Stop(diagnostics string) {
	select {
	case r.stopc <- diagnostics:
	default: // a stop is already pending
	}
}

// Close shuts a running AM down (as cancelling Run's context does) and
// waits until Run has returned, then closes the clients. Idempotent.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.runMu.Lock()
		running, cancel := r.running, r.cancelRun
		r.runMu.Unlock()
		if running {
			cancel()
			<-r.done
		}
		r.amrm.Close()
		r.nm.Close()
	})
	return nil
}

// Final reports how the application ended, once Run unregistered it.
func (r *Runner) Final() (Final, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final == nil || r.phase != amapi.PhaseFinished {
		return Final{}, false
	}
	return *r.final, true
}

// Run runs the AM until the application ends (it returns nil once the
// application is unregistered, whatever the final status) or ctx ends
// (a shutdown: it returns ctx's error and leaves the application for the
// next attempt). Other errors mean the attempt cannot go on (the RM no
// longer knows it, or could not be reached within the retry policy);
// the caller should exit non-zero so that YARN starts the next attempt.
// Run may be called once.
func (r *Runner) Run(ctx context.Context) error {
	r.runMu.Lock()
	if r.running {
		r.runMu.Unlock()
		return errors.New("am: Run called twice")
	}
	r.running = true
	ctx, cancel := context.WithCancel(ctx)
	r.cancelRun = cancel
	r.runMu.Unlock()
	defer close(r.done)
	defer cancel()

	ln, err := net.Listen("tcp", r.opts.HTTPAddr)
	if err != nil {
		return fmt.Errorf("am: HTTP endpoint: %w", err)
	}
	srv := &http.Server{Handler: r.handler(), ReadHeaderTimeout: 10 * time.Second}
	var httpWG sync.WaitGroup
	httpWG.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.lg.Warn().Err(err).Msg("HTTP endpoint stopped")
		}
	})
	defer func() {
		close(r.httpStop)
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		httpWG.Wait()
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	tracking := "http://" + net.JoinHostPort(r.opts.Host, strconv.Itoa(port)) + "/"

	launchCtx, cancelLaunches := context.WithCancel(ctx)
	defer cancelLaunches()

	if r.opts.Tokens != nil {
		tctx, cancelTokens := context.WithCancel(ctx)
		var tokenWG sync.WaitGroup
		tokenWG.Go(func() { r.refreshTokens(tctx) })
		defer func() { cancelTokens(); tokenWG.Wait() }()
	}

	// The JobManager's ports are chosen before registering: the AM
	// registers with the JobManager's REST port as its RPC port, so the
	// report's host:rpc_port names the JobManager's REST endpoint, which
	// is where Flink's YARN client looks for a session
	// (YarnClusterDescriptor reads rest.address/rest.port from the report).
	jm, err := newJobManager(r.spec.JobManager, r.opts.Environ, r.processVars(tracking), r.opts.WorkDir, r.opts.LogDir, r.opts.Host, r.lg)
	if err != nil {
		return err
	}
	reg, err := r.amrm.Register(ctx, r.opts.Host, int32(jm.restPort), tracking)
	if err != nil {
		return fmt.Errorf("am: register: %w", err)
	}
	now := r.opts.Now()
	r.mu.Lock()
	r.trackingURL, r.registeredAt, r.phase = tracking, now, amapi.PhaseRunning
	r.mu.Unlock()
	r.lg.Info().Str("tracking_url", tracking).Int("adoptable", len(reg.ContainersFromPreviousAttempts)).Msg("application master registered")
	r.adopt(reg.ContainersFromPreviousAttempts, now)

	r.mu.Lock()
	r.jm = jm
	r.mu.Unlock()
	jmExit, err := r.startJobManager()
	if err != nil {
		return r.finish(ctx, cancelLaunches, Final{yarn.FinalFailed, err.Error()})
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	var nextHB, jmRestartAt time.Time
	for {
		var fin *Final
		select {
		case <-ctx.Done():
			return r.shutdown(cancelLaunches, ctx.Err())
		case diag := <-r.stopc:
			r.lg.Info().Str("diagnostics", diag).Msg("stop requested")
			return r.finish(ctx, cancelLaunches, Final{yarn.FinalSucceeded, diag})
		case lr := <-r.launched:
			fin = r.onLaunched(lr, r.opts.Now())
		case e := <-jmExit:
			jmExit = nil
			// The NodeManager's SIGTERM reaches the JobManager (same process
			// group) as it reaches the AM: an exit then is a shutdown, not
			// the JobManager's verdict.
			if r.terminating(ctx) {
				return r.shutdown(cancelLaunches, ctx.Err())
			}
			fin, jmRestartAt = r.onJobManagerExit(e, r.opts.Now())
		case <-timer.C:
		}
		now := r.opts.Now()
		if fin == nil && !jmRestartAt.IsZero() && !now.Before(jmRestartAt) {
			jmRestartAt = time.Time{}
			r.mu.Lock()
			r.jmRestarts++
			r.mu.Unlock()
			r.m.jmRestart.Inc()
			if jmExit, err = r.startJobManager(); err != nil {
				fin = &Final{yarn.FinalFailed, err.Error()}
			}
		}
		if fin == nil {
			if rel := r.tmTr.Release(now); len(rel) > 0 {
				r.lg.Info().Strs("nodes", rel).Msg("quarantine over; taking nodes off the blacklist")
				if err := r.amrm.Blacklist(nil, rel); err != nil {
					r.lg.Warn().Err(err).Msg("blacklist removal refused")
				}
			}
		}
		var changed bool
		var hold time.Time
		if fin == nil {
			changed, hold, fin = r.reconcile(now)
		}
		if fin == nil && (changed || !now.Before(nextHB)) {
			var err error
			fin, err = r.heartbeat(ctx, launchCtx, now)
			if err != nil {
				if ctx.Err() != nil {
					return r.shutdown(cancelLaunches, ctx.Err())
				}
				return r.shutdown(cancelLaunches, err)
			}
			if fin == nil {
				_, hold, fin = r.reconcile(now)
				nextHB = now.Add(r.interval())
			}
		}
		if fin != nil {
			return r.finish(ctx, cancelLaunches, *fin)
		}
		wake := nextHB
		for _, t := range []time.Time{hold, jmRestartAt, r.tmTr.NextRelease()} {
			if !t.IsZero() && t.Before(wake) {
				wake = t
			}
		}
		timer.Reset(max(wake.Sub(now), time.Millisecond))
	}
}

// terminationGrace is how long a JobManager exit waits for the AM's own
// SIGTERM: the NodeManager signals the whole container at once.
const terminationGrace = 300 * time.Millisecond

// terminating reports whether ctx ends within terminationGrace.
func (r *Runner) terminating(ctx context.Context) bool {
	t := time.NewTimer(terminationGrace)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return false
	}
}

// processVars are the SPINDLE_* variables of the JobManager.
func (r *Runner) processVars(tracking string) map[string]string {
	v := map[string]string{
		amapi.EnvAppID:        r.att.App.String(),
		amapi.EnvAttemptID:    r.att.String(),
		amapi.EnvMode:         string(r.spec.Mode),
		amapi.EnvAMURL:        tracking,
		amapi.EnvTaskManagers: strconv.Itoa(r.spec.TaskManagers.Count),
		amapi.EnvBinary:       r.opts.Executable,
	}
	if k := r.spec.Kerberos; k != nil {
		// A payload with its own token renewal (Flink's delegation token
		// manager) logs in with the same keytab.
		v[amapi.EnvKerberosPrincipal] = k.Principal
		v[amapi.EnvKerberosKeytab] = filepath.Join(r.opts.WorkDir, k.Keytab)
	}
	return v
}

func (r *Runner) startJobManager() (<-chan jmExit, error) {
	ch, err := r.jm.start()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.jmState = "failed to start"
		return nil, err
	}
	r.jmState = "running"
	return ch, nil
}

// onJobManagerExit decides what a JobManager exit means: the end of a
// per-job application, or (session) a restart after the policy's delay.
func (r *Runner) onJobManagerExit(e jmExit, now time.Time) (*Final, time.Time) {
	tail := r.jm.tail.String()
	lg := r.lg.With().Int("exit_code", e.Code).Logger()
	r.mu.Lock()
	r.jmState = fmt.Sprintf("exited with code %d", e.Code)
	r.mu.Unlock()
	what := fmt.Sprintf("the JobManager exited with code %d", e.Code)
	if e.Err != nil {
		what = fmt.Sprintf("the JobManager ended: %v", e.Err)
	}
	if r.spec.Mode == amapi.ModePerJob {
		if e.Code == 0 && e.Err == nil {
			lg.Info().Msg("JobManager finished; the per-job application succeeded")
			return &Final{yarn.FinalSucceeded, ""}, time.Time{}
		}
		lg.Error().Msg("JobManager failed; the per-job application failed")
		return &Final{yarn.FinalFailed, fmt.Sprintf("%s; its last output lines:\n%s", what, tail)}, time.Time{}
	}
	if e.Code == 0 && e.Err == nil {
		lg.Info().Msg("JobManager exited cleanly; ending the session")
		return &Final{yarn.FinalSucceeded, what + ", ending the session"}, time.Time{}
	}
	d := r.jmTr.Failure(amapi.Failure{At: now, ExitStatus: int32(e.Code), Diagnostics: lastLines(tail, 3)})
	if d.GiveUp {
		lg.Error().Str("reason", d.Reason).Msg("giving up on the JobManager")
		return &Final{yarn.FinalFailed, fmt.Sprintf("%s\nlast JobManager output:\n%s", d.Reason, tail)}, time.Time{}
	}
	lg.Warn().Dur("backoff", d.Delay).Str("reason", d.Reason).Msg("JobManager failed; restarting it")
	r.mu.Lock()
	r.jmState = "restarting"
	r.mu.Unlock()
	return nil, now.Add(d.Delay)
}

// interval is the next heartbeat delay: fast while the fleet is short
// (requests pending, containers being started, a backoff running), slow
// when it is complete.
func (r *Runner) interval() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.amrm.PendingRequests() > 0 || r.countLocked(tmLaunching) > 0 || r.activeLocked() < r.spec.TaskManagers.Count {
		return r.opts.HeartbeatFast
	}
	return r.opts.HeartbeatIdle
}

func (r *Runner) countLocked(s tmState) int {
	n := 0
	for _, t := range r.tms {
		if t.state == s {
			n++
		}
	}
	return n
}

// activeLocked counts TaskManagers being started or running.
func (r *Runner) activeLocked() int { return len(r.tms) - r.countLocked(tmStopping) }

// reconcile brings the outstanding requests in line with the target:
// it asks for what is missing (unless a backoff holds replacements back,
// then it returns when the hold ends) and withdraws what is too much.
func (r *Runner) reconcile(now time.Time) (changed bool, hold time.Time, fin *Final) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.phase != amapi.PhaseRunning {
		return false, time.Time{}, nil
	}
	pending := r.amrm.PendingRequests()
	want := r.spec.TaskManagers.Count - r.activeLocked() - pending
	switch {
	case want > 0:
		if h := r.tmTr.HoldUntil(); now.Before(h) {
			hold = h
			break
		}
		for range want {
			if err := r.amrm.AddRequest(r.tmReq); err != nil {
				return changed, hold, &Final{yarn.FinalFailed, fmt.Sprintf("cannot request TaskManagers: %v", err)}
			}
			changed = true
		}
		r.lg.Debug().Int("count", want).Msg("requesting TaskManager containers")
	case want < 0:
		for i := 0; i < -want && r.amrm.RemoveRequest(r.tmReq); i++ {
			changed = true
		}
	}
	r.updateGaugesLocked()
	return changed, hold, nil
}

func (r *Runner) updateGaugesLocked() {
	r.m.pending.Set(float64(r.amrm.PendingRequests()))
	r.m.launching.Set(float64(r.countLocked(tmLaunching)))
	r.m.running.Set(float64(r.countLocked(tmRunning)))
}

// progress is running / target.
func (r *Runner) progress() float32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spec.TaskManagers.Count == 0 {
		return 1
	}
	return min(float32(r.countLocked(tmRunning))/float32(r.spec.TaskManagers.Count), 1)
}

// heartbeat sends one allocate and acts on its result. An error means the
// attempt cannot go on.
func (r *Runner) heartbeat(ctx, launchCtx context.Context, now time.Time) (*Final, error) {
	start := time.Now()
	res, err := r.amrm.Allocate(ctx, r.progress())
	r.m.heartbeat.Observe(time.Since(start).Seconds())
	r.mu.Lock()
	r.lastHB = r.opts.Now()
	if err != nil {
		r.lastHBErr = err.Error()
	} else {
		r.lastHBErr = ""
	}
	r.mu.Unlock()
	if err != nil {
		r.m.hbErrors.Inc()
		switch {
		case errors.Is(err, yarn.ErrAttemptNotFound), errors.Is(err, yarn.ErrInvalidAMRequest), errors.Is(err, yarn.ErrAMShutdown):
			return nil, fmt.Errorf("am: the ResourceManager ended this attempt: %w", err)
		}
		return nil, fmt.Errorf("am: heartbeat: %w", err)
	}
	if res.Resynced {
		r.lg.Warn().Msg("re-registered with the ResourceManager (restart or failover) and resent all requests")
	}
	if res.AMRMToken != nil {
		r.lg.Info().Msg("the ResourceManager rolled the AMRMToken")
	}
	var toLaunch []yarn.Container
	var fin *Final
	r.mu.Lock()
	for _, c := range res.Allocated {
		r.m.allocated.Inc()
		if r.phase != amapi.PhaseRunning || r.activeLocked() >= r.spec.TaskManagers.Count {
			r.lg.Info().Stringer("container_id", c.ID).Str("node", c.Node.String()).Msg("releasing excess container: the fleet is complete")
			r.amrm.Release(c.ID)
			r.m.excess.Inc()
			continue
		}
		r.tms[c.ID] = &taskManager{c: c, state: tmLaunching, since: now}
		toLaunch = append(toLaunch, c)
	}
	r.m.excess.Add(float64(len(res.Excess)))
	for _, st := range res.Completed {
		if f := r.completedLocked(st, now, fin != nil); f != nil {
			fin = f
		}
	}
	r.mu.Unlock()
	if len(res.PreviousAttemptContainers) > 0 {
		r.adopt(res.PreviousAttemptContainers, now)
	}
	for _, n := range res.UpdatedNodes {
		if !n.State.Usable() {
			r.lg.Warn().Str("node", n.ID.String()).Stringer("state", n.State).Msg("node unusable; its containers will be replaced when the RM reports them")
		}
	}
	if p := res.Preemption; p != nil {
		r.lg.Warn().Int("strict", len(p.Strict)).Int("contract", len(p.Contract)).Msg("the RM is about to preempt TaskManagers; they will be replaced")
	}
	if fin != nil {
		// The application ends: what was just allocated is never started.
		r.mu.Lock()
		for _, c := range toLaunch {
			delete(r.tms, c.ID)
			r.amrm.Release(c.ID)
		}
		r.mu.Unlock()
		return fin, nil
	}
	if len(toLaunch) > 0 {
		r.launch(launchCtx, toLaunch)
	}
	return nil, nil
}

const keptCompletions = 20

// completedLocked handles a completed container (ending: the
// application is already ending, only forget it); mu is held.
func (r *Runner) completedLocked(st yarn.ContainerStatus, now time.Time, ending bool) *Final {
	tm, ok := r.tms[st.ID]
	if !ok {
		r.lg.Debug().Stringer("container_id", st.ID).Int32("exit_status", st.ExitStatus).Msg("completed container is not a TaskManager of ours (released, or an earlier attempt's)")
		return nil
	}
	delete(r.tms, st.ID)
	if ending || tm.state == tmStopping || r.phase != amapi.PhaseRunning {
		return nil
	}
	class := Classify(st.ExitStatus)
	f := amapi.Failure{At: now, Container: st.ID.String(), Node: tm.c.Node.Host, ExitStatus: st.ExitStatus, Diagnostics: amapi.OneLine(st.Diagnostics, 500)}
	c := amapi.Completion{Failure: f, ClassName: class.String()}
	lg := r.lg.With().Stringer("container_id", st.ID).Str("node", tm.c.Node.String()).Int32("exit_status", st.ExitStatus).Logger()
	var fin *Final
	switch class {
	case ExitClassFailed, ExitClassSucceeded:
		// A TaskManager that exits by itself, even with 0, is the
		// payload's doing: it counts (else `true` as a command would
		// replace itself forever).
		r.m.failed.Inc()
		d := r.tmTr.Failure(f)
		c.Decision = d.Reason
		if d.GiveUp {
			lg.Error().Str("reason", d.Reason).Msg("TaskManager failed; giving up")
			fin = &Final{yarn.FinalFailed, d.Reason}
			break
		}
		lg.Warn().Dur("backoff", d.Delay).Str("reason", d.Reason).Msg("TaskManager failed; replacing it")
		if d.Quarantine != "" {
			if err := r.amrm.Blacklist([]string{d.Quarantine}, nil); err != nil {
				lg.Warn().Err(err).Msg("blacklisting refused")
			}
		}
	case ExitClassLost:
		r.m.lost.Inc()
		lg.Warn().Str("exit", yarn.ExitStatusText(st.ExitStatus)).Msg("TaskManager lost to the cluster; replacing it (not a failure)")
	default:
		lg.Info().Str("exit", yarn.ExitStatusText(st.ExitStatus)).Msg("TaskManager ended; replacing it")
	}
	r.completions = append(r.completions, c)
	if len(r.completions) > keptCompletions {
		r.completions = r.completions[len(r.completions)-keptCompletions:]
	}
	if fin == nil {
		r.restarts++
		r.m.restarted.Inc()
	}
	return fin
}

// adopt takes over containers an earlier attempt left running (from the
// register response, or recovered by a restarted RM), up to the target;
// the rest are released.
func (r *Runner) adopt(cs []yarn.Container, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		if c.ID == r.opts.Container {
			continue
		}
		if _, ok := r.tms[c.ID]; ok {
			continue
		}
		if r.phase != amapi.PhaseRunning || r.activeLocked() >= r.spec.TaskManagers.Count {
			r.lg.Info().Stringer("container_id", c.ID).Msg("releasing an earlier attempt's container: the fleet is complete")
			r.amrm.Release(c.ID)
			continue
		}
		r.tms[c.ID] = &taskManager{c: c, state: tmRunning, since: now, adopted: true}
		r.adopted++
		r.lg.Info().Stringer("container_id", c.ID).Str("node", c.Node.String()).Msg("adopted a TaskManager of an earlier attempt")
	}
	r.updateGaugesLocked()
}

// launch starts containers, one goroutine per NodeManager so that a slow
// node holds back only its own containers; results come back on
// r.launched.
func (r *Runner) launch(ctx context.Context, cs []yarn.Container) {
	r.mu.Lock()
	jmAddr, jmREST, tracking, creds := r.jm.Address(), r.jm.RESTAddress(), r.trackingURL, r.tmCred
	r.mu.Unlock()
	byNode := map[yarn.NodeID][]yarn.StartRequest{}
	for _, c := range cs {
		env := make(map[string]string, len(r.spec.TaskManagers.Env)+6)
		for k, v := range r.spec.TaskManagers.Env {
			env[k] = v
		}
		env[amapi.EnvAppID] = r.att.App.String()
		env[amapi.EnvAttemptID] = r.att.String()
		env[amapi.EnvMode] = string(r.spec.Mode)
		env[amapi.EnvAMURL] = tracking
		env[amapi.EnvJMAddress] = jmAddr
		env[amapi.EnvJMRESTAddress] = jmREST
		env[amapi.EnvResourceID] = c.ID.String()
		byNode[c.Node] = append(byNode[c.Node], yarn.StartRequest{Container: c, Launch: yarn.ContainerLaunchContext{
			Commands: []string{r.tmCmd}, Environment: env, LocalResources: r.tmRes, Tokens: creds}})
	}
	for node, reqs := range byNode {
		r.launchWG.Go(func() {
			start := time.Now()
			res, err := r.nm.StartContainers(ctx, reqs)
			r.lg.Debug().Str("node", node.String()).Int("count", len(reqs)).Dur("duration", time.Since(start)).Msg("startContainers returned")
			for _, q := range reqs {
				lr := launchResult{id: q.Container.ID, err: err}
				if err == nil {
					lr.err = res.Failed[q.Container.ID]
				}
				r.launched <- lr
			}
		})
	}
}

// onLaunched records a start's outcome. A container that could not be
// started is released and counts as a failure on its node.
func (r *Runner) onLaunched(lr launchResult, now time.Time) *Final {
	r.mu.Lock()
	defer r.mu.Unlock()
	tm, ok := r.tms[lr.id]
	if !ok {
		return nil // completed (or released) while being started
	}
	lg := r.lg.With().Stringer("container_id", lr.id).Str("node", tm.c.Node.String()).Logger()
	if lr.err == nil {
		tm.state, tm.since = tmRunning, now
		lg.Info().Msg("TaskManager started")
		r.updateGaugesLocked()
		return nil
	}
	delete(r.tms, lr.id)
	r.amrm.Release(lr.id)
	r.m.launchErr.Inc()
	r.updateGaugesLocked()
	if r.phase != amapi.PhaseRunning {
		return nil
	}
	f := amapi.Failure{At: now, Container: lr.id.String(), Node: tm.c.Node.Host, ExitStatus: yarn.ExitInvalid,
		Diagnostics: "could not start the container: " + amapi.OneLine(lr.err.Error(), 400)}
	d := r.tmTr.Failure(f)
	r.completions = append(r.completions, amapi.Completion{Failure: f, ClassName: "launch-failed", Decision: d.Reason})
	if d.GiveUp {
		lg.Error().Err(lr.err).Msg("TaskManager could not be started; giving up")
		return &Final{yarn.FinalFailed, d.Reason}
	}
	lg.Warn().Err(lr.err).Str("reason", d.Reason).Msg("TaskManager could not be started; replacing it")
	if d.Quarantine != "" {
		if err := r.amrm.Blacklist([]string{d.Quarantine}, nil); err != nil {
			lg.Warn().Err(err).Msg("blacklisting refused")
		}
	}
	r.restarts++
	r.m.restarted.Inc()
	return nil
}

// drainLaunches waits for every start in flight, recording the outcomes.
func (r *Runner) drainLaunches() {
	all := make(chan struct{})
	go func() {
		r.launchWG.Wait()
		close(all)
	}()
	for {
		select {
		case lr := <-r.launched:
			r.onLaunched(lr, r.opts.Now())
		case <-all:
			return
		}
	}
}

// shutdown leaves the application to the next attempt: the JobManager
// stops, the TaskManagers keep running, nothing is unregistered.
func (r *Runner) shutdown(cancelLaunches context.CancelFunc, cause error) error {
	r.lg.Warn().Err(cause).Msg("shutting down; the application stays registered for the next attempt")
	r.mu.Lock()
	r.phase = amapi.PhaseShutdown
	jm := r.jm
	r.mu.Unlock()
	cancelLaunches()
	r.drainLaunches()
	if jm != nil {
		jm.stop(min(r.opts.StopTimeout, 2*time.Second))
	}
	return cause
}

// finish ends the application (a kill): requests withdrawn, TaskManagers
// stopped, the JobManager stopped, unregistered with f, staging removed.
func (r *Runner) finish(ctx context.Context, cancelLaunches context.CancelFunc, f Final) error {
	if len(f.Diagnostics) > maxDiagnostics {
		f.Diagnostics = f.Diagnostics[:maxDiagnostics] + "…"
	}
	r.lg.Info().Stringer("final_status", f.Status).Str("diagnostics", amapi.OneLine(f.Diagnostics, 300)).Msg("ending the application")
	r.mu.Lock()
	r.phase = amapi.PhaseStopping
	r.final = &f
	jm := r.jm
	tracking := r.trackingURL
	r.mu.Unlock()
	for r.amrm.RemoveRequest(r.tmReq) {
	}
	// Starts in flight complete (a NodeManager that hangs is cut off).
	cut := time.AfterFunc(r.opts.StopTimeout, cancelLaunches)
	r.drainLaunches()
	cut.Stop()
	// Finishing must not be cut short by the SIGTERM that may follow.
	fctx := context.WithoutCancel(ctx)
	r.stopTaskManagers(fctx)
	if jm != nil {
		jm.stop(r.opts.StopTimeout)
	}
	uctx, cancel := context.WithTimeout(fctx, 3*r.opts.StopTimeout)
	defer cancel()
	if err := r.amrm.Finish(uctx, f.Status, f.Diagnostics, tracking); err != nil {
		r.mu.Lock()
		r.phase = amapi.PhaseShutdown
		r.mu.Unlock()
		return fmt.Errorf("am: unregister %s: %w", f.Status, err)
	}
	r.mu.Lock()
	r.phase = amapi.PhaseFinished
	r.mu.Unlock()
	r.lg.Info().Stringer("final_status", f.Status).Msg("application unregistered")
	if r.opts.Staging != nil {
		sctx, cancel := context.WithTimeout(fctx, r.opts.StopTimeout)
		defer cancel()
		if err := r.opts.Staging.Delete(sctx, r.att.App.String()); err != nil {
			r.lg.Warn().Err(err).Msg("could not remove the staging directory; spindle gc will")
		} else {
			r.lg.Info().Msg("staging directory removed")
		}
	}
	return nil
}

// stopTaskManagers stops every TaskManager, the nodes in parallel.
func (r *Runner) stopTaskManagers(ctx context.Context) {
	r.mu.Lock()
	byNode := map[yarn.NodeID][]yarn.ContainerID{}
	for id, tm := range r.tms {
		if tm.state == tmStopping {
			continue
		}
		tm.state = tmStopping
		byNode[tm.c.Node] = append(byNode[tm.c.Node], id)
	}
	r.updateGaugesLocked()
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, r.opts.StopTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for node, ids := range byNode {
		slices.SortFunc(ids, func(a, b yarn.ContainerID) int { return int(a.ID - b.ID) })
		wg.Go(func() {
			res, err := r.nm.StopContainers(ctx, node, ids)
			if err == nil {
				err = res.Err()
			}
			if err != nil {
				// The RM kills them when the application ends anyway.
				r.lg.Warn().Err(err).Str("node", node.String()).Int("count", len(ids)).Msg("could not stop TaskManagers")
			}
		})
	}
	wg.Wait()
	r.lg.Info().Int("nodes", len(byNode)).Msg("TaskManagers stopped")
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
