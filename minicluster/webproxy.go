package minicluster

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/yarn"
)

// The web proxy is the part of the ResourceManager's web application
// (yarn.resourcemanager.webapp.address, port 8088) that makes tracking
// URLs work: http://<rm web>/proxy/<app id>/<path> is forwarded to
// <path> under the tracking URL the application's current attempt
// registered, as Hadoop 3.3.6's WebAppProxyServlet does on an RM without
// a separate yarn.web-proxy.address:
//
//   - the application report comes from the RM (AppReportFetcher); an
//     unknown application, a malformed id or path is a 404 page with the
//     servlet's message;
//   - an application that registered no tracking URL ("", "N/A") is
//     redirected (302) to the RM's application page, /cluster/app/<id>;
//     a tracking URL without a scheme gets http://;
//   - the request's query parameters are added to the tracking URL's,
//     the rest of the path is appended to its path;
//   - an application that ended (FINISHED, FAILED, KILLED) is redirected
//     to that URL instead of proxied;
//   - GET (and HEAD, which the servlet serves as GET) and PUT are
//     proxied; other methods get 405. Only User-Agent, Accept,
//     Accept-Encoding, Accept-Language, Accept-Charset, Content-Type,
//     Origin, Access-Control-Request-Method and
//     Access-Control-Request-Headers reach the AM (PASS_THROUGH_HEADERS);
//     the AM's status and headers come back as they are; the AM's own
//     redirects are followed; a connection and read timeout of 60 s
//     applies (yarn.resourcemanager.proxy.timeout.enabled,
//     yarn.resourcemanager.proxy.connection.timeout).
//
// Not done: the warning page and checked_<app> cookie of a secure
// cluster, the proxy-user cookie (no user authenticates to the mini RM's
// web port), /proxy/redirect/ loop detection, HTTPS policies, and the
// rest of the RM's web UI: /cluster/app/<id> is a plain summary page.

// proxyTimeout is yarn.resourcemanager.proxy.connection.timeout
// (YarnConfiguration.DEFAULT_RM_PROXY_CONNECTION_TIMEOUT, 60000 ms).
const proxyTimeout = 60 * time.Second

// passThroughHeaders are WebAppProxyServlet.PASS_THROUGH_HEADERS.
var passThroughHeaders = []string{"User-Agent", "Accept", "Accept-Encoding", "Accept-Language", "Accept-Charset",
	"Content-Type", "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"}

// hopByHop are the headers of one connection, which a proxy does not
// copy (RFC 9110 §7.6.1); the servlet container manages them itself.
var hopByHop = map[string]bool{"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Transfer-Encoding": true,
	"Te": true, "Trailer": true, "Upgrade": true}

// WebProxyOptions configures a WebProxy.
type WebProxyOptions struct {
	// Listener is where the proxy serves, the RM's web address; required.
	// The proxy closes it.
	Listener net.Listener
	// Reports answers application reports, as the RM's client service
	// answers the real proxy's AppReportFetcher: an unknown application is
	// an error wrapping yarn.ErrApplicationNotFound. Required; an in-process
	// RM's is ResourceManager.ApplicationReport.
	Reports func(ctx context.Context, id yarn.ApplicationID) (yarn.AppReport, error)
	// WebAddress is the address clients reach the proxy at, in its
	// redirects to /cluster/app/<id>; "" means Listener's address.
	WebAddress string
	// Logger receives a debug line per proxied request; the zero value
	// logs nothing.
	Logger zerolog.Logger
}

// WebProxy serves the ResourceManager's web proxy (see above) until
// Close. It is safe for concurrent use.
type WebProxy struct {
	opts   WebProxyOptions
	lg     zerolog.Logger
	srv    *http.Server
	client *http.Client
	done   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// NewWebProxy starts serving on opts.Listener.
func NewWebProxy(opts WebProxyOptions) (*WebProxy, error) {
	if opts.Listener == nil || opts.Reports == nil {
		return nil, errors.New("minicluster: WebProxyOptions needs a Listener and Reports")
	}
	if opts.WebAddress == "" {
		opts.WebAddress = opts.Listener.Addr().String()
	}
	p := &WebProxy{opts: opts, lg: opts.Logger.With().Str("component", "webproxy").Logger(), done: make(chan struct{})}
	p.client = &http.Client{
		Timeout: proxyTimeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: proxyTimeout}).DialContext,
			DisableCompression:  true, // Accept-Encoding is the browser's, passed through
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/proxy", p.serveProxy)
	mux.HandleFunc("/proxy/", p.serveProxy)
	mux.HandleFunc("/cluster/app/", p.serveAppPage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, "The mini cluster's ResourceManager serves /proxy/<application id>/ and /cluster/app/<application id> only.")
	})
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(opts.Listener)
	}()
	return p, nil
}

// Addr is the address the proxy listens on.
func (p *WebProxy) Addr() string { return p.opts.Listener.Addr().String() }

// Close stops serving, ending requests in flight. Idempotent.
func (p *WebProxy) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.srv.Close()
		<-p.done
		p.client.CloseIdleConnections()
	})
	return p.closeErr
}

// notFound is ProxyUtils.notFound: a 404 page whose heading is message.
func notFound(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<html><body><h1>%s</h1></body></html>\n", html.EscapeString(message))
}

// redirect is ProxyUtils.sendRedirect: a 302 to location with a short page.
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusFound)
	fmt.Fprintf(w, "<html><head><title>Moved</title></head><body><h1>Moved</h1><div>Content has moved <a href=\"%s\">here</a></div></body></html>\n",
		html.EscapeString(location))
}

// serveProxy is WebAppProxyServlet.methodAction.
func (p *WebProxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/proxy"), "/", 3)
	if len(parts) < 2 {
		notFound(w, "Your path appears to be formatted incorrectly.")
		return
	}
	appID, rest := parts[1], ""
	if len(parts) > 2 {
		rest = parts[2]
	}
	id, err := yarn.ParseApplicationID(appID)
	if err != nil {
		notFound(w, appID+" appears to be formatted incorrectly.")
		return
	}
	var method string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		method = http.MethodGet
	case http.MethodPut:
		method = http.MethodPut
	default:
		http.Error(w, "HTTP method "+r.Method+" is not supported by this URL", http.StatusMethodNotAllowed)
		return
	}
	rep, err := p.opts.Reports(r.Context(), id)
	if errors.Is(err, yarn.ErrApplicationNotFound) {
		notFound(w, "Application "+appID+" could not be found in RM or history server")
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("the application report of %s: %v", id, err), http.StatusInternalServerError)
		return
	}
	orig := rep.OriginalTrackingURL
	if orig == "" || orig == "N/A" {
		redirect(w, p.appPage(id))
		return
	}
	if !strings.Contains(orig, "://") {
		orig = "http://" + orig
	}
	target, err := trackingTarget(orig, rest, r.URL.RawQuery)
	if err != nil {
		http.Error(w, fmt.Sprintf("the tracking URL %q of %s: %v", rep.OriginalTrackingURL, id, err), http.StatusInternalServerError)
		return
	}
	if rep.State.Terminal() {
		redirect(w, target)
		return
	}
	p.lg.Debug().Stringer("app_id", id).Str("method", method).Str("url", target).Msg("proxying to the application master")
	p.forward(w, r, method, target)
}

// trackingTarget is WebAppProxyServlet.buildTrackingUrl: the tracking URL
// with the request's query parameters added and rest appended to its
// path (UriBuilder.path puts one "/" between them).
func trackingTarget(tracking, rest, rawQuery string) (string, error) {
	u, err := url.Parse(tracking)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("no host")
	}
	if rest != "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(rest, "/")
		u.RawPath = ""
	}
	if rawQuery != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&" + rawQuery
		} else {
			u.RawQuery = rawQuery
		}
	}
	return u.String(), nil
}

// forward is WebAppProxyServlet.proxyLink.
func (p *WebProxy) forward(w http.ResponseWriter, r *http.Request, method, target string) {
	var body io.Reader
	if method == http.MethodPut {
		body = r.Body
	}
	req, err := http.NewRequestWithContext(r.Context(), method, target, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if method == http.MethodPut {
		req.ContentLength = r.ContentLength
	}
	for _, h := range passThroughHeaders {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, fmt.Sprintf("the application master at %s did not answer: %v", target, unwrapURLError(err)), http.StatusInternalServerError)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if hopByHop[k] {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// appPage is the RM's application page, where the proxy sends
// applications without a tracking URL.
func (p *WebProxy) appPage(id yarn.ApplicationID) string {
	return "http://" + p.opts.WebAddress + "/cluster/app/" + id.String()
}

// serveAppPage is a plain summary of an application in place of the RM
// web UI's application page.
func (p *WebProxy) serveAppPage(w http.ResponseWriter, r *http.Request) {
	s := strings.TrimPrefix(r.URL.Path, "/cluster/app/")
	id, err := yarn.ParseApplicationID(s)
	if err != nil {
		notFound(w, s+" appears to be formatted incorrectly.")
		return
	}
	rep, err := p.opts.Reports(r.Context(), id)
	if errors.Is(err, yarn.ErrApplicationNotFound) {
		notFound(w, "Application "+s+" could not be found in RM or history server")
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	e := html.EscapeString
	fmt.Fprintf(w, "<html><head><title>Application %s</title></head><body><h1>Application %s</h1><table>\n", e(s), e(s))
	for _, kv := range [][2]string{{"User", rep.User}, {"Name", rep.Name}, {"Queue", rep.Queue}, {"State", rep.State.String()},
		{"FinalStatus", rep.FinalStatus.String()}, {"Tracking URL", rep.OriginalTrackingURL}, {"Diagnostics", rep.Diagnostics}} {
		fmt.Fprintf(w, "<tr><th>%s</th><td>%s</td></tr>\n", kv[0], e(kv[1]))
	}
	fmt.Fprint(w, "</table></body></html>\n")
}

// ApplicationReport is the report the RM gives a client for id
// (getApplicationReport), for an in-process web proxy; an unknown
// application is an error wrapping yarn.ErrApplicationNotFound.
func (r *ResourceManager) ApplicationReport(_ context.Context, id yarn.ApplicationID) (yarn.AppReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	app := r.apps[id]
	if app == nil {
		return yarn.AppReport{}, fmt.Errorf("minicluster: %s: %w", id, yarn.ErrApplicationNotFound)
	}
	return yarn.AppReportFromProto(r.appReportLocked(app)), nil
}

// WebAddress is yarn.resourcemanager.webapp.address: where tracking URLs
// point (served when the cluster runs a WebProxy).
func (r *ResourceManager) WebAddress() string { return r.opts.WebAddress }

// listenWeb listens on addr ("" means the RM's default, localhost:8088)
// and returns the listener and its address as clients should use it: the
// host as given, the port bound. With fallback, a port in use gives way
// to a free one; fellBack says so.
func listenWeb(addr string, fallback bool) (ln net.Listener, bound string, fellBack bool, err error) {
	if addr == "" {
		addr = "localhost:8088"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", false, fmt.Errorf("minicluster: web address %q: %w", addr, err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil && fallback && errors.Is(err, syscall.EADDRINUSE) {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
		fellBack = true
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("minicluster: the ResourceManager's web proxy (yarn.resourcemanager.webapp.address %s): %w", addr, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, net.JoinHostPort(host, port), fellBack, nil
}
