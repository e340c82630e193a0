package am

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel SIGKILL the JobManager when the
// AM dies without stopping it (a SIGKILL aimed at the AM process alone);
// the NodeManager kills the whole process group anyway.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
