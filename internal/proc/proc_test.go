package proc_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/internal/proc"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// child starts sh -c script (which prints "ready" once set up), in its
// own process group when group is set, and returns it with the channel
// closed when it has been waited for.
func child(t *testing.T, group bool, script string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	if group {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	// Read before Wait: Wait closes the pipe once the process has exited
	// (os/exec: reads must be done first), and "echo ready" exits at once.
	line, rerr := bufio.NewReader(out).ReadString('\n')
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		<-exited
	})
	require.NoError(t, rerr)
	require.Equal(t, "ready\n", line)
	return cmd, exited
}

func signalled(t *testing.T, cmd *exec.Cmd) syscall.Signal {
	t.Helper()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "%v", cmd.ProcessState)
	return ws.Signal()
}

// A process that ends on SIGTERM is not killed, and Stop returns as soon
// as it is gone, not after the grace.
func TestStopTerminates(t *testing.T) {
	cmd, exited := child(t, false, "echo ready; exec sleep 60")
	start := time.Now()
	require.False(t, proc.Stop(cmd.Process, false, time.Minute, exited))
	require.Less(t, time.Since(start), 30*time.Second)
	require.Equal(t, syscall.SIGTERM, signalled(t, cmd))
}

// A process that ignores SIGTERM gets SIGKILL after the grace.
func TestStopKillsAfterGrace(t *testing.T) {
	cmd, exited := child(t, false, "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	const grace = 200 * time.Millisecond
	start := time.Now()
	require.True(t, proc.Stop(cmd.Process, false, grace, exited))
	require.GreaterOrEqual(t, time.Since(start), grace)
	require.Equal(t, syscall.SIGKILL, signalled(t, cmd))
}

// A process already gone gets no signal.
func TestStopAfterExit(t *testing.T) {
	cmd, exited := child(t, false, "echo ready")
	<-exited
	require.False(t, proc.Stop(cmd.Process, false, time.Minute, exited))
	require.True(t, cmd.ProcessState.Success())
}

// With group, the signals reach the leader's children too: here a
// grandchild that ignores SIGTERM as its parent does, which SIGKILL ends
// with it. Without group, the grandchild outlives its parent until
// KillGroup.
func TestStopGroup(t *testing.T) {
	const script = "trap '' TERM; sleep 60 >/dev/null & echo ready; wait"
	cmd, exited := child(t, true, script)
	pgid := cmd.Process.Pid
	require.True(t, proc.Stop(cmd.Process, true, 100*time.Millisecond, exited))
	require.Equal(t, syscall.SIGKILL, signalled(t, cmd))
	require.Eventually(t, func() bool { return !proc.GroupAlive(pgid) }, 5*time.Second, 10*time.Millisecond, "the grandchild is gone")

	cmd, exited = child(t, true, script)
	pgid = cmd.Process.Pid
	require.True(t, proc.Stop(cmd.Process, false, 100*time.Millisecond, exited))
	require.True(t, proc.GroupAlive(pgid), "only the leader was signalled")
	proc.KillGroup(pgid)
	require.False(t, proc.GroupAlive(pgid))
}
