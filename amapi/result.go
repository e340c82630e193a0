package amapi

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// A per-job job's result reaches the person who ran it this way:
//
//  1. The AM gives the JobManager EnvResultFile, a path in its container's
//     log directory. A payload whose JobManager knows the job's outcome
//     (the example word count) writes a Result there, as JSON, before it
//     exits. A JobManager that cannot (Flink's, which is java itself) writes
//     nothing; the AM then words a Result from the exit code
//     (ProcessSpec.ExitStates) and the JobManager's log (ProcessSpec.LogFile).
//  2. When the per-job JobManager has exited, the AM serves the Result in
//     Status.Result (/v1/status) and appends it to the final diagnostics
//     it unregisters with, as one line: ResultPrefix and the Result's JSON
//     (MaxResultBytes at most). The RM keeps those diagnostics in the
//     application's report after the AM has ended.
//  3. The submitter (launch.Watch) takes the line out of the diagnostics
//     of the final report (SplitResult) into the finished event's result.
const (
	// EnvResultFile is where a per-job JobManager may write its Result
	// (JSON) before it exits.
	EnvResultFile = "SPINDLE_RESULT_FILE"
	// ResultFileName is that file's name in the container's log
	// directory (so `yarn logs` shows it too).
	ResultFileName = "spindle-result.json"
	// ResultPrefix starts the diagnostics line that carries the Result.
	ResultPrefix = "spindle-result: "
	// MaxResultBytes bounds a Result's JSON in the diagnostics (the RM
	// keeps 64 KiB of an attempt's diagnostics by default): a longer
	// Result loses its last lines.
	MaxResultBytes = 4 << 10
)

// Result is what a job produced, for the person who ran it: the
// finished event's "result" (--output json), printed under "finished:"
// in text. It is an API: fields are only ever added.
type Result struct {
	// State is the job's end in the payload's words: "succeeded",
	// "failed", Flink's "SUCCEEDED or CANCELED", "FAILED"; "" if unknown.
	State string `json:"state,omitempty"`
	// Summary is one line saying what the job did.
	Summary string `json:"summary"`
	// Lines are more lines to print under the summary (the top words).
	Lines []string `json:"lines,omitempty"`
	// Log says where the JobManager's log is.
	Log string `json:"log,omitempty"`
}

// ReadResultFile reads the Result a JobManager wrote at path; nil, nil
// if it wrote none. A file longer than 4*MaxResultBytes is an error.
func ReadResultFile(path string) (*Result, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const limit = 4 * MaxResultBytes
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && len(b) > limit {
		err = fmt.Errorf("longer than %d bytes", limit)
	}
	var r Result
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		return nil, fmt.Errorf("the JobManager's result %s: %w", path, err)
	}
	return &r, nil
}

// DiagnosticsLine is r as one diagnostics line (ResultPrefix and JSON),
// at most MaxResultBytes after the prefix: lines are dropped from the end
// (a last line says how many), then the texts are cut.
func (r Result) DiagnosticsLine() string {
	all := r.Lines
	for n := len(all); n >= 0; n-- {
		r.Lines = all[:n:n]
		if n < len(all) {
			r.Lines = append(r.Lines, fmt.Sprintf("… %d more lines", len(all)-n))
		}
		if b := marshalNoEscape(r); len(b) <= MaxResultBytes {
			return ResultPrefix + string(b)
		}
	}
	r.Lines = []string{fmt.Sprintf("… %d more lines", len(all))}
	r.Summary, r.Log, r.State = cut(r.Summary, MaxResultBytes/2), cut(r.Log, MaxResultBytes/4), cut(r.State, 64)
	return ResultPrefix + string(marshalNoEscape(r))
}

// cut shortens s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func marshalNoEscape(v any) []byte {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return []byte(strings.TrimSuffix(b.String(), "\n"))
}

// WithResult appends r's line to diagnostics, keeping the whole at most
// max bytes: the diagnostics before it are cut, never the result.
func WithResult(diagnostics string, r *Result, max int) string {
	if r == nil {
		return cut(diagnostics, max)
	}
	line := r.DiagnosticsLine()
	if diagnostics == "" {
		return line
	}
	return cut(diagnostics, max-len(line)-len("…\n")) + "\n" + line
}

// SplitResult takes the Result line (the last line starting with
// ResultPrefix) out of an application's diagnostics: the Result (nil if
// none, or if it does not decode) and the diagnostics without it.
func SplitResult(diagnostics string) (*Result, string) {
	lines := strings.Split(diagnostics, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		s, ok := strings.CutPrefix(lines[i], ResultPrefix)
		if !ok {
			continue
		}
		var r Result
		if json.Unmarshal([]byte(s), &r) != nil {
			return nil, diagnostics
		}
		rest := append(lines[:i:i], lines[i+1:]...)
		return &r, strings.TrimSpace(strings.Join(rest, "\n"))
	}
	return nil, diagnostics
}

// Text is r as lines for a terminal: "result: <state>: <summary>", the
// lines indented, the log.
func (r Result) Text() string {
	var b strings.Builder
	b.WriteString("result: ")
	if r.State != "" {
		b.WriteString(r.State + ": ")
	}
	b.WriteString(r.Summary + "\n")
	for _, l := range r.Lines {
		b.WriteString("  " + l + "\n")
	}
	if r.Log != "" {
		b.WriteString("  log: " + r.Log + "\n")
	}
	return b.String()
}
