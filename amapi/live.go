package amapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/yarn"
)

// Liveness: TaskManager death known in milliseconds.
//
// A TaskManager's launcher (the process whose death matters: `spindle
// example taskmanager` itself, or `spindle flink taskmanager`, which
// ends when its java does) holds one long-lived request to the AM that
// started it, LivePath with its container id. When the process dies,
// even by SIGKILL, the kernel closes the socket and the AM reads EOF at
// once: it asks for the replacement without waiting for the NodeManager
// to tell the RM and the RM to tell the AM (seconds), and reconciles
// with the RM's completion report when it comes (which classifies the
// exit and counts the failure, as without this connection).
//
// Threat: anyone who reaches the AM's endpoint could open a liveness
// connection naming another container and close it, so that the AM asks
// for a TaskManager too many (the surplus is released when the RM's
// report shows the container alive, but until then the fleet runs one
// above its target, and a spoofer repeating it keeps it there). The AM
// therefore acts only on the close of a connection it trusted when it
// opened: with a credentials secret in the application's credentials
// (CredentialsSecretAlias: every container has it, nothing else does),
// one that presented the secret's bearer for PurposeLive bound to the
// attempt (AttemptBearer; the secret never leaves the container);
// without one (a plain cluster, no tokens), one that comes from the
// container's own NodeManager host (the remote IP is one of the node's
// addresses). The AM refuses any other (403). What is left: on a plain
// cluster, another process on the same node may close a connection it
// opened for a container of that node; it gains one surplus
// TaskManager until the RM's report, nothing more (a real failure is
// counted only from the RM's report).

// LivePath is the AM endpoint a TaskManager's launcher holds open while
// it lives: GET LivePath with {container} its container id; with the
// application's credentials secret, "Authorization: Bearer <AttemptBearer(
// secret, PurposeLive, attempt)>". The AM answers 200 and a line
// (LiveLine) at once and then every few seconds until the client goes
// away or the AM ends; 403 when it does not trust the client, 404 when
// the container is not one of its TaskManagers.
const LivePath = "/v1/taskmanagers/{container}/live"

// LiveLine is what the AM writes on a liveness response: once at once,
// then every LiveEvery.
const LiveLine = "live\n"

// LiveEvery is how often the AM writes LiveLine; a client that reads
// nothing for 3×LiveEvery takes the connection for broken.
const LiveEvery = 10 * time.Second

// PurposeLive authenticates a liveness connection (LivePath) with the
// credentials secret.
const PurposeLive = "live"

// MetricsPortParam is LivePath's query parameter with the port of the
// TaskManager's Prometheus endpoint on its node (EnvMetricsPort), if it
// serves one: each AM attempt learns it from the connection and lists it
// in its status (TaskManagerInfo.MetricsPort).
const MetricsPortParam = "metrics_port"

// LiveURL is amURL's LivePath for container; a metricsPort above 0 is
// added as MetricsPortParam.
func LiveURL(amURL, container string, metricsPort int) string {
	u := strings.TrimSuffix(amURL, "/") + strings.Replace(LivePath, "{container}", container, 1)
	if metricsPort > 0 {
		u += "?" + MetricsPortParam + "=" + strconv.Itoa(metricsPort)
	}
	return u
}

// ErrLiveRefused is returned when the AM refuses a liveness connection
// (403: a wrong bearer, or no secret and an address other than the
// container's node).
var ErrLiveRefused = errors.New("amapi: the AM refused the liveness connection")

// ErrLiveUnknown is returned when the AM does not know the container as
// one of its TaskManagers (404).
var ErrLiveUnknown = errors.New("amapi: the AM does not know this TaskManager")

// Live holds a liveness connection to the AM of attempt for container
// until ctx ends (it returns nil) or the connection fails (it returns the
// error; io.EOF or io.ErrUnexpectedEOF when the AM closed it), telling
// the AM metricsPort (MetricsPortParam) when above 0. connected,
// if not nil, is called once the AM has accepted it. With a nil or empty
// secret no bearer is sent (the AM then checks the client's address).
// Call it only with an endpoint and attempt the RM vouched for
// (Locator.AM) or the NodeManager gave the container. The HTTP client
// must have no overall timeout (http.Client.Timeout would cut the
// response).
func (c *Client) Live(ctx context.Context, amURL, attempt, container string, metricsPort int, secret []byte, connected func()) error {
	u := LiveURL(amURL, container, metricsPort)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if len(secret) > 0 {
		req.Header.Set("Authorization", "Bearer "+AttemptBearer(secret, PurposeLive, attempt))
	}
	// A connection of its own, never reused (see Credentials).
	req.Close = true
	resp, err := c.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusForbidden, http.StatusNotFound:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		sentinel := ErrLiveRefused
		if resp.StatusCode == http.StatusNotFound {
			sentinel = ErrLiveUnknown
		}
		return fmt.Errorf("%w: %s: %s", sentinel, resp.Status, strings.TrimSpace(string(msg)))
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("AM answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	// A silent AM (its node gone without a FIN) is taken for dead after
	// three missed lines.
	lines := make(chan error, 1)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			_, err := br.ReadString('\n')
			select {
			case lines <- err:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	first := true
	quiet := time.NewTimer(3 * LiveEvery)
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-quiet.C:
			return fmt.Errorf("amapi: nothing from the AM on the liveness connection for %s", 3*LiveEvery)
		case err := <-lines:
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
			if first && connected != nil {
				connected()
			}
			first = false
			quiet.Reset(3 * LiveEvery)
		}
	}
}

// KeepAliveOptions configure KeepAlive.
type KeepAliveOptions struct {
	// AMURL and Attempt are the AM endpoint and attempt id the container
	// was started with ($SPINDLE_AM_URL, $SPINDLE_ATTEMPT_ID), trusted
	// until a connection to them fails.
	AMURL, Attempt string
	// Container is the container's id ($SPINDLE_RESOURCE_ID).
	Container string
	// MetricsPort is the port of the TaskManager's Prometheus endpoint
	// (EnvMetricsPort), told to every AM it connects to; 0 for none.
	MetricsPort int
	// Secret is the credentials secret (CredentialsSecretAlias) of the
	// container's token file; nil without one.
	Secret []byte
	// Locate returns the current attempt's AM endpoint and id
	// (Locator.AM), asked after every failure before anything is sent
	// again; nil means KeepAlive stops at the first failure.
	Locate func(ctx context.Context) (url string, attempt yarn.AttemptID, err error)
	// Retry is the first delay after a failure, doubling (±20% jitter) to
	// 30 s; 0 means 500 ms.
	Retry time.Duration
	// Client makes the requests; nil means a client without an overall
	// timeout that dials within 10 s, from NodeHost's address.
	Client *Client
	// NodeHost is the container's NodeManager host ($NM_HOST). The
	// default client dials from its address (when it is one of this
	// host's, else from the one the kernel picks), so that an AM without
	// a credentials secret, which trusts only connections from the
	// container's node, recognizes it on a node of several addresses.
	NodeHost string
	// Connected, if not nil, is called each time the AM accepts a
	// connection.
	Connected func(url, attempt string)
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
}

// KeepAlive holds the container's liveness connection (Client.Live)
// while ctx lasts, to the AM that started the container and, after an
// AM attempt change, to the current one: after any failure it asks
// Locate where the AM is and connects only to the endpoint and attempt
// the RM names (so no bearer follows a dead address). Failures back off
// (500 ms doubling to 30 s, with jitter) and are logged once per change
// of state. It returns nil when ctx ends, or an error when it cannot go
// on (no locator after a failure).
func KeepAlive(ctx context.Context, o KeepAliveOptions) error {
	if o.AMURL == "" || o.Attempt == "" || o.Container == "" {
		return errors.New("amapi: no AM URL, attempt and container id to hold the liveness connection with")
	}
	if o.Retry <= 0 {
		o.Retry = 500 * time.Millisecond
	}
	if o.Client == nil {
		o.Client = &Client{HTTP: &http.Client{Transport: &http.Transport{DialContext: dialFrom(o.NodeHost), ResponseHeaderTimeout: 10 * time.Second}}}
	}
	lg := o.Logger.With().Str("component", "liveness").Logger()
	url, attempt, verified := o.AMURL, o.Attempt, true
	retry, lastErr := o.Retry, ""
	for ctx.Err() == nil {
		var err error
		if !verified {
			if o.Locate == nil {
				return errors.New("amapi: cannot verify where the AM is after a failure (no locator); the liveness connection ends")
			}
			var u string
			var a yarn.AttemptID
			if u, a, err = o.Locate(ctx); err == nil {
				if a.String() != attempt {
					lg.Info().Str("attempt_id", a.String()).Msg("holding the liveness connection with the AM of a new attempt")
				}
				url, attempt, verified = u, a.String(), true
			}
		}
		if err == nil {
			start := time.Now()
			err = o.Client.Live(ctx, url, attempt, o.Container, o.MetricsPort, o.Secret, func() {
				if lastErr != "" {
					lg.Info().Msg("liveness connection to the AM open again")
				}
				retry, lastErr = o.Retry, ""
				if o.Connected != nil {
					o.Connected(url, attempt)
				}
			})
			if ctx.Err() != nil {
				return nil
			}
			verified = false
			if time.Since(start) > time.Minute {
				retry = o.Retry // a connection that held a while: the failure is a new one
			}
		}
		var wait time.Duration
		var be *BackoffError
		if errors.As(err, &be) {
			wait, err = max(time.Until(be.Until), 10*time.Millisecond), be.Err
		} else {
			wait = time.Duration(float64(retry) * (0.8 + 0.4*rand.Float64()))
			retry = min(2*retry, 30*time.Second)
		}
		if !pause(ctx, lg, err, wait, &lastErr, "liveness connection to the AM failed") {
			return nil
		}
	}
	return nil
}

// dialFrom dials from an address of host of the target's family, or,
// when that fails (the address is not this host's), as the kernel picks.
func dialFrom(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: 10 * time.Second}
		if host == "" {
			return d.DialContext(ctx, network, addr)
		}
		th, _, err := net.SplitHostPort(addr)
		if err != nil {
			return d.DialContext(ctx, network, addr)
		}
		var target net.IP
		if target = net.ParseIP(th); target == nil {
			if ips, err := net.DefaultResolver.LookupIP(ctx, "ip", th); err == nil && len(ips) > 0 {
				target = ips[0]
			}
		}
		ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
		if target != nil && err == nil {
			for _, ip := range ips {
				if (ip.To4() == nil) != (target.To4() == nil) {
					continue
				}
				from := d
				from.LocalAddr = &net.TCPAddr{IP: ip}
				if c, err := from.DialContext(ctx, network, net.JoinHostPort(target.String(), strings.TrimPrefix(addr, th+":"))); err == nil {
					return c, nil
				}
				break
			}
		}
		return d.DialContext(ctx, network, addr)
	}
}

// KeepContainerAlive runs KeepAlive, in a goroutine of its own, for the
// container whose environment lookup reads: its id
// ($SPINDLE_RESOURCE_ID), the AM that started it ($SPINDLE_AM_URL,
// $SPINDLE_ATTEMPT_ID) and its token file ($HADOOP_TOKEN_FILE_LOCATION,
// for the credentials secret), its node ($NM_HOST) and the port of its
// Prometheus endpoint (EnvMetricsPort, if lookup answers it); locate is
// KeepAliveOptions.Locate. The
// connection belongs to the calling process: call it from the process
// whose death the AM should learn of. Without an AM URL (a process not
// started by an AM) it does nothing. stop ends it and waits for it.
func KeepContainerAlive(ctx context.Context, lookup func(string) (string, bool),
	locate func(context.Context) (string, yarn.AttemptID, error), lg zerolog.Logger) (stop func()) {
	amURL, _ := lookup(EnvAMURL)
	attempt, _ := lookup(EnvAttemptID)
	container, _ := lookup(EnvResourceID)
	node, _ := lookup("NM_HOST")
	if off, _ := lookup(EnvLiveness); amURL == "" || attempt == "" || container == "" || off == "off" {
		return func() {}
	}
	var metricsPort int
	if p, ok := lookup(EnvMetricsPort); ok {
		metricsPort, _ = strconv.Atoi(p)
	}
	var secret []byte
	if file, _ := lookup("HADOOP_TOKEN_FILE_LOCATION"); file != "" {
		b, err := os.ReadFile(file)
		if err == nil {
			var creds *yarn.Credentials
			if creds, err = yarn.ParseCredentials(b); err == nil {
				secret = creds.Secret(CredentialsSecretAlias)
			}
		}
		if err != nil {
			lg.Warn().Err(err).Msg("cannot read the container's token file; the liveness connection goes without a bearer")
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := KeepAlive(ctx, KeepAliveOptions{AMURL: amURL, Attempt: attempt, Container: container, MetricsPort: metricsPort, Secret: secret, Locate: locate, NodeHost: node, Logger: lg}); err != nil {
			lg.Warn().Err(err).Msg("the AM will learn of this TaskManager's end from the ResourceManager only")
		}
	})
	return func() { cancel(); wg.Wait() }
}

// ContainerLinks starts what a TaskManager's launcher keeps with the AM
// for the life of its container: the credential follower
// (FollowContainer) and the liveness connection (KeepContainerAlive), both
// re-finding a new attempt's AM through locate. The process that calls it
// holds the liveness connection, so its death tells the AM at once. stop
// ends both and waits for them.
func ContainerLinks(ctx context.Context, lookup func(string) (string, bool),
	locate func(context.Context) (string, yarn.AttemptID, error), lg zerolog.Logger) (stop func()) {
	follow := FollowContainer(ctx, lookup, locate, lg)
	live := KeepContainerAlive(ctx, lookup, locate, lg)
	return func() { live(); follow() }
}
