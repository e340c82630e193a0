package yarn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// RMOptions configures an RMClient. Endpoints is required.
type RMOptions struct {
	// Endpoints are the RM client addresses (yarn.resourcemanager.address,
	// one per rm-id with HA), tried in order and failed over on errors.
	Endpoints []Endpoint
	// User is the user name sent with SIMPLE auth (and the effective user
	// with Kerberos). Empty sends none.
	User string
	// Mechanisms are SASL mechanisms (KERBEROS, or TOKEN with an
	// RM_DELEGATION_TOKEN); nil means SIMPLE, as insecure clusters expect.
	Mechanisms []ipc.ClientMechanism
	// Token, if set, is an RM_DELEGATION_TOKEN to authenticate with (SASL
	// TOKEN, in Kerberos.QOPs when Kerberos is set) instead of Kerberos, as
	// a process in a YARN container does: its credentials hold tokens, not
	// tickets (see RMDelegationTokenFrom). Kerberos's Client may then be
	// nil.
	Token *Token
	// Kerberos, if set, adds SASL KERBEROS (GSSAPI) after Mechanisms, with
	// _HOST in its ServerPrincipal replaced per endpoint.
	// RMOptionsFromConf sets it (without Client) when
	// hadoop.security.authentication is kerberos; NewRMClient then fails
	// unless the caller has set Client.
	Kerberos *Kerberos
	// Dial opens connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Retry bounds failover and retries; the zero value uses its defaults.
	Retry RetryPolicy
	// CallTimeout bounds each attempt of a call, connecting included
	// (ipc.client.rpc-timeout.ms): an RM that accepts connections but
	// never answers fails the attempt as a transport failure instead of
	// holding the call until TCP gives up. 0 means none.
	CallTimeout time.Duration
	// PollInterval is how often submit and kill poll for confirmation
	// (yarn.client.app-submission.poll-interval); 0 means 200 ms.
	PollInterval time.Duration
	// FallbackToSimpleAllowed is ipc.client.fallback-to-simple-auth-allowed
	// (false): whether to carry on without authentication when the RM
	// answers the SASL negotiation with SUCCESS. False fails the call with
	// ipc.ErrFallbackToSimple (an ErrAuthentication).
	FallbackToSimpleAllowed bool
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
}

// RMOptionsFromConf translates Hadoop configuration into RMOptions: the
// client addresses (with HA rm-ids) and the retry policy. It is pure: it
// reads no files or environment.
func RMOptionsFromConf(c *conf.Configuration) (RMOptions, error) {
	eps, retry, sec, err := rmConnFromConf(c, conf.RMClient)
	if err != nil {
		return RMOptions{}, err
	}
	krb, err := kerberosFromConf(sec, sec.RMPrincipal, conf.KeyRMPrincipal)
	if err != nil {
		return RMOptions{}, err
	}
	return RMOptions{Endpoints: eps, Retry: retry, Kerberos: krb, FallbackToSimpleAllowed: sec.FallbackToSimpleAuthAllowed}, nil
}

// rmConnFromConf reads what every connection to one RM service needs: its
// endpoints, the retry policy and the security settings.
func rmConnFromConf(c *conf.Configuration, svc conf.RMService) ([]Endpoint, RetryPolicy, conf.Security, error) {
	eps, err := endpointsFromConf(c, svc)
	if err != nil {
		return nil, RetryPolicy{}, conf.Security{}, err
	}
	r, err := c.RMRetry()
	if err != nil {
		return nil, RetryPolicy{}, conf.Security{}, err
	}
	sec, err := c.Security()
	if err != nil {
		return nil, RetryPolicy{}, conf.Security{}, err
	}
	return eps, retryFromConf(r), sec, nil
}

func retryFromConf(r conf.RMRetry) RetryPolicy {
	p := RetryPolicy{MaxWait: r.MaxWait, BaseDelay: r.FailoverSleepBase, MaxDelay: r.FailoverSleepMax, Probe: ProbeSchedule{Off: r.FailoverSleepSet}}
	if r.WaitForever {
		p.MaxWait = 1<<63 - 1
	}
	if p.MaxWait == 0 {
		p.MaxWait = time.Nanosecond // "try once"
	}
	return p
}

// RMClient talks ApplicationClientProtocol to the (active) ResourceManager.
// It is safe for concurrent use; Close it when done.
type RMClient struct {
	f    *failover
	opts RMOptions

	mu     sync.Mutex
	maxRes *Resource // from the last getNewApplication
}

// NewRMClient validates opts; it does not dial.
func NewRMClient(opts RMOptions) (*RMClient, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.Token != nil {
		var qops []string
		if opts.Kerberos != nil {
			qops = opts.Kerberos.QOPs
		}
		opts.Mechanisms = append([]ipc.ClientMechanism{&ipc.TokenMechanism{Token: opts.Token, QOPs: qops}}, opts.Mechanisms...)
		opts.Kerberos = nil
	}
	if opts.Kerberos != nil {
		if err := opts.Kerberos.validate("ResourceManager client"); err != nil {
			return nil, err
		}
	}
	f, err := newFailover(opts.Endpoints, connOptions{Peer: ipc.PeerRM, Protocol: ProtocolClient, User: opts.User, Mechanisms: opts.Mechanisms,
		Kerberos: opts.Kerberos, Dial: opts.Dial, Logger: opts.Logger, FallbackToSimpleAllowed: opts.FallbackToSimpleAllowed,
		CallTimeout: max(opts.CallTimeout, 0)}, opts.Retry)
	if err != nil {
		return nil, err
	}
	return &RMClient{f: f, opts: opts}, nil
}

// Close closes the connections. Idempotent.
func (c *RMClient) Close() error { return c.f.close() }

// Active returns the RM endpoint that answered last.
func (c *RMClient) Active() Endpoint { return c.f.activeEndpoint() }

// GetNewApplication reserves an application id and returns it with the
// cluster's maximum container resource.
func (c *RMClient) GetNewApplication(ctx context.Context) (ApplicationID, Resource, error) {
	var resp yarnpb.GetNewApplicationResponseProto
	if err := c.f.call(ctx, mGetNewApplication, &yarnpb.GetNewApplicationRequestProto{}, &resp); err != nil {
		return ApplicationID{}, Resource{}, mapError(err, "yarn: get new application")
	}
	max := ResourceFromProto(resp.GetMaximumCapability())
	c.mu.Lock()
	c.maxRes = &max
	c.mu.Unlock()
	return AppIDFromProto(resp.GetApplicationId()), max, nil
}

// ErrAboveMaximum is returned before sending a request whose resource
// exceeds the cluster maximum.
var ErrAboveMaximum = errors.New("yarn: resource above the cluster maximum")

// ErrNotConfirmed means the RM took an application's submission but its
// acceptance could not be confirmed (see SubmitApplication).
var ErrNotConfirmed = errors.New("yarn: submitted, acceptance not confirmed")

// SubmitApplication submits spec and waits until the RM has accepted it
// (state past NEW/NEW_SAVING). Submitting the same id twice is safe: the RM
// treats a known id as already submitted. If the RM fails over before
// persisting the application, the report says not-found and the
// submission is sent again, as YarnClientImpl does.
//
// Once the RM has taken the first submit call, a failure to confirm the
// acceptance (ctx ending, the RM becoming unreachable) matches
// ErrNotConfirmed as well as its cause: the application may exist and run.
// An application the RM reports FAILED or KILLED does not match it.
func (c *RMClient) SubmitApplication(ctx context.Context, spec AppSpec) error {
	if spec.ID.IsZero() {
		return errors.New("yarn: submit: AppSpec.ID is unset (call GetNewApplication first)")
	}
	c.mu.Lock()
	max := c.maxRes
	c.mu.Unlock()
	if max != nil && !spec.AMResource.Fits(*max) {
		return fmt.Errorf("%w: submit %s: AM resource %s exceeds the maximum %s (yarn.scheduler.maximum-allocation-mb / -vcores); ask for less",
			ErrAboveMaximum, spec.ID, spec.AMResource, *max)
	}
	req := &yarnpb.SubmitApplicationRequestProto{ApplicationSubmissionContext: appSpecToProto(spec)}
	submit := func() error {
		return mapError(c.f.call(ctx, mSubmitApplication, req, &yarnpb.SubmitApplicationResponseProto{}), "yarn: submit %s", spec.ID)
	}
	if err := submit(); err != nil {
		return err
	}
	unconfirmed := func(err error) error {
		return fmt.Errorf("%w: %w", ErrNotConfirmed, err)
	}
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		r, err := c.GetApplicationReport(ctx, spec.ID)
		switch {
		case errors.Is(err, ErrApplicationNotFound):
			if err := submit(); err != nil {
				return unconfirmed(err)
			}
		case err != nil:
			return unconfirmed(err)
		case r.State != StateNew && r.State != StateNewSaving:
			if r.State == StateFailed || r.State == StateKilled {
				return fmt.Errorf("yarn: submit %s: application %s: %s", spec.ID, r.State, r.Diagnostics)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return unconfirmed(fmt.Errorf("yarn: submit %s: waiting for the RM to accept it: %w", spec.ID, ctx.Err()))
		case <-t.C:
		}
	}
}

// GetApplicationReport returns an application's report; an unknown id
// gives an error matching ErrApplicationNotFound.
func (c *RMClient) GetApplicationReport(ctx context.Context, id ApplicationID) (AppReport, error) {
	var resp yarnpb.GetApplicationReportResponseProto
	err := c.f.call(ctx, mGetApplicationReport, &yarnpb.GetApplicationReportRequestProto{ApplicationId: AppIDToProto(id)}, &resp)
	if err != nil {
		return AppReport{}, mapError(err, "yarn: report of %s", id)
	}
	return AppReportFromProto(resp.GetApplicationReport()), nil
}

// AppFilter selects applications; empty fields match everything.
type AppFilter struct {
	States []AppState
	Types  []string
	Tags   []string
	Queues []string
	Users  []string
	Name   string // Hadoop 3.3+
	Limit  int64  // 0: no limit
}

// GetApplications lists applications matching f.
func (c *RMClient) GetApplications(ctx context.Context, f AppFilter) ([]AppReport, error) {
	req := &yarnpb.GetApplicationsRequestProto{
		ApplicationTypes: f.Types, ApplicationTags: f.Tags, Queues: f.Queues, Users: f.Users,
	}
	for _, s := range f.States {
		req.ApplicationStates = append(req.ApplicationStates, yarnpb.YarnApplicationStateProto(s))
	}
	if f.Limit > 0 {
		req.Limit = proto.Int64(f.Limit)
	}
	if f.Name != "" {
		req.Name = proto.String(f.Name)
	}
	var resp yarnpb.GetApplicationsResponseProto
	if err := c.f.call(ctx, mGetApplications, req, &resp); err != nil {
		return nil, mapError(err, "yarn: list applications")
	}
	out := make([]AppReport, 0, len(resp.GetApplications()))
	for _, a := range resp.GetApplications() {
		out = append(out, AppReportFromProto(a))
	}
	return out, nil
}

// KillApplication asks the RM to kill an application and re-sends the
// request until the RM confirms the kill was processed (is_kill_completed),
// as the yarn CLI does. Killing a finished application succeeds at once.
func (c *RMClient) KillApplication(ctx context.Context, id ApplicationID, diagnostics string) error {
	req := &yarnpb.KillApplicationRequestProto{ApplicationId: AppIDToProto(id)}
	if diagnostics != "" {
		req.Diagnostics = proto.String(diagnostics)
	}
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	for {
		var resp yarnpb.KillApplicationResponseProto
		if err := c.f.call(ctx, mForceKillApplication, req, &resp); err != nil {
			return mapError(err, "yarn: kill %s", id)
		}
		if resp.GetIsKillCompleted() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("yarn: kill %s: waiting for the RM to confirm: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// GetClusterMetrics counts the NodeManagers by state.
func (c *RMClient) GetClusterMetrics(ctx context.Context) (ClusterMetrics, error) {
	var resp yarnpb.GetClusterMetricsResponseProto
	if err := c.f.call(ctx, mGetClusterMetrics, &yarnpb.GetClusterMetricsRequestProto{}, &resp); err != nil {
		return ClusterMetrics{}, mapError(err, "yarn: cluster metrics")
	}
	return clusterMetricsFromProto(resp.GetClusterMetrics()), nil
}

// GetClusterNodes lists NodeManagers in the given states (none: all the RM
// reports by default, i.e. RUNNING).
func (c *RMClient) GetClusterNodes(ctx context.Context, states ...NodeState) ([]NodeReport, error) {
	req := &yarnpb.GetClusterNodesRequestProto{}
	for _, s := range states {
		req.NodeStates = append(req.NodeStates, yarnpb.NodeStateProto(s))
	}
	var resp yarnpb.GetClusterNodesResponseProto
	if err := c.f.call(ctx, mGetClusterNodes, req, &resp); err != nil {
		return nil, mapError(err, "yarn: cluster nodes")
	}
	out := make([]NodeReport, 0, len(resp.GetNodeReports()))
	for _, n := range resp.GetNodeReports() {
		out = append(out, nodeReportFromProto(n))
	}
	return out, nil
}

// QueueQuery selects what GetQueueInfo includes.
type QueueQuery struct {
	Applications, Children, Recursive bool
}

// GetQueueInfo describes a queue.
func (c *RMClient) GetQueueInfo(ctx context.Context, queue string, q QueueQuery) (QueueInfo, error) {
	req := &yarnpb.GetQueueInfoRequestProto{QueueName: proto.String(queue), IncludeApplications: proto.Bool(q.Applications),
		IncludeChildQueues: proto.Bool(q.Children), Recursive: proto.Bool(q.Recursive)}
	var resp yarnpb.GetQueueInfoResponseProto
	if err := c.f.call(ctx, mGetQueueInfo, req, &resp); err != nil {
		return QueueInfo{}, mapError(err, "yarn: queue %q", queue)
	}
	return queueInfoFromProto(resp.GetQueueInfo()), nil
}

// GetQueueUserACLs lists what the caller may do on each queue.
func (c *RMClient) GetQueueUserACLs(ctx context.Context) ([]QueueACL, error) {
	var resp yarnpb.GetQueueUserAclsInfoResponseProto
	if err := c.f.call(ctx, mGetQueueUserAcls, &yarnpb.GetQueueUserAclsInfoRequestProto{}, &resp); err != nil {
		return nil, mapError(err, "yarn: queue ACLs")
	}
	var out []QueueACL
	for _, q := range resp.GetQueueUserAcls() {
		a := QueueACL{Queue: q.GetQueueName()}
		for _, acl := range q.GetUserAcls() {
			a.ACLs = append(a.ACLs, strings.TrimPrefix(acl.String(), "QACL_"))
		}
		out = append(out, a)
	}
	return out, nil
}

// GetDelegationToken asks for an RM_DELEGATION_TOKEN renewable by renewer.
// The RM issues them only to Kerberos-authenticated connections.
func (c *RMClient) GetDelegationToken(ctx context.Context, renewer string) (*ipc.Token, error) {
	var resp commonpb.GetDelegationTokenResponseProto
	if err := c.f.call(ctx, mGetDelegationToken, &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String(renewer)}, &resp); err != nil {
		return nil, mapError(err, "yarn: delegation token")
	}
	if resp.Token == nil {
		return nil, errors.New("yarn: delegation token: the RM returned none (security is off?)")
	}
	return ipc.TokenFromProto(resp.GetToken()), nil
}

// ObtainRMDelegationToken gets an RM_DELEGATION_TOKEN renewable by renewer
// for an application's containers, with the service Hadoop gives it
// (ClientRMProxy.getRMDelegationTokenService: each RM address as
// SecurityUtil.buildTokenService makes it, comma-joined with RM HA). A
// container authenticates to the RM with it (RMDelegationTokenFrom), and
// the RM renews it while the application runs, as it does every token of
// the application's credentials.
func (c *RMClient) ObtainRMDelegationToken(ctx context.Context, renewer string) (*Token, error) {
	tok, err := c.GetDelegationToken(ctx, renewer)
	if err != nil {
		return nil, err
	}
	var svcs []string
	for _, ep := range c.opts.Endpoints {
		svc, err := tokenServiceOf(ctx, ep.Addr)
		if err != nil {
			return nil, err
		}
		svcs = append(svcs, svc)
	}
	tok.Service = strings.Join(svcs, ",")
	return tok, nil
}

// ErrNoRMDelegationToken is returned by RMDelegationTokenFrom when the
// credentials hold no RM_DELEGATION_TOKEN.
var ErrNoRMDelegationToken = errors.New("yarn: no RM_DELEGATION_TOKEN in the credentials")

// RMDelegationTokenFrom returns the RM_DELEGATION_TOKEN of a container's
// credentials (its $HADOOP_TOKEN_FILE_LOCATION), for RMOptions.Token.
func RMDelegationTokenFrom(c *Credentials) (*Token, error) {
	if c != nil {
		if t := c.TokenOfKind(KindRMDelegation); t != nil {
			return t, nil
		}
	}
	return nil, ErrNoRMDelegationToken
}
