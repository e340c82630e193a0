package launch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/yarn"
)

// AMClient talks to a running AM's HTTP endpoint (package am: StatusPath,
// DiscoveryPath, StopPath). The zero value uses http.DefaultClient.
type AMClient struct {
	HTTP *http.Client
}

// ErrNoAM is returned when the application has no registered AM to ask.
var ErrNoAM = errors.New("launch: the application's AM has not registered")

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

func (c *AMClient) client() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *AMClient) getJSON(ctx context.Context, url string, v any) error {
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
func (c *AMClient) Status(ctx context.Context, amURL string) (am.Status, error) {
	var s am.Status
	err := c.getJSON(ctx, amURL+am.StatusPath, &s)
	return s, err
}

// JobManager reads where the JobManager is.
func (c *AMClient) JobManager(ctx context.Context, amURL string) (am.JobManagerInfo, error) {
	var j am.JobManagerInfo
	err := c.getJSON(ctx, amURL+am.DiscoveryPath, &j)
	return j, err
}

// ErrStopRefused is returned when the AM refuses the stop secret.
var ErrStopRefused = errors.New("launch: the AM refused the stop secret")

// Stop asks the AM to end the application with diagnostics, authenticated
// by the application's stop secret.
func (c *AMClient) Stop(ctx context.Context, amURL string, secret []byte, diagnostics string) error {
	body, _ := json.Marshal(map[string]string{"diagnostics": diagnostics})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, amURL+am.StopPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(secret)))
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
	return fmt.Errorf("POST %s: %s", amURL+am.StopPath, resp.Status)
}
