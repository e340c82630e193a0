package minicluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// NodeManager is an in-process YARN NodeManager: a
// ContainerManagementProtocol server that accepts only NMTokens its RM
// issued, and containers that are real local processes run the way the
// DefaultContainerExecutor runs them (see container.go). It registers with
// its ResourceManager and heartbeats to it every HeartbeatInterval. All
// methods are safe for concurrent use.
type NodeManager struct {
	opts     NMOptions
	lg       zerolog.Logger
	rm       *ResourceManager
	id       yarn.NodeID
	bindHost string
	localDir string
	logDir   string
	nmKeys   *keyRing
	ctKeys   *keyRing

	locMu sync.Mutex // serialises localization (one localizer per node)

	mu          sync.Mutex
	running     bool
	closed      bool
	registered  bool
	srv         *ipc.Server
	port        int
	web         *http.Server // nil without NMOptions.Web
	webPort     int
	runCancel   context.CancelFunc
	loopDone    chan struct{}
	containers  map[yarn.ContainerID]*container
	unreported  []yarn.ContainerID // completed, not yet in a heartbeat the RM took
	apps        map[yarn.ApplicationID]*nmApp
	healthy     bool
	health      string
	locFaults   []string
	pubCache    map[string]string
	userCaches  map[string]map[string]string
	cacheSeq    int64
	wg          sync.WaitGroup // container goroutines
	srvWG       sync.WaitGroup
	heartbeatMu sync.Mutex // one heartbeat at a time
}

// nmApp is the node's state for one application (ApplicationImpl).
type nmApp struct {
	id    yarn.ApplicationID
	user  string
	cache map[string]string // localized resources of APPLICATION visibility
}

// NewNodeManager starts a NodeManager: it listens, registers with the RM
// and starts heartbeating. ctx bounds the start-up.
func NewNodeManager(ctx context.Context, opts NMOptions) (*NodeManager, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	n := &NodeManager{
		opts:       opts,
		rm:         opts.RM,
		localDir:   filepath.Join(opts.Dir, "local"),
		logDir:     filepath.Join(opts.Dir, "logs"),
		port:       opts.Port,
		webPort:    opts.HTTPPort,
		containers: map[yarn.ContainerID]*container{},
		apps:       map[yarn.ApplicationID]*nmApp{},
		healthy:    true,
		cacheSeq:   9,
	}
	n.bindHost = opts.Host
	if opts.Host == "localhost" {
		n.bindHost = "127.0.0.1"
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// ID is the node's NodeId (host:port), as the RM and AMs name it.
func (n *NodeManager) ID() yarn.NodeID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

// Addr is the address of the ContainerManagementProtocol server.
func (n *NodeManager) Addr() string {
	return n.ID().String()
}

// LocalDir is yarn.nodemanager.local-dirs of this node.
func (n *NodeManager) LocalDir() string { return n.localDir }

// LogDir is yarn.nodemanager.log-dirs of this node.
func (n *NodeManager) LogDir() string { return n.logDir }

// Start starts a stopped NodeManager again on the same port, as a
// restarted NodeManager without recovery: its local dirs are wiped, it
// runs no containers, and it registers with the RM afresh (the RM then
// reports the containers it had as lost). NewNodeManager calls it.
func (n *NodeManager) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.running {
		return nil
	}
	// ResourceLocalizationService.cleanUpLocalDirs: without recovery a
	// starting node deletes what a previous run left.
	if err := os.RemoveAll(n.localDir); err != nil {
		return err
	}
	for _, d := range []string{n.localDir, n.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("minicluster: node dirs: %w", err)
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(n.bindHost, strconv.Itoa(n.port)))
	if err != nil {
		return fmt.Errorf("minicluster: nodemanager listen: %w", err)
	}
	n.port = l.Addr().(*net.TCPAddr).Port
	n.id = yarn.NodeID{Host: n.opts.Host, Port: int32(n.port)}
	n.lg = n.opts.Logger.With().Str("component", "nodemanager").Str("node", n.id.String()).Logger()
	if n.nmKeys == nil {
		n.nmKeys, n.ctKeys = &keyRing{hasKeyIDs: map[int32]masterKey{}}, &keyRing{hasKeyIDs: map[int32]masterKey{}}
	}
	// ContainerManagerImpl forces TOKEN authentication: NMTokens only.
	srv := ipc.NewServer(ipc.ServerOptions{Mechanisms: []ipc.ServerMechanism{&ipc.TokenServerMechanism{Secrets: &nmTokenSecrets{keys: n.nmKeys, node: n.id}, QOPs: n.opts.QOPs}},
		Logger: n.opts.Logger})
	srv.Register(yarn.ProtocolContainer, n.service())
	n.srv = srv
	n.srvWG.Add(1)
	go func() { defer n.srvWG.Done(); _ = srv.Serve(l) }()
	if err := n.startWebLocked(); err != nil {
		srv.Close()
		n.srvWG.Wait()
		return err
	}
	n.running, n.registered = true, false
	n.containers = map[yarn.ContainerID]*container{}
	n.apps = map[yarn.ApplicationID]*nmApp{}
	n.unreported = nil
	n.pubCache, n.userCaches = nil, nil
	runCtx, cancel := context.WithCancel(context.Background())
	n.runCancel = cancel
	n.loopDone = make(chan struct{})
	n.mu.Unlock()
	err = n.register(ctx)
	n.mu.Lock()
	if err != nil {
		cancel()
		close(n.loopDone)
		n.mu.Unlock()
		n.stop()
		n.mu.Lock()
		return err
	}
	go n.heartbeatLoop(runCtx, n.loopDone)
	n.lg.Info().Stringer("capability", n.opts.Resource).Msg("nodemanager started")
	return nil
}

// register registers with the RM, retrying while it is down.
func (n *NodeManager) register(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("minicluster: register node: %w", ctx.Err())
		case <-t.C:
		}
		n.mu.Lock()
		reg := nodeRegistration{id: n.id, httpPort: n.opts.HTTPPort, rack: n.opts.Rack, capability: n.opts.Resource}
		for _, c := range n.containers {
			if !c.isDone() {
				reg.running = append(reg.running, c.id)
			}
		}
		n.mu.Unlock()
		nmk, ctk, err := n.rm.registerNode(reg)
		if err == nil {
			n.nmKeys.set(nmk)
			n.ctKeys.set(ctk)
			n.mu.Lock()
			n.registered = true
			n.mu.Unlock()
			return nil
		}
		if !errors.Is(err, errRMDown) {
			return err
		}
		t.Reset(n.opts.HeartbeatInterval)
	}
}

func (n *NodeManager) heartbeatLoop(ctx context.Context, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(n.opts.HeartbeatInterval)
	defer t.Stop()
	n.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.heartbeat(ctx)
		}
	}
}

// Heartbeat sends one heartbeat now, outside the regular interval; tests
// use it to make scheduling happen at once.
func (n *NodeManager) Heartbeat(ctx context.Context) error {
	n.mu.Lock()
	running := n.running
	n.mu.Unlock()
	if !running {
		return errors.New("minicluster: nodemanager is stopped")
	}
	n.heartbeat(ctx)
	return nil
}

// heartbeat is NodeStatusUpdaterImpl's loop body.
func (n *NodeManager) heartbeat(ctx context.Context) {
	n.heartbeatMu.Lock()
	defer n.heartbeatMu.Unlock()
	n.mu.Lock()
	if !n.running {
		n.mu.Unlock()
		return
	}
	st := nodeStatus{id: n.id, healthy: n.healthy, healthReport: n.health}
	var ids []yarn.ContainerID
	for id := range n.containers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].ID < ids[j].ID })
	reported := map[yarn.ContainerID]bool{}
	for _, id := range n.unreported {
		reported[id] = true
	}
	for _, id := range ids {
		c := n.containers[id]
		if c.isDone() && !reported[id] {
			continue // already reported
		}
		st.containers = append(st.containers, c.status())
	}
	sent := append([]yarn.ContainerID(nil), n.unreported...)
	n.mu.Unlock()

	resp, err := n.rm.nodeHeartbeat(st)
	if err != nil {
		n.lg.Debug().Err(err).Msg("heartbeat failed; retrying at the next interval")
		return
	}
	if resp.reregister {
		n.lg.Info().Msg("resourcemanager does not know this node; registering again")
		if err := n.register(ctx); err != nil {
			n.lg.Warn().Err(err).Msg("re-registration failed")
		}
		return
	}
	n.nmKeys.set(resp.nmKey)
	n.ctKeys.set(resp.ctKey)
	n.mu.Lock()
	keep := n.unreported[:0]
	done := map[yarn.ContainerID]bool{}
	for _, id := range sent {
		done[id] = true
	}
	for _, id := range n.unreported {
		if !done[id] {
			keep = append(keep, id)
		}
	}
	n.unreported = keep
	var kills []*container
	for _, id := range resp.kill {
		if c := n.containers[id]; c != nil {
			kills = append(kills, c)
		}
	}
	n.mu.Unlock()
	for _, c := range kills {
		n.killContainer(c, yarn.ExitKilledByResourceManager, "Container Killed by ResourceManager")
	}
	for _, app := range resp.cleanupApps {
		n.cleanupApp(app)
	}
}

// cleanupApp kills what the application still runs on this node and
// deletes its local dirs once its containers are gone (ApplicationImpl's
// FINISHING_CONTAINERS_WAIT and APPLICATION_RESOURCES_CLEANINGUP).
func (n *NodeManager) cleanupApp(id yarn.ApplicationID) {
	n.mu.Lock()
	var cs []*container
	for _, c := range n.containers {
		if c.id.Attempt.App == id {
			cs = append(cs, c)
		}
	}
	a := n.apps[id]
	n.mu.Unlock()
	for _, c := range cs {
		n.killContainer(c, yarn.ExitKilledAfterAppCompletion, "Container killed on application-finish event")
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for _, c := range cs {
			<-c.done
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, c := range cs {
			delete(n.containers, c.id)
		}
		if a == nil || n.apps[id] != a {
			return
		}
		delete(n.apps, id)
		_ = os.RemoveAll(filepath.Join(n.localDir, "usercache", a.user, "appcache", id.String()))
		if n.opts.LogAggregation != nil {
			n.mu.Unlock()
			if err := n.aggregateApp(id, a.user); err != nil {
				n.lg.Warn().Err(err).Stringer("app_id", id).Msg("log aggregation failed; the logs stay on the node")
			}
			n.mu.Lock()
		}
	}()
}

// Stop stops the NodeManager as a shutdown without recovery does: the
// server goes away, heartbeats stop and every container is killed; the RM
// learns nothing until the node expires (NMExpiry) or comes back (Start).
func (n *NodeManager) Stop(ctx context.Context) error {
	n.mu.Lock()
	if !n.running {
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	n.stop()
	return ctx.Err()
}

func (n *NodeManager) stop() {
	n.mu.Lock()
	if !n.running {
		n.mu.Unlock()
		return
	}
	n.running = false
	cancel, done, srv, web := n.runCancel, n.loopDone, n.srv, n.web
	n.web = nil
	var cs []*container
	for _, c := range n.containers {
		cs = append(cs, c)
	}
	n.mu.Unlock()
	cancel()
	<-done
	srv.Close()
	if web != nil {
		_ = web.Close()
	}
	n.srvWG.Wait()
	for _, c := range cs {
		n.killContainer(c, yarn.ExitKilledByResourceManager, "Container killed on shutdown")
	}
	n.wg.Wait()
	n.lg.Info().Msg("nodemanager stopped")
}

// Close stops the node and removes its local and log dirs. Idempotent.
func (n *NodeManager) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	n.stop()
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	return errors.Join(os.RemoveAll(n.localDir), os.RemoveAll(n.logDir))
}

// SetHealthy marks the node healthy or unhealthy with a health report, as
// the node health checker does; the RM hears it with the next heartbeat
// and takes an unhealthy node's containers away.
func (n *NodeManager) SetHealthy(healthy bool, report string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.healthy, n.health = healthy, report
}

// FailNextLocalization makes the next resource this node localizes fail
// with an IOException carrying reason.
func (n *NodeManager) FailNextLocalization(reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.locFaults = append(n.locFaults, reason)
}

// Containers lists the containers the node knows, in id order.
func (n *NodeManager) Containers() []yarn.ContainerID {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []yarn.ContainerID
	for id := range n.containers {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Attempt != out[j].Attempt {
			return out[i].Attempt.String() < out[j].Attempt.String()
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ContainerInfo describes a container on a node.
type ContainerInfo struct {
	ID yarn.ContainerID
	// WorkDir is $PWD of the container, LogDir its <LOG_DIR>.
	WorkDir, LogDir string
	// PID is the process id of the container's launch script (the
	// process group leader); 0 before launch.
	PID   int
	State yarn.ContainerState
	// ExitStatus and Diagnostics are final once State is ContainerComplete.
	ExitStatus  int32
	Diagnostics string
}

// Container describes a container the node knows.
func (n *NodeManager) Container(id yarn.ContainerID) (ContainerInfo, bool) {
	n.mu.Lock()
	c := n.containers[id]
	n.mu.Unlock()
	if c == nil {
		return ContainerInfo{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	info := ContainerInfo{ID: id, WorkDir: c.workDir, LogDir: c.logDir, ExitStatus: c.exitStatus, Diagnostics: c.diag.String()}
	if c.cmd != nil && c.cmd.Process != nil {
		info.PID = c.cmd.Process.Pid
	}
	switch c.state {
	case cDone:
		info.State = yarn.ContainerComplete
	case cRunning, cKilling:
		info.State = yarn.ContainerRunning
	default:
		info.State = yarn.ContainerNew
	}
	return info, true
}

// KillContainerProcess sends sig to a running container's process group
// from outside the NodeManager (kill -9 on the node): YARN reports the
// container as killed by an external signal.
func (n *NodeManager) KillContainerProcess(id yarn.ContainerID, sig syscall.Signal) error {
	n.mu.Lock()
	c := n.containers[id]
	n.mu.Unlock()
	if c == nil {
		return fmt.Errorf("minicluster: no container %s on %s", id, n.ID())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sim != nil {
		if c.state != cRunning && c.state != cKilling {
			return fmt.Errorf("minicluster: container %s is not running", id)
		}
		c.killSimulatedLocked(128 + int(sig))
		return nil
	}
	if c.cmd == nil || c.cmd.Process == nil || c.state == cDone {
		return fmt.Errorf("minicluster: container %s is not running", id)
	}
	return syscall.Kill(-c.cmd.Process.Pid, sig)
}

func (n *NodeManager) nextCacheDir(base string) (string, error) {
	n.mu.Lock()
	n.cacheSeq++
	seq := n.cacheSeq
	n.mu.Unlock()
	d := filepath.Join(base, strconv.FormatInt(seq, 10))
	return d, os.MkdirAll(d, 0o755)
}

func (n *NodeManager) takeLocalizationFault() (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.locFaults) == 0 {
		return "", false
	}
	f := n.locFaults[0]
	n.locFaults = n.locFaults[1:]
	return f, true
}

func (n *NodeManager) containerDone(c *container) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.containers[c.id] == c {
		n.unreported = append(n.unreported, c.id)
	}
}

// envValue is the NodeManager's own environment variable k.
func (n *NodeManager) envValue(k string) (string, bool) {
	if n.opts.Env != nil {
		v, ok := n.opts.Env[k]
		return v, ok
	}
	return os.LookupEnv(k)
}

func javaCanonical(cls string) string { return strings.ReplaceAll(cls, "$", ".") }

// serializedException is SerializedExceptionPBImpl.init(e).
func serializedException(cls, msg string) *yarnpb.SerializedExceptionProto {
	c := javaCanonical(cls)
	return &yarnpb.SerializedExceptionProto{Message: &msg, Trace: ptr(c + ": " + msg + "\n"), ClassName: &c}
}

func ptr[T any](v T) *T { return &v }
