package minicluster

import (
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// SimulateOptions makes a NodeManager run containers without processes:
// a simulated container is accepted, authorized and tracked exactly as a
// real one (the same startContainers, getContainerStatuses and
// stopContainers answers, its completion reported to the RM with the next
// node heartbeat), but nothing is localized, no launch script is written
// and no process runs. It "runs" for its Lifetime and then exits with its
// ExitStatus, or until it is stopped (exit 143, as a SIGTERMed command)
// or signalled from outside with KillContainerProcess (128+signal). The
// exit statuses and diagnostics are worded as for a process.
//
// It exists to measure an AM at thousands of containers on a small
// machine; give the nodes capacity to match (NMOptions.Resource, or many
// nodes).
type SimulateOptions struct {
	// Match picks the containers to simulate; am is true for an
	// application master's container (ContainerType APPLICATION_MASTER).
	// Nil simulates every container but the AMs', so an AM (or a test
	// puppet) still runs as a process and reads its container_tokens.
	Match func(id yarn.ContainerID, am bool) bool
	// LaunchDelay is how long a container stays NEW (localizing and
	// launching) before it runs; 0 runs it at once.
	LaunchDelay time.Duration
	// Lifetime is how long container id runs before its command exits;
	// nil, or a duration <= 0, runs it until it is stopped.
	Lifetime func(id yarn.ContainerID) time.Duration
	// ExitStatus is the exit code of container id's command when its
	// Lifetime ends (0 success, 137 and 143 are reported as killed by an
	// external signal, anything else as a failed launch); nil means 0.
	ExitStatus func(id yarn.ContainerID) int32
}

// simulates reports whether the node simulates container c.
func (n *NodeManager) simulates(c *container) bool {
	s := n.opts.Simulate
	if s == nil {
		return false
	}
	if s.Match == nil {
		return !c.am
	}
	return s.Match(c.id, c.am)
}

// runSimulated is run for a simulated container: NEW for LaunchDelay,
// RUNNING for its Lifetime or until stopped or signalled, then COMPLETE
// with the exit status a process ending that way gets.
func (c *container) runSimulated() {
	n := c.n
	s := n.opts.Simulate
	defer n.wg.Done()
	defer close(c.done)
	defer n.containerDone(c)
	code, early := 0, false
	if s.LaunchDelay > 0 {
		t := time.NewTimer(s.LaunchDelay)
		select {
		case <-t.C:
		case code = <-c.sim:
			early = true
		}
		t.Stop()
	}
	c.mu.Lock()
	if c.killed || early {
		c.state = cDone // never launched: the exit status stays the kill's
		c.mu.Unlock()
		return
	}
	c.state = cRunning
	c.mu.Unlock()
	n.lg.Debug().Stringer("container_id", c.id).Msg("simulated container running")

	var life <-chan time.Time
	if s.Lifetime != nil {
		if d := s.Lifetime(c.id); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			life = t.C
		}
	}
	select {
	case <-life:
		if s.ExitStatus != nil {
			code = int(s.ExitStatus(c.id))
		}
	case code = <-c.sim:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exitedLocked(code)
}

// killSimulatedLocked ends a simulated container's command with exit
// code code (128+signal); a second signal before it ended is dropped, as
// the command is already dying. c.mu is held.
func (c *container) killSimulatedLocked(code int) {
	if c.state == cRunning {
		c.state = cKilling
	}
	select {
	case c.sim <- code:
	default:
	}
}
