package proc

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stop ends p: SIGTERM, then SIGKILL unless exited is closed within
// grace. With group, both signals go to p's process group (-pid): p must
// lead its own group (started with SysProcAttr.Setpgid), and every
// process of the group gets them. exited must be closed once p has
// exited and been waited for (cmd.Wait returned); no signal is sent
// after that. Stop returns when exited is closed and reports whether
// SIGKILL was sent.
func Stop(p *os.Process, group bool, grace time.Duration, exited <-chan struct{}) (killed bool) {
	if signal(p, group, syscall.SIGTERM, exited) {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
			return false
		case <-t.C:
		}
		killed = signal(p, group, syscall.SIGKILL, exited)
	}
	<-exited
	return killed
}

// signal sends sig to p (or its group) unless exited is closed; it
// reports whether it sent it.
func signal(p *os.Process, group bool, sig syscall.Signal, exited <-chan struct{}) bool {
	select {
	case <-exited:
		return false
	default:
	}
	if group {
		_ = syscall.Kill(-p.Pid, sig)
	} else {
		_ = p.Signal(sig)
	}
	return true
}

// KillGroup SIGKILLs what is left of process group pgid and waits (up to
// a second) until none of it runs any more. Its members are not our
// children, so there is no exit event to wait on: it polls GroupAlive.
func KillGroup(pgid int) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(-pgid, syscall.SIGKILL); errors.Is(err, syscall.ESRCH) || !GroupAlive(pgid) {
			return
		}
		<-t.C
	}
}

// GroupAlive reports whether a process of group pgid is still running.
// Zombies do not count: they are dead and wait for whoever inherited them
// (init, which in some containers reaps late) to collect them.
func GroupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // no procfs: assume the worst
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, ok := runningGroup(pid); ok && g == pgid {
			return true
		}
	}
	return false
}

// runningGroup is the process group of pid, ok only while pid runs (it
// exists and is not a zombie).
func runningGroup(pid int) (pgid int, ok bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may contain spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	g, err := strconv.Atoi(f[2])
	return g, err == nil
}
