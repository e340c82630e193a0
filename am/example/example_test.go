package example_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/spindle-yarn/spindle/am/example"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections() // the tests' keep-alive connections
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestCountSplitCoversEveryLineOnce(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"plain":       "a b c\nb c\nc\n",
		"no newline":  "one two\nthree",
		"empty lines": "\n\nx\n\n y z \n",
		"long":        strings.Repeat("lorem ipsum dolor sit amet, consectetur 42\n", 97),
		"empty":       "",
		"unicode":     "Grüße aus Köln\nköln KÖLN\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
			want := map[string]int{}
			total, err := example.CountSplit(p, 0, 1, want)
			require.NoError(t, err)
			for _, n := range []int{2, 3, 7, 50} {
				got := map[string]int{}
				sum := 0
				for i := range n {
					w, err := example.CountSplit(p, i, n, got)
					require.NoError(t, err)
					sum += w
				}
				require.Equal(t, total, sum, "%d splits", n)
				require.Equal(t, want, got, "%d splits", n)
			}
		})
	}
	_, err := example.CountSplit(filepath.Join(dir, "missing"), 0, 1, map[string]int{})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = example.CountSplit(filepath.Join(dir, "plain"), 3, 3, map[string]int{})
	require.Error(t, err)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

type jm struct {
	rpc, rest string
	cancel    context.CancelFunc
	done      chan error
}

func startJM(t *testing.T, ctx context.Context, opts example.JobManagerOptions) *jm {
	j := &jm{rpc: freeAddr(t), rest: freeAddr(t), done: make(chan error, 1)}
	opts.RPCAddr, opts.RESTAddr = j.rpc, j.rest
	opts.Log = &syncWriter{t: t}
	ctx, j.cancel = context.WithCancel(ctx)
	go func() { j.done <- example.RunJobManager(ctx, opts) }()
	t.Cleanup(func() { j.cancel(); <-j.done })
	return j
}

type syncWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func getJSON(t *testing.T, url string, v any) {
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func waitTMs(t *testing.T, ctx context.Context, rest string, n int) {
	for {
		var tms []example.TaskManagerInfo
		if resp, err := http.Get("http://" + rest + "/taskmanagers"); err == nil { // it may not listen yet
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&tms))
			resp.Body.Close()
		}
		if len(tms) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d TaskManagers: %v (have %d)", n, ctx.Err(), len(tms))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func runJob(t *testing.T, ctx context.Context, rest string) example.Job {
	resp, err := http.Post("http://"+rest+"/jobs", "application/json", bytes.NewReader([]byte(`{"input":"words.txt"}`)))
	require.NoError(t, err)
	var job example.Job
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&job))
	resp.Body.Close()
	for job.State == "running" {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
		getJSON(t, "http://"+rest+"/jobs/"+job.ID, &job)
	}
	return job
}

// TestTaskManagersFollowTheirJobManager runs a JobManager and three
// TaskManagers in-process, counts words, then replaces the JobManager
// (new ports, as after an AM attempt change): the TaskManagers locate the
// new one, register again, and the next job runs there.
func TestTaskManagersFollowTheirJobManager(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	dir := t.TempDir()
	text := strings.Repeat("to be or not to be\nthat is the question\n", 40)
	ship(t, dir, "words.txt", text)

	j1 := startJM(t, ctx, example.JobManagerOptions{TaskManagerTimeout: time.Second})
	var mu sync.Mutex
	current := j1.rpc
	locate := func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		return current, nil
	}
	tctx, tcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			err := example.RunTaskManager(tctx, example.TaskManagerOptions{ID: fmt.Sprintf("tm-%d", i), JobManager: j1.rpc, Locate: locate,
				Heartbeat: 20 * time.Millisecond, Dir: dir, Log: &syncWriter{t: t}})
			assert.NoError(t, err) // not require: this is not the test's goroutine
		})
	}
	defer func() { tcancel(); wg.Wait() }()
	waitTMs(t, ctx, j1.rest, 3)
	job := runJob(t, ctx, j1.rest)
	require.Equal(t, "succeeded", job.State, job.Error)
	require.Equal(t, 3, job.Splits)
	require.Equal(t, 400, job.Words)
	require.Equal(t, example.WordCount{Word: "be", Count: 80}, job.Top[0])

	j1.cancel()
	require.NoError(t, <-j1.done)
	j1.done <- nil // for the cleanup
	j2 := startJM(t, ctx, example.JobManagerOptions{})
	mu.Lock()
	current = j2.rpc
	mu.Unlock()
	waitTMs(t, ctx, j2.rest, 3)
	job = runJob(t, ctx, j2.rest)
	require.Equal(t, "succeeded", job.State, job.Error)
	require.Equal(t, 400, job.Words)
}

// TestPerJobJobManager waits for its TaskManagers, runs the job once and
// returns; a job over a missing input fails.
func TestPerJobJobManager(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	dir := t.TempDir()
	ship(t, dir, "words.txt", "a a b\n")
	for _, tc := range []struct {
		input string
		err   string
	}{{"words.txt", ""}, {"missing.txt", "no such file"}} {
		t.Run(tc.input, func(t *testing.T) {
			rpc, rest := freeAddr(t), freeAddr(t)
			tctx, tcancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					_ = example.RunTaskManager(tctx, example.TaskManagerOptions{ID: fmt.Sprint(i), JobManager: rpc, Heartbeat: 10 * time.Millisecond, Dir: dir})
				})
			}
			var out bytes.Buffer
			resultFile := filepath.Join(t.TempDir(), "spindle-result.json")
			err := example.RunJobManager(ctx, example.JobManagerOptions{RPCAddr: rpc, RESTAddr: rest, MinTaskManagers: 2,
				Job: &example.JobRequest{Input: tc.input}, Log: &out, ResultFile: resultFile})
			tcancel()
			wg.Wait()
			result, rerr := os.ReadFile(resultFile)
			require.NoError(t, rerr, "the result is written, failed or not")
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.Contains(t, string(result), `{"state":"failed","summary":"word count of missing.txt failed: split `)
				return
			}
			require.NoError(t, err)
			require.Contains(t, out.String(), `"counts":{"a":2,"b":1}`)
			require.JSONEq(t, `{"state":"succeeded","summary":"3 words (2 distinct) in 2 splits of words.txt","lines":["       2 a","       1 b"]}`, string(result))
		})
	}
}

// Words split on what is not a letter or digit, except an apostrophe
// between two letters: "Flink's" is one word, never "flink" and "s".
func TestWordsKeepInnerApostrophes(t *testing.T) {
	require.Equal(t, []string{"flink's", "don't", "quoted", "it’s", "x2", "rock", "n", "roll"},
		example.Words("Flink's don't 'quoted' it’s x2, rock 'n' roll"))
	require.Empty(t, example.Words(" ' -- ' "))
}

// A job without a split count gets one split per TaskManager of the
// fleet (FleetSize), even before they have all registered: not "1 splits"
// because one TaskManager was quicker.
func TestDefaultSplitsPerFleetTaskManager(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	j := startJM(t, ctx, example.JobManagerOptions{FleetSize: 3})
	var job example.Job
	for {
		resp, err := http.Post("http://"+j.rest+"/jobs", "application/json", strings.NewReader(`{"input":"words.txt"}`))
		if err == nil {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&job))
			resp.Body.Close()
			break
		}
		select { // it may not listen yet
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.Equal(t, 3, job.Splits)
	require.Equal(t, "1 word (1 distinct) in 1 split of a.txt", example.Job{Words: 1, Counts: map[string]int{"a": 1}, Splits: 1, Input: "a.txt"}.Summary())
}
