package amapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// fakeAM serves the AM endpoint's paths with fixed answers and checks
// the secrets as the AM does.
func fakeAM(t *testing.T, creds []byte) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+amapi.StatusPath, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(amapi.Status{AppID: "application_1_0001", Phase: amapi.PhaseRunning, Target: 3, Running: 2})
	})
	mux.HandleFunc("GET "+amapi.DiscoveryPath, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(amapi.JobManagerInfo{Address: "node:6123", RESTAddress: "node:8081"})
	})
	mux.HandleFunc("POST "+amapi.StopPath, func(w http.ResponseWriter, r *http.Request) {
		if !amapi.CheckBearer(r.Header.Get("Authorization"), []byte("stop-secret"), amapi.PurposeStop, "appattempt_1_0001_000001") {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var in struct{ Diagnostics string }
		require.NoError(t, json.Unmarshal(b, &in))
		if in.Diagnostics != "bye" {
			http.Error(w, "diagnostics lost", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET "+amapi.CredentialsPath, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !amapi.CheckBearer(r.Header.Get("Authorization"), []byte("cred-secret"), amapi.PurposeCredentials, "appattempt_1_0001_000001"):
			http.Error(w, "forbidden", http.StatusForbidden)
		case r.URL.Query().Get("after") == "a.1":
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set(amapi.CredentialsGenerationHeader, "a.1")
			_, _ = w.Write(creds)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	ctx := testutil.Context(t, 10*time.Second)
	creds := &yarn.Credentials{}
	creds.AddSecret(amapi.CredentialsSecretAlias, []byte("cred-secret"))
	srv := fakeAM(t, creds.Marshal())
	c := &amapi.Client{HTTP: srv.Client()}
	url := srv.URL + "/"

	s, err := c.Status(ctx, url)
	require.NoError(t, err)
	require.Equal(t, amapi.Status{AppID: "application_1_0001", Phase: amapi.PhaseRunning, Target: 3, Running: 2}, s)
	jm, err := c.JobManager(ctx, url)
	require.NoError(t, err)
	require.Equal(t, "node:6123", jm.Address)

	require.NoError(t, c.Stop(ctx, url, "appattempt_1_0001_000001", []byte("stop-secret\n"), "bye"), "the secret is trimmed as it is read from its file")
	require.ErrorIs(t, c.Stop(ctx, url, "appattempt_1_0001_000001", []byte("wrong"), "bye"), amapi.ErrStopRefused)
	require.ErrorIs(t, c.Stop(ctx, url, "appattempt_1_0001_000002", []byte("stop-secret"), "bye"), amapi.ErrStopRefused, "bound to another attempt")

	b, gen, err := c.Credentials(ctx, url, "appattempt_1_0001_000001", []byte("cred-secret"), "", time.Second)
	require.NoError(t, err)
	require.Equal(t, "a.1", gen)
	require.Equal(t, creds.Marshal(), b)
	b, gen, err = c.Credentials(ctx, url, "appattempt_1_0001_000001", []byte("cred-secret"), "a.1", time.Second)
	require.NoError(t, err)
	require.Empty(t, gen, "nothing newer")
	require.Nil(t, b)
	_, _, err = c.Credentials(ctx, url, "appattempt_1_0001_000001", []byte("wrong"), "", time.Second)
	require.ErrorIs(t, err, amapi.ErrCredentialsRefused)
}

func TestAMURL(t *testing.T) {
	id := yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}
	u, err := amapi.AMURL(yarn.AppReport{ID: id, State: yarn.StateRunning, OriginalTrackingURL: "http://node:4000/"})
	require.NoError(t, err)
	require.Equal(t, "http://node:4000", u)
	_, err = amapi.AMURL(yarn.AppReport{ID: id, State: yarn.StateAccepted, OriginalTrackingURL: "N/A"})
	require.ErrorIs(t, err, amapi.ErrNoAM)
}
