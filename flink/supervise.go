package flink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/spindle-yarn/spindle/internal/proc"
)

// StopGrace is how long a TaskManager's java gets after SIGTERM before
// SIGKILL (Flink's scripts allow 10 s; the NodeManager's own SIGKILL
// usually comes first).
const StopGrace = 10 * time.Second

// SuperviseOptions configure SuperviseTaskManager.
type SuperviseOptions struct {
	// Launch prepares the TaskManager (Role RoleTaskManager); its
	// JobManagerAddress is the JobManager's RPC address at start.
	Launch LaunchOptions
	// Every is how often the JobManager's RPC address is dialled; 0
	// means 2 s.
	Every time.Duration
	// Locate returns the application's current JobManager RPC address
	// (amapi.Locator); it is asked once the JobManager missed three dials
	// in a row. Nil never finds another: java keeps its JobManager.
	Locate func(ctx context.Context) (string, error)
	// StopGrace is how long java gets after SIGTERM before SIGKILL; 0
	// means StopGrace.
	StopGrace time.Duration
	// Stdout and Stderr receive java's output; Stderr also gets one line
	// per start and move. Nil discards.
	Stdout, Stderr io.Writer
}

// ExitError is java's end as the launcher's: Code is java's exit code,
// or 128+signal when a signal ended it.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("java exited with code %d", e.Code) }

// ExitCode is Code, so that the command ends with java's exit status
// (it makes ExitError a cli.ExitCoder).
func (e *ExitError) ExitCode() int { return e.Code }

// exitErrorOf is nil for a java that succeeded, else its *ExitError.
func exitErrorOf(ps *os.ProcessState) error {
	if ps.Success() {
		return nil
	}
	code := ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return &ExitError{code}
}

// SuperviseTaskManager runs a TaskManager's java as a child until it
// ends or ctx ends (the NodeManager's SIGTERM), and restarts it, prepared
// again, against the JobManager's new address when the JobManager moved
// (a new AM attempt adopted the container and started its own): Flink's
// standalone TaskManager never looks for one itself. When ctx ends java
// gets SIGTERM, then SIGKILL after StopGrace. It returns java's end: nil
// for exit code 0, else an *ExitError; or the error that kept java from
// starting.
func SuperviseTaskManager(ctx context.Context, o SuperviseOptions) error {
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	if o.StopGrace <= 0 {
		o.StopGrace = StopGrace
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	locate := o.Locate
	if locate == nil {
		locate = func(context.Context) (string, error) { return "", errors.New("flink: no JobManager locator") }
	}
	lo := o.Launch
	for {
		p, err := Prepare(lo)
		if err != nil {
			return err
		}
		cmd := exec.Command(p.Java, p.Args[1:]...)
		cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = p.Env, p.Dir, o.Stdout, o.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", p.Java, err)
		}
		fmt.Fprintf(o.Stderr, "spindle flink taskmanager: started %s %s (pid %d) for the JobManager at %s, with %s\n",
			p.Java, p.MainClass(), cmd.Process.Pid, lo.JobManagerAddress, p.ConfFile)
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		moved := watchJobManager(ctx, lo.JobManagerAddress, o.Every, locate, exited)
		select {
		case <-exited:
			return exitErrorOf(cmd.ProcessState)
		default:
		}
		proc.Stop(cmd.Process, false, o.StopGrace, exited)
		if moved == "" { // ctx ended: the container is being stopped
			return exitErrorOf(cmd.ProcessState)
		}
		fmt.Fprintf(o.Stderr, "spindle flink taskmanager: the JobManager moved from %s to %s (a new AM attempt); restarting the TaskManager\n",
			lo.JobManagerAddress, moved)
		lo.JobManagerAddress = moved
	}
}

// watchJobManager returns when java exits (""), when ctx ends (""), or
// with the JobManager's new address once the current one has not
// answered three checks in a row and locate names another.
func watchJobManager(ctx context.Context, addr string, every time.Duration, locate func(context.Context) (string, error), exited <-chan struct{}) string {
	t := time.NewTicker(every)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-exited:
			return ""
		case <-ctx.Done():
			return ""
		case <-t.C:
		}
		d := net.Dialer{Timeout: max(every, time.Second)}
		if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			misses = 0
			continue
		}
		if misses++; misses < 3 {
			continue
		}
		if now, err := locate(ctx); err == nil && now != "" && now != addr {
			return now
		}
	}
}

// MainClass is the class java runs: the argument after -classpath's
// value, "?" if there is none.
func (p *Process) MainClass() string {
	for i, a := range p.Args {
		if a == "-classpath" && i+2 < len(p.Args) {
			return p.Args[i+2]
		}
	}
	return "?"
}
