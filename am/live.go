package am

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// TaskManager death known in milliseconds (amapi.LivePath).
//
// Each TaskManager's launcher holds a liveness connection to the AM. When
// a trusted one closes while its TaskManager runs, the fleet open and
// the AM not stopping it, the TaskManager is taken for dead but
// unconfirmed (tmLost): it counts out of the active set, so the next
// reconcile, which runs at once, asks for its replacement (within the
// restart policy's current backoff, if one holds: a crash-looping payload
// stays backed off). It is not a failure yet: when the RM's completion
// report arrives, the completion goes through the one failure path with
// its real exit status, as without the connection. If the TaskManager
// reconnects instead (the connection broke, the process lives), it is
// restored and the fleet, now above its target, drops one: a pending
// request is withdrawn by reconcile, an allocation arriving is released
// unstarted by allocated, and else the newest replacement is released
// (the RM kills it).
//
// Which closes count (see amapi's threat model): with the application's
// credentials secret, those of connections that presented its bearer for
// amapi.PurposeLive bound to this attempt; without a secret, those of
// connections from the container's own node. Others are refused. A close
// while the AM ends (the HTTP endpoint stopping, the fleet closed) or of
// a connection that a newer one of the same container replaced counts
// for nothing; a connection to an earlier attempt's AM ends with that AM.

// serveLive holds a TaskManager's liveness connection (amapi.LivePath).
func (r *Runner) serveLive(w http.ResponseWriter, req *http.Request) {
	id, err := yarn.ParseContainerID(req.PathValue("container"))
	if err != nil {
		http.Error(w, "container: "+err.Error(), http.StatusBadRequest)
		return
	}
	node, ok := r.fleet.nodeOf(id)
	if !ok {
		http.Error(w, "not a TaskManager of this attempt", http.StatusNotFound)
		return
	}
	if secret := r.opts.Credentials.Secret(amapi.CredentialsSecretAlias); len(secret) > 0 {
		if !amapi.CheckBearer(req.Header.Get("Authorization"), secret, amapi.PurposeLive, r.att.String()) {
			r.refused(&r.liveRefusals, req, "liveness connection refused: wrong or missing bearer")
			http.Error(w, "forbidden: a liveness connection needs the application's credentials secret, bound to this attempt", http.StatusForbidden)
			return
		}
	} else if !fromHost(req, node.Host) {
		r.refused(&r.liveRefusals, req, "liveness connection refused: not from the container's node")
		http.Error(w, "forbidden: without a credentials secret a liveness connection must come from the container's node", http.StatusForbidden)
		return
	}
	metricsPort := 0
	if p := req.URL.Query().Get(amapi.MetricsPortParam); p != "" {
		if metricsPort, err = strconv.Atoi(p); err != nil || metricsPort < 1 || metricsPort > 65535 {
			http.Error(w, amapi.MetricsPortParam+": want a TCP port (1-65535)", http.StatusBadRequest)
			return
		}
	}
	gen, ok := r.fleet.liveOpened(id, metricsPort)
	if !ok {
		http.Error(w, "not a TaskManager of this attempt", http.StatusNotFound)
		return
	}
	closed := r.holdLive(w, req)
	if closed {
		select {
		case <-r.httpStop:
			closed = false // the AM is ending
		default:
		}
	}
	r.fleet.liveClosed(id, gen, closed, r.opts.Now())
}

// holdLive writes amapi.LiveLine at once and every amapi.LiveEvery until
// the client goes away (true) or the AM's endpoint stops (false).
func (r *Runner) holdLive(w http.ResponseWriter, req *http.Request) bool {
	rc := http.NewResponseController(w)
	// The server's read deadline would end the request (its context) and
	// its write deadline the response: this one lasts.
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	write := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(r.httpLim.write))
		if _, err := w.Write([]byte(amapi.LiveLine)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write() {
		return true
	}
	tick := time.NewTicker(amapi.LiveEvery)
	defer tick.Stop()
	for {
		select {
		case <-req.Context().Done():
			return true
		case <-r.httpStop:
			return false
		case <-tick.C:
			if !write() {
				return true
			}
		}
	}
}

// fromHost reports whether req comes from one of host's addresses.
func fromHost(req *http.Request, host string) bool {
	ra, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(ra)
	if ip == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// nodeOf returns the node of TaskManager id.
func (f *fleet) nodeOf(id yarn.ContainerID) (yarn.NodeID, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tm, ok := f.tms[id]
	if !ok || tm.state == tmStopping {
		return yarn.NodeID{}, false
	}
	return tm.c.Node, true
}

// liveOpened records a trusted liveness connection of TaskManager id and
// returns its generation (a newer connection of the same TaskManager
// replaces it); false when id is not a TaskManager of the fleet. A
// TaskManager taken for dead comes back (and the fleet drops its surplus).
// A metricsPort above 0 is the TaskManager's Prometheus endpoint.
func (f *fleet) liveOpened(id yarn.ContainerID, metricsPort int) (uint64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tm, ok := f.tms[id]
	if !ok || tm.state == tmStopping {
		return 0, false
	}
	f.liveSeq++
	tm.live = f.liveSeq
	if metricsPort > 0 {
		tm.metricsPort = metricsPort
	}
	if tm.state == tmLost {
		f.setStateLocked(tm, tmRunning)
		f.m.liveRestored.Inc()
		f.lg.Info().Stringer("container_id", id).Str("node", tm.c.Node.String()).Msg("TaskManager taken for dead reconnected: it lives; dropping the fleet's surplus")
		f.trimSurplusLocked(id)
		f.updateGaugesLocked()
		f.wakeLoop()
	}
	return tm.live, true
}

// liveClosed records the end of liveness connection gen of TaskManager
// id: when the client went away (closed) from a running TaskManager of
// an open fleet, the TaskManager is taken for dead, unconfirmed, and the
// run loop woken to replace it.
func (f *fleet) liveClosed(id yarn.ContainerID, gen uint64, closed bool, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tm, ok := f.tms[id]
	if !ok || tm.live != gen {
		return // completed meanwhile, or a newer connection took over
	}
	tm.live = 0
	if !closed || !f.open || tm.state != tmRunning {
		return
	}
	f.setStateLocked(tm, tmLost)
	tm.since = now
	f.earlyDeaths++
	f.m.earlyDeaths.Inc()
	f.lg.Warn().Stringer("container_id", id).Str("node", tm.c.Node.String()).
		Msg("TaskManager's liveness connection closed: taken for dead, replacing it now (its exit is classified when the RM reports it)")
	f.updateGaugesLocked()
	f.wakeLoop()
}

// trimSurplusLocked brings the started (or starting) TaskManagers back
// to the target after keep came back: it releases the newest others
// (never an adopted one), which the RM kills. f.mu is held.
func (f *fleet) trimSurplusLocked(keep yarn.ContainerID) {
	for f.activeLocked() > f.target {
		var victim *taskManager
		for id, tm := range f.tms {
			if id == keep || tm.adopted || (tm.state != tmRunning && tm.state != tmLaunching) {
				continue
			}
			if victim == nil || tm.since.After(victim.since) || tm.since.Equal(victim.since) && id.ID > victim.c.ID.ID {
				victim = tm
			}
		}
		if victim == nil {
			return
		}
		f.setStateLocked(victim, tmStopping)
		f.amrm.Release(victim.c.ID)
		f.m.excess.Inc()
		f.lg.Info().Stringer("container_id", victim.c.ID).Str("node", victim.c.Node.String()).Msg("releasing a surplus TaskManager: the one it replaced lives")
	}
}

// wakeLoop makes the run loop reconcile at once.
func (f *fleet) wakeLoop() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}
