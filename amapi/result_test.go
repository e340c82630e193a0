package amapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
)

// A Result survives the trip through the final diagnostics: it is
// bounded (lines dropped, said so), the diagnostics before it are cut
// instead of it, HTML characters are not escaped, and SplitResult gives
// back the Result and the diagnostics without its line.
func TestResultThroughDiagnostics(t *testing.T) {
	var lines []string
	for i := range 2000 {
		lines = append(lines, fmt.Sprintf("%8d word<%d>", i, i))
	}
	r := amapi.Result{State: "succeeded", Summary: "2000 words & more", Lines: lines, Log: "jobmanager.out on node"}
	line := r.DiagnosticsLine()
	require.LessOrEqual(t, len(line), len(amapi.ResultPrefix)+amapi.MaxResultBytes)
	require.Contains(t, line, "word<0>", "no HTML escapes")

	diag := amapi.WithResult(strings.Repeat("x", 10000), &r, 8192)
	require.LessOrEqual(t, len(diag), 8192)
	got, rest := amapi.SplitResult(diag)
	require.NotNil(t, got)
	require.Equal(t, r.Summary, got.Summary)
	require.Equal(t, r.Log, got.Log)
	require.Less(t, len(got.Lines), len(lines))
	require.Regexp(t, `^… \d+ more lines$`, got.Lines[len(got.Lines)-1])
	require.Equal(t, lines[:len(got.Lines)-1], got.Lines[:len(got.Lines)-1])
	require.True(t, strings.HasPrefix(rest, "xxx"))
	require.NotContains(t, rest, amapi.ResultPrefix)

	got, rest = amapi.SplitResult("the JobManager exited with code 1")
	require.Nil(t, got)
	require.Equal(t, "the JobManager exited with code 1", rest)
	got, rest = amapi.SplitResult(amapi.WithResult("", &amapi.Result{Summary: "ok"}, 8192))
	require.Equal(t, &amapi.Result{Summary: "ok"}, got)
	require.Empty(t, rest)
}
