//go:build !linux

package proc

import "syscall"

// Exec replaces the process with path (syscall.Exec); only Linux has a
// parent-death signal to hand on.
func Exec(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }
