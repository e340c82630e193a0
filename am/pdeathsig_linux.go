package am

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal puts the JobManager in a process group of its own,
// so that the NodeManager's SIGTERM to the container reaches the AM only
// (the AM then stops the JobManager itself, and any other JobManager exit
// is the JobManager's verdict), and makes the kernel SIGKILL it when the
// AM dies without stopping it (the NodeManager's SIGKILL of the
// container, a SIGKILL aimed at the AM alone).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
