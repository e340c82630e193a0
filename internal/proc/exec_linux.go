package proc

import (
	"runtime"
	"syscall"
)

// startPPID is the parent this process started with.
var startPPID = syscall.Getppid()

// Exec replaces the process with path (syscall.Exec), keeping the
// parent-death signal its parent set: the AM starts its JobManager with
// SIGKILL as the parent-death signal (and in a process group of its own),
// and a launcher that execs java must hand that on. Linux keeps the
// signal per thread and gives threads a Go runtime starts none, so an
// exec from any thread but the one the process started on would drop it;
// Exec sets it again on the thread that execs. If the parent is already
// gone, it does not exec.
func Exec(path string, argv, env []string) error {
	runtime.LockOSThread() // the exec, if it fails, leaves this thread locked: the caller exits
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0); errno != 0 {
		return errno
	}
	if syscall.Getppid() != startPPID {
		return syscall.ESRCH // the parent died before the signal was set
	}
	return syscall.Exec(path, argv, env)
}
