package amapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

// fakeCredentialsAM serves CredentialsPath as the AM of attempt does,
// with creds at generation gen.
func fakeCredentialsAM(t *testing.T, secret []byte, attempt, gen string, creds *yarn.Credentials, hits *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !amapi.CheckBearer(r.Header.Get("Authorization"), secret, amapi.PurposeCredentials, attempt) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if r.URL.Query().Get("after") == gen {
			select { // a long poll with nothing new
			case <-r.Context().Done():
			case <-time.After(100 * time.Millisecond):
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set(amapi.CredentialsGenerationHeader, gen)
		_, _ = w.Write(creds.Marshal())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFollowCredentialsAcrossAttempts: a follower started by attempt 1
// waits on attempt 1's AM; when that AM goes away it asks the locator
// (the RM) where the AM is, and takes attempt 2's credentials, sending
// attempt 2's bearer to attempt 2's AM only. Nothing more goes to the
// dead attempt's address.
func TestFollowCredentialsAcrossAttempts(t *testing.T) {
	ctx := testutil.Context(t, 20*time.Second)
	secret := []byte("the-credentials-secret")
	app := yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}
	att1, att2 := yarn.AttemptID{App: app, Attempt: 1}, yarn.AttemptID{App: app, Attempt: 2}
	tokens := func(pw string) *yarn.Credentials {
		c := &yarn.Credentials{}
		c.AddToken("s", &ipc.Token{Kind: ipc.KindHDFSDelegation, Service: "s", Identifier: []byte("id"), Password: []byte(pw)})
		c.AddSecret(amapi.CredentialsSecretAlias, secret)
		return c
	}
	file := filepath.Join(t.TempDir(), "container_tokens")
	require.NoError(t, os.WriteFile(file, tokens("pw-0").Marshal(), 0o600))

	var hits1, hits2 atomic.Int32
	am1 := fakeCredentialsAM(t, secret, att1.String(), att1.String()+".0", tokens("pw-0"), &hits1)
	am2 := fakeCredentialsAM(t, secret, att2.String(), att2.String()+".0", tokens("pw-2"), &hits2)
	var mu sync.Mutex
	current := att1
	locate := func(context.Context) (string, yarn.AttemptID, error) {
		mu.Lock()
		defer mu.Unlock()
		if current == att1 {
			return am1.URL, att1, nil
		}
		return am2.URL, att2, nil
	}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- amapi.FollowCredentials(fctx, amapi.FollowOptions{AMURL: am1.URL, Attempt: att1.String(), Locate: locate, TokenFile: file,
			Wait: time.Second, Retry: 20 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	}()
	require.Eventually(t, func() bool { return hits1.Load() >= 2 }, 10*time.Second, 5*time.Millisecond, "following attempt 1")
	// Attempt 1's AM dies; the RM names attempt 2.
	mu.Lock()
	current = att2
	mu.Unlock()
	am1.CloseClientConnections()
	am1.Close()
	before := hits1.Load()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		c, err := yarn.ParseCredentials(b)
		return err == nil && string(c.Token("s").Password) == "pw-2"
	}, 10*time.Second, 5*time.Millisecond, "attempt 2's credentials in the token file")
	stop()
	require.NoError(t, <-done)
	require.Equal(t, before, hits1.Load(), "nothing went to the dead attempt's address after it failed")
	require.Positive(t, hits2.Load())
}
