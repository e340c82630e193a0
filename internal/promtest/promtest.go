// Package promtest runs a real Prometheus server (Debian's prometheus
// package) for tests, on loopback, with its storage in the test's
// temporary directory, and queries it through its HTTP API. A test
// that needs it is skipped when the binary is not installed, and fails
// instead with SPINDLE_REQUIRE_PROMETHEUS=1 (CI sets it, after
// installing the package).
package promtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// RequireEnv makes a missing prometheus binary a failure instead of a
// skip.
const RequireEnv = "SPINDLE_REQUIRE_PROMETHEUS"

// Binary finds the prometheus binary, "" if not installed.
func Binary() string {
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	return ""
}

// Server is a running Prometheus.
type Server struct {
	// URL is its HTTP API's base, http://127.0.0.1:<port>.
	URL string
	// Log is the file its output goes to.
	Log string
}

// Start runs prometheus with config (its YAML configuration) until the
// test ends, and waits until it is ready (/-/ready), within a minute.
func Start(t testing.TB, config string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "prometheus not installed (apt-get install prometheus)"
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg + "; " + RequireEnv + "=1 makes this a failure")
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=info")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	exited := make(chan struct{})
	wg.Go(func() { _ = cmd.Wait(); close(exited) })
	s := &Server{URL: "http://" + addr, Log: logPath}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		wg.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("==== prometheus log\n%s", b)
		}
	})
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("prometheus exited before it was ready:\n%s", b)
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s within a minute", s.URL)
		}
	}
}

// Sample is one element of an instant vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query evaluates an instant query (GET /api/v1/query).
func (s *Server) Query(ctx context.Context, q string) ([]Sample, error) {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := s.get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", q, out.Error)
	}
	var samples []Sample
	for _, r := range out.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", q, r.Value[1], err)
		}
		samples = append(samples, Sample{Metric: r.Metric, Value: v})
	}
	return samples, nil
}

// Target is one active scrape target (GET /api/v1/targets).
type Target struct {
	Labels    map[string]string `json:"labels"`
	Health    string            `json:"health"`
	LastError string            `json:"lastError"`
	ScrapeURL string            `json:"scrapeUrl"`
}

// Targets lists the active targets.
func (s *Server) Targets(ctx context.Context) ([]Target, error) {
	var out struct {
		Data struct {
			Active []Target `json:"activeTargets"`
		} `json:"data"`
	}
	err := s.get(ctx, "/api/v1/targets?state=active", &out)
	return out.Data.Active, err
}

func (s *Server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	return nil
}
