package am_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite deploy/metrics/spindle-am.txt from a real AM's scrape")

// amMetricsFile lists the metric families a real AM serves, as "name
// type" lines: the dashboard and alert rules in deploy/ may query only
// these (deploy's tests check every query against it).
const amMetricsFile = "../deploy/metrics/spindle-am.txt"

// scrapeFamilies reads the AM's /metrics and returns its families as
// "name type", sorted.
func scrapeFamilies(t *testing.T, ctx context.Context, url string) []string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/metrics", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	var out []string
	for name, f := range fams {
		require.NotEmpty(t, f.GetHelp(), "help text of %s", name)
		out = append(out, name+" "+strings.ToLower(f.GetType().String()))
	}
	slices.Sort(out)
	return out
}

// The metric families of a real AM (a session of one TaskManager on the
// mini cluster) are those deploy/metrics/spindle-am.txt lists: every
// spindle_am_* family exactly, and the Go and process families it lists
// at least (a Go or client_golang upgrade may add some). Run with
// -update after changing the AM's metrics.
func TestAMMetricNames(t *testing.T) {
	h := newHarness(t, 1, nil)
	ctx := testutil.Context(t, 2*time.Minute)
	spec := h.sessionSpec(1)
	spec.Payload = "example"
	a := h.submit(ctx, spec, fastAM, nil)
	url := a.amURL(ctx, 1)
	st := a.waitStatus(ctx, url, "the fleet running", func(s amapi.Status) bool { return s.Running == 1 })
	require.Equal(t, int32(1), st.Attempt)
	require.Equal(t, "example", st.Payload)
	got := scrapeFamilies(t, ctx, url)
	require.Contains(t, got, "spindle_am_attempt gauge")
	if *update {
		header := "# The metric families a real AM serves (name type), from TestAMMetricNames in am/metrics_test.go:\n" +
			"# go test ./am -run TestAMMetricNames -update rewrites it. The dashboard and the alert rules\n" +
			"# (deploy/) may query only these (and Flink's, deploy/metrics/flink.txt).\n"
		require.NoError(t, os.WriteFile(amMetricsFile, []byte(header+strings.Join(got, "\n")+"\n"), 0o644))
	}
	b, err := os.ReadFile(amMetricsFile)
	require.NoError(t, err, "run go test ./am -run TestAMMetricNames -update")
	var want, wantSpindle []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		want = append(want, l)
		if strings.HasPrefix(l, "spindle_") {
			wantSpindle = append(wantSpindle, l)
		}
	}
	var gotSpindle []string
	for _, l := range got {
		if strings.HasPrefix(l, "spindle_") {
			gotSpindle = append(gotSpindle, l)
		}
	}
	require.Equal(t, wantSpindle, gotSpindle, "the AM's own families (go test ./am -run TestAMMetricNames -update after a change)")
	for _, l := range want {
		require.Contains(t, got, l, fmt.Sprintf("%s lists %q; the AM does not serve it", amMetricsFile, l))
	}
	a.stop(ctx, url, a.secret)
	a.waitEnd(ctx)
}
