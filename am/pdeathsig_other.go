//go:build !linux

package am

import "os/exec"

// setParentDeathSignal: only Linux has a parent-death signal; elsewhere
// the NodeManager's kill of the container's process group must do.
func setParentDeathSignal(*exec.Cmd) {}
