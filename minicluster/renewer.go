package minicluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/internal/delegation"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// renewerCallTimeout bounds one renew or cancel call to a NameNode
// (yarn.resourcemanager.delegation-token-renewer.thread-timeout, 60 s).
const renewerCallTimeout = 60 * time.Second

// tokenRenewer is the ResourceManager's DelegationTokenRenewer
// (hadoop-yarn-server-resourcemanager/src/main/java/org/apache/hadoop/yarn/server/resourcemanager/security/DelegationTokenRenewer.java)
// for the HDFS delegation tokens in applications' AM launch contexts.
// Authenticated as the RM (its Kerberos login), it
//
//   - addApplication (handleAppSubmitEvent): renews every
//     HDFS_DELEGATION_TOKEN of the credentials that has a renewer and is
//     not tracked yet, all before tracking any, so that one failure
//     rejects the application; a token another application brought is
//     shared, not renewed again. A token with an empty renewer is skipped
//     (skipTokenRenewal).
//   - run (the renewal Timer): renews each tracked token at
//     expiry - (expiry - now)/10 in ms, i.e. at 90% of the time left, and
//     reschedules it from the new expiry; a token whose expiry has passed
//     is not rescheduled ("Will not renew token"); a failed renewal (the
//     maximum lifetime reached, a cancelled token) drops it, and a
//     dropped token is never cancelled (removeFailedDelegationToken).
//   - applicationFinished (handleAppFinishEvent): forgets the
//     application's tokens at once, or after removalDelay; a token no
//     other application refers to stops being renewed and, if its first
//     submitter asked for it (cancel_tokens_when_complete, default true),
//     is cancelled by cancelLoop (the "Delegation Token Canceler"
//     thread).
//   - reset: an RM restart loses all of this (it lives in memory only);
//     the RM adds its unfinished applications again (recoverTokens).
//
// Not modelled: kinds other than HDFS_DELEGATION_TOKEN (YARN renews every
// "managed" kind, RM_DELEGATION_TOKEN through its own secret manager),
// new tokens obtained as a proxy user
// (yarn.resourcemanager.proxy-user-privileges.enabled), tokens_conf,
// NodeManagers keeping applications alive for log aggregation, the
// renewer pool's timeouts and retries, and
// yarn.resourcemanager.delegation-token.always-cancel.
//
// Lock order: ResourceManager.mu, then tokenRenewer.mu; the renewer never
// takes the RM's lock and makes no call while holding its own. It logs
// tokens by kind, service and sequence number only.
type tokenRenewer struct {
	krb          *yarn.Kerberos
	removalDelay time.Duration
	lg           zerolog.Logger
	ctx          context.Context // the RM's: cancelled by Close
	wake         chan struct{}   // run: the schedule changed
	wakeCancel   chan struct{}   // cancelLoop: cancels queued

	mu      sync.Mutex
	all     map[string]*renewedToken // by tokenKey (Java's Token.equals)
	apps    map[yarn.ApplicationID][]*renewedToken
	delayed map[yarn.ApplicationID]time.Time // finished applications awaiting removal
	cancels []*renewedToken
}

// renewedToken is DelegationTokenToRenew.
type renewedToken struct {
	tok         *ipc.Token
	id          *ipc.DelegationTokenIdentifier
	key         string
	apps        map[yarn.ApplicationID]bool // referringAppIds
	cancelAtEnd bool
	expiry      int64 // ms: what the last renewal returned
	next        int64 // ms: when run renews it; 0 means not scheduled
	removed     bool  // no longer tracked: never renew or reschedule it
}

// MarshalZerologObject logs the token's kind, service and sequence
// number: nothing secret.
func (d *renewedToken) MarshalZerologObject(e *zerolog.Event) {
	e.Str("kind", d.tok.Kind).Str("service", d.tok.Service).Int32("sequence_number", d.id.SequenceNumber)
}

func (d *renewedToken) appIDs() []string {
	out := make([]string, 0, len(d.apps))
	for id := range d.apps {
		out = append(out, id.String())
	}
	sort.Strings(out)
	return out
}

// renewError is the IOException handleAppSubmitEvent throws: its message
// is the rejected application's diagnostics, as YARN shows them; the
// NameNode's reason is the wrapped error.
type renewError struct {
	msg string
	err error
}

func (e *renewError) Error() string { return e.msg }

func (e *renewError) Unwrap() error { return e.err }

// tokenKey identifies a token as Java's Token.equals does: kind, service,
// identifier and password. It is a map key only, never printed.
func tokenKey(t *ipc.Token) string {
	return fmt.Sprintf("%d:%s|%d:%s|%d:%s|%s", len(t.Kind), t.Kind, len(t.Service), t.Service, len(t.Identifier), t.Identifier, t.Password)
}

// hadoopTokenString is Token.toString for an HDFS delegation token: kind,
// service and the identifier as DelegationTokenIdentifier.toString prints
// it ("token for <short owner>: " + AbstractDelegationTokenIdentifier.toString).
// It holds no password or raw bytes.
func hadoopTokenString(t *ipc.Token, id *ipc.DelegationTokenIdentifier) string {
	return fmt.Sprintf("Kind: %s, Service: %s, Ident: (token for %s: %s owner=%s, renewer=%s, realUser=%s, issueDate=%d, maxDate=%d, sequenceNumber=%d, masterKeyId=%d)",
		t.Kind, t.Service, delegation.ShortName(id.Owner), t.Kind, id.Owner, id.Renewer, id.RealUser, id.IssueDate, id.MaxDate, id.SequenceNumber, id.MasterKeyID)
}

func newTokenRenewer(ctx context.Context, krb *yarn.Kerberos, removalDelay time.Duration, lg zerolog.Logger) *tokenRenewer {
	return &tokenRenewer{krb: krb, removalDelay: removalDelay, lg: lg.With().Str("component", "delegation-token-renewer").Logger(), ctx: ctx,
		wake: make(chan struct{}, 1), wakeCancel: make(chan struct{}, 1),
		all: map[string]*renewedToken{}, apps: map[yarn.ApplicationID][]*renewedToken{}, delayed: map[yarn.ApplicationID]time.Time{}}
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func nowMS() int64 { return time.Now().UnixMilli() }

// call renews or cancels tok at the NameNode its service names, as the
// RM's Kerberos principal.
func (t *tokenRenewer) call(ctx context.Context, tok *ipc.Token, cancelIt bool) (int64, error) {
	if _, _, err := net.SplitHostPort(tok.Service); err != nil {
		return 0, fmt.Errorf("minicluster: token service %q is not a NameNode host:port: %w", tok.Service, err)
	}
	ctx, cancel := context.WithTimeout(ctx, renewerCallTimeout)
	defer cancel()
	opts := yarn.DelegationTokenOptions{NameNodes: []string{tok.Service}, Kerberos: t.krb, Logger: t.lg}
	if cancelIt {
		return 0, yarn.CancelDelegationToken(ctx, opts, tok)
	}
	exp, err := yarn.RenewDelegationToken(ctx, opts, tok)
	if err != nil {
		return 0, err
	}
	return exp.UnixMilli(), nil
}

// addApplication is handleAppSubmitEvent: it renews app's HDFS delegation
// tokens in creds once, synchronously, then tracks them and schedules
// their next renewal. The error is a *renewError whose message is YARN's
// "Failed to renew token: …" diagnostics; then nothing was tracked.
func (t *tokenRenewer) addApplication(ctx context.Context, app yarn.ApplicationID, creds *ipc.Credentials, cancelAtEnd bool) error {
	type found struct {
		d     *renewedToken
		fresh bool // renewed here, not tracked before
	}
	var list []found
	for _, tok := range creds.Tokens() {
		if tok.Kind != ipc.KindHDFSDelegation {
			continue
		}
		id, err := ipc.ParseDelegationTokenIdentifier(tok.Identifier)
		if err != nil {
			return &renewError{msg: fmt.Sprintf("Failed to renew token: Kind: %s, Service: %s, Ident: <undecodable>", tok.Kind, tok.Service), err: err}
		}
		if id.Renewer == "" {
			continue // skipTokenRenewal
		}
		key := tokenKey(tok)
		t.mu.Lock()
		d := t.all[key]
		t.mu.Unlock()
		if d != nil {
			list = append(list, found{d: d})
			continue
		}
		d = &renewedToken{tok: tok, id: id, key: key, apps: map[yarn.ApplicationID]bool{}, cancelAtEnd: cancelAtEnd}
		exp, err := t.call(ctx, tok, false)
		if err != nil {
			return &renewError{msg: "Failed to renew token: " + hadoopTokenString(tok, id), err: err}
		}
		d.expiry = exp
		list = append(list, found{d: d, fresh: true})
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := nowMS()
	for _, f := range list {
		cur := t.all[f.d.key]
		if cur != nil { // tracked for another application: share it
			cur.apps[app] = true
			t.addAppTokenLocked(app, cur)
			continue
		}
		// New, or dropped since it was looked up: track it.
		d := f.d
		d.removed = false
		t.all[d.key] = d
		d.apps[app] = true
		t.addAppTokenLocked(app, d)
		t.scheduleLocked(d, now)
		if f.fresh && d.next > 0 {
			t.lg.Info().Stringer("app_id", app).Object("token", d).Time("expiry", time.UnixMilli(d.expiry)).
				Dur("renew_in", time.Duration(d.next-now)*time.Millisecond).Msg("delegation token renewed for a submitted application")
		}
	}
	kick(t.wake)
	return nil
}

func (t *tokenRenewer) addAppTokenLocked(app yarn.ApplicationID, d *renewedToken) {
	for _, x := range t.apps[app] {
		if x == d {
			return
		}
	}
	t.apps[app] = append(t.apps[app], d)
}

// scheduleLocked is setTimerForTokenRenewal: the next renewal is at
// expiry - expiresIn/10; none once the expiry has passed.
func (t *tokenRenewer) scheduleLocked(d *renewedToken, now int64) {
	expiresIn := d.expiry - now
	if expiresIn <= 0 {
		d.next = 0
		t.lg.Info().Object("token", d).Strs("app_ids", d.appIDs()).Msg("delegation token expired; will not renew it")
		return
	}
	d.next = d.expiry - expiresIn/10
}

// applicationFinished is handleAppFinishEvent: app's tokens are removed
// now, or after removalDelay (renewed until then).
func (t *tokenRenewer) applicationFinished(app yarn.ApplicationID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.apps[app]; !ok {
		return
	}
	if t.removalDelay <= 0 {
		t.removeApplicationLocked(app)
		return
	}
	if _, ok := t.delayed[app]; !ok {
		t.delayed[app] = time.Now().Add(t.removalDelay)
		kick(t.wake)
	}
}

// removeApplicationLocked is removeApplicationFromRenewal.
func (t *tokenRenewer) removeApplicationLocked(app yarn.ApplicationID) {
	list := t.apps[app]
	delete(t.apps, app)
	for _, d := range list {
		delete(d.apps, app)
		if len(d.apps) > 0 {
			continue // another application still uses it
		}
		d.removed, d.next = true, 0
		if t.all[d.key] == d {
			delete(t.all, d.key)
		}
		if !d.cancelAtEnd {
			t.lg.Info().Stringer("app_id", app).Object("token", d).Msg("application finished; delegation token kept (cancel_tokens_when_complete=false)")
			continue
		}
		t.cancels = append(t.cancels, d)
		kick(t.wakeCancel)
	}
}

// removeFailedLocked is removeFailedDelegationToken: the token is no
// longer renewed, nor cancelled at the end.
func (t *tokenRenewer) removeFailedLocked(d *renewedToken) {
	d.removed, d.next = true, 0
	if t.all[d.key] == d {
		delete(t.all, d.key)
	}
	for app := range d.apps {
		list := t.apps[app]
		for i, x := range list {
			if x == d {
				t.apps[app] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
	}
}

// reset drops everything, as a restarted RM starts with an empty
// renewer; queued cancellations are lost too (the canceller thread dies
// with the RM).
func (t *tokenRenewer) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.all {
		d.removed, d.next = true, 0
	}
	t.all = map[string]*renewedToken{}
	t.apps = map[yarn.ApplicationID][]*renewedToken{}
	t.delayed = map[yarn.ApplicationID]time.Time{}
	t.cancels = nil
}

// run is the renewal timer and the delayed-removal thread: one goroutine,
// one timer, until the RM's context ends.
func (t *tokenRenewer) run() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(t.nextWait(time.Now()))
		select {
		case <-t.ctx.Done():
			return
		case <-t.wake:
		case <-timer.C:
		}
		t.runDue(time.Now())
	}
}

// nextWait is the time until the earliest renewal or delayed removal.
func (t *tokenRenewer) nextWait(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := now.Add(time.Hour)
	for _, d := range t.all {
		if d.next > 0 && d.next < next.UnixMilli() {
			next = time.UnixMilli(d.next)
		}
	}
	for _, at := range t.delayed {
		if at.Before(next) {
			next = at
		}
	}
	return max(next.Sub(now), 0)
}

func (t *tokenRenewer) runDue(now time.Time) {
	t.mu.Lock()
	for app, at := range t.delayed {
		if !at.After(now) {
			delete(t.delayed, app)
			t.removeApplicationLocked(app)
		}
	}
	var due []*renewedToken
	for _, d := range t.all {
		if d.next > 0 && d.next <= now.UnixMilli() {
			d.next = 0
			due = append(due, d)
		}
	}
	t.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].id.SequenceNumber < due[j].id.SequenceNumber })
	for _, d := range due {
		t.renewScheduled(d)
	}
}

// renewScheduled is RenewalTimerTask.run.
func (t *tokenRenewer) renewScheduled(d *renewedToken) {
	exp, err := t.call(t.ctx, d.tok, false)
	if t.ctx.Err() != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if d.removed {
		return // the application ended meanwhile
	}
	if err != nil {
		t.lg.Warn().Err(err).Object("token", d).Strs("app_ids", d.appIDs()).Msg("delegation token renewal failed; not rescheduled")
		t.removeFailedLocked(d)
		return
	}
	d.expiry = exp
	now := nowMS()
	t.scheduleLocked(d, now)
	if d.next > 0 {
		t.lg.Info().Object("token", d).Strs("app_ids", d.appIDs()).Time("expiry", time.UnixMilli(exp)).
			Dur("renew_in", time.Duration(d.next-now)*time.Millisecond).Msg("delegation token renewed")
	}
}

// cancelLoop is DelegationTokenCancelThread: it cancels queued tokens one
// by one until the RM's context ends; a failure is logged.
func (t *tokenRenewer) cancelLoop() {
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-t.wakeCancel:
		}
		for {
			t.mu.Lock()
			if len(t.cancels) == 0 {
				t.mu.Unlock()
				break
			}
			d := t.cancels[0]
			t.cancels = t.cancels[1:]
			still := d.removed // not tracked again since
			t.mu.Unlock()
			if !still {
				continue
			}
			_, err := t.call(t.ctx, d.tok, true)
			if t.ctx.Err() != nil {
				return
			}
			if err != nil {
				t.lg.Warn().Err(err).Object("token", d).Msg("failed to cancel delegation token")
				continue
			}
			t.lg.Info().Object("token", d).Msg("delegation token cancelled")
		}
	}
}

// --- ResourceManager side ------------------------------------------------

// appCredentials is what the renewer needs of an application.
type appCredentials struct {
	id          yarn.ApplicationID
	creds       *ipc.Credentials
	cancelAtEnd bool // cancel_tokens_when_complete (default true)
}

// submittedCredentials parses the AM launch context's tokens
// (BuilderUtils.parseCredentials).
func submittedCredentials(sub *yarnpb.ApplicationSubmissionContextProto) (*ipc.Credentials, error) {
	b := sub.GetAmContainerSpec().GetTokens()
	if len(b) == 0 {
		return &ipc.Credentials{}, nil
	}
	return ipc.ParseCredentials(b)
}

// addAppTokens is the renewer's part of RMAppManager.submitApplication on
// a secure cluster: the application's HDFS tokens are renewed before it
// is accepted. It returns the diagnostics of a rejected application (""
// when accepted), and the RPC error for credentials that do not parse
// (RMAppManager rejects the application and throws).
func (r *ResourceManager) addAppTokens(ctx context.Context, id yarn.ApplicationID, sub *yarnpb.ApplicationSubmissionContextProto) (string, error) {
	if r.renewer == nil {
		return "", nil
	}
	ctx, cancel := context.WithCancel(ctx) // the call's, ended early by Close
	defer cancel()
	defer context.AfterFunc(r.ctx, cancel)()
	creds, err := submittedCredentials(sub)
	if err != nil {
		r.lg.Warn().Err(err).Stringer("app_id", id).Msg("unable to parse the credentials of a submitted application; rejected")
		return err.Error(), ipc.NewServerError(classYarnException, "java.io.IOException: %v", err)
	}
	err = r.renewer.addApplication(ctx, id, creds, sub.GetCancelTokensWhenComplete())
	if err == nil {
		return "", nil
	}
	var re *renewError
	if errors.As(err, &re) {
		r.lg.Warn().Err(re.err).Stringer("app_id", id).Str("diagnostics", re.msg).Msg("unable to add the application to the delegation token renewer; rejected")
		return re.msg, nil
	}
	r.lg.Warn().Err(err).Stringer("app_id", id).Msg("unable to add the application to the delegation token renewer; rejected")
	return err.Error(), nil
}

// appTokensDoneLocked tells the renewer that app has ended
// (RMAppManager.finishApplication on APP_COMPLETED).
func (r *ResourceManager) appTokensDoneLocked(app *rmApp) {
	if r.renewer != nil {
		r.renewer.applicationFinished(app.id)
	}
}

// recoverTokensLocked empties the renewer, as a restarted RM's is, and
// lists the unfinished applications whose tokens it must track again
// (RMAppImpl's recovery calls addApplicationAsyncDuringRecovery).
func (r *ResourceManager) recoverTokensLocked() []appCredentials {
	if r.renewer == nil {
		return nil
	}
	r.renewer.reset()
	var out []appCredentials
	for _, app := range r.appOrder {
		if app.state.Terminal() {
			continue
		}
		creds, err := submittedCredentials(app.sub)
		if err != nil {
			continue // cannot happen: the submission parsed
		}
		out = append(out, appCredentials{id: app.id, creds: creds, cancelAtEnd: app.sub.GetCancelTokensWhenComplete()})
	}
	return out
}

// recoverTokens adds the recovered applications' tokens to the renewer,
// renewing each once; a failure is logged and the application runs on
// (handleDTRenewerAppRecoverEvent).
func (r *ResourceManager) recoverTokens(ctx context.Context, apps []appCredentials) {
	for _, a := range apps {
		err := r.renewer.addApplication(ctx, a.id, a.creds, a.cancelAtEnd)
		var re *renewError
		switch {
		case errors.As(err, &re):
			r.lg.Warn().Err(re.err).Stringer("app_id", a.id).Str("diagnostics", re.msg).Msg("unable to add the application to the delegation token renewer on recovery")
		case err != nil:
			r.lg.Warn().Err(err).Stringer("app_id", a.id).Msg("unable to add the application to the delegation token renewer on recovery")
		}
	}
}
