//go:build linux

package proc_test

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/proc"
)

// TestExecHelper is not a test: run with PROC_EXEC_HELPER=1 it execs
// sleep from a goroutine that is not on the process's first thread.
func TestExecHelper(t *testing.T) {
	if os.Getenv("PROC_EXEC_HELPER") != "1" {
		t.Skip("helper process for TestExecKeepsParentDeathSignal")
	}
	var wg sync.WaitGroup
	for range 8 { // threads besides the first
		wg.Go(func() { time.Sleep(10 * time.Millisecond) })
	}
	wg.Wait()
	errc := make(chan error)
	go func() { errc <- proc.Exec("/bin/sleep", []string{"sleep", "60"}, os.Environ()) }()
	t.Fatal(<-errc)
}

// TestExecKeepsParentDeathSignal: a launcher that execs (as `spindle flink
// jobmanager` execs java) from whatever thread still dies with its parent
// (the AM, SIGKILLed), because proc.Exec sets the parent-death signal on
// the thread that execs.
func TestExecKeepsParentDeathSignal(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	// The parent: a shell that starts the launcher and waits.
	parent := exec.Command("/bin/sh", "-c", `"$0" -test.run='^TestExecHelper$' & echo $!; wait`, self)
	parent.Env = append(os.Environ(), "PROC_EXEC_HELPER=1")
	out, err := parent.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, parent.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	comm := func() string {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		return strings.TrimSpace(string(b))
	}
	require.Eventually(t, func() bool { return comm() == "sleep" }, 10*time.Second, 5*time.Millisecond, "the launcher exec'd")
	require.NoError(t, parent.Process.Signal(syscall.SIGKILL))
	_ = parent.Wait()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true // gone
		}
		f := strings.Fields(string(b))
		return len(f) > 2 && f[2] == "Z" // dead, not yet reaped by its new parent
	}, 10*time.Second, 5*time.Millisecond, "the exec'd process died with its parent")
}
