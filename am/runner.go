package am

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/net/netutil"

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
	// Set by New, read-only afterwards.
	opts  Options
	spec  amapi.Spec
	att   yarn.AttemptID
	lg    zerolog.Logger
	amrm  *yarn.AMRMClient // safe for concurrent use
	nm    *yarn.NMClient   // safe for concurrent use
	m     *metrics
	fleet *fleet   // the TaskManagers; its own lock
	jmTr  *Tracker // the JobManager's restart policy; safe for concurrent use

	// stopc carries graceful stop requests (with their diagnostics) to
	// the loop.
	stopc chan string
	// done is closed when Run has returned.
	done chan struct{}

	// runMu guards running and cancelRun, which make Run once-only and
	// let Close shut a running AM down.
	runMu     sync.Mutex
	running   bool
	cancelRun context.CancelFunc
	closeOnce sync.Once

	// The two ways to end (STYLE §6), set by Run before the loop starts
	// and used by the loop goroutine only:
	//
	// shutdownCtx is Run's context. It ends when the attempt is shut down
	// (the NodeManager's SIGTERM, Close): the JobManager stops, the
	// TaskManagers keep running, and the application stays registered
	// for the next attempt.
	shutdownCtx context.Context
	// killCtx ends with shutdownCtx, or when the application is being
	// ended (finish, a kill: stop requested, a per-job JobManager's exit,
	// the policy giving up): container starts in flight are cut off with
	// it. kill ends it.
	killCtx context.Context
	kill    context.CancelFunc

	// mu guards the fields below: the loop writes them, the HTTP
	// handlers read them.
	mu           sync.Mutex
	phase        amapi.Phase
	trackingURL  string
	jm           *jmSupervisor // nil until registered
	final        *Final
	registeredAt time.Time
	lastHB       time.Time
	lastHBErr    string
	// creds are the AM's credentials, tmCred what TaskManagers get
	// (without the AMRMToken); credGen counts token refreshes, and
	// credChanged is closed and replaced at each.
	creds       *yarn.Credentials
	tmCred      *yarn.Credentials
	credGen     uint64
	credChanged chan struct{}
	// httpStop is closed when Run ends, to release long polls.
	httpStop chan struct{}
	// httpLim bounds the HTTP endpoint (defaultHTTPLimits; tests shrink
	// it); the refusals rate-limit the warnings of refused requests.
	httpLim                                  httpLimits
	stopRefusals, credRefusals, liveRefusals logLimiter
}

// Final is how the application ended.
type Final struct {
	Status      yarn.FinalStatus
	Diagnostics string
	// Result is a per-job job's result (amapi/result.go), appended to the
	// diagnostics the AM unregisters with.
	Result *amapi.Result
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
	// The fleet asks in batches of their own allocation request ids and
	// counts what it asked itself (fleet.askedAt), so the RM's own
	// decrements need not be echoed (YARN-1902).
	amo.LeaveDecrementsToRM = true
	nodes := newNodeView(opts.Spec.TaskManagers.ClusterNodes)
	if amo.ResolveRack == nil {
		amo.ResolveRack = nodes.rackOf
	}
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
	m := newMetrics()
	fl, err := newFleet(opts.Spec.TaskManagers, opts.Container.Attempt, opts.Container, amrm, nm,
		NewTracker("TaskManager", opts.Spec.Restart, opts.Rand), m, lg)
	if fl != nil {
		fl.nodes, fl.now = nodes, opts.Now
	}
	m.attempt.Set(float64(opts.Container.Attempt.Attempt))
	m.info.WithLabelValues(opts.Container.Attempt.String()).Set(1)
	m.setTokenExpiry(opts.Credentials)
	if err != nil {
		amrm.Close()
		nm.Close()
		return nil, err
	}
	return &Runner{opts: opts, spec: opts.Spec, att: opts.Container.Attempt, lg: lg, amrm: amrm, nm: nm, m: m, fleet: fl,
		jmTr: NewTracker("JobManager", opts.Spec.Restart, opts.Rand), creds: opts.Credentials, tmCred: forwardable(opts.Credentials),
		credChanged: make(chan struct{}), httpStop: make(chan struct{}), stopc: make(chan string, 1), done: make(chan struct{}),
		phase: amapi.PhaseStarting, httpLim: defaultHTTPLimits}, nil
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
	r.shutdownCtx = ctx
	r.killCtx, r.kill = context.WithCancel(ctx)
	defer r.kill()

	ln, err := r.listenHTTP()
	if err != nil {
		return err
	}
	defer r.serveHTTP(ln)()
	tracking := "http://" + net.JoinHostPort(r.opts.Host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)) + "/"

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
	proc, err := newJobManager(r.spec.JobManager, r.opts.Environ, r.processVars(tracking), r.opts.WorkDir, r.opts.LogDir, r.opts.Host, r.lg)
	if err != nil {
		return err
	}
	reg, err := r.amrm.Register(ctx, r.opts.Host, int32(proc.restPort), tracking)
	if err != nil {
		return fmt.Errorf("am: register: %w", err)
	}
	now := r.opts.Now()
	r.setPhase(amapi.PhaseRunning, func() { r.trackingURL, r.registeredAt = tracking, now })
	r.m.registered.Set(float64(now.UnixMilli()) / 1e3)
	r.lg.Info().Str("tracking_url", tracking).Int("adoptable", len(reg.ContainersFromPreviousAttempts)).Msg("application master registered")
	r.fleet.adopt(reg.ContainersFromPreviousAttempts, now)

	jm := newJMSupervisor(proc, r.spec.Mode, r.jmTr, r.m, r.lg)
	jm.app, jm.container = r.att.App.String(), r.opts.Container.String()
	r.mu.Lock()
	r.jm = jm
	r.mu.Unlock()
	jmExit, err := jm.start()
	if err != nil {
		return r.finish(Final{Status: yarn.FinalFailed, Diagnostics: err.Error()})
	}
	return r.loop(jmExit)
}

// listenHTTP opens the listener of the AM's HTTP endpoint: on
// Options.HTTPAddr, by default on the AM's host address (the host of the
// tracking URL, which is what the RM's web proxy, the submitter and the
// TaskManagers connect to) rather than on every interface, with at most
// httpLim.maxConns connections open.
func (r *Runner) listenHTTP() (net.Listener, error) {
	addr := r.opts.HTTPAddr
	if addr == "" {
		addr = net.JoinHostPort(r.opts.Host, "0")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil && r.opts.HTTPAddr == "" {
		// The node's name does not resolve to one of its own addresses
		// (a NAT, a broken /etc/hosts): every interface, as before,
		// rather than no AM at all.
		r.lg.Warn().Err(err).Str("host", r.opts.Host).Msg("cannot listen on the AM's host address; the HTTP endpoint listens on every interface")
		ln, err = net.Listen("tcp", ":0")
	}
	if err != nil {
		return nil, fmt.Errorf("am: HTTP endpoint: %w", err)
	}
	if r.httpLim.maxConns > 0 {
		ln = netutil.LimitListener(ln, r.httpLim.maxConns)
	}
	return ln, nil
}

// serveHTTP serves the AM's endpoint on ln until the returned function
// is called (when Run ends): it releases the long polls and shuts the
// server down.
func (r *Runner) serveHTTP(ln net.Listener) (stop func()) {
	l := r.httpLim
	srv := &http.Server{Handler: r.handler(), ReadHeaderTimeout: l.readHeader, ReadTimeout: l.read, WriteTimeout: l.write,
		IdleTimeout: l.idle, MaxHeaderBytes: l.maxHeaderBytes}
	r.stopRefusals.every, r.credRefusals.every, r.liveRefusals.every = l.refusedLogEvery, l.refusedLogEvery, l.refusedLogEvery
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.lg.Warn().Err(err).Msg("HTTP endpoint stopped")
		}
	})
	return func() {
		close(r.httpStop)
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		wg.Wait()
	}
}

// loop is the AM's life once registered: one timer wakes it for the
// heartbeat, the end of a backoff, a JobManager restart or the end of a
// quarantine; launches, JobManager exits, stop requests and the end of a
// heartbeat wake it too.
//
// The heartbeat (allocate) runs in a goroutine of its own, one at a time:
// an RM that stopped answering holds an allocate up to the call timeout
// (yarn.AMRMOptions.CallTimeout), a failover up to the retry policy's
// wait, and meanwhile the loop goes on handling stops, JobManager exits
// and launches. Before the loop ends the application (finish) or the
// attempt (shutdown), it cancels the allocate in flight and waits for it.
func (r *Runner) loop(jmExit <-chan jmExit) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	hbCtx, hbCancel := context.WithCancel(r.shutdownCtx)
	var hbc chan hbResult // non-nil while an allocate is in flight
	quiesce := func() {
		hbCancel()
		if hbc != nil {
			<-hbc
			hbc = nil
		}
	}
	defer quiesce()
	var nextHB, jmRestartAt time.Time
	lastOK := r.opts.Now() // the last heartbeat that reached the RM (or the registration)
	again := false         // something changed while an allocate was in flight
	for {
		var fin *Final
		beat := false // this wake-up is the end of a heartbeat
		select {
		case <-r.shutdownCtx.Done():
			quiesce()
			return r.shutdown(r.shutdownCtx.Err())
		case diag := <-r.stopc:
			quiesce()
			r.lg.Info().Str("diagnostics", diag).Msg("stop requested")
			return r.finish(Final{Status: yarn.FinalSucceeded, Diagnostics: diag})
		case <-r.fleet.wake: // a TaskManager taken for dead (live.go): reconcile now
		case lr := <-r.fleet.launched:
			fin = r.fleet.onLaunched(lr, r.opts.Now())
		case e := <-jmExit:
			// Only the AM signals the JobManager (it has a process group of
			// its own): this exit is the JobManager's verdict, unless a stop
			// was requested meanwhile (the stop is the expected end).
			select {
			case diag := <-r.stopc:
				quiesce()
				r.lg.Info().Str("diagnostics", diag).Int("jobmanager_exit_code", e.Code).Msg("stop requested")
				return r.finish(Final{Status: yarn.FinalSucceeded, Diagnostics: diag})
			default:
			}
			jmExit = nil
			fin, jmRestartAt = r.jm.exited(e, r.opts.Now())
		case h := <-hbc:
			hbc, beat = nil, true
			now := r.opts.Now()
			var err error
			if fin, err = r.heartbeatDone(h, now, lastOK); err != nil {
				if r.shutdownCtx.Err() != nil {
					err = r.shutdownCtx.Err()
				}
				quiesce()
				return r.shutdown(err)
			}
			if h.err == nil {
				lastOK = now
			}
			nextHB = now.Add(r.interval())
			if h.err != nil {
				nextHB = now.Add(r.opts.HeartbeatFast) // resend soon
			}
		case <-timer.C:
		}
		now := r.opts.Now()
		if fin == nil && !jmRestartAt.IsZero() && !now.Before(jmRestartAt) {
			jmRestartAt = time.Time{}
			var err error
			if jmExit, err = r.jm.restart(); err != nil {
				fin = &Final{Status: yarn.FinalFailed, Diagnostics: err.Error()}
			}
		}
		if fin == nil {
			r.releaseQuarantines(now)
		}
		var changed bool
		var hold time.Time
		if fin == nil {
			changed, hold, fin = r.fleet.reconcile(now)
		}
		// What reconcile changes at the end of a heartbeat goes with the
		// next one, as it always did; other changes go at once.
		changed = changed && !beat
		if fin == nil {
			switch {
			case hbc != nil:
				again = again || changed
			case changed || again || !now.Before(nextHB):
				again = false
				hbc = r.startHeartbeat(hbCtx)
			}
		}
		if fin != nil {
			quiesce()
			return r.finish(*fin)
		}
		wake := time.Time{}
		if hbc == nil {
			wake = nextHB
		}
		for _, t := range []time.Time{hold, jmRestartAt, r.fleet.tr.NextRelease()} {
			if !t.IsZero() && (wake.IsZero() || t.Before(wake)) {
				wake = t
			}
		}
		if wake.IsZero() {
			wake = now.Add(r.opts.HeartbeatIdle) // an allocate is in flight; its end wakes the loop
		}
		timer.Reset(max(wake.Sub(now), time.Millisecond))
	}
}

// releaseQuarantines takes the nodes whose quarantine is over off the
// RM's blacklist.
func (r *Runner) releaseQuarantines(now time.Time) {
	if rel := r.fleet.tr.Release(now); len(rel) > 0 {
		r.lg.Info().Strs("nodes", rel).Msg("quarantine over; taking nodes off the blacklist")
		if err := r.amrm.Blacklist(nil, rel); err != nil {
			r.lg.Warn().Err(err).Msg("blacklist removal refused")
		}
	}
}

// setPhase moves the Runner to p (with more changes under the same lock
// in also, if not nil) and opens the fleet only while p is running.
func (r *Runner) setPhase(p amapi.Phase, also func()) {
	r.mu.Lock()
	r.phase = p
	if also != nil {
		also()
	}
	r.mu.Unlock()
	r.fleet.setOpen(p == amapi.PhaseRunning)
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

// interval is the next heartbeat delay: fast while the fleet is short
// (requests pending, containers being started, a backoff running), slow
// when it is complete.
func (r *Runner) interval() time.Duration {
	if r.fleet.short() {
		return r.opts.HeartbeatFast
	}
	return r.opts.HeartbeatIdle
}

// hbResult is the outcome of one allocate.
type hbResult struct {
	res *yarn.AllocateResult
	err error
}

// startHeartbeat sends one allocate in a goroutine of its own; its
// outcome arrives on the channel returned (the loop waits for it before
// ending).
func (r *Runner) startHeartbeat(ctx context.Context) chan hbResult {
	ch := make(chan hbResult, 1)
	progress := r.fleet.progress()
	go func() {
		start := time.Now()
		res, err := r.amrm.Allocate(ctx, progress)
		r.m.heartbeat.Observe(time.Since(start).Seconds())
		ch <- hbResult{res, err}
	}()
	return ch
}

// heartbeatGiveUp is how long transport failures of the heartbeat are
// retried: the RM's default AM expiry (yarn.am.liveness-monitor.expiry-
// interval-ms), after which it has ended the attempt anyway.
const heartbeatGiveUp = 10 * time.Minute

// heartbeatDone acts on the outcome of an allocate. An error means the
// attempt cannot go on. A transport failure (a connection lost or cut,
// an RM that did not answer within the call timeout) is not one: the
// next heartbeat resends the allocate, which the response id makes safe
// (the RM answers a repeated id from its last response; yarn.AMRMClient
// resends what that answer did not take), until no heartbeat has reached
// the RM for heartbeatGiveUp.
func (r *Runner) heartbeatDone(h hbResult, now, lastOK time.Time) (*Final, error) {
	res, err := h.res, h.err
	r.mu.Lock()
	r.lastHB = r.opts.Now()
	r.lastHBErr = ""
	if err != nil {
		r.lastHBErr = err.Error()
	}
	r.mu.Unlock()
	if err != nil {
		r.m.hbErrors.Inc()
		switch {
		case errors.Is(err, yarn.ErrAttemptNotFound), errors.Is(err, yarn.ErrInvalidAMRequest), errors.Is(err, yarn.ErrAMShutdown):
			return nil, fmt.Errorf("am: the ResourceManager ended this attempt: %w", err)
		case yarn.IsTransport(err) && !errors.Is(err, yarn.ErrUnreachable) && now.Sub(lastOK) < heartbeatGiveUp:
			r.lg.Warn().Err(err).Dur("since_last_heartbeat", now.Sub(lastOK)).Msg("heartbeat failed in transit; resending it")
			return nil, nil
		}
		return nil, fmt.Errorf("am: heartbeat: %w", err)
	}
	if res.Resynced {
		r.lg.Warn().Msg("re-registered with the ResourceManager (restart or failover) and resent all requests")
	}
	if res.AMRMToken != nil {
		r.lg.Info().Msg("the ResourceManager rolled the AMRMToken")
	}
	r.fleet.nodes.update(res.UpdatedNodes)
	toLaunch, fin := r.fleet.allocated(res, now)
	if len(res.PreviousAttemptContainers) > 0 {
		r.fleet.adopt(res.PreviousAttemptContainers, now)
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
		return fin, nil
	}
	if len(toLaunch) > 0 {
		r.mu.Lock()
		le := launchEnv{jmAddr: r.jm.proc.Address(), jmREST: r.jm.proc.RESTAddress(), tracking: r.trackingURL, creds: r.tmCred}
		r.mu.Unlock()
		r.fleet.launch(r.killCtx, toLaunch, le, r.spec.Mode)
	}
	return nil, nil
}

// shutdown leaves the application to the next attempt: the JobManager
// stops, the TaskManagers keep running, nothing is unregistered.
func (r *Runner) shutdown(cause error) error {
	r.lg.Warn().Err(cause).Msg("shutting down; the application stays registered for the next attempt")
	r.setPhase(amapi.PhaseShutdown, nil)
	r.kill()
	r.fleet.drainLaunches(r.opts.Now)
	r.mu.Lock()
	jm := r.jm
	r.mu.Unlock()
	if jm != nil {
		jm.stop(min(r.opts.StopTimeout, 2*time.Second))
	}
	return cause
}

// finish ends the application (a kill): requests withdrawn, TaskManagers
// stopped, the JobManager stopped, unregistered with f, staging removed.
func (r *Runner) finish(f Final) error {
	if len(f.Diagnostics) > maxDiagnostics || f.Result != nil {
		f.Diagnostics = amapi.WithResult(f.Diagnostics, f.Result, maxDiagnostics)
	}
	r.lg.Info().Stringer("final_status", f.Status).Str("diagnostics", amapi.OneLine(f.Diagnostics, 300)).Msg("ending the application")
	r.setPhase(amapi.PhaseStopping, func() { r.final = &f })
	r.mu.Lock()
	jm, tracking := r.jm, r.trackingURL
	r.mu.Unlock()
	r.fleet.withdraw()
	// Starts in flight complete (a NodeManager that hangs is cut off).
	cut := time.AfterFunc(r.opts.StopTimeout, r.kill)
	r.fleet.drainLaunches(r.opts.Now)
	cut.Stop()
	// Finishing must not be cut short by the SIGTERM that may follow.
	fctx := context.WithoutCancel(r.shutdownCtx)
	r.fleet.stopAll(fctx, r.opts.StopTimeout)
	if jm != nil {
		jm.stop(r.opts.StopTimeout)
	}
	uctx, cancel := context.WithTimeout(fctx, 3*r.opts.StopTimeout)
	defer cancel()
	if err := r.amrm.Finish(uctx, f.Status, f.Diagnostics, tracking); err != nil {
		r.setPhase(amapi.PhaseShutdown, nil)
		return fmt.Errorf("am: unregister %s: %w", f.Status, err)
	}
	r.setPhase(amapi.PhaseFinished, nil)
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
