package example_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/am/example"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// ship puts a file into a container's working directory as the
// NodeManager does with a LocalResource: the file lives elsewhere (the
// file cache) and dir gets a symlink to it under its name.
func ship(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
	require.NoError(t, os.Symlink(p, filepath.Join(dir, name)))
}

// waitUp waits until the JobManager's REST endpoint answers.
func waitUp(t *testing.T, rest string) {
	t.Helper()
	testutil.Eventually(t, func() bool {
		resp, err := http.Get("http://" + rest + "/taskmanagers")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the JobManager listening")
}

func postJob(t *testing.T, rest, body string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+rest+"/jobs", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestJobRequestsAreChecked: the JobManager refuses, with 400 and a
// message that says why, inputs that are not the name of a file shipped
// with the application (absolute paths, .., hidden files, the files YARN
// and Spindle put in a container: tokens, launch script, keytabs, the
// AM's spec and stop secret) and split counts outside the limits.
func TestJobRequestsAreChecked(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	j := startJM(t, ctx, example.JobManagerOptions{})
	waitUp(t, j.rest)
	for _, tc := range []struct{ input, want string }{
		{"", "input is empty"},
		{"/etc/passwd", "absolute path"},
		{"../../etc/passwd", "leaves the working directory"},
		{"..", "leaves the working directory"},
		{"words/../../x", "leaves the working directory"},
		{"words/../container_tokens", "leaves the working directory"},
		{".bashrc", "hidden file"},
		{"conf/.ssh/id_rsa", "hidden file"},
		{"container_tokens", "not an application file"},
		{"launch_container.sh", "not an application file"},
		{"default_container_executor.sh", "not an application file"},
		{"krb5.keytab", "not an application file"},
		{"conf/user.KEYTAB", "not an application file"},
		{"spindle-am.json", "not an application file"},
		{"stop-secret", "not an application file"},
	} {
		t.Run("input="+tc.input, func(t *testing.T) {
			b, err := json.Marshal(example.JobRequest{Input: tc.input})
			require.NoError(t, err)
			code, msg := postJob(t, j.rest, string(b))
			require.Equal(t, http.StatusBadRequest, code, msg)
			require.Contains(t, msg, tc.want)
		})
	}
	// No TaskManager is registered: the limit is that of one.
	for _, tc := range []struct {
		splits int
		want   string
	}{
		{-1, "splits: -1 is negative"},
		{example.SplitsPerTaskManager + 1, fmt.Sprintf("above the limit of %d", example.SplitsPerTaskManager)},
		{example.MaxSplits + 1, fmt.Sprintf("above the limit of %d", example.SplitsPerTaskManager)},
		{1 << 40, "above the limit"},
	} {
		t.Run(fmt.Sprint("splits=", tc.splits), func(t *testing.T) {
			code, msg := postJob(t, j.rest, fmt.Sprintf(`{"input":"words.txt","splits":%d}`, tc.splits))
			require.Equal(t, http.StatusBadRequest, code, msg)
			require.Contains(t, msg, tc.want)
		})
	}
	code, msg := postJob(t, j.rest, fmt.Sprintf(`{"input":"words.txt","splits":%d}`, example.SplitsPerTaskManager))
	require.Equal(t, http.StatusAccepted, code, msg)
	code, msg = postJob(t, j.rest, `{"input":"archive/part-0.txt"}`)
	require.Equal(t, http.StatusAccepted, code, msg)
}

// TestSplitLimitGrowsWithTheTaskManagers: the split limit is
// SplitsPerTaskManager per registered TaskManager, at most MaxSplits.
func TestSplitLimitGrowsWithTheTaskManagers(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	j := startJM(t, ctx, example.JobManagerOptions{})
	tctx, tcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { tcancel(); wg.Wait() }()
	for i := range 2 {
		wg.Go(func() {
			_ = example.RunTaskManager(tctx, example.TaskManagerOptions{ID: fmt.Sprint(i), JobManager: j.rpc, Heartbeat: 20 * time.Millisecond, Dir: t.TempDir()})
		})
	}
	waitTMs(t, ctx, j.rest, 2)
	code, msg := postJob(t, j.rest, fmt.Sprintf(`{"input":"words.txt","splits":%d}`, 2*example.SplitsPerTaskManager+1))
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, fmt.Sprintf("above the limit of %d", 2*example.SplitsPerTaskManager))
	code, msg = postJob(t, j.rest, fmt.Sprintf(`{"input":"words.txt","splits":%d}`, 2*example.SplitsPerTaskManager))
	require.Equal(t, http.StatusAccepted, code, msg)
}

// TestTaskManagerCountsOnlyShippedFiles: a TaskManager counts a file only
// if it was shipped (its name in the working directory is the
// NodeManager's link to a localized resource), is a regular file, and,
// inside a shipped archive, does not lead out of it. Anything else fails
// the job with a message that says why.
func TestTaskManagerCountsOnlyShippedFiles(t *testing.T) {
	ctx := testutil.Context(t, 30*time.Second)
	dir := t.TempDir()
	ship(t, dir, "words.txt", "a a b\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("written by the process, not shipped\n"), 0o644))
	outside := filepath.Join(t.TempDir(), "secret.txt")
	require.NoError(t, os.WriteFile(outside, []byte("not for counting\n"), 0o644))
	archive := t.TempDir() // an unpacked ARCHIVE resource
	require.NoError(t, os.WriteFile(filepath.Join(archive, "part-0.txt"), []byte("c c c\n"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(archive, "escape.txt")))
	require.NoError(t, os.Mkdir(filepath.Join(archive, "sub"), 0o755))
	require.NoError(t, os.Symlink(archive, filepath.Join(dir, "archive")))
	require.NoError(t, os.Symlink(filepath.Join(archive, "sub"), filepath.Join(dir, "subdir")))

	j := startJM(t, ctx, example.JobManagerOptions{})
	tctx, tcancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { tcancel(); wg.Wait() }()
	wg.Go(func() {
		err := example.RunTaskManager(tctx, example.TaskManagerOptions{ID: "tm", JobManager: j.rpc, Heartbeat: 10 * time.Millisecond, Dir: dir, Log: &syncWriter{t: t}})
		assert.NoError(t, err)
	})
	waitTMs(t, ctx, j.rest, 1)
	for _, tc := range []struct{ input, err string }{
		{"words.txt", ""},
		{"archive/part-0.txt", ""},
		{"notes.txt", "not a shipped file"},
		{"missing.txt", "no such file"},
		{"archive", "not a regular file"},
		{"subdir", "not a regular file"},
		{"archive/sub", "not a regular file"},
		{"archive/escape.txt", "escapes"},
	} {
		t.Run(tc.input, func(t *testing.T) {
			code, msg := postJob(t, j.rest, fmt.Sprintf(`{"input":%q}`, tc.input))
			require.Equal(t, http.StatusAccepted, code, msg)
			var job example.Job
			require.NoError(t, json.Unmarshal([]byte(msg), &job))
			for job.State == "running" {
				select {
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				case <-time.After(10 * time.Millisecond):
				}
				getJSON(t, "http://"+j.rest+"/jobs/"+job.ID, &job)
			}
			if tc.err == "" {
				require.Equal(t, "succeeded", job.State, job.Error)
				return
			}
			require.Equal(t, "failed", job.State)
			require.Contains(t, job.Error, tc.err)
			require.NotContains(t, fmt.Sprint(job.Counts), "secret")
		})
	}
}
