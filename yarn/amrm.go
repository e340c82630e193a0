package yarn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// ErrAMShutdown is returned by Allocate when the RM answered with the
// AM_SHUTDOWN command (RMs before 2.6): the attempt is over, exit as for
// ErrAttemptNotFound.
var ErrAMShutdown = errors.New("yarn: the ResourceManager ordered the application master to shut down")

// AMRMOptions configures an AMRMClient. Scheduler and Token are required.
type AMRMOptions struct {
	// Scheduler are the RM scheduler addresses
	// (yarn.resourcemanager.scheduler.address, one per rm-id with HA),
	// tried in order and failed over on connection errors.
	Scheduler []Endpoint
	// Token is the AMRMToken (AMRMTokenFromCredentials); the scheduler port
	// accepts nothing else. A token the RM rolls replaces it.
	Token *ipc.Token
	// QOPs is the SASL QOP preference ("auth", "auth-int", "auth-conf");
	// nil takes the strongest the RM offers.
	QOPs []string
	// Dial opens connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retry bounds failover across Scheduler; the zero value uses the
	// RetryPolicy defaults.
	Retry RetryPolicy
	// NMTokens receives the NMTokens of register and allocate responses;
	// nil makes a new store (see AMRMClient.NMTokens).
	NMTokens *NMTokens
	// ResolveRack names the rack of a host, for the rack entries that
	// accompany node requests (Java's RackResolver); nil puts every host
	// in /default-rack, as a cluster without a topology script does.
	ResolveRack func(host string) string
	// LeaveDecrementsToRM changes what an allocated container sends. Java's
	// AMRMClient (and the default here) lowers the request's entries and
	// sends the new totals with the next allocate; but the RM lowered
	// them itself when it allocated, and by the time the new total
	// arrives it may have allocated more, which the total then asks for
	// again: excess containers, a few per heartbeat while a large ask is
	// served (YARN-1902). With LeaveDecrementsToRM the entries the RM
	// lowered (host, rack and "*" for a node-local container, rack and
	// "*" for a rack-local one, "*" for an off-switch one) are lowered
	// locally only; the others (the host of a node-local request served
	// off-switch) are still sent. Adding to an entry still sends its
	// total: add a new batch under a fresh AllocationRequestID to keep
	// that race out too.
	LeaveDecrementsToRM bool
	// CallTimeout bounds each attempt of an RM call, connecting included
	// (Hadoop's ipc.client.rpc-timeout.ms): an RM host that vanished
	// leaves connections that never answer, and without a bound an
	// allocate would wait for TCP to give up (~15 minutes, beyond the
	// RM's 10-minute AM expiry). The connection is closed, as Java's
	// client does, and the attempt fails as a transport failure. 0 means
	// DefaultAMRMCallTimeout; negative means none.
	CallTimeout time.Duration
	// FinishInterval is the pause between finishApplicationMaster calls
	// while the RM has not yet stored the final state; 0 means 100 ms.
	FinishInterval time.Duration
	// FallbackToSimpleAllowed is ipc.client.fallback-to-simple-auth-allowed
	// (false): whether to carry on without authentication when the RM
	// answers the SASL negotiation with SUCCESS. False fails the call with
	// ipc.ErrFallbackToSimple (an ErrAuthentication).
	FallbackToSimpleAllowed bool
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
}

// AMRMOptionsFromConf translates Hadoop configuration into AMRMOptions:
// the scheduler addresses (with HA rm-ids), the failover policy and the
// QOPs of hadoop.rpc.protection. It is pure; the caller adds the token.
func AMRMOptionsFromConf(c *conf.Configuration) (AMRMOptions, error) {
	eps, retry, sec, err := rmConnFromConf(c, conf.RMScheduler)
	if err != nil {
		return AMRMOptions{}, err
	}
	var qops []string
	for _, q := range sec.Protection {
		qops = append(qops, q.SASL())
	}
	ipcConf, err := c.IPC()
	if err != nil {
		return AMRMOptions{}, err
	}
	timeout := ipcConf.RPCTimeout
	if timeout == 0 {
		timeout = -1 // set to 0: none, as in Hadoop
	}
	return AMRMOptions{Scheduler: eps, Retry: retry, QOPs: qops, CallTimeout: timeout, FallbackToSimpleAllowed: sec.FallbackToSimpleAuthAllowed}, nil
}

// DefaultAMRMCallTimeout is AMRMOptions.CallTimeout's default, Hadoop
// 3.x's ipc.client.rpc-timeout.ms: an allocate takes milliseconds (the
// scheduler works asynchronously), and two minutes leave several
// attempts within the RM's AM expiry.
const DefaultAMRMCallTimeout = 2 * time.Minute

// AMRMClient talks ApplicationMasterProtocol to the (active) RM for one
// application attempt: register, the allocate heartbeat with its request
// table, finish. It is safe for concurrent use: requests, releases and
// blacklist changes may be made while a heartbeat is in flight, and go out
// with the next one. RM calls themselves are serialised, as the protocol's
// response ids require. Close it when done.
type AMRMClient struct {
	opts AMRMOptions
	f    *failover
	lg   zerolog.Logger
	nmt  *NMTokens

	callMu     sync.Mutex // one RM call at a time
	responseID int32      // guarded by callMu

	mu       sync.Mutex
	token    *ipc.Token
	reg      *registration
	finished bool
	maxCap   *Resource
	asks     *askTable
	// released are containers given back and not yet reported complete
	// (Java's pendingRelease); releaseQ those still to send.
	released map[ContainerID]struct{}
	releaseQ []ContainerID
	// blacklisted is the current blacklist; blAdd and blRemove the changes
	// still to send.
	blacklisted, blAdd, blRemove map[string]struct{}
	// uncertain: an allocate failed after it may have reached the RM. The
	// RM answers a repeat of that response id from its cache without
	// reading the new request, so what the repeat carries is sent again
	// once more afterwards.
	uncertain bool
}

type registration struct {
	host        string
	rpcPort     int32
	trackingURL string
}

// NewAMRMClient validates opts; it does not dial.
func NewAMRMClient(opts AMRMOptions) (*AMRMClient, error) {
	if len(opts.Scheduler) == 0 {
		return nil, errors.New("yarn: no scheduler address configured (set yarn.resourcemanager.scheduler.address, or yarn.resourcemanager.hostname)")
	}
	if opts.Token == nil {
		return nil, errors.New("yarn: AMRMOptions.Token is nil (read it with AMRMTokenFromCredentials from the container's credentials)")
	}
	if opts.Token.Kind != ipc.KindAMRMToken {
		return nil, fmt.Errorf("yarn: AMRMOptions.Token is of kind %q, want %s", opts.Token.Kind, ipc.KindAMRMToken)
	}
	if opts.FinishInterval <= 0 {
		opts.FinishInterval = 100 * time.Millisecond
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = DefaultAMRMCallTimeout
	}
	lc := opts.Logger.With().Str("component", "amrm")
	if id, err := ParseAMRMTokenIdentifier(opts.Token.Identifier); err == nil {
		lc = lc.Stringer("attempt_id", id.Attempt)
	}
	lg := lc.Logger()
	f, err := newFailover(opts.Scheduler, connOptions{Peer: ipc.PeerScheduler, Protocol: ProtocolAM, Mechanisms: amrmMechanisms(opts.Token, opts.QOPs),
		Dial: opts.Dial, CallTimeout: max(opts.CallTimeout, 0), Logger: opts.Logger, FallbackToSimpleAllowed: opts.FallbackToSimpleAllowed}, opts.Retry)
	if err != nil {
		return nil, err
	}
	nmt := opts.NMTokens
	if nmt == nil {
		nmt = &NMTokens{}
	}
	asks := newAskTable(opts.ResolveRack)
	asks.rmDecrements = opts.LeaveDecrementsToRM
	return &AMRMClient{opts: opts, f: f, lg: lg, nmt: nmt, token: opts.Token, asks: asks,
		released: map[ContainerID]struct{}{}, blacklisted: map[string]struct{}{}, blAdd: map[string]struct{}{}, blRemove: map[string]struct{}{}}, nil
}

func amrmMechanisms(t *ipc.Token, qops []string) []ipc.ClientMechanism {
	return []ipc.ClientMechanism{&ipc.TokenMechanism{Token: t, QOPs: qops}}
}

// Close closes the connections. Idempotent.
func (c *AMRMClient) Close() error { return c.f.close() }

// NMTokens is the store of NMTokens the RM sent, for NMOptions.Tokens.
func (c *AMRMClient) NMTokens() *NMTokens { return c.nmt }

// Token returns the current AMRMToken: the one given, or the last one the
// RM rolled.
func (c *AMRMClient) Token() *ipc.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// MaxCapability returns the largest container the RM grants, known once
// registered.
func (c *AMRMClient) MaxCapability() (Resource, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxCap == nil {
		return Resource{}, false
	}
	return *c.maxCap, true
}

// Registration is what the RM returns to registerApplicationMaster.
type Registration struct {
	// MaxCapability is the largest container the scheduler grants.
	MaxCapability Resource
	Queue         string
	// ContainersFromPreviousAttempts are containers still running from
	// earlier attempts (with keep-containers-across-attempts); their
	// NMTokens are already in the client's NMTokens store.
	ContainersFromPreviousAttempts []Container
	NMTokensFromPreviousAttempts   []NMToken
	// ClientToAMTokenMasterKey is the key to check client-to-AM tokens
	// with (secure clusters only). It is a secret: never log it.
	ClientToAMTokenMasterKey []byte
	// ACLs are the application's view/modify ACLs.
	ACLs map[ACLType]string
}

// Register registers the attempt's AM with the RM: its host, RPC port (-1
// for none) and tracking URL, which the RM shows and proxies. Call it once
// before Allocate; after an RM restart or failover the client registers
// again by itself with the same values.
func (c *AMRMClient) Register(ctx context.Context, host string, rpcPort int32, trackingURL string) (*Registration, error) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	reg := &registration{host: host, rpcPort: rpcPort, trackingURL: trackingURL}
	r, err := c.register(ctx, reg)
	if err != nil {
		return nil, err
	}
	c.lg.Info().Str("queue", r.Queue).Msg("application master registered")
	return r, nil
}

// register sends registerApplicationMaster; callMu is held.
func (c *AMRMClient) register(ctx context.Context, reg *registration) (*Registration, error) {
	req := &yarnpb.RegisterApplicationMasterRequestProto{Host: proto.String(reg.host), RpcPort: proto.Int32(reg.rpcPort),
		TrackingUrl: proto.String(reg.trackingURL)}
	var resp yarnpb.RegisterApplicationMasterResponseProto
	if err := c.f.call(ctx, mRegisterApplicationMaster, req, &resp); err != nil {
		return nil, mapError(err, "yarn: register application master")
	}
	r := &Registration{MaxCapability: ResourceFromProto(resp.GetMaximumCapability()), Queue: resp.GetQueue(),
		ClientToAMTokenMasterKey: resp.GetClientToAmTokenMasterKey()}
	for _, p := range resp.GetContainersFromPreviousAttempts() {
		r.ContainersFromPreviousAttempts = append(r.ContainersFromPreviousAttempts, containerFromProto(p))
	}
	for _, p := range resp.GetNmTokensFromPreviousAttempts() {
		t := nmTokenFromProto(p)
		c.nmt.Set(t.Node, t.Token)
		r.NMTokensFromPreviousAttempts = append(r.NMTokensFromPreviousAttempts, t)
	}
	for _, a := range resp.GetApplication_ACLs() {
		if r.ACLs == nil {
			r.ACLs = map[ACLType]string{}
		}
		r.ACLs[ACLType(a.GetAccessType())] = a.GetAcl()
	}
	c.responseID = 0 // the RM resets its copy at register
	c.mu.Lock()
	c.reg, c.finished = reg, false
	if resp.MaximumCapability != nil {
		c.maxCap = &r.MaxCapability
	}
	c.mu.Unlock()
	return r, nil
}

// AddRequest adds a container request; it goes out with the next Allocate.
// A resource above the maximum the RM returned at registration is refused
// with ErrAboveMaximum; requests the RM cannot keep apart are refused with
// ErrInvalidContainerRequest.
func (c *AMRMClient) AddRequest(r ContainerRequest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxCap != nil && !r.Resource.Fits(*c.maxCap) {
		return fmt.Errorf("%w: %s exceeds the maximum container %s (yarn.scheduler.maximum-allocation-mb / -vcores); ask for less",
			ErrAboveMaximum, r, *c.maxCap)
	}
	return c.asks.add(r)
}

// RemoveRequest withdraws an outstanding request equal to r, reporting
// whether there was one (a request is consumed when a container is
// allocated for it). A container the RM allocates for it anyway, because
// the withdrawal crossed a heartbeat, is released as excess.
func (c *AMRMClient) RemoveRequest(r ContainerRequest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asks.remove(r)
}

// OutstandingAsks lists the request table entries with containers still
// wanted, as the RM should hold them once the next allocate went out.
func (c *AMRMClient) OutstandingAsks() []ResourceAsk {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asks.snapshot()
}

// OutstandingRequests lists the requests not yet matched by a container
// (normalised: locations sorted and deduplicated), ordered by priority
// and allocation request id, oldest first within one.
func (c *AMRMClient) OutstandingRequests() []ContainerRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asks.outstanding()
}

// PendingRequests is the number of requests not yet matched by a container.
func (c *AMRMClient) PendingRequests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.asks.pending()
}

// Release gives a container back to the RM with the next Allocate. It
// completes with exit status ExitAborted in a later AllocateResult.
func (c *AMRMClient) Release(id ContainerID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.releaseLocked(id)
}

func (c *AMRMClient) releaseLocked(id ContainerID) {
	c.released[id] = struct{}{}
	if !slices.Contains(c.releaseQ, id) {
		c.releaseQ = append(c.releaseQ, id)
	}
}

// Blacklist adds hosts or racks to, and removes them from, the
// application's blacklist, with the next Allocate.
func (c *AMRMClient) Blacklist(additions, removals []string) error {
	for _, h := range append(slices.Clone(additions), removals...) {
		if h == "" || h == AnyHost {
			return fmt.Errorf("%w: cannot blacklist %q", ErrInvalidBlacklistRequest, h)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range additions {
		c.blacklisted[h] = struct{}{}
		c.blAdd[h] = struct{}{}
		delete(c.blRemove, h)
	}
	for _, h := range removals {
		delete(c.blacklisted, h)
		delete(c.blAdd, h)
		c.blRemove[h] = struct{}{}
	}
	return nil
}

// Allocate is the heartbeat: it sends the changed requests, the releases
// and blacklist changes, and the progress (0..1), and returns what the RM
// allocated and what completed. Call it regularly (Java AMs: every second;
// the RM expires an AM silent for 10 minutes).
//
// When the RM does not know the attempt's registration (it restarted or
// failed over: ErrAMNotRegistered), Allocate registers again and resends
// the whole outstanding state in one more allocate. ErrAttemptNotFound,
// ErrInvalidAMRequest and ErrAMShutdown mean the attempt is over.
func (c *AMRMClient) Allocate(ctx context.Context, progress float32) (*AllocateResult, error) {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	c.mu.Lock()
	reg, finished := c.reg, c.finished
	c.mu.Unlock()
	switch {
	case reg == nil:
		return nil, fmt.Errorf("yarn: allocate before Register: %w", ErrAMNotRegistered)
	case finished:
		return nil, fmt.Errorf("yarn: allocate after Finish: %w", ErrAMNotRegistered)
	}
	if math.IsNaN(float64(progress)) || progress < 0 {
		progress = 0
	}
	progress = min(progress, 1)
	res := &AllocateResult{}
	for attempt := 0; ; attempt++ {
		err := c.allocateOnce(ctx, progress, res)
		var why error
		switch {
		case err == nil && res.Command == AMCommandShutdown:
			return nil, fmt.Errorf("yarn: allocate: %w", ErrAMShutdown)
		case err == nil && res.Command == AMCommandResync:
			why = errors.New("ResourceManager sent AM_RESYNC")
		case err == nil:
			return res, nil
		case errors.Is(err, ErrAMNotRegistered):
			why = err
		default:
			return nil, err
		}
		if attempt > 0 {
			return nil, fmt.Errorf("yarn: allocate: still out of sync after registering again: %w", why)
		}
		if err := c.resync(ctx, reg, res, why); err != nil {
			return nil, err
		}
	}
}

// resync registers again after the RM lost the registration and marks the
// whole outstanding state for sending (AMRMClientImpl's resync).
func (c *AMRMClient) resync(ctx context.Context, reg *registration, res *AllocateResult, why error) error {
	c.lg.Warn().Err(why).Msg("application master out of sync with the ResourceManager; registering again and resending all requests")
	r, err := c.register(ctx, reg)
	if err != nil {
		return fmt.Errorf("yarn: resync: %w", err)
	}
	res.Resynced = true
	res.PreviousAttemptContainers = append(res.PreviousAttemptContainers, r.ContainersFromPreviousAttempts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asks.markAll()
	for _, id := range sortedContainerIDs(c.released) {
		if !slices.Contains(c.releaseQ, id) {
			c.releaseQ = append(c.releaseQ, id)
		}
	}
	for h := range c.blacklisted {
		c.blAdd[h] = struct{}{}
	}
	c.uncertain = false // the new registration starts from nothing
	return nil
}

// sent is what one allocate request carried, to put back if it failed.
type sent struct {
	asks     []askRef
	releases []ContainerID
	hosts    []string
}

func sortedSet(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// allocateOnce sends one allocate and folds the response into res; callMu
// is held.
func (c *AMRMClient) allocateOnce(ctx context.Context, progress float32, res *AllocateResult) error {
	c.mu.Lock()
	var s sent
	req := &yarnpb.AllocateRequestProto{ResponseId: proto.Int32(c.responseID), Progress: proto.Float32(progress),
		BlacklistRequest: &yarnpb.ResourceBlacklistRequestProto{}} // Java always sends the blacklist request
	req.Ask, s.asks = c.asks.take()
	s.releases, c.releaseQ = c.releaseQ, nil
	for _, id := range s.releases {
		req.Release = append(req.Release, ContainerIDToProto(id))
	}
	req.BlacklistRequest.BlacklistAdditions = sortedSet(c.blAdd)
	req.BlacklistRequest.BlacklistRemovals = sortedSet(c.blRemove)
	s.hosts = append(slices.Clone(req.BlacklistRequest.BlacklistAdditions), req.BlacklistRequest.BlacklistRemovals...)
	clear(c.blAdd)
	clear(c.blRemove)
	c.mu.Unlock()

	var resp yarnpb.AllocateResponseProto
	err := c.f.call(ctx, mAllocate, req, &resp)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.restore(s)
		var re *ipc.RemoteError
		if !errors.As(err, &re) {
			c.uncertain = true
		}
		return mapError(err, "yarn: allocate (response id %d)", req.GetResponseId())
	}
	if c.uncertain {
		c.restore(s)
		c.uncertain = false
	}
	c.asks.gc()
	c.responseID = resp.GetResponseId()
	c.absorb(&resp, res)
	return nil
}

// restore puts back what a request carried; mu is held.
func (c *AMRMClient) restore(s sent) {
	c.asks.restore(s.asks)
	for _, id := range s.releases {
		if _, ok := c.released[id]; ok && !slices.Contains(c.releaseQ, id) {
			c.releaseQ = append(c.releaseQ, id)
		}
	}
	for _, h := range s.hosts {
		if _, ok := c.blacklisted[h]; ok {
			c.blAdd[h] = struct{}{}
		} else {
			c.blRemove[h] = struct{}{}
		}
	}
}

// Finish unregisters the AM with its final status, diagnostics and final
// tracking URL (empty strings are not sent), and waits until the RM has
// stored the final state: it repeats the call every FinishInterval while
// the RM answers isUnregistered=false, and across connection failures,
// until ctx ends. If the RM lost the registration (restart, failover) it
// registers again first, as Java's AMRMClient does.
func (c *AMRMClient) Finish(ctx context.Context, status FinalStatus, diagnostics, trackingURL string) error {
	c.callMu.Lock()
	defer c.callMu.Unlock()
	req := &yarnpb.FinishApplicationMasterRequestProto{FinalApplicationStatus: yarnpb.FinalApplicationStatusProto(status).Enum()}
	if diagnostics != "" {
		req.Diagnostics = proto.String(diagnostics)
	}
	if trackingURL != "" {
		req.TrackingUrl = proto.String(trackingURL)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	resyncs := 0
	for attempt := 1; ; attempt++ {
		var resp yarnpb.FinishApplicationMasterResponseProto
		err := mapError(c.f.call(ctx, mFinishApplicationMaster, req, &resp), "yarn: finish application master (%s)", status)
		switch {
		case err == nil && resp.GetIsUnregistered():
			c.mu.Lock()
			c.finished = true
			c.mu.Unlock()
			c.lg.Info().Int("attempt", attempt).Msg("application master unregistered")
			return nil
		case err == nil:
			c.lg.Debug().Int("attempt", attempt).Msg("final state not yet stored; finishing again")
		case errors.Is(err, ErrAMNotRegistered):
			c.mu.Lock()
			reg := c.reg
			c.mu.Unlock()
			if resyncs++; reg == nil || resyncs > maxFinishResyncs {
				return err
			}
			c.lg.Warn().Err(err).Msg("application master out of sync with the ResourceManager; registering again before finishing")
			if _, rerr := c.register(ctx, reg); rerr != nil {
				return fmt.Errorf("yarn: finish: %w", rerr)
			}
			continue
		case ctx.Err() != nil:
			return fmt.Errorf("yarn: finish application master: the RM had not confirmed after %d attempts: %w", attempt, err)
		case !isRemote(err):
			c.lg.Warn().Err(err).Int("attempt", attempt).Dur("backoff", c.opts.FinishInterval).Msg("finish failed; retrying")
		default:
			return err
		}
		if timer == nil {
			timer = time.NewTimer(c.opts.FinishInterval)
		} else {
			timer.Reset(c.opts.FinishInterval)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("yarn: finish application master: %w (the RM had not confirmed after %d attempts)", ctx.Err(), attempt)
		case <-timer.C:
		}
	}
}

// maxFinishResyncs bounds how often Finish registers again: an RM that
// forgets the registration right after each register is broken.
const maxFinishResyncs = 3

// isRemote reports whether err carries a Java exception (the server got
// and refused the call), as opposed to a transport failure.
func isRemote(err error) bool {
	var re *ipc.RemoteError
	return errors.As(err, &re)
}
