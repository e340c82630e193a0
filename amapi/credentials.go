package amapi

import (
	"context"
	"errors"
	"fmt"
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

// WriteTokenFile replaces a container's token file with b (Hadoop's token
// storage format) atomically: readers see the old file or the new one,
// never a part.
func WriteTokenFile(path string, b []byte) (err error) {
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
	// AMURL is the AM's HTTP endpoint ($SPINDLE_AM_URL).
	AMURL string
	// TokenFile is the container's token file ($HADOOP_TOKEN_FILE_LOCATION).
	TokenFile string
	// Wait is each long poll's wait; 0 means 50 s.
	Wait time.Duration
	// Client makes the requests; nil means a client whose HTTP client
	// times out just above Wait.
	Client *Client
	// Logger; the zero value logs nothing. No credential byte is logged.
	Logger zerolog.Logger
}

// FollowCredentials keeps a container's token file current while ctx
// lasts: it long-polls the AM's CredentialsPath and rewrites the file
// (WriteTokenFile) with each new generation. It returns nil at once when
// the token file holds no credentials secret (the application does not
// refresh its tokens), else when ctx ends. Failures are logged and
// retried (2 s, doubling up to a minute): the AM may be between attempts.
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
	if o.AMURL == "" {
		return errors.New("amapi: no AM URL to fetch fresh credentials from")
	}
	if o.Wait <= 0 {
		o.Wait = 50 * time.Second
	}
	if o.Client == nil {
		o.Client = &Client{HTTP: &http.Client{Timeout: o.Wait + 15*time.Second}}
	}
	lg := o.Logger.With().Str("component", "credentials").Logger()
	const firstRetry, maxRetry = 2 * time.Second, time.Minute
	retry, gen := firstRetry, ""
	for ctx.Err() == nil {
		next, err := follow(ctx, o, secret, gen)
		switch {
		case err == nil && next != "":
			gen, retry = next, firstRetry
			lg.Info().Str("generation", gen).Msg("fresh credentials written to the container's token file")
			continue
		case err == nil:
			retry = firstRetry
			continue // nothing new within the wait
		case ctx.Err() != nil:
			return nil
		}
		lg.Warn().Err(err).Dur("retry_in", retry).Msg("could not fetch fresh credentials from the AM")
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		retry = min(2*retry, maxRetry)
	}
	return nil
}

// follow does one long poll; it returns the new generation after
// writing the token file, or "" when nothing changed.
func follow(ctx context.Context, o FollowOptions, secret []byte, after string) (string, error) {
	b, gen, err := o.Client.Credentials(ctx, o.AMURL, secret, after, o.Wait)
	if err != nil || gen == "" {
		return "", err
	}
	if err := WriteTokenFile(o.TokenFile, b); err != nil {
		return "", err
	}
	return gen, nil
}

// FollowContainer runs FollowCredentials, in a goroutine of its own, for
// the container whose environment lookup reads: its token file
// ($HADOOP_TOKEN_FILE_LOCATION, none: nothing to follow) and the AM
// ($SPINDLE_AM_URL). A failure is logged: the container keeps the tokens
// it has. stop ends it and waits for it; call it before ctx's end or
// after, once.
func FollowContainer(ctx context.Context, lookup func(string) (string, bool), lg zerolog.Logger) (stop func()) {
	file, _ := lookup("HADOOP_TOKEN_FILE_LOCATION")
	amURL, _ := lookup(EnvAMURL)
	if file == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := FollowCredentials(ctx, FollowOptions{AMURL: amURL, TokenFile: file, Logger: lg}); err != nil {
			lg.Warn().Err(err).Msg("the container's tokens will not be refreshed")
		}
	})
	return func() { cancel(); wg.Wait() }
}
