package am_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// fakeTokens hands out a new HDFS token (password "pw-<n>") at each
// Obtain, due for replacement after every; the first fails calls fail.
type fakeTokens struct {
	n     atomic.Int32
	fails int32
	every time.Duration
}

func (f *fakeTokens) Obtain(context.Context) (*yarn.Credentials, time.Time, error) {
	n := f.n.Add(1)
	if n <= f.fails {
		return nil, time.Time{}, fmt.Errorf("KDC says no (%d)", n)
	}
	c := &yarn.Credentials{}
	c.AddToken("ha-hdfs:ns1", &ipc.Token{Kind: ipc.KindHDFSDelegation, Service: "ha-hdfs:ns1", Identifier: fmt.Appendf(nil, "id-%d", n), Password: fmt.Appendf(nil, "pw-%d", n)})
	return c, time.Now().Add(f.every), nil
}

func hdfsPassword(t *testing.T, b []byte) string {
	t.Helper()
	c, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	tok := c.Token("ha-hdfs:ns1")
	require.NotNil(t, tok)
	return string(tok.Password)
}

// TestRunnerRefreshesTokens: with a TokenSource the AM replaces the
// application's HDFS token whenever it is due: a TaskManager started
// afterwards gets the fresh one in its launch context, the AM container's
// token file is rewritten for the JobManager, and a running TaskManager
// that follows the AM (FollowCredentials, with the credentials secret)
// gets each new token as soon as the AM has it. Without the secret, or
// with another, the AM serves nothing.
func TestRunnerRefreshesTokens(t *testing.T) {
	h := newHarness(t, 1, nil)
	ctx := testutil.Context(t, 60*time.Second)
	p := h.submitPlaceholder(ctx)
	src := &fakeTokens{every: 300 * time.Millisecond}
	amTokens := filepath.Join(t.TempDir(), "container_tokens")
	r := p.runner(sleeperSpec(1), nil, nil, func(o *am.Options) {
		o.Credentials.AddToken("ha-hdfs:ns1", &ipc.Token{Kind: ipc.KindHDFSDelegation, Service: "ha-hdfs:ns1", Identifier: []byte("id-0"), Password: []byte("pw-0")})
		o.Credentials.AddSecret(amapi.CredentialsSecretAlias, []byte("c-secret"))
		require.NoError(t, os.WriteFile(amTokens, o.Credentials.Marshal(), 0o600))
		o.Tokens, o.TokenFile = src, amTokens
	})
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	s := waitRunner(t, ctx, r, "1 running", func(s amapi.Status) bool { return s.Running == 1 })

	// The AM's own token file follows, AMRMToken and secret kept.
	eventually(t, ctx, "the AM's token file rewritten", func() bool {
		b, _ := os.ReadFile(amTokens)
		c, err := ipc.ParseCredentials(b)
		return err == nil && c.Token("ha-hdfs:ns1") != nil && string(c.Token("ha-hdfs:ns1").Password) >= "pw-2" &&
			c.TokenOfKind(ipc.KindAMRMToken) != nil && string(c.Secret(amapi.CredentialsSecretAlias)) == "c-secret"
	})

	// A follower with the secret sees the generations go by.
	follower := filepath.Join(t.TempDir(), "container_tokens")
	fc := &yarn.Credentials{}
	fc.AddToken("ha-hdfs:ns1", &ipc.Token{Kind: ipc.KindHDFSDelegation, Service: "ha-hdfs:ns1", Identifier: []byte("id-0"), Password: []byte("pw-0")})
	fc.AddSecret(amapi.CredentialsSecretAlias, []byte("c-secret"))
	require.NoError(t, os.WriteFile(follower, fc.Marshal(), 0o600))
	fctx, stopFollow := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	fwg.Go(func() {
		assert.NoError(t, amapi.FollowCredentials(fctx, amapi.FollowOptions{AMURL: s.TrackingURL, Attempt: s.AttemptID, TokenFile: follower, Wait: 2 * time.Second, Logger: testLogger(t)}))
	})
	seen := map[string]bool{}
	eventually(t, ctx, "the follower given three fresh tokens", func() bool {
		b, err := os.ReadFile(follower)
		if err == nil {
			seen[hdfsPassword(t, b)] = true
		}
		return len(seen) >= 4
	})
	stopFollow()
	fwg.Wait()
	b, err := os.ReadFile(follower)
	require.NoError(t, err)
	c, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	require.Nil(t, c.TokenOfKind(ipc.KindAMRMToken), "never the AMRMToken")
	require.Equal(t, "c-secret", string(c.Secret(amapi.CredentialsSecretAlias)))
	fi, err := os.Stat(follower)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A replacement TaskManager starts with a token newer than the first.
	before := src.n.Load()
	victim := mustParse(t, s.TaskManagers[0].ContainerID)
	require.NoError(t, h.nodeOf(victim).KillContainerProcess(victim, syscall.SIGKILL))
	s = waitRunner(t, ctx, r, "replaced", func(s amapi.Status) bool {
		return s.Restarts == 1 && s.Running == 1 && s.TaskManagers[0].ContainerID != victim.String()
	})
	tm := mustParse(t, s.TaskManagers[0].ContainerID)
	var info minicluster.ContainerInfo
	eventually(t, ctx, "the replacement's process running", func() bool {
		info, _ = h.nodeOf(tm).Container(tm)
		return info.State == yarn.ContainerRunning
	})
	b, err = os.ReadFile(filepath.Join(info.WorkDir, "container_tokens"))
	require.NoError(t, err)
	var got int32
	_, err = fmt.Sscanf(hdfsPassword(t, b), "pw-%d", &got)
	require.NoError(t, err)
	require.GreaterOrEqual(t, got, before-1, "the replacement got a recent token, not the first")

	// No secret, the wrong one, the secret itself (it never travels), or the
	// right one bound to another attempt or purpose: refused.
	att, err := yarn.ParseAttemptID(s.AttemptID)
	require.NoError(t, err)
	att.Attempt++
	other := att.String()
	for _, auth := range []string{"", "Bearer c-secre", "Bearer s3cret", "Bearer c-secret",
		"Bearer " + amapi.AttemptBearer([]byte("c-secret"), amapi.PurposeCredentials, other),
		"Bearer " + amapi.AttemptBearer([]byte("c-secret"), amapi.PurposeStop, s.AttemptID)} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.TrackingURL+strings.TrimPrefix(amapi.CredentialsPath, "/"), nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, auth)
	}
	metrics := httpGet(t, ctx, s.TrackingURL+"metrics")
	require.Contains(t, metrics, `spindle_am_token_refreshes_total{result="ok"}`)
	require.Contains(t, metrics, "spindle_am_token_next_refresh_timestamp_seconds")

	r.Stop("done")
	require.NoError(t, <-errc)
}

// TestFollowCredentialsWithoutSecret: a container of an application that
// does not refresh its tokens has no credentials secret; following
// returns at once and leaves the file alone.
func TestFollowCredentialsWithoutSecret(t *testing.T) {
	f := filepath.Join(t.TempDir(), "container_tokens")
	c := &yarn.Credentials{}
	c.AddToken("s", &ipc.Token{Kind: ipc.KindHDFSDelegation, Service: "s", Identifier: []byte("i"), Password: []byte("p")})
	require.NoError(t, os.WriteFile(f, c.Marshal(), 0o600))
	require.NoError(t, amapi.FollowCredentials(testutil.Context(t, 10*time.Second), amapi.FollowOptions{AMURL: "http://127.0.0.1:1/", Attempt: "appattempt_1_0001_000001", TokenFile: f}))
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	require.Equal(t, c.Marshal(), b)
	require.ErrorContains(t, amapi.FollowCredentials(testutil.Context(t, 10*time.Second), amapi.FollowOptions{TokenFile: filepath.Join(t.TempDir(), "none")}), "container token file")
}
