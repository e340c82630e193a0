package example

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/spindle-yarn/spindle/amapi"
)

// TaskManagerOptions configures RunTaskManager.
type TaskManagerOptions struct {
	// ID is the TaskManager's resource id (its container id).
	ID string
	// Host is reported to the JobManager, for its listing.
	Host string
	// JobManager is the JobManager's RPC address (host:port) at start.
	JobManager string
	// Locate finds the current JobManager's RPC address after the
	// TaskManager lost its own (the AM's attempt changed). Nil keeps
	// retrying JobManager.
	Locate func(ctx context.Context) (string, error)
	// LostAfter is how many failed calls in a row mean the JobManager is
	// lost; 0 means 3.
	LostAfter int
	// Heartbeat is the heartbeat interval; 0 means 500 ms.
	Heartbeat time.Duration
	// Dir is where job inputs are (the working directory); "" means ".".
	Dir string
	// Client makes the HTTP calls; nil uses a client with a 5 s timeout.
	Client *http.Client
	// Log receives one line per event; nil discards.
	Log io.Writer
}

// RunTaskManager registers with the JobManager, heartbeats, counts the
// splits it is given, and finds a new JobManager when it loses its own.
// It returns when ctx ends.
func RunTaskManager(ctx context.Context, opts TaskManagerOptions) error {
	if opts.ID == "" {
		return errors.New("taskmanager: no resource id")
	}
	if opts.LostAfter <= 0 {
		opts.LostAfter = 3
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 500 * time.Millisecond
	}
	if opts.Dir == "" {
		opts.Dir = "."
	}
	if opts.Client == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}
		defer tr.CloseIdleConnections()
		opts.Client = &http.Client{Timeout: 5 * time.Second, Transport: tr}
	}
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	var lmu sync.Mutex
	logf := func(format string, args ...any) {
		lmu.Lock()
		defer lmu.Unlock()
		fmt.Fprintf(out, time.Now().UTC().Format("15:04:05.000")+" taskmanager "+opts.ID+" "+format+"\n", args...)
	}
	jm := opts.JobManager
	lastLocateErr := "" // logged once per change, not once per try
	registered := false
	failures := 0
	var result *TaskResult
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			logf("stopping: %v", context.Cause(ctx))
			return nil
		case <-t.C:
		}
		t.Reset(opts.Heartbeat)
		if failures >= opts.LostAfter && opts.Locate != nil {
			addr, err := opts.Locate(ctx)
			switch {
			case err != nil:
				// The locator backs off itself (amapi.ErrBackingOff): log
				// a failure once, not every heartbeat.
				if msg := err.Error(); !errors.Is(err, amapi.ErrBackingOff) && msg != lastLocateErr {
					lastLocateErr = msg
					logf("JobManager %s lost; locating it failed (retrying with backoff): %v", jm, err)
				}
				continue
			case addr != jm:
				lastLocateErr = ""
				logf("JobManager moved from %s to %s", jm, addr)
				jm, registered, failures = addr, false, 0
			default:
				failures = opts.LostAfter - 1 // same address: try it once more before locating again
			}
		}
		if !registered {
			var resp registerResponse
			if err := call(ctx, opts.Client, jm, "/tm/register", registerRequest{ID: opts.ID, Host: opts.Host}, &resp); err != nil {
				failures++
				logf("register with %s failed (%d in a row): %v", jm, failures, err)
				continue
			}
			registered, failures = true, 0
			logf("registered with JobManager %s at %s", resp.JobManager, jm)
		}
		var resp heartbeatResponse
		if err := call(ctx, opts.Client, jm, "/tm/heartbeat", heartbeatRequest{ID: opts.ID, Result: result}, &resp); err != nil {
			failures++
			logf("heartbeat to %s failed (%d in a row): %v", jm, failures, err)
			if failures >= opts.LostAfter {
				registered = false
			}
			continue
		}
		failures = 0
		result = nil // delivered (a result for a JobManager that forgot the job is dropped)
		if !resp.Known {
			logf("JobManager at %s does not know us; registering again", jm)
			registered = false
			t.Reset(0)
			continue
		}
		if task := resp.Task; task != nil {
			r := countSplit(opts.Dir, task.Input, task.Split, task.Splits)
			r.Job, r.Split = task.Job, task.Split
			logf("counted split %d/%d of %s for %s: %d words", task.Split, task.Splits, task.Input, task.Job, r.Words)
			result = &r
			t.Reset(0)
		}
	}
}

func call(ctx context.Context, c *http.Client, addr, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// countSplit counts the words of the lines whose first byte lies in
// split i of n of the input, a shipped file in dir (OpenInput).
func countSplit(dir, input string, i, n int) TaskResult {
	r := TaskResult{Counts: map[string]int{}}
	f, err := OpenInput(dir, input)
	if err == nil {
		r.Words, err = countSplitOf(f, i, n, r.Counts)
		f.Close()
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// CountSplit adds the word counts of split i of n of the file at path to
// counts and returns the number of words (see Words).
func CountSplit(path string, i, n int, counts map[string]int) (int, error) {
	if n <= 0 || i < 0 || i >= n {
		return 0, fmt.Errorf("split %d of %d", i, n)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return countSplitOf(f, i, n, counts)
}

// countSplitOf is CountSplit of an open file.
func countSplitOf(f *os.File, i, n int, counts map[string]int) (int, error) {
	if n <= 0 || i < 0 || i >= n {
		return 0, fmt.Errorf("split %d of %d", i, n)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	start, end := size*int64(i)/int64(n), size*int64(i+1)/int64(n)
	pos := start
	if start > 0 {
		// Skip the rest of the line that began in the previous split.
		if _, err := f.Seek(start-1, io.SeekStart); err != nil {
			return 0, err
		}
		pos = start - 1
	}
	br := bufio.NewReaderSize(f, 64<<10)
	if start > 0 {
		skipped, err := br.ReadBytes('\n')
		pos += int64(len(skipped))
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
	}
	total := 0
	for pos < end {
		line, err := br.ReadBytes('\n')
		pos += int64(len(line))
		total += countWords(line, counts)
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func countWords(line []byte, counts map[string]int) int {
	n := 0
	for _, w := range Words(string(line)) {
		counts[w]++
		n++
	}
	return n
}

// Words splits s into words, lower-cased: maximal runs of letters and
// digits, where an apostrophe (' or ’) between two letters belongs to the
// word ("Flink's", "don't" are one word each, never "flink" and "s").
func Words(s string) []string {
	var out []string
	rs := []rune(s)
	start := -1
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i := 0; i <= len(rs); i++ {
		in := i < len(rs) && isWord(rs[i])
		if !in && i < len(rs) && start >= 0 && (rs[i] == '\'' || rs[i] == '’') &&
			i > 0 && unicode.IsLetter(rs[i-1]) && i+1 < len(rs) && unicode.IsLetter(rs[i+1]) {
			in = true
		}
		switch {
		case in && start < 0:
			start = i
		case !in && start >= 0:
			out = append(out, strings.ToLower(string(rs[start:i])))
			start = -1
		}
	}
	return out
}
