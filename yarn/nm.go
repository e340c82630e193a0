package yarn

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// NMTokens holds the NMToken of each NodeManager, keyed by NodeId
// (host:port as the RM names the node; the token's own service is ip:port
// and is not used to select it). The AMRMClient fills it from register and
// allocate responses, overwriting on every receipt (the RM resends a token
// after its key rolled), and the NMClient reads it. The zero value is ready
// to use; it is safe for concurrent use.
type NMTokens struct {
	mu sync.RWMutex
	m  map[NodeID]*ipc.Token
}

// Set stores node's token, replacing any earlier one.
func (s *NMTokens) Set(node NodeID, t *ipc.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[NodeID]*ipc.Token{}
	}
	s.m[node] = t
}

// Get returns node's token or nil.
func (s *NMTokens) Get(node NodeID) *ipc.Token {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[node]
}

// Len is the number of nodes with a token.
func (s *NMTokens) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// NMToken is an NMToken with the node it is for.
type NMToken struct {
	Node  NodeID
	Token *ipc.Token
}

func nmTokenFromProto(p *yarnpb.NMTokenProto) NMToken {
	return NMToken{Node: NodeIDFromProto(p.GetNodeId()), Token: ipc.TokenFromProto(p.GetToken())}
}

// ErrNoNMToken is returned for a node the AM holds no NMToken for. The RM
// sends one in the allocate response that first gives the attempt a
// container on that node.
var ErrNoNMToken = errors.New("yarn: no NMToken for the node")

// NMOptions configures an NMClient. Tokens is required.
type NMOptions struct {
	// Tokens supplies each node's NMToken; share the AMRMClient's
	// (AMRMClient.NMTokens) so tokens the RM sends reach new connections.
	Tokens *NMTokens
	// QOPs is the SASL QOP preference ("auth", "auth-int", "auth-conf", as
	// hadoop.rpc.protection maps them); nil takes the strongest a
	// NodeManager offers.
	QOPs []string
	// Dial opens connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retry bounds the retries of calls that did not reach a NodeManager
	// (connection refused) or that it refused while starting up
	// (NMNotYetReadyException). The zero value waits up to 3 minutes
	// (yarn.client.nodemanager-connect.max-wait-ms) with the RetryPolicy
	// backoff defaults.
	Retry RetryPolicy
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
}

// NMClient talks ContainerManagementProtocol to NodeManagers: one
// authenticated connection per node, with the node's NMToken. It is safe
// for concurrent use; Close it when done.
type NMClient struct {
	opts     NMOptions
	lg       zerolog.Logger
	clientID []byte
	callIDs  *atomic.Int32

	mu     sync.Mutex
	nodes  map[NodeID]*nmConn
	closed bool
}

type nmConn struct {
	c   *ipc.Client
	tok *ipc.Token
}

// NewNMClient validates opts; it does not dial.
func NewNMClient(opts NMOptions) (*NMClient, error) {
	if opts.Tokens == nil {
		return nil, errors.New("yarn: NMOptions.Tokens is nil (pass AMRMClient.NMTokens())")
	}
	if opts.Retry.MaxWait <= 0 {
		opts.Retry.MaxWait = 3 * time.Minute
	}
	opts.Retry = opts.Retry.withDefaults()
	return &NMClient{opts: opts, lg: opts.Logger.With().Str("component", "nm-client").Logger(), clientID: ipc.NewClientID(),
		callIDs: new(atomic.Int32), nodes: map[NodeID]*nmConn{}}, nil
}

// Close closes every connection. Idempotent.
func (c *NMClient) Close() error {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes, c.closed = map[NodeID]*nmConn{}, true
	c.mu.Unlock()
	for _, n := range nodes {
		_ = n.c.Close()
	}
	return nil
}

func sameToken(a, b *ipc.Token) bool {
	return bytes.Equal(a.Identifier, b.Identifier) && bytes.Equal(a.Password, b.Password)
}

// client returns node's connection handle, switching it to a newer NMToken
// for its next connection when the store holds one (the current connection
// stays: it is authenticated, and the NodeManager keeps accepting it).
func (c *NMClient) client(node NodeID) (*ipc.Client, error) {
	tok := c.opts.Tokens.Get(node)
	if tok == nil {
		return nil, fmt.Errorf("%w %s (the RM sends one with the first container on a node)", ErrNoNMToken, node)
	}
	mech := []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok, QOPs: c.opts.QOPs}}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("yarn: NodeManager client: %w", ipc.ErrClosed)
	}
	n := c.nodes[node]
	if n == nil {
		ic, err := ipc.NewClient(ipc.Options{Addr: node.String(), Peer: ipc.PeerNodeManager, Protocol: ProtocolContainer, Mechanisms: mech,
			Dial: c.opts.Dial, ClientID: c.clientID, CallIDs: c.callIDs, Logger: c.opts.Logger})
		if err != nil {
			return nil, err
		}
		n = &nmConn{c: ic, tok: tok}
		c.nodes[node] = n
	} else if !sameToken(n.tok, tok) {
		n.c.SetMechanisms(mech)
		n.tok = tok
		c.lg.Info().Str("node", node.String()).Msg("NMToken replaced; new connections use it")
	}
	return n.c, nil
}

// call sends one call to node, retrying with backoff while the node cannot
// be reached (dial failures only: the call never left) or answers
// NMNotYetReadyException.
func (c *NMClient) call(ctx context.Context, node NodeID, method string, req, resp proto.Message) error {
	start := time.Now()
	var b backoff
	defer b.stop()
	for attempt := 1; ; attempt++ {
		ic, err := c.client(node)
		if err != nil {
			return err
		}
		err = ic.Call(ctx, method, req, resp)
		if err == nil {
			return nil
		}
		err = mapError(err, "yarn: %s on NodeManager %s", method, node)
		var ce *ipc.ConnError
		dialFailed := errors.As(err, &ce) && ce.Op == "dial"
		if ctx.Err() != nil || !(dialFailed || errors.Is(err, ErrNMNotYetReady)) {
			return err
		}
		if time.Since(start) >= c.opts.Retry.MaxWait {
			return fmt.Errorf("%w (gave up after %d attempts over %s)", err, attempt, time.Since(start).Round(time.Millisecond))
		}
		d := c.opts.Retry.delay(attempt)
		c.lg.Warn().Err(err).Str("node", node.String()).Str("method", method).Int("attempt", attempt).Dur("backoff", d).Msg("NodeManager call failed; retrying")
		if werr := b.wait(ctx, d); werr != nil {
			return fmt.Errorf("%w (while retrying: %v)", werr, err)
		}
	}
}

// ContainerError is a failure a NodeManager reported for one container in
// the failed_requests of its response (a SerializedExceptionProto). It
// matches the sentinel of its Java class with errors.Is, and its cause
// chain unwraps to further *ContainerErrors.
type ContainerError struct {
	Container ContainerID
	Node      NodeID
	// Class is the Java exception class, e.g.
	// org.apache.hadoop.yarn.exceptions.YarnException.
	Class   string
	Message string
	Trace   string
	// Cause is the exception's cause, nil if none.
	Cause *ContainerError
}

func (e *ContainerError) Error() string {
	msg, _, _ := strings.Cut(e.Message, "\n")
	return fmt.Sprintf("yarn: container %s on %s: %s: %s", e.Container, e.Node, e.Class, msg)
}

// Is matches the sentinel classToErr gives e's class.
func (e *ContainerError) Is(target error) bool {
	s, ok := classToErr[javaBinaryName(e.Class)]
	return ok && s == target
}

// Unwrap returns the cause.
func (e *ContainerError) Unwrap() error {
	if e.Cause == nil {
		return nil
	}
	return e.Cause
}

// javaBinaryName turns a canonical nested class name, which
// SerializedExceptionPBImpl records (a.b.SecretManager.InvalidToken), into
// the binary name the IPC layer uses (a.b.SecretManager$InvalidToken).
func javaBinaryName(cls string) string {
	if _, ok := classToErr[cls]; ok {
		return cls
	}
	parts := strings.Split(cls, ".")
	for i := 1; i < len(parts); i++ {
		if p := parts[i-1]; p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			return strings.Join(parts[:i], ".") + "$" + strings.Join(parts[i:], "$")
		}
	}
	return cls
}

func containerErrorFromProto(id ContainerID, node NodeID, p *yarnpb.SerializedExceptionProto) *ContainerError {
	if p == nil {
		return &ContainerError{Container: id, Node: node, Class: "unknown", Message: "NodeManager gave no exception"}
	}
	e := &ContainerError{Container: id, Node: node, Class: p.GetClassName(), Message: p.GetMessage(), Trace: p.GetTrace()}
	// Bound the recursion: causes are a short chain in practice.
	for cur, c := e, p.GetCause(); c != nil && cur != nil; c = c.GetCause() {
		cur.Cause = &ContainerError{Container: id, Node: node, Class: c.GetClassName(), Message: c.GetMessage(), Trace: c.GetTrace()}
		cur = cur.Cause
	}
	return e
}

// NMResult is the outcome of a NodeManager call over several containers:
// each container is in Succeeded or in Failed.
type NMResult struct {
	Succeeded []ContainerID
	// Failed maps a container to why it failed: a *ContainerError the
	// NodeManager reported for it, or (StartContainers) the error of the
	// whole call to its node.
	Failed map[ContainerID]error
	// ServicesMetaData is what the nodes' aux services returned from
	// startContainers, by service name.
	ServicesMetaData map[string][]byte
}

// Err joins the failures in Failed, or returns nil.
func (r NMResult) Err() error {
	var errs []error
	for _, id := range sortedContainerIDs(r.Failed) {
		errs = append(errs, r.Failed[id])
	}
	return errors.Join(errs...)
}

func sortedContainerIDs[V any](m map[ContainerID]V) []ContainerID {
	ids := make([]ContainerID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortContainerIDs(ids)
	return ids
}

func sortContainerIDs(ids []ContainerID) {
	slices.SortFunc(ids, func(a, b ContainerID) int {
		return cmp.Or(cmp.Compare(a.Attempt.App.ClusterTimestamp, b.Attempt.App.ClusterTimestamp), cmp.Compare(a.Attempt.App.ID, b.Attempt.App.ID),
			cmp.Compare(a.Attempt.Attempt, b.Attempt.Attempt), cmp.Compare(a.ID, b.ID))
	})
}

func (r *NMResult) fail(id ContainerID, err error) {
	if r.Failed == nil {
		r.Failed = map[ContainerID]error{}
	}
	r.Failed[id] = err
}

// StartRequest is one container to start: the allocated container (its
// node and container token) and what to run in it.
type StartRequest struct {
	Container Container
	Launch    ContainerLaunchContext
}

// StartContainers starts containers, one startContainers call per node,
// the nodes in parallel. Each container ends up in the result's Succeeded
// or Failed; a node that cannot be reached or refuses the call fails all
// its containers with that error. The returned error is only for requests
// that are invalid as given (nothing was sent).
func (c *NMClient) StartContainers(ctx context.Context, reqs []StartRequest) (NMResult, error) {
	byNode := map[NodeID][]StartRequest{}
	var order []NodeID
	seen := map[ContainerID]bool{}
	for _, r := range reqs {
		ct := r.Container
		switch {
		case ct.ID.IsZero():
			return NMResult{}, errors.New("yarn: start containers: a request has no container id")
		case ct.Token == nil:
			return NMResult{}, fmt.Errorf("yarn: start containers: container %s has no container token (pass the Container the allocate response gave)", ct.ID)
		case ct.Node.Host == "":
			return NMResult{}, fmt.Errorf("yarn: start containers: container %s has no node", ct.ID)
		case seen[ct.ID]:
			return NMResult{}, fmt.Errorf("yarn: start containers: container %s given twice", ct.ID)
		}
		seen[ct.ID] = true
		if byNode[ct.Node] == nil {
			order = append(order, ct.Node)
		}
		byNode[ct.Node] = append(byNode[ct.Node], r)
	}
	var (
		mu  sync.Mutex
		res NMResult
		wg  sync.WaitGroup
	)
	for _, node := range order {
		wg.Add(1)
		go func(node NodeID, rs []StartRequest) {
			defer wg.Done()
			req := &yarnpb.StartContainersRequestProto{}
			for _, r := range rs {
				req.StartContainerRequest = append(req.StartContainerRequest, &yarnpb.StartContainerRequestProto{
					ContainerLaunchContext: clcToProto(r.Launch), ContainerToken: r.Container.Token.Proto()})
			}
			var resp yarnpb.StartContainersResponseProto
			err := c.call(ctx, node, mStartContainers, req, &resp)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				for _, r := range rs {
					res.fail(r.Container.ID, err)
				}
				return
			}
			for _, m := range resp.GetServicesMetaData() {
				if res.ServicesMetaData == nil {
					res.ServicesMetaData = map[string][]byte{}
				}
				res.ServicesMetaData[m.GetKey()] = m.GetValue()
			}
			ids := make([]ContainerID, len(rs))
			for i, r := range rs {
				ids[i] = r.Container.ID
			}
			collect(&res, node, mStartContainers, ids, resp.GetSucceededRequests(), resp.GetFailedRequests())
		}(node, byNode[node])
	}
	wg.Wait()
	return res, nil
}

// collect sorts a response's succeeded and failed lists into res; a
// container the node did not mention at all counts as failed.
func collect(res *NMResult, node NodeID, method string, asked []ContainerID, ok []*yarnpb.ContainerIdProto, failed []*yarnpb.ContainerExceptionMapProto) {
	seen := map[ContainerID]bool{}
	for _, p := range ok {
		id := ContainerIDFromProto(p)
		seen[id] = true
		res.Succeeded = append(res.Succeeded, id)
	}
	for _, f := range failed {
		id := ContainerIDFromProto(f.GetContainerId())
		seen[id] = true
		res.fail(id, containerErrorFromProto(id, node, f.GetException()))
	}
	for _, id := range asked {
		if !seen[id] {
			res.fail(id, fmt.Errorf("yarn: %s on NodeManager %s: container %s is in neither the succeeded nor the failed list", method, node, id))
		}
	}
}

// StopContainers stops containers on one node. The error is for the call
// as a whole (node unreachable, authentication, a remote exception); the
// containers' own outcomes are in the result.
func (c *NMClient) StopContainers(ctx context.Context, node NodeID, ids []ContainerID) (NMResult, error) {
	req := &yarnpb.StopContainersRequestProto{}
	for _, id := range ids {
		req.ContainerId = append(req.ContainerId, ContainerIDToProto(id))
	}
	var resp yarnpb.StopContainersResponseProto
	if err := c.call(ctx, node, mStopContainers, req, &resp); err != nil {
		return NMResult{}, err
	}
	var res NMResult
	collect(&res, node, mStopContainers, ids, resp.GetSucceededRequests(), resp.GetFailedRequests())
	return res, nil
}

// StatusResult is the outcome of GetContainerStatuses.
type StatusResult struct {
	Statuses []ContainerStatus
	// Failed maps containers the node could not report on (for example
	// ContainerNotFoundException) to a *ContainerError.
	Failed map[ContainerID]error
}

// GetContainerStatuses asks one node for the status of containers. The
// error is for the call as a whole; per-container failures are in Failed.
func (c *NMClient) GetContainerStatuses(ctx context.Context, node NodeID, ids []ContainerID) (StatusResult, error) {
	req := &yarnpb.GetContainerStatusesRequestProto{}
	for _, id := range ids {
		req.ContainerId = append(req.ContainerId, ContainerIDToProto(id))
	}
	var resp yarnpb.GetContainerStatusesResponseProto
	if err := c.call(ctx, node, mGetContainerStatuses, req, &resp); err != nil {
		return StatusResult{}, err
	}
	var res StatusResult
	for _, s := range resp.GetStatus() {
		res.Statuses = append(res.Statuses, containerStatusFromProto(s))
	}
	for _, f := range resp.GetFailedRequests() {
		id := ContainerIDFromProto(f.GetContainerId())
		if res.Failed == nil {
			res.Failed = map[ContainerID]error{}
		}
		res.Failed[id] = containerErrorFromProto(id, node, f.GetException())
	}
	return res, nil
}

// RecoverableStartError reports whether a failed startContainers says
// nothing about the container itself, so that an AM replaces it without
// counting a failure: the NodeManager was not taking containers
// (NMNotYetReadyException: Hadoop's ContainerManagerImpl blocks new
// containers from serviceInit until the node has registered with the RM,
// and again while NodeManager.resyncWithRM re-registers it with a
// restarted RM), or it could not be reached or dropped the connection (a
// transport failure, *ipc.ConnError: a NodeManager shutting down stops its
// RPC server, one that is gone refuses connections).
func RecoverableStartError(err error) bool {
	return errors.Is(err, ErrNMNotYetReady) || IsTransport(err)
}
