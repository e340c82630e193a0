package minicluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/proc"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

const testUser = "spindle"

func testLogger(t testing.TB) zerolog.Logger {
	if testing.Verbose() {
		return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

// newTestCluster starts a cluster with short intervals and closes it at the
// end of the test, checking that no container process survived.
func newTestCluster(t testing.TB, nodes int, mod func(*Options)) *Cluster {
	t.Helper()
	opts := Options{Nodes: nodes, Dir: filepath.Join(t.TempDir(), "cluster"), Logger: testLogger(t)}
	opts.NodeManager.HeartbeatInterval = 20 * time.Millisecond
	opts.NodeManager.SigkillDelay = 100 * time.Millisecond
	opts.RM.AMExpiry = 10 * time.Second
	opts.RM.NMExpiry = 10 * time.Second
	if mod != nil {
		mod(&opts)
	}
	ctx := testutil.Context(t, 30*time.Second)
	c, err := New(ctx, opts)
	require.NoError(t, err)
	var pids []int
	var mu sync.Mutex
	collect := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, nm := range c.NodeManagers() {
			for _, id := range nm.Containers() {
				if info, ok := nm.Container(id); ok && info.PID > 0 {
					pids = append(pids, info.PID)
				}
			}
		}
	}
	t.Cleanup(func() {
		collect()
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close is idempotent")
		for _, pid := range pids {
			// The process group must be gone: the leader and its children.
			require.False(t, proc.GroupAlive(pid), "process group %d survived Close", pid)
		}
		_, err := os.Stat(c.Dir() + "/nm-0")
		require.True(t, errors.Is(err, os.ErrNotExist), "node dirs removed")
	})
	return c
}

func rmClient(t testing.TB, c *Cluster) *yarn.RMClient {
	rmc, err := yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: c.RM().ClientAddr()}}, User: testUser,
		PollInterval: 20 * time.Millisecond, Retry: yarn.RetryPolicy{MaxWait: 10 * time.Second, BaseDelay: 20 * time.Millisecond, MaxDelay: 200 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { rmc.Close() })
	return rmc
}

// submit gets a new application id and submits spec with it.
func submit(t testing.TB, ctx context.Context, rmc *yarn.RMClient, spec yarn.AppSpec) yarn.ApplicationID {
	t.Helper()
	id, _, err := rmc.GetNewApplication(ctx)
	require.NoError(t, err)
	spec.ID = id
	if spec.Name == "" {
		spec.Name = t.Name()
	}
	if spec.AMResource.MemoryMB == 0 {
		spec.AMResource = yarn.Resource{MemoryMB: 256, VCores: 1}
	}
	require.NoError(t, rmc.SubmitApplication(ctx, spec))
	return id
}

// waitReport polls the application report until ok holds.
func waitReport(t testing.TB, ctx context.Context, rmc *yarn.RMClient, id yarn.ApplicationID, what string, ok func(yarn.AppReport) bool) yarn.AppReport {
	t.Helper()
	var last yarn.AppReport
	for {
		r, err := rmc.GetApplicationReport(ctx, id)
		require.NoError(t, err)
		last = r
		if ok(r) {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s of %s: %v; last report: state %s final %s diagnostics %q", what, id, ctx.Err(), last.State, last.FinalStatus, last.Diagnostics)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func waitState(t testing.TB, ctx context.Context, rmc *yarn.RMClient, id yarn.ApplicationID, st yarn.AppState) yarn.AppReport {
	t.Helper()
	return waitReport(t, ctx, rmc, id, st.String(), func(r yarn.AppReport) bool { return r.State == st })
}

// eventually polls cond every 10 ms until it holds or ctx ends.
func eventually(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// fileResource describes a local file as a file:// LocalResource with its
// real size and modification time, as a submitter must.
func fileResource(t testing.TB, path string) yarn.LocalResource {
	st, err := os.Stat(path)
	require.NoError(t, err)
	return yarn.LocalResource{URL: yarn.URL{Scheme: "file", File: path, Port: -1}, Size: st.Size(), Timestamp: st.ModTime().UnixMilli(),
		Type: yarn.File, Visibility: yarn.Application}
}

// amBinary builds testdata/amprog once per test binary.
func amBinary(t testing.TB) string {
	return testutil.Build(t, "./testdata/amprog", "amprog")
}

// amEvent is one line of the test AM's event file.
type amEvent struct {
	Event     string `json:"event"`
	Container string `json:"container"`
	Node      string `json:"node"`
	Exit      int32  `json:"exit"`
	Diag      string `json:"diag"`
	Status    string `json:"status"`
}

func readEvents(t testing.TB, path string) []amEvent {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var out []amEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e amEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		out = append(out, e)
	}
	return out
}

// --- the puppet AM -----------------------------------------------------
//
// Fault tests drive the AM protocols from the test itself: the AM
// container runs a shell loop that waits for a "stop-am" file, and the
// test authenticates as that AM with the AMRMToken the NodeManager wrote
// into the container's container_tokens file. What the test receives is
// exactly what an AM in the container would.

// The command is emitted unescaped into the launch script's
// exec /bin/bash -c "…", so the $ is escaped as an AM writer must.
const puppetCommand = `while [ ! -s stop-am ]; do sleep 0.02; done; exit \$(cat stop-am)`

type puppet struct {
	t     testing.TB
	c     *Cluster
	rmc   *yarn.RMClient
	app   yarn.ApplicationID
	att   yarn.AttemptID
	am    yarn.ContainerID
	nm    *NodeManager
	dir   string
	token *ipc.Token
}

func submitPuppet(t testing.TB, ctx context.Context, c *Cluster, rmc *yarn.RMClient, mod func(*yarn.AppSpec)) *puppet {
	t.Helper()
	spec := yarn.AppSpec{AM: yarn.ContainerLaunchContext{Commands: []string{puppetCommand + " 1><LOG_DIR>/AppMaster.stdout 2><LOG_DIR>/AppMaster.stderr"}}}
	if mod != nil {
		mod(&spec)
	}
	id := submit(t, ctx, rmc, spec)
	p := &puppet{t: t, c: c, rmc: rmc, app: id}
	p.waitAttempt(ctx, 1)
	return p
}

// waitAttempt waits for attempt n's AM container to run and takes its token.
func (p *puppet) waitAttempt(ctx context.Context, n int32) {
	p.t.Helper()
	att := yarn.AttemptID{App: p.app, Attempt: n}
	eventually(p.t, ctx, fmt.Sprintf("AM container of %s", att), func() bool {
		for _, nm := range p.c.NodeManagers() {
			for _, id := range nm.Containers() {
				if id.Attempt != att || id.Seq() != 1 {
					continue
				}
				info, ok := nm.Container(id)
				if !ok || info.State != yarn.ContainerRunning {
					return false
				}
				f, err := os.Open(filepath.Join(info.WorkDir, "container_tokens"))
				if err != nil {
					return false
				}
				creds, err := ipc.ReadCredentials(f)
				f.Close()
				require.NoError(p.t, err)
				tok, err := yarn.AMRMTokenFromCredentials(creds)
				require.NoError(p.t, err)
				p.att, p.am, p.nm, p.dir, p.token = att, id, nm, info.WorkDir, tok
				return true
			}
		}
		return false
	})
}

// exit makes the AM process exit with code.
func (p *puppet) exit(code int) {
	tmp := filepath.Join(p.dir, "stop-am.tmp")
	require.NoError(p.t, os.WriteFile(tmp, []byte(fmt.Sprint(code)), 0o644))
	require.NoError(p.t, os.Rename(tmp, filepath.Join(p.dir, "stop-am")))
}

// client is Spindle's AMRM client authenticated with the puppet's token.
func (p *puppet) client() *yarn.AMRMClient {
	c, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: p.c.RM().SchedulerAddr()}}, Token: p.token,
		FinishInterval: 20 * time.Millisecond, Retry: yarn.RetryPolicy{MaxWait: 10 * time.Second, BaseDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond}})
	require.NoError(p.t, err)
	p.t.Cleanup(func() { c.Close() })
	return c
}

// raw is a bare IPC connection to the scheduler port with the puppet's
// token, for observing exceptions the AMRM client would handle itself.
func (p *puppet) raw(ctx context.Context) *ipc.Conn {
	conn, err := ipc.Dial(ctx, ipc.Options{Addr: p.c.RM().SchedulerAddr(), Protocol: yarn.ProtocolAM,
		Mechanisms: []ipc.ClientMechanism{&ipc.TokenMechanism{Token: p.token}}, IdleTimeout: -1})
	require.NoError(p.t, err)
	p.t.Cleanup(func() { conn.Close() })
	return conn
}

func (p *puppet) nmClient(amrm *yarn.AMRMClient) *yarn.NMClient {
	c, err := yarn.NewNMClient(yarn.NMOptions{Tokens: amrm.NMTokens(), Retry: yarn.RetryPolicy{MaxWait: 5 * time.Second, BaseDelay: 20 * time.Millisecond}})
	require.NoError(p.t, err)
	p.t.Cleanup(func() { c.Close() })
	return c
}

// allocateUntil heartbeats until cond accepts the accumulated results.
func allocateUntil(t testing.TB, ctx context.Context, amrm *yarn.AMRMClient, what string, cond func(acc *yarn.AllocateResult) bool) *yarn.AllocateResult {
	t.Helper()
	acc := &yarn.AllocateResult{}
	for {
		r, err := amrm.Allocate(ctx, 0.5)
		require.NoError(t, err)
		acc.Allocated = append(acc.Allocated, r.Allocated...)
		acc.Completed = append(acc.Completed, r.Completed...)
		acc.UpdatedNodes = append(acc.UpdatedNodes, r.UpdatedNodes...)
		acc.NMTokens = append(acc.NMTokens, r.NMTokens...)
		acc.Headroom, acc.NumClusterNodes = r.Headroom, r.NumClusterNodes
		if cond(acc) {
			return acc
		}
		select {
		case <-ctx.Done():
			t.Fatalf("allocate until %s: %v (allocated %d, completed %d)", what, ctx.Err(), len(acc.Allocated), len(acc.Completed))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startAll starts cmd in every container.
func startAll(t testing.TB, ctx context.Context, nmc *yarn.NMClient, cs []yarn.Container, cmd string) {
	t.Helper()
	var reqs []yarn.StartRequest
	for _, c := range cs {
		reqs = append(reqs, yarn.StartRequest{Container: c, Launch: yarn.ContainerLaunchContext{Commands: []string{cmd}}})
	}
	res, err := nmc.StartContainers(ctx, reqs)
	require.NoError(t, err)
	require.NoError(t, res.Err())
}

// waitRunning waits until the node runs the container's process.
func waitRunning(t testing.TB, ctx context.Context, c *Cluster, id yarn.ContainerID) (*NodeManager, ContainerInfo) {
	t.Helper()
	var nm *NodeManager
	var info ContainerInfo
	eventually(t, ctx, "container "+id.String()+" running", func() bool {
		for _, n := range c.NodeManagers() {
			if i, ok := n.Container(id); ok && i.State == yarn.ContainerRunning && i.PID > 0 {
				nm, info = n, i
				return true
			}
		}
		return false
	})
	return nm, info
}

func containsAll(t testing.TB, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		require.True(t, strings.Contains(s, sub), "%q does not contain %q", s, sub)
	}
}
