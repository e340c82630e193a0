package minicluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HAOptions makes the ResourceManager an HA pair (or group): several RM
// instances sharing one state store, one of them active. As in Hadoop
// (ResourceManager.java: ClientRMService and ApplicationMasterService are
// "active services", started on transitionToActive and stopped on
// transitionToStandby), a standby does not listen on its client and
// scheduler ports at all: clients get connection refused and fail over.
// The active one serves both; when it dies (KillActive) nothing serves
// until the election picks a standby (after ElectionDelay, ZooKeeper's
// session timeout in a real cluster), which then recovers from the
// shared store exactly as a restarted RM does (see Restart: applications,
// attempts, running containers and master keys survive; registrations,
// asks and containers not yet handed out do not, so AMs get
// ApplicationMasterNotRegisteredException and register again), with the
// next epoch.
//
// Modelled, not reproduced: the state store and the RM instances are one
// in-process object, NodeManagers (which heartbeat in-process) keep their
// registration across a failover instead of re-registering, and the
// admin port (HAServiceProtocol) is not served; TransitionToActive,
// KillActive and StartStandby stand for `yarn rmadmin
// -transitionToActive`, a SIGKILL and starting the process again.
type HAOptions struct {
	// IDs are the rm-ids (yarn.resourcemanager.ha.rm-ids); nil means rm1,
	// rm2. The first one starts active.
	IDs []string
	// ClientPorts and SchedulerPorts are the ports of each rm-id, in the
	// order of IDs; missing or 0 entries pick free ports (reserved at
	// start, so the configuration can name them before a standby
	// listens).
	ClientPorts, SchedulerPorts []int
	// ElectionDelay is how long after the active RM dies a standby
	// becomes active by itself (automatic failover: ZooKeeper's session
	// timeout, yarn.resourcemanager.zk-timeout-ms, 10 s by default, plus
	// the election). 0 means at once; negative means never (manual
	// failover: only TransitionToActive).
	ElectionDelay time.Duration
	// ClusterID is yarn.resourcemanager.cluster-id; "" means
	// "spindle-mini".
	ClusterID string
}

// haState is the HA group; guarded by ResourceManager.haMu, except
// changed and active, which r.mu guards as well so readers need only it.
type haState struct {
	opts     HAOptions
	client   []string // client address per rm-id
	sched    []string // scheduler address per rm-id
	alive    []bool   // the instance runs (as active or standby)
	active   int      // index of the active rm-id; -1 while none
	since    time.Time
	election *time.Timer
	changed  chan struct{} // closed and replaced at every transition
}

// setActiveLocked records a transition to rm-id index i (-1: none) and
// wakes WaitActive; r.mu is held.
func (ha *haState) setActiveLocked(i int) {
	ha.active, ha.since = i, time.Now()
	close(ha.changed)
	ha.changed = make(chan struct{})
}

// reserveHA picks the addresses of every rm-id. Each is bound once, so a
// port of 0 becomes a concrete free port, then released: the first
// rm-id's are bound again by startServers, the others when they become
// active.
func (r *ResourceManager) reserveHA() error {
	ha := *r.opts.HA
	ha.IDs = slices.Clone(ha.IDs)
	if len(ha.IDs) == 0 {
		ha.IDs = []string{"rm1", "rm2"}
	}
	if ha.ClusterID == "" {
		ha.ClusterID = "spindle-mini"
	}
	seen := map[string]bool{}
	for _, id := range ha.IDs {
		if id == "" || seen[id] {
			return fmt.Errorf("minicluster: HA rm-ids %q: empty or duplicate id", ha.IDs)
		}
		seen[id] = true
	}
	s := &haState{opts: ha, alive: make([]bool, len(ha.IDs)), changed: make(chan struct{})}
	port := func(ports []int, i int) int {
		if i < len(ports) {
			return ports[i]
		}
		return 0
	}
	for i := range ha.IDs {
		for _, p := range []struct {
			port  int
			addrs *[]string
		}{{port(ha.ClientPorts, i), &s.client}, {port(ha.SchedulerPorts, i), &s.sched}} {
			l, err := net.Listen("tcp", net.JoinHostPort(r.opts.Host, strconv.Itoa(p.port)))
			if err != nil {
				return fmt.Errorf("minicluster: resourcemanager %s: %w", ha.IDs[i], err)
			}
			*p.addrs = append(*p.addrs, l.Addr().String())
			_ = l.Close()
		}
		s.alive[i] = true
	}
	s.active = 0
	s.since = time.Now()
	r.ha = s
	return nil
}

// errNoHA is returned by the HA methods of an RM without HAOptions.
var errNoHA = errors.New("minicluster: the ResourceManager is not an HA pair (RMOptions.HA is nil)")

// HAIDs returns the rm-ids, or nil without HA.
func (r *ResourceManager) HAIDs() []string {
	if r.ha == nil {
		return nil
	}
	return slices.Clone(r.ha.opts.IDs)
}

// HAAddrs returns the client and scheduler addresses of rm-id id.
func (r *ResourceManager) HAAddrs(id string) (client, scheduler string, err error) {
	i, err := r.haIndex(id)
	if err != nil {
		return "", "", err
	}
	return r.ha.client[i], r.ha.sched[i], nil
}

// ActiveID returns the active rm-id and since when it is active; "" while
// no RM is active (or without HA).
func (r *ResourceManager) ActiveID() (string, time.Time) {
	if r.ha == nil {
		return "", time.Time{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ha.active < 0 {
		return "", time.Time{}
	}
	return r.ha.opts.IDs[r.ha.active], r.ha.since
}

// WaitActive waits until rm-id id is active and returns the time it
// became so.
func (r *ResourceManager) WaitActive(ctx context.Context, id string) (time.Time, error) {
	i, err := r.haIndex(id)
	if err != nil {
		return time.Time{}, err
	}
	for {
		r.mu.Lock()
		active, since, changed := r.ha.active, r.ha.since, r.ha.changed
		r.mu.Unlock()
		if active == i {
			return since, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("minicluster: waiting for %s to become active: %w", id, ctx.Err())
		case <-changed:
		}
	}
}

func (r *ResourceManager) haIndex(id string) (int, error) {
	if r.ha == nil {
		return 0, errNoHA
	}
	i := slices.Index(r.ha.opts.IDs, id)
	if i < 0 {
		return 0, fmt.Errorf("minicluster: no ResourceManager %q (rm-ids %q)", id, r.ha.opts.IDs)
	}
	return i, nil
}

// KillActive stops the active RM as a SIGKILL would: its ports close at
// once and its connections drop. Unless the election is manual, the
// first other running rm-id becomes active after ElectionDelay. It
// returns the rm-id killed.
func (r *ResourceManager) KillActive() (string, error) {
	if r.ha == nil {
		return "", errNoHA
	}
	r.haMu.Lock()
	defer r.haMu.Unlock()
	ha := r.ha
	if ha.active < 0 {
		return "", errors.New("minicluster: no ResourceManager is active")
	}
	killed := ha.active
	r.mu.Lock()
	r.down = true
	ha.setActiveLocked(-1)
	r.mu.Unlock()
	r.stopServers()
	ha.alive[killed] = false
	r.lg.Warn().Str("rm_id", ha.opts.IDs[killed]).Msg("active resourcemanager killed")
	r.scheduleElectionLocked()
	return ha.opts.IDs[killed], nil
}

// StartStandby starts a killed rm-id again, as a standby. If no RM is
// active, the election picks one (after ElectionDelay, as when a
// ZooKeeper session of a dead active RM expires).
func (r *ResourceManager) StartStandby(id string) error {
	i, err := r.haIndex(id)
	if err != nil {
		return err
	}
	r.haMu.Lock()
	defer r.haMu.Unlock()
	if r.ha.alive[i] {
		return fmt.Errorf("minicluster: ResourceManager %s is already running", id)
	}
	r.ha.alive[i] = true
	r.lg.Info().Str("rm_id", id).Msg("resourcemanager started as standby")
	r.scheduleElectionLocked()
	return nil
}

// scheduleElectionLocked arms the automatic election if no RM is active
// and one could be; haMu is held.
func (r *ResourceManager) scheduleElectionLocked() {
	ha := r.ha
	if ha.active >= 0 || ha.opts.ElectionDelay < 0 || ha.election != nil || !slices.Contains(ha.alive, true) {
		return
	}
	ha.election = time.AfterFunc(ha.opts.ElectionDelay, func() {
		r.haMu.Lock()
		ha.election = nil
		winner := slices.Index(ha.alive, true)
		r.haMu.Unlock()
		if winner < 0 || r.ctx.Err() != nil {
			return
		}
		if err := r.TransitionToActive(r.ctx, ha.opts.IDs[winner]); err != nil && r.ctx.Err() == nil {
			r.lg.Error().Err(err).Str("rm_id", ha.opts.IDs[winner]).Msg("election: transition to active failed")
		}
	})
}

// TransitionToActive makes rm-id id active, as `yarn rmadmin
// -transitionToActive` or a won election does: the active RM, if another,
// steps down first (its ports close); then id recovers from the state
// store (see Restart) and opens its client and scheduler ports.
func (r *ResourceManager) TransitionToActive(ctx context.Context, id string) error {
	i, err := r.haIndex(id)
	if err != nil {
		return err
	}
	r.haMu.Lock()
	defer r.haMu.Unlock()
	ha := r.ha
	if !ha.alive[i] {
		return fmt.Errorf("minicluster: ResourceManager %s is not running (StartStandby starts it)", id)
	}
	if ha.active == i {
		return nil
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	stepDown := ha.active >= 0
	r.down = true
	ha.active = -1
	r.mu.Unlock()
	if stepDown {
		r.stopServers()
	}
	if err := r.recoverAndServe(ctx, ha.client[i], ha.sched[i]); err != nil {
		return fmt.Errorf("minicluster: %s: %w", id, err)
	}
	r.mu.Lock()
	r.down = false
	ha.setActiveLocked(i)
	r.mu.Unlock()
	r.lg.Info().Str("rm_id", id).Int64("epoch", r.epoch).Str("rm_addr", ha.client[i]).Msg("resourcemanager transitioned to active")
	return nil
}

// haConfig adds the HA keys of the client configuration: the rm-ids and
// each one's addresses (HAUtil's <key>.<rm-id>).
func (r *ResourceManager) haConfig(m map[string]string) {
	ha := r.ha
	delete(m, "yarn.resourcemanager.address")
	delete(m, "yarn.resourcemanager.scheduler.address")
	delete(m, "yarn.resourcemanager.hostname")
	m["yarn.resourcemanager.ha.enabled"] = "true"
	m["yarn.resourcemanager.ha.automatic-failover.enabled"] = strconv.FormatBool(ha.opts.ElectionDelay >= 0)
	m["yarn.resourcemanager.ha.rm-ids"] = strings.Join(ha.opts.IDs, ",")
	m["yarn.resourcemanager.cluster-id"] = ha.opts.ClusterID
	for i, id := range ha.opts.IDs {
		host, _, _ := net.SplitHostPort(ha.client[i])
		m["yarn.resourcemanager.hostname."+id] = host
		m["yarn.resourcemanager.address."+id] = ha.client[i]
		m["yarn.resourcemanager.scheduler.address."+id] = ha.sched[i]
		if web, ok := m["yarn.resourcemanager.webapp.address"]; ok {
			m["yarn.resourcemanager.webapp.address."+id] = web
		}
	}
}
