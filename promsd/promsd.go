package promsd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// AppType is the YARN application type of Spindle applications
// (launch.AppType).
const AppType = "SPINDLE"

// Session and per-job tags (session.Tag, perjob.Tag): the mode of an
// application whose AM does not answer.
const (
	sessionTag = "spindle-session"
	perJobTag  = "spindle-per-job"
)

// Roles, the role label's values.
const (
	RoleAM          = "am"
	RoleJobManager  = "jobmanager"
	RoleTaskManager = "taskmanager"
)

// Label names.
const (
	LabelAppID       = "app_id"
	LabelAppName     = "app_name"
	LabelQueue       = "queue"
	LabelUser        = "user"
	LabelMode        = "mode"
	LabelPayload     = "payload"
	LabelAttempt     = "attempt"
	LabelRole        = "role"
	LabelContainerID = "container_id"
	LabelNode        = "node"
)

// Group is one target group of Prometheus's HTTP and file service
// discovery.
type Group struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Lister lists applications (*yarn.RMClient).
type Lister interface {
	GetApplications(ctx context.Context, f yarn.AppFilter) ([]yarn.AppReport, error)
}

// Options configure Targets and Server.
type Options struct {
	// RM lists the applications; required.
	RM Lister
	// AM reads each AM's status; nil means a client whose requests time
	// out after StatusTimeout.
	AM *amapi.Client
	// StatusTimeout bounds each AM's status request; 0 means 5 s.
	StatusTimeout time.Duration
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
}

func (o *Options) defaults() {
	if o.StatusTimeout <= 0 {
		o.StatusTimeout = 5 * time.Second
	}
	if o.AM == nil {
		o.AM = &amapi.Client{HTTP: &http.Client{Timeout: o.StatusTimeout}}
	}
}

// Targets lists the scrape targets of every running Spindle application,
// in a stable order (by application, then AM, JobManager, TaskManagers by
// container). The AMs are asked at most 8 at a time.
func Targets(ctx context.Context, o Options) ([]Group, error) {
	o.defaults()
	apps, err := o.RM.GetApplications(ctx, yarn.AppFilter{Types: []string{AppType}, States: []yarn.AppState{yarn.StateRunning}})
	if err != nil {
		return nil, fmt.Errorf("list the running Spindle applications: %w", err)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].ID.String() < apps[j].ID.String() })
	per := make([][]Group, len(apps))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, r := range apps {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			per[i] = appTargets(ctx, o, r)
		})
	}
	wg.Wait()
	out := []Group{}
	for _, g := range per {
		out = append(out, g...)
	}
	return out, nil
}

// appTargets is one application's groups: its AM's from the report, and
// from the AM's status its mode, payload and the payload's endpoints.
func appTargets(ctx context.Context, o Options, r yarn.AppReport) []Group {
	amURL, err := amapi.AMURL(r)
	if err != nil {
		return nil // not registered yet
	}
	u, err := url.Parse(amURL)
	if err != nil || u.Host == "" {
		o.Logger.Warn().Stringer("app_id", r.ID).Str("tracking_url", amURL).Msg("unusable tracking URL; no targets for this application")
		return nil
	}
	common := map[string]string{LabelAppID: r.ID.String(), LabelAppName: r.Name, LabelQueue: r.Queue, LabelUser: r.User,
		LabelAttempt: strconv.Itoa(int(r.CurrentAttempt.Attempt))}
	for _, t := range r.Tags {
		switch t {
		case sessionTag:
			common[LabelMode] = string(amapi.ModeSession)
		case perJobTag:
			common[LabelMode] = string(amapi.ModePerJob)
		}
	}
	amHost := u.Hostname()
	group := func(target, role, container, node string) Group {
		l := make(map[string]string, len(common)+3)
		for k, v := range common {
			if v != "" {
				l[k] = v
			}
		}
		l[LabelRole], l[LabelNode] = role, node
		if container != "" {
			l[LabelContainerID] = container
		}
		return Group{Targets: []string{target}, Labels: l}
	}
	sctx, cancel := context.WithTimeout(ctx, o.StatusTimeout)
	defer cancel()
	st, err := o.AM.Status(sctx, amURL)
	if err != nil || st.AttemptID != r.CurrentAttempt.String() {
		if err == nil {
			err = fmt.Errorf("the AM at %s is of attempt %s, the RM names %s", amURL, st.AttemptID, r.CurrentAttempt)
		}
		o.Logger.Warn().Err(err).Stringer("app_id", r.ID).Msg("AM status unreadable; listing the AM's target only")
		return []Group{group(u.Host, RoleAM, "", amHost)}
	}
	if st.Mode != "" {
		common[LabelMode] = string(st.Mode)
	}
	common[LabelPayload] = st.Payload
	out := []Group{group(u.Host, RoleAM, st.ContainerID, amHost)}
	if p := st.JobManager.MetricsPort; p > 0 {
		h, _, err := net.SplitHostPort(st.JobManager.Address)
		if err != nil || h == "" {
			h = amHost
		}
		out = append(out, group(net.JoinHostPort(h, strconv.Itoa(p)), RoleJobManager, st.ContainerID, h))
	}
	for _, tm := range st.TaskManagers {
		if tm.MetricsPort <= 0 || tm.Host == "" {
			continue
		}
		out = append(out, group(net.JoinHostPort(tm.Host, strconv.Itoa(tm.MetricsPort)), RoleTaskManager, tm.ContainerID, tm.Host))
	}
	return out
}

// Server serves Targets as JSON (Prometheus's http_sd_configs). It asks
// the RM again when its last answer is older than MaxAge; concurrent
// requests share one refresh. Safe for concurrent use.
type Server struct {
	// Options are Targets'.
	Options Options
	// MaxAge is how old a document may be served; 0 means 10 s.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	doc  []byte
	at   time.Time
	good bool
}

var _ http.Handler = (*Server)(nil)

// ServeHTTP answers GET with the document.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	doc, err := s.document(req.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(doc)
}

func (s *Server) document(ctx context.Context) ([]byte, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	maxAge := s.MaxAge
	if maxAge <= 0 {
		maxAge = 10 * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.good && now().Sub(s.at) < maxAge {
		return s.doc, nil
	}
	groups, err := Targets(ctx, s.Options)
	if err != nil {
		if s.good {
			s.Options.Logger.Warn().Err(err).Time("document_of", s.at).Msg("cannot refresh the targets; serving the last ones")
			return s.doc, nil
		}
		return nil, err
	}
	doc, err := json.Marshal(groups)
	if err != nil {
		return nil, err
	}
	s.doc, s.at, s.good = doc, now(), true
	return doc, nil
}
