package minicluster

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

// amSeen is what the stand-in AM web server received.
type amSeen struct {
	method, path, query, body string
	header                    http.Header
	remote                    string
}

// The tracking URL the RM reports reaches the AM's page through the web
// proxy, as on YARN: path and query appended to the registered tracking
// URL, only the pass-through headers forwarded, the AM's status, headers
// and body returned; before registration and after the end, redirects.
func TestWebProxyReachesTheAM(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) {
		o.WebProxy = true
		o.RM.WebAddress = "127.0.0.1:0"
	})
	web := c.RM().WebAddress()
	require.NotEqual(t, "127.0.0.1:0", web, "the address bound")
	require.Equal(t, web, c.WebProxy().Addr())

	seen := make(chan amSeen, 10)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- amSeen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone(), r.RemoteAddr}
		w.Header().Set("X-AM", "status page")
		w.Header().Set("Set-Cookie", "am=1")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "<html>the AM's page</html>")
	}))
	defer am.Close()

	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	id := submit(t, ctx, rmc, yarn.AppSpec{UnmanagedAM: true})
	rep := waitReport(t, ctx, rmc, id, "the AMRMToken", func(r yarn.AppReport) bool { return r.AMRMToken != nil })
	require.Equal(t, "http://"+web+"/proxy/"+id.String()+"/", rep.TrackingURL)

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noFollow.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}

	// Not registered yet: no tracking URL, so the RM's application page.
	resp, _ := get(rep.TrackingURL, nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "http://"+web+"/cluster/app/"+id.String(), resp.Header.Get("Location"))
	resp, body := get(resp.Header.Get("Location"), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "ACCEPTED")

	// Registered without a scheme, as AMs often do (host:port/path).
	amrm, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: c.RM().SchedulerAddr()}}, Token: rep.AMRMToken,
		FinishInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	defer amrm.Close()
	_, err = amrm.Register(ctx, "127.0.0.1", 0, strings.TrimPrefix(am.URL, "http://")+"/ui?from=am")
	require.NoError(t, err)
	rep = waitState(t, ctx, rmc, id, yarn.StateRunning)

	resp, body = get(rep.TrackingURL+"jobs/1?view=full", map[string]string{"Accept": "text/html", "Authorization": "Bearer secret",
		"Cookie": "session=browser", "X-Custom": "no"})
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "the AM's status")
	require.Equal(t, "<html>the AM's page</html>", body)
	require.Equal(t, "status page", resp.Header.Get("X-AM"), "the AM's headers")
	require.Equal(t, "am=1", resp.Header.Get("Set-Cookie"))
	s := <-seen
	require.Equal(t, http.MethodGet, s.method)
	require.Equal(t, "/ui/jobs/1", s.path, "/proxy/<app> stripped, the rest under the tracking URL's path")
	require.Equal(t, "from=am&view=full", s.query)
	require.Equal(t, "text/html", s.header.Get("Accept"), "a pass-through header")
	for _, h := range []string{"Authorization", "Cookie", "X-Custom"} {
		require.Empty(t, s.header.Get(h), "%s is not passed to the AM", h)
	}
	host, _, err := net.SplitHostPort(s.remote)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", host)

	// PUT is proxied with its body; POST is not (the servlet has no doPost).
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, rep.TrackingURL+"conf", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err = noFollow.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	s = <-seen
	require.Equal(t, http.MethodPut, s.method)
	require.Equal(t, `{"a":1}`, s.body)
	require.Equal(t, "application/json", s.header.Get("Content-Type"))
	resp, err = noFollow.Post(rep.TrackingURL, "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	// Unknown and malformed applications: the servlet's 404 pages.
	resp, body = get("http://"+web+"/proxy/application_1_0099/", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "Application application_1_0099 could not be found in RM or history server")
	resp, body = get("http://"+web+"/proxy/job_1_2/", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "job_1_2 appears to be formatted incorrectly.")
	resp, body = get("http://"+web+"/proxy", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "Your path appears to be formatted incorrectly.")
	resp, body = get("http://"+web+"/", nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, "The mini cluster&#39;s ResourceManager serves /proxy/")

	// Ended: a redirect to the AM's URL instead of a proxied page.
	require.NoError(t, amrm.Finish(ctx, yarn.FinalSucceeded, "", am.URL+"/history"))
	rep = waitState(t, ctx, rmc, id, yarn.StateFinished)
	resp, _ = get(rep.TrackingURL+"x", nil)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, am.URL+"/history/x", resp.Header.Get("Location"), "the tracking URL of the finish call")
	require.Empty(t, seen, "nothing proxied after the end")
}

// An AM that does not answer is an error page naming it, not a hang.
func TestWebProxyAMDown(t *testing.T) {
	c := newTestCluster(t, 1, func(o *Options) {
		o.WebProxy = true
		o.RM.WebAddress = "127.0.0.1:0"
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	id := submit(t, ctx, rmc, yarn.AppSpec{UnmanagedAM: true})
	rep := waitReport(t, ctx, rmc, id, "the AMRMToken", func(r yarn.AppReport) bool { return r.AMRMToken != nil })
	amrm, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: c.RM().SchedulerAddr()}}, Token: rep.AMRMToken})
	require.NoError(t, err)
	defer amrm.Close()
	_, err = amrm.Register(ctx, "127.0.0.1", 0, "http://"+dead)
	require.NoError(t, err)
	rep = waitState(t, ctx, rmc, id, yarn.StateRunning)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rep.TrackingURL, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Contains(t, string(b), "the application master at http://"+dead+" did not answer")
}

// The web address's port taken: an error naming the key, or with the
// fallback a free port of the same host.
func TestWebProxyPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	_, err = New(testutil.Context(t, 10*time.Second), Options{Dir: t.TempDir(), WebProxy: true, RM: RMOptions{WebAddress: busy.Addr().String()}})
	require.ErrorContains(t, err, "yarn.resourcemanager.webapp.address "+busy.Addr().String())

	ln, addr, fellBack, err := listenWeb(busy.Addr().String(), true)
	require.NoError(t, err)
	defer ln.Close()
	require.True(t, fellBack)
	require.NotEqual(t, busy.Addr().String(), addr)
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"))
}
