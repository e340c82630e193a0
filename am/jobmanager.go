package am

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/proc"
)

// jobManager runs the JobManager as a child of the AM, in the AM
// container, in a process group of its own (setParentDeathSignal): only
// the AM signals it. Its stdout and stderr go to
// <log dir>/jobmanager.out and jobmanager.err, and the last lines of both
// are kept for diagnostics. The ports are chosen once per AM attempt and
// kept across restarts, so a restarted JobManager has the same address.
type jobManager struct {
	spec     amapi.ProcessSpec
	env      []string // the full environment of the child
	workDir  string
	logDir   string
	host     string
	rpcPort  int
	restPort int
	// metricsPort is the port of its Prometheus endpoint
	// (amapi.ProcessSpec.Metrics), 0 without one.
	metricsPort int
	lg          zerolog.Logger
	tail        *lineRing

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan jmExit // receives one value per start
	starts   int
	startAt  time.Time
	lastExit *jmExit
}

// jmExit is the end of one JobManager process.
type jmExit struct {
	Code int // exit code; 128+signal if killed by a signal; -1 if it never started
	Err  error
	At   time.Time
}

// freePort asks the kernel for a free TCP port. There is a window between
// closing the probe and the JobManager binding it; nothing else on a
// NodeManager hands out ports, and a JobManager that cannot bind fails
// and is restarted (session) with new ones by the next attempt.
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func newJobManager(spec amapi.ProcessSpec, base []string, vars map[string]string, workDir, logDir, host string, lg zerolog.Logger) (*jobManager, error) {
	rpc, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("am: choosing the JobManager RPC port: %w", err)
	}
	rest, err := freePort()
	for err == nil && rest == rpc {
		rest, err = freePort()
	}
	if err != nil {
		return nil, fmt.Errorf("am: choosing the JobManager REST port: %w", err)
	}
	j := &jobManager{spec: spec, workDir: workDir, logDir: logDir, host: host, rpcPort: rpc, restPort: rest,
		lg: lg, tail: newLineRing(20)}
	if spec.Metrics {
		j.metricsPort, err = freePort()
		for err == nil && (j.metricsPort == rpc || j.metricsPort == rest) {
			j.metricsPort, err = freePort()
		}
		if err != nil {
			return nil, fmt.Errorf("am: choosing the JobManager metrics port: %w", err)
		}
	}
	all := map[string]string{}
	for k, v := range vars {
		all[k] = v
	}
	all[amapi.EnvJMHost] = host
	all[amapi.EnvJMRPCPort] = strconv.Itoa(rpc)
	all[amapi.EnvJMRESTPort] = strconv.Itoa(rest)
	all[amapi.EnvJMAddress] = j.Address()
	all[amapi.EnvJMRESTAddress] = j.RESTAddress()
	if j.metricsPort > 0 {
		all[amapi.EnvJMMetricsPort] = strconv.Itoa(j.metricsPort)
	}
	all[amapi.EnvResultFile] = j.resultFile()
	j.env = append([]string(nil), base...)
	for k, v := range spec.Env {
		j.env = append(j.env, k+"="+v)
	}
	for k, v := range all {
		j.env = append(j.env, k+"="+v)
	}
	return j, nil
}

// resultFile is where a per-job JobManager may write its Result
// (amapi.EnvResultFile).
func (j *jobManager) resultFile() string { return filepath.Join(j.logDir, amapi.ResultFileName) }

// Address is the JobManager's RPC address.
func (j *jobManager) Address() string { return net.JoinHostPort(j.host, strconv.Itoa(j.rpcPort)) }

// RESTAddress is the JobManager's REST address.
func (j *jobManager) RESTAddress() string { return net.JoinHostPort(j.host, strconv.Itoa(j.restPort)) }

// lookup resolves ${VAR} in the command: the child's environment wins.
func (j *jobManager) lookup(k string) string {
	for i := len(j.env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(j.env[i], k+"="); ok {
			return v
		}
	}
	return ""
}

// start starts a JobManager process; its end arrives on the returned
// channel (exactly one value).
func (j *jobManager) start() (<-chan jmExit, error) {
	for _, f := range j.spec.Files {
		if _, err := os.Stat(filepath.Join(j.workDir, f)); err != nil {
			return nil, fmt.Errorf("am: JobManager file %q is missing from the AM's working directory (ship it as an AM local resource): %w", f, err)
		}
	}
	argv := make([]string, len(j.spec.Command))
	for i, a := range j.spec.Command {
		argv[i] = os.Expand(a, j.lookup)
	}
	out, err := os.OpenFile(filepath.Join(j.logDir, "jobmanager.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("am: JobManager log: %w", err)
	}
	errf, err := os.OpenFile(filepath.Join(j.logDir, "jobmanager.err"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("am: JobManager log: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = j.workDir
	cmd.Env = j.env
	cmd.Stdout = io.MultiWriter(out, j.tail)
	cmd.Stderr = io.MultiWriter(errf, j.tail)
	setParentDeathSignal(cmd)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.starts++
	fmt.Fprintf(j.tail, "--- JobManager start %d: %s\n", j.starts, strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("am: starting the JobManager %q: %w", argv[0], err)
	}
	j.cmd, j.startAt = cmd, time.Now()
	ch := make(chan jmExit, 1)
	j.exited = ch
	go func() {
		werr := cmd.Wait()
		out.Close()
		errf.Close()
		e := jmExit{At: time.Now()}
		var ee *exec.ExitError
		switch {
		case werr == nil:
		case errors.As(werr, &ee):
			e.Code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				e.Code = 128 + int(ws.Signal())
			}
		default:
			e.Code, e.Err = -1, werr
		}
		j.mu.Lock()
		j.cmd, j.lastExit = nil, &e
		j.mu.Unlock()
		ch <- e
	}()
	j.lg.Info().Int("pid", cmd.Process.Pid).Str("address", j.Address()).Str("rest_address", j.RESTAddress()).Int("attempt", j.starts).Msg("JobManager started")
	return ch, nil
}

// stop ends the running JobManager, if any: SIGTERM, then SIGKILL after
// grace; it waits for the process to be gone (its exit value stays on
// the channel start returned).
func (j *jobManager) stop(grace time.Duration) {
	j.mu.Lock()
	cmd, ch := j.cmd, j.exited
	j.mu.Unlock()
	if cmd == nil {
		return
	}
	var e jmExit
	exited := make(chan struct{})
	go func() {
		e = <-ch
		close(exited)
	}()
	// The group: a launcher's children too (a JobManager has a process
	// group of its own where setParentDeathSignal gives it one).
	group := cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid
	if proc.Stop(cmd.Process, group, grace, exited) {
		j.lg.Warn().Dur("duration", grace).Msg("JobManager did not stop on SIGTERM; killing it")
	}
	ch <- e // leave it for whoever waits
}

// pid is the running JobManager's process id, 0 if none.
func (j *jobManager) pid() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cmd == nil || j.cmd.Process == nil {
		return 0
	}
	return j.cmd.Process.Pid
}

// lineRing keeps the last n lines written to it. Safe for concurrent use.
type lineRing struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial []byte
}

func newLineRing(n int) *lineRing { return &lineRing{n: n} }

func (r *lineRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		line := string(r.partial[:i])
		r.partial = r.partial[i+1:]
		if len(line) > 1000 {
			line = line[:1000] + "…"
		}
		r.lines = append(r.lines, line)
		if len(r.lines) > r.n {
			r.lines = r.lines[len(r.lines)-r.n:]
		}
	}
	if len(r.partial) > 4096 { // a line without end: keep its tail
		r.partial = r.partial[len(r.partial)-4096:]
	}
	return len(p), nil
}

// String returns the kept lines, and an unfinished last line.
func (r *lineRing) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.lines, "\n")
	if len(r.partial) > 0 {
		s += "\n" + string(r.partial)
	}
	return strings.TrimSpace(s)
}
