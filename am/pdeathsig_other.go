//go:build !linux

package am

import "os/exec"

// setParentDeathSignal: only Linux has a parent-death signal; elsewhere
// the JobManager stays in the AM's process group, so that the
// NodeManager's kill of the container reaches it. (Spindle's AM runs on
// Linux NodeManagers; this keeps the package building elsewhere.)
func setParentDeathSignal(*exec.Cmd) {}
