package am

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// Delegation tokens in a long session.
//
// A secure cluster's delegation tokens die: the NameNode forgets a token
// not renewed within its renew interval (1 day by default) and refuses any
// token past its maximum lifetime (7 days), and YARN renews an
// application's tokens only up to that maximum. A session meant to outlive
// them ships the user's keytab (Spec.Kerberos); the AM logs in with it and
// obtains fresh tokens at 75% of the tokens' life (Spark's
// spark.security.credentials.renewalRatio), then hands them on:
//
//   - TaskManagers started afterwards get them in their launch context, so
//     their NodeManagers localize and their processes start with them;
//   - the JobManager, which runs in the AM's container, finds them in the
//     container's token file ($HADOOP_TOKEN_FILE_LOCATION), which the AM
//     rewrites in place (write and rename);
//   - running TaskManagers fetch them from the AM (CredentialsPath, a long
//     poll, so they have them as soon as the AM does) and rewrite their own
//     token file the same way (FollowCredentials, run by the in-container
//     launchers of the payloads). A process that reads the token file once
//     (a JVM's UserGroupInformation) needs its own way to take them in;
//     Flink's is its delegation token receiver.
//
// Fetching needs the credentials secret: random bytes the submitter put in
// the application's credentials (CredentialsSecretAlias), which every
// container of the application has in its token file and nothing else
// does. The AM endpoint is plain HTTP, as YARN's web proxy expects: the
// tokens cross the cluster network as they do in an insecure NodeManager
// launch; a cluster that encrypts RPC (hadoop.rpc.protection=privacy)
// should keep its AM hosts on a trusted network or wait for TLS here.

// TokenSource obtains fresh delegation tokens for the application.
type TokenSource interface {
	// Obtain returns new tokens, each replacing the application's token of
	// the same alias, and the time by which they should be replaced.
	Obtain(ctx context.Context) (*yarn.Credentials, time.Time, error)
}

// DefaultRenewalRatio is the part of a token's life after which it is
// replaced.
const DefaultRenewalRatio = 0.75

// HDFSTokens is a TokenSource of HDFS delegation tokens obtained with a
// Kerberos login (Options.Kerberos.Client, from the shipped keytab).
type HDFSTokens struct {
	// Options are the submitter's (yarn.DelegationTokenOptionsFromConf):
	// the tokens are renewable by the RM, like the first ones.
	Options yarn.DelegationTokenOptions
	// Ratio is the part of a token's life after which it is replaced; 0
	// means DefaultRenewalRatio.
	Ratio float64

	mu       sync.Mutex
	interval time.Duration
}

// Obtain gets a token from the NameNode and schedules its replacement at
// Ratio of the way from its issue date to its end: the NameNode's renew
// interval later (measured once with yarn.DelegationTokenRenewInterval,
// as nobody renews the tokens the AM obtains) or its maximum date,
// whichever is first.
func (h *HDFSTokens) Obtain(ctx context.Context) (*yarn.Credentials, time.Time, error) {
	h.mu.Lock()
	interval := h.interval
	h.mu.Unlock()
	if interval == 0 {
		d, err := yarn.DelegationTokenRenewInterval(ctx, h.Options)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("measure the HDFS token renew interval: %w", err)
		}
		h.mu.Lock()
		h.interval, interval = d, d
		h.mu.Unlock()
	}
	creds, err := yarn.ObtainDelegationTokens(ctx, h.Options)
	if err != nil {
		return nil, time.Time{}, err
	}
	ratio := h.Ratio
	if ratio <= 0 || ratio >= 1 {
		ratio = DefaultRenewalRatio
	}
	var next time.Time
	for _, t := range creds.Tokens() {
		issue, maxDate, err := yarn.DelegationTokenDates(t)
		if err != nil {
			return nil, time.Time{}, err
		}
		end := issue.Add(interval)
		if maxDate.After(issue) && maxDate.Before(end) {
			end = maxDate
		}
		at := issue.Add(time.Duration(ratio * float64(end.Sub(issue))))
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	if next.IsZero() {
		return nil, time.Time{}, yarn.ErrNoDelegationToken
	}
	return creds, next, nil
}

// refreshTokens obtains fresh tokens now and whenever the last ones
// reach their replacement time, until ctx ends. A failure is retried
// after 5 s, doubling up to a minute; the old tokens stay in use.
func (r *Runner) refreshTokens(ctx context.Context) {
	const firstRetry, maxRetry = 5 * time.Second, time.Minute
	retry := firstRetry
	for {
		creds, next, err := r.opts.Tokens.Obtain(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		if err != nil {
			r.m.tokenRefreshes.WithLabelValues("error").Inc()
			wait, retry = retry, min(2*retry, maxRetry)
			r.lg.Warn().Err(err).Dur("retry_in", wait).Msg("could not obtain fresh delegation tokens; the current ones stay in use")
		} else {
			retry = firstRetry
			gen := r.installTokens(creds)
			r.m.tokenRefreshes.WithLabelValues("ok").Inc()
			r.m.tokenNext.Set(float64(next.UnixMilli()) / 1e3)
			wait = max(next.Sub(r.opts.Now()), time.Second)
			var names []string
			for _, t := range creds.Tokens() {
				names = append(names, t.Kind+" "+t.Service)
			}
			r.lg.Info().Strs("tokens", names).Str("generation", gen).Time("next_refresh", next).Msg("delegation tokens refreshed")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// installTokens makes creds the application's current tokens: for the
// TaskManagers started from now on, for those that fetch them, and in the
// AM container's token file for the JobManager. It returns the new
// generation.
func (r *Runner) installTokens(creds *yarn.Credentials) string {
	r.mu.Lock()
	merged := r.creds.Clone()
	for _, alias := range creds.Aliases() {
		merged.AddToken(alias, creds.Token(alias))
	}
	r.creds, r.tmCred = merged, forwardable(merged)
	r.m.setTokenExpiry(merged)
	r.credGen++
	gen := r.generationLocked()
	close(r.credChanged)
	r.credChanged = make(chan struct{})
	r.mu.Unlock()
	if f := r.opts.TokenFile; f != "" {
		if err := amapi.WritePrivateFile(f, merged.Marshal()); err != nil {
			r.lg.Warn().Err(err).Msg("could not rewrite the container's token file; the JobManager keeps its old tokens")
		}
	}
	return gen
}

// generationLocked names the current credentials: the attempt (a new AM
// attempt starts counting again) and the number of refreshes.
func (r *Runner) generationLocked() string {
	return r.att.String() + "." + strconv.FormatUint(r.credGen, 10)
}

// serveCredentials answers a TaskManager's fetch (CredentialsPath).
func (r *Runner) serveCredentials(w http.ResponseWriter, req *http.Request) {
	if !amapi.CheckBearer(req.Header.Get("Authorization"), r.opts.Credentials.Secret(amapi.CredentialsSecretAlias), amapi.PurposeCredentials, r.att.String()) {
		r.refused(&r.credRefusals, req, "credentials request refused: wrong or missing credentials secret")
		http.Error(w, "forbidden: fetching credentials needs the application's credentials secret, bound to this attempt", http.StatusForbidden)
		return
	}
	wait := 50 * time.Second
	if s := req.URL.Query().Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			http.Error(w, "wait: want a duration such as 30s", http.StatusBadRequest)
			return
		}
		wait = min(d, 5*time.Minute)
	}
	after := req.URL.Query().Get("after")
	// The server's WriteTimeout would cut the poll: this response may be
	// written as late as the wait ends.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + r.httpLim.write)); err != nil {
		r.lg.Debug().Err(err).Msg("credentials poll: cannot extend the write deadline")
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	r.m.credPolls.Inc()
	defer r.m.credPolls.Dec()
	for {
		r.mu.Lock()
		gen, changed, creds := r.generationLocked(), r.credChanged, r.tmCred
		r.mu.Unlock()
		// A container started by another attempt (adopted) has none of
		// this attempt's generations: it gets the current credentials at
		// once.
		if gen != after {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set(amapi.CredentialsGenerationHeader, gen)
			_, _ = w.Write(creds.Marshal())
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.httpStop:
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case <-req.Context().Done():
			return
		}
	}
}
