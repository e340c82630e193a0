package am

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// httpLimits bound the AM's HTTP endpoint, which anyone who reaches the
// AM's node may connect to (the RM's web proxy, the submitter, the
// TaskManagers, a browser, a scanner).
type httpLimits struct {
	// readHeader and read bound reading a request (every request body
	// the endpoint takes is small); write bounds writing a response,
	// except the credentials long poll, which extends it by its wait.
	readHeader, read, write time.Duration
	// idle closes a keep-alive connection without a request for that
	// long.
	idle time.Duration
	// maxHeaderBytes bounds a request's header (net/http adds 4 KiB of
	// slack); a larger one gets 431.
	maxHeaderBytes int
	// maxConns caps the open connections; more wait in the listen
	// backlog until one closes. Every TaskManager that follows the
	// credentials (amapi.FollowCredentials) holds one connection for its
	// long poll, and every TaskManager one liveness connection
	// (amapi.KeepAlive), so the cap is twice the largest fleet whose
	// connections all fit, with room for the status, stop and metrics
	// clients. 4096 fits a fleet of about 2,000 TaskManagers; each idle
	// connection costs the AM a few KiB. (Folding the credentials poll
	// into the liveness connection would halve it: not done yet.)
	maxConns int
	// refusedLogEvery rate-limits the warnings of refused stop and
	// credentials requests: the first is logged, then at most one per
	// interval, with the number refused since the last one.
	refusedLogEvery time.Duration
}

var defaultHTTPLimits = httpLimits{readHeader: 10 * time.Second, read: 30 * time.Second, write: 30 * time.Second,
	idle: time.Minute, maxHeaderBytes: 16 << 10, maxConns: 4096, refusedLogEvery: time.Minute}

// logLimiter lets through the first event and then at most one per
// interval, counting the others. Safe for concurrent use.
type logLimiter struct {
	every time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log the event at now, and how many events
// were not logged since the last one that was.
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return true, n
}

// refused logs a refused request, rate-limited by l.
func (r *Runner) refused(l *logLimiter, req *http.Request, msg string) {
	ok, n := l.allow(r.opts.Now())
	if !ok {
		return
	}
	r.lg.Warn().Str("remote", req.RemoteAddr).Int("refused_since_last_log", n).Dur("log_interval", l.every).Msg(msg)
}

// The AM's HTTP endpoint, its tracking URL (the RM's web proxy forwards
// /proxy/<app id>/ to it):
//
//	GET  /               status page (HTML)
//	GET  /v1/status      Status as JSON
//	GET  /v1/jobmanager  JobManagerInfo as JSON (DiscoveryPath)
//	POST /v1/stop        graceful stop; needs "Authorization: Bearer <stop secret>"
//	GET  /v1/credentials the TaskManagers' current credentials (CredentialsPath);
//	                     needs "Authorization: Bearer <credentials secret>"
//	GET  /v1/taskmanagers/{container}/live
//	                     a TaskManager's liveness connection (LivePath, live.go)
//	GET  /metrics        Prometheus metrics
func (r *Runner) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", r.serveStatusPage)
	mux.HandleFunc("GET "+amapi.StatusPath, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.Status()) })
	mux.HandleFunc("GET "+amapi.DiscoveryPath, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, r.jobManagerInfo()) })
	mux.HandleFunc("POST "+amapi.StopPath, r.serveStop)
	mux.HandleFunc("GET "+amapi.CredentialsPath, r.serveCredentials)
	mux.HandleFunc("GET "+amapi.LivePath, r.serveLive)
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.m.reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// serveStop checks the stop secret (constant time) and asks the loop to
// stop. Anyone without the secret gets 403 and changes nothing.
func (r *Runner) serveStop(w http.ResponseWriter, req *http.Request) {
	if !amapi.CheckBearer(req.Header.Get("Authorization"), bytes.TrimSpace(r.opts.StopSecret), amapi.PurposeStop, r.att.String()) {
		r.refused(&r.stopRefusals, req, "stop request refused: wrong or missing stop secret")
		http.Error(w, "forbidden: a stop needs the application's stop secret (in its staging directory), bound to this attempt", http.StatusForbidden)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(req.Body, 4096))
	var in struct {
		Diagnostics string `json:"diagnostics"`
	}
	_ = json.Unmarshal(body, &in)
	if in.Diagnostics == "" {
		in.Diagnostics = "stopped on request"
	}
	r.lg.Info().Str("remote", req.RemoteAddr).Msg("stop request accepted")
	r.Stop(in.Diagnostics)
	w.WriteHeader(http.StatusAccepted)
	writeJSON(w, map[string]string{"status": "stopping"})
}

// jobManagerInfo is where the JobManager is (DiscoveryPath): what every
// relocating TaskManager asks, so it costs nothing per TaskManager (Status
// lists the whole fleet).
func (r *Runner) jobManagerInfo() amapi.JobManagerInfo {
	app, att := r.att.App.String(), r.att.String()
	r.mu.Lock()
	jm := r.jm
	r.mu.Unlock()
	if jm == nil {
		return amapi.JobManagerInfo{AppID: app, AttemptID: att}
	}
	return jm.info(app, att)
}

// Status returns a snapshot of the AM's state. Safe for concurrent use.
func (r *Runner) Status() amapi.Status {
	now := r.opts.Now()
	r.mu.Lock()
	s := amapi.Status{AppID: r.att.App.String(), AttemptID: r.att.String(), ContainerID: r.opts.Container.String(), Mode: r.spec.Mode,
		Attempt: r.att.Attempt, Payload: r.spec.Payload,
		NodeHTTP: r.opts.NodeHTTP, LogURL: amapi.LogURL(r.opts.NodeHTTP, r.opts.Container.String(), r.opts.User),
		Phase: r.phase, TrackingURL: r.trackingURL, HeartbeatError: r.lastHBErr,
		Policy: r.fleet.tr.State(now), JobManagerPolicy: r.jmTr.State(now)}
	if !r.registeredAt.IsZero() {
		t := r.registeredAt
		s.RegisteredAt = &t
	}
	if !r.lastHB.IsZero() {
		t := r.lastHB
		s.LastHeartbeat = &t
	}
	if r.final != nil {
		s.FinalStatus, s.Diagnostics, s.Result = r.final.Status.String(), r.final.Diagnostics, r.final.Result
	}
	r.mu.Unlock()
	s.JobManager = r.jobManagerInfo()
	r.fleet.fill(&s, r.opts.User)
	for i := range s.Policy.LastFailures {
		f := &s.Policy.LastFailures[i]
		f.LogURL = amapi.LogURL(f.NodeHTTP, f.Container, r.opts.User)
	}
	if s.Target > 0 {
		s.Progress = min(float32(s.Running)/float32(s.Target), 1)
	} else {
		s.Progress = 1
	}
	return s
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"exit": yarn.ExitStatusText,
	"ts":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Spindle {{.AppID}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}</style>
</head><body>
<h1>Spindle {{.Mode}} {{.AppID}}</h1>
<p>Attempt {{.AttemptID}} ({{.ContainerID}}), phase <b>{{.Phase}}</b>{{with .FinalStatus}}, final status <b>{{.}}</b>{{end}}.
<a href="v1/status">JSON</a> · <a href="metrics">metrics</a></p>
{{with .Result}}<h2>Result</h2><pre>{{.Text}}</pre>{{end}}
{{with .Diagnostics}}<pre>{{.}}</pre>{{end}}
<h2>JobManager</h2>
<p>RPC {{.JobManager.Address}}, REST {{.JobManager.RESTAddress}}, {{.JobManager.State}}, restarts {{.JobManager.Restarts}}{{with .LogURL}} · <a href="{{.}}">logs</a>{{end}}</p>
<h2>TaskManagers: {{.Running}} running of {{.Target}}</h2>
<p>{{.Pending}} requested, {{.Launching}} starting, {{.Adopted}} adopted from earlier attempts, {{.Restarts}} replaced.</p>
{{with .PendingDetail}}<p>Pending: {{.}}</p>{{end}}
<table><tr><th>container</th><th>node</th><th>state</th><th>since</th><th>logs</th></tr>
{{range .TaskManagers}}<tr><td>{{.ContainerID}}</td><td>{{.Node}}</td><td>{{.State}}{{if .Adopted}} (adopted){{end}}</td><td>{{ts .Since}}</td><td>{{with .LogURL}}<a href="{{.}}">logs</a>{{end}}</td></tr>
{{end}}</table>
<h2>Restart policy</h2>
<p>{{.Policy.FailuresInWindow}} failures within {{.Policy.Window}} (limit {{.Policy.MaxFailures}}), {{.Policy.TotalFailures}} in all.
{{with .Policy.BackoffUntil}}Backing off until {{ts .}}.{{end}}</p>
{{with .Policy.LastDecision}}<p>Last decision: {{.}}</p>{{end}}
{{if .Policy.Quarantined}}<p>Quarantined nodes: {{range .Policy.Quarantined}}{{.Node}} (until {{ts .Until}}) {{end}}</p>{{end}}
<h2>Recent completions</h2>
<table><tr><th>time</th><th>container</th><th>node</th><th>exit</th><th>class</th><th>diagnostics</th><th>logs</th></tr>
{{range .Completions}}<tr><td>{{ts .At}}</td><td>{{.Container}}</td><td>{{.Node}}</td><td>{{exit .ExitStatus}}</td><td>{{.ClassName}}</td><td>{{.Diagnostics}}</td><td>{{with .LogURL}}<a href="{{.}}">logs</a>{{end}}</td></tr>
{{end}}</table>
</body></html>
`))

func (r *Runner) serveStatusPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, r.Status()); err != nil {
		r.lg.Warn().Err(err).Msg("status page")
	}
}
