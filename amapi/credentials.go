package amapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/yarn"
)

// CredentialsPath is the AM endpoint that serves the TaskManagers' current
// credentials (Hadoop's token storage format). GET with
// "Authorization: Bearer <credentials secret>"; ?after=<generation> waits
// (up to ?wait, default 50 s, at most 5 minutes) until the AM has newer
// credentials than that generation, else answers 304.
const CredentialsPath = "/v1/credentials"

// CredentialsSecretAlias is the secret key, in the application's
// credentials, that authenticates containers fetching fresh credentials.
const CredentialsSecretAlias = "spindle.credentials.secret"

// CredentialsGenerationHeader carries the generation of the credentials
// served; pass it back as ?after= to wait for the next.
const CredentialsGenerationHeader = "Spindle-Credentials-Generation"

// NewCredentialsSecret returns a fresh secret for CredentialsSecretAlias.
func NewCredentialsSecret() ([]byte, error) { return NewStopSecret() }

// WritePrivateFile replaces the file at path with b atomically, mode
// 0600: readers see the old file or the new one, never a part. It writes
// a container's token file (Hadoop's token storage format) and the
// launchers' private files (Flink's JVM options).
func WritePrivateFile(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// FollowOptions configure FollowCredentials.
type FollowOptions struct {
	// AMURL and Attempt are the AM endpoint and attempt id the container
	// was started with ($SPINDLE_AM_URL, $SPINDLE_ATTEMPT_ID): the
	// NodeManager handed them over, so they are trusted until a request
	// to them fails.
	AMURL, Attempt string
	// Locate returns the current attempt's AM endpoint and id as the RM
	// reports them (Locator.AM). After any failed request the follower
	// asks it before it sends anything again, so no bearer follows a dead
	// address; nil means the follower stops at the first failure.
	Locate func(ctx context.Context) (url string, attempt yarn.AttemptID, err error)
	// TokenFile is the container's token file ($HADOOP_TOKEN_FILE_LOCATION).
	TokenFile string
	// Wait is each long poll's wait; 0 means 50 s.
	Wait time.Duration
	// Retry is the first delay after a failure, doubling (±20% jitter) to a
	// minute; 0 means 2 s.
	Retry time.Duration
	// Client makes the requests; nil means a client whose HTTP client
	// times out just above Wait.
	Client *Client
	// Logger; the zero value logs nothing. No credential byte is logged.
	Logger zerolog.Logger
}

// FollowCredentials keeps a container's token file current while ctx
// lasts: it long-polls the AM's CredentialsPath and rewrites the file
// (WritePrivateFile) with each new generation, the AM of a later attempt
// included. It returns nil at once when the token file holds no
// credentials secret (the application does not refresh its tokens), else
// when ctx ends.
//
// It authenticates with the credentials secret bound to the attempt it
// talks to (AttemptBearer), never the secret itself. After a failed
// request it asks Locate where the AM is now and talks only to the
// endpoint and attempt the RM names; failures back off (2 s doubling to a
// minute, with jitter) and are logged once per change of state.
func FollowCredentials(ctx context.Context, o FollowOptions) error {
	b, err := os.ReadFile(o.TokenFile)
	if err != nil {
		return fmt.Errorf("amapi: container token file: %w", err)
	}
	creds, err := yarn.ParseCredentials(b)
	if err != nil {
		return fmt.Errorf("amapi: container token file: %w", err)
	}
	secret := creds.Secret(CredentialsSecretAlias)
	if len(secret) == 0 {
		return nil
	}
	if o.AMURL == "" || o.Attempt == "" {
		return errors.New("amapi: no AM URL and attempt to fetch fresh credentials from")
	}
	if o.Wait <= 0 {
		o.Wait = 50 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = 2 * time.Second
	}
	if o.Client == nil {
		o.Client = &Client{HTTP: &http.Client{Timeout: o.Wait + 15*time.Second}}
	}
	lg := o.Logger.With().Str("component", "credentials").Logger()
	// The container has what its launching attempt handed it: generation
	// "<attempt>.0" or later of that attempt.
	url, attempt, gen := o.AMURL, o.Attempt, o.Attempt+".0"
	verified := true
	retry, lastErr := o.Retry, ""
	for ctx.Err() == nil {
		var err error
		located := false // err is the locator's
		if !verified {
			if o.Locate == nil {
				return fmt.Errorf("amapi: cannot verify where the AM is after a failure (no locator); the container's tokens will not be refreshed")
			}
			var u string
			var a yarn.AttemptID
			if u, a, err = o.Locate(ctx); err == nil {
				if a.String() != attempt {
					lg.Info().Str("attempt_id", a.String()).Msg("following the AM of a new attempt")
				}
				url, attempt, verified = u, a.String(), true
			}
			located = err != nil
		}
		if err == nil {
			var next string
			if next, err = follow(ctx, o, url, attempt, secret, gen); err == nil {
				if lastErr != "" {
					lg.Info().Msg("fetching fresh credentials from the AM works again")
				}
				retry, lastErr = o.Retry, ""
				if next != "" {
					gen = next
					lg.Info().Str("generation", gen).Msg("fresh credentials written to the container's token file")
				}
				continue
			}
			verified = false // nothing more goes to url before the RM vouches for it again
		}
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		var be *BackoffError
		switch {
		case errors.As(err, &be):
			// The locator backs off itself (it serves the JobManager
			// look-ups too): ask again when it will.
			wait, err = max(time.Until(be.Until), 10*time.Millisecond), be.Err
		case located:
			wait = 10 * time.Millisecond // the locator now backs off: its next answer says until when
		default:
			wait = time.Duration(float64(retry) * (0.8 + 0.4*rand.Float64()))
			retry = min(2*retry, time.Minute)
		}
		if !pause(ctx, lg, err, wait, &lastErr, "could not fetch fresh credentials from the AM") {
			return nil
		}
	}
	return nil
}

// pause logs err once per change of its text (what says what failed) and
// waits d; false when ctx ended first.
func pause(ctx context.Context, lg zerolog.Logger, err error, d time.Duration, last *string, what string) bool {
	if msg := err.Error(); msg != *last {
		*last = msg
		lg.Warn().Err(err).Dur("backoff", d).Msg(what + "; retrying with backoff (logged again only when the error changes)")
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// follow does one long poll; it returns the new generation after
// writing the token file, or "" when nothing changed.
func follow(ctx context.Context, o FollowOptions, url, attempt string, secret []byte, after string) (string, error) {
	b, gen, err := o.Client.Credentials(ctx, url, attempt, secret, after, o.Wait)
	if err != nil || gen == "" {
		return "", err
	}
	if err := WritePrivateFile(o.TokenFile, b); err != nil {
		return "", err
	}
	return gen, nil
}

// FollowContainer runs FollowCredentials, in a goroutine of its own, for
// the container whose environment lookup reads: its token file
// ($HADOOP_TOKEN_FILE_LOCATION, none: nothing to follow) and the AM that
// started it ($SPINDLE_AM_URL, $SPINDLE_ATTEMPT_ID); locate is
// FollowOptions.Locate. A failure is logged: the container keeps the
// tokens it has. stop ends it and waits for it; call it before ctx's end
// or after, once.
func FollowContainer(ctx context.Context, lookup func(string) (string, bool),
	locate func(context.Context) (string, yarn.AttemptID, error), lg zerolog.Logger) (stop func()) {
	file, _ := lookup("HADOOP_TOKEN_FILE_LOCATION")
	amURL, _ := lookup(EnvAMURL)
	attempt, _ := lookup(EnvAttemptID)
	if file == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := FollowCredentials(ctx, FollowOptions{AMURL: amURL, Attempt: attempt, Locate: locate, TokenFile: file, Logger: lg}); err != nil {
			lg.Warn().Err(err).Msg("the container's tokens will not be refreshed")
		}
	})
	return func() { cancel(); wg.Wait() }
}
