package amapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// Client is the one client of a running AM's HTTP endpoint (StatusPath,
// DiscoveryPath, StopPath, CredentialsPath): the submitter's status, attach
// and stop, the TaskManagers' relocation (Locator) and credential follower
// (FollowCredentials) all go through it. The zero value uses
// http.DefaultClient. A Client is safe for concurrent use.
type Client struct {
	// HTTP makes the requests; nil means http.DefaultClient.
	HTTP *http.Client
}

// ErrNoAM is returned when the application has no registered AM to ask.
var ErrNoAM = errors.New("amapi: the application's AM has not registered")

// ErrStopRefused is returned when the AM refuses the stop secret.
var ErrStopRefused = errors.New("amapi: the AM refused the stop secret")

// ErrCredentialsRefused is returned when the AM refuses the credentials
// secret.
var ErrCredentialsRefused = errors.New("amapi: the AM refused the credentials secret")

// AMURL is the current attempt's AM endpoint from a report: the
// OriginalTrackingURL each attempt registers (TrackingURL may be the RM's
// proxy).
func AMURL(r yarn.AppReport) (string, error) {
	u := r.OriginalTrackingURL
	if r.State != yarn.StateRunning || !strings.HasPrefix(u, "http") {
		return "", fmt.Errorf("%w (%s is %s)", ErrNoAM, r.ID, r.State)
	}
	return strings.TrimSuffix(u, "/"), nil
}

func (c *Client) client() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v)
}

// Status reads the AM's status.
func (c *Client) Status(ctx context.Context, amURL string) (Status, error) {
	var s Status
	err := c.getJSON(ctx, strings.TrimSuffix(amURL, "/")+StatusPath, &s)
	return s, err
}

// JobManager reads where the JobManager is.
func (c *Client) JobManager(ctx context.Context, amURL string) (JobManagerInfo, error) {
	var j JobManagerInfo
	err := c.getJSON(ctx, strings.TrimSuffix(amURL, "/")+DiscoveryPath, &j)
	return j, err
}

// Stop asks the AM of attempt (the report's current attempt, read just
// before) to end the application with diagnostics, authenticated by the
// application's stop secret bound to that attempt (AttemptBearer).
func (c *Client) Stop(ctx context.Context, amURL, attempt string, secret []byte, diagnostics string) error {
	u := strings.TrimSuffix(amURL, "/") + StopPath
	body, _ := json.Marshal(map[string]string{"diagnostics": diagnostics})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+AttemptBearer(bytes.TrimSpace(secret), PurposeStop, attempt))
	resp, err := c.client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK:
		return nil
	case http.StatusForbidden:
		return ErrStopRefused
	}
	return fmt.Errorf("POST %s: %s", u, resp.Status)
}

// Credentials does one long poll of CredentialsPath at the AM of attempt:
// it returns the application's current credentials (Hadoop's token
// storage format, checked to parse) and their generation once the AM has
// a generation other than after, or nil and "" when nothing changed
// within wait. It authenticates with the credentials secret bound to
// attempt (AttemptBearer): call it only with an endpoint and attempt the
// RM vouched for (Locator.AM) or the NodeManager gave the container.
func (c *Client) Credentials(ctx context.Context, amURL, attempt string, secret []byte, after string, wait time.Duration) ([]byte, string, error) {
	u := strings.TrimSuffix(amURL, "/") + CredentialsPath + "?wait=" + wait.String()
	if after != "" {
		u += "&after=" + after
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+AttemptBearer(secret, PurposeCredentials, attempt))
	// A fresh connection per poll, never kept: net/http silently resends
	// an idempotent request on a new connection when a kept one fails
	// before answering, and when the AM has died that new connection may
	// reach whoever took its port. The caller re-verifies instead.
	req.Close = true
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, "", nil
	default:
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		err := fmt.Errorf("AM answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode == http.StatusForbidden {
			err = fmt.Errorf("%w: %w", ErrCredentialsRefused, err)
		}
		return nil, "", err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, "", err
	}
	if _, err := yarn.ParseCredentials(b); err != nil {
		return nil, "", fmt.Errorf("AM sent unreadable credentials: %w", err)
	}
	gen := resp.Header.Get(CredentialsGenerationHeader)
	if gen == "" {
		return nil, "", errors.New("AM sent credentials without a generation")
	}
	return b, gen, nil
}
