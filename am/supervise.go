package am

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// jmSupervisor keeps the JobManager process for the run loop: it starts
// it, decides what an exit means (the end of a per-job application, the
// end of a session, or a restart under the JobManager's restart policy)
// and restarts it. The process itself (ports, command, output) is the
// jobManager; jmSupervisor adds the policy and the state the status page
// shows, behind its own lock.
//
// The JobManager runs in a process group of its own (see
// setParentDeathSignal), so the NodeManager's SIGTERM to the container
// reaches the AM only: every JobManager exit the AM did not cause is the
// JobManager's own verdict, and a shutdown stops the JobManager from the
// AM. (The kernel SIGKILLs it if the AM dies first.)
type jmSupervisor struct {
	// Set by newJMSupervisor, read-only afterwards.
	proc *jobManager // safe for concurrent use
	mode amapi.Mode
	tr   *Tracker // safe for concurrent use
	m    *metrics
	lg   zerolog.Logger
	// app and container name the AM's container, for the log of a
	// per-job Result.
	app, container string

	// mu guards the fields below.
	mu       sync.Mutex
	state    string // in words, for the status page
	restarts int
}

func newJMSupervisor(proc *jobManager, mode amapi.Mode, tr *Tracker, m *metrics, lg zerolog.Logger) *jmSupervisor {
	return &jmSupervisor{proc: proc, mode: mode, tr: tr, m: m, lg: lg}
}

func (s *jmSupervisor) setState(st string) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// start starts the JobManager; its exit arrives on the channel returned.
func (s *jmSupervisor) start() (<-chan jmExit, error) {
	ch, err := s.proc.start()
	if err != nil {
		s.setState("failed to start")
		return nil, err
	}
	s.setState("running")
	return ch, nil
}

// restart starts the JobManager again after a failure.
func (s *jmSupervisor) restart() (<-chan jmExit, error) {
	s.mu.Lock()
	s.restarts++
	s.mu.Unlock()
	s.m.jmRestart.Inc()
	return s.start()
}

// exited decides what a JobManager exit means: the end of a per-job
// application (SUCCEEDED with exit 0), or (session, whatever the exit
// code) a failure under the JobManager's restart policy: a restart at the
// returned time, after the policy's delay, or the end when it gives up.
func (s *jmSupervisor) exited(e jmExit, now time.Time) (*Final, time.Time) {
	tail := s.proc.tail.String()
	lg := s.lg.With().Int("exit_code", e.Code).Logger()
	s.setState(fmt.Sprintf("exited with code %d", e.Code))
	what := fmt.Sprintf("the JobManager exited with code %d", e.Code)
	if e.Err != nil {
		what = fmt.Sprintf("the JobManager ended: %v", e.Err)
	}
	if s.mode == amapi.ModePerJob {
		res := s.result(e)
		if e.Code == 0 && e.Err == nil {
			lg.Info().Msg("JobManager finished; the per-job application succeeded")
			return &Final{Status: yarn.FinalSucceeded, Result: res}, time.Time{}
		}
		lg.Error().Msg("JobManager failed; the per-job application failed")
		return &Final{Status: yarn.FinalFailed, Diagnostics: fmt.Sprintf("%s; its last output lines:\n%s", what, tail), Result: res}, time.Time{}
	}
	// A session ends only by the authenticated stop (the loop takes a
	// pending one before the exit it causes): a session JobManager that
	// exits by itself, with 0 too, failed. Flink's REST DELETE /cluster,
	// which anyone who reaches the REST port may send, ends the
	// JobManager with 0; it must not end the application SUCCEEDED and
	// delete its staging directory.
	d := s.tr.Failure(amapi.Failure{At: now, ExitStatus: int32(e.Code), Diagnostics: lastLines(tail, 3)})
	if d.GiveUp {
		lg.Error().Str("reason", d.Reason).Str("code", string(d.Code)).Msg("giving up on the JobManager")
		return &Final{Status: yarn.FinalFailed, Diagnostics: fmt.Sprintf("%s\nlast JobManager output:\n%s", d.Reason, tail)}, time.Time{}
	}
	lg.Warn().Dur("backoff", d.Delay).Str("reason", d.Reason).Str("code", string(d.Code)).Msg("JobManager failed; restarting it")
	s.setState("restarting")
	return nil, now.Add(d.Delay)
}

// result is a per-job JobManager's Result (amapi/result.go): the one it
// wrote to its result file, else one worded from its exit (the job state
// its payload gives the code, ProcessSpec.ExitStates) and its log. The
// log is named in either, as the container log `yarn logs` shows.
func (s *jmSupervisor) result(e jmExit) *amapi.Result {
	p := s.proc
	logFile := p.spec.LogFile
	if logFile == "" {
		logFile = "jobmanager.out"
	}
	where := fmt.Sprintf("%s on %s", filepath.Join(p.logDir, logFile), p.host)
	if s.app != "" && s.container != "" {
		where += fmt.Sprintf(" (yarn logs -applicationId %s -containerId %s -log_files %s)", s.app, s.container, logFile)
	}
	r, err := amapi.ReadResultFile(p.resultFile())
	if err != nil {
		s.lg.Warn().Err(err).Msg("the JobManager's result file does not decode; wording the result from its exit")
	}
	if r == nil {
		r = &amapi.Result{State: p.spec.ExitStates[e.Code], Summary: fmt.Sprintf("the JobManager exited with code %d", e.Code)}
		if e.Err != nil {
			r.Summary = fmt.Sprintf("the JobManager ended: %v", e.Err)
		}
	}
	if r.Log == "" {
		r.Log = where
	}
	return r
}

// stop ends the running JobManager, if any, within grace.
func (s *jmSupervisor) stop(grace time.Duration) { s.proc.stop(grace) }

// info is the JobManager's part of a Status.
func (s *jmSupervisor) info(app, attempt string) amapi.JobManagerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return amapi.JobManagerInfo{AppID: app, AttemptID: attempt, State: s.state, Restarts: s.restarts,
		Address: s.proc.Address(), RESTAddress: s.proc.RESTAddress(), PID: s.proc.pid(), MetricsPort: s.proc.metricsPort}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
