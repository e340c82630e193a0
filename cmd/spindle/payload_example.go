package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/am/example"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// examplePayload runs the example word count (package example) through
// `spindle example jobmanager|taskmanager`. In a session, jobs come in
// through the JobManager's REST endpoint (`spindle example wordcount`);
// per-job, the job is `wordcount FILE`: FILE is shipped to the
// TaskManagers and the JobManager counts it and exits.
type examplePayload struct{}

// Example payload properties (-D).
const (
	exampleTMTimeout = "example.taskmanager-timeout" // JobManager drops a silent TaskManager after it
	exampleHeartbeat = "example.heartbeat"           // TaskManager heartbeat interval
	exampleSplits    = "example.splits"              // per-job splits
)

func (examplePayload) Name() string { return "example" }

func (examplePayload) Plan(r amapi.PayloadRequest) (amapi.PayloadPlan, error) {
	var errs []error
	jm := []string{"${" + amapi.EnvBinary + "}", "example", "jobmanager"}
	tm := "./" + launch.BinaryName + " --log-level info example taskmanager"
	for _, p := range r.Properties {
		switch p.Key {
		case exampleTMTimeout, exampleHeartbeat:
			if _, err := time.ParseDuration(p.Value); err != nil {
				errs = append(errs, fmt.Errorf("-D %s=%s: want a duration such as 3s", p.Key, p.Value))
				continue
			}
			if p.Key == exampleTMTimeout {
				jm = append(jm, "--taskmanager-timeout", p.Value)
			} else {
				tm += " --heartbeat " + p.Value
			}
		case exampleSplits:
			jm = append(jm, "--job-splits", p.Value)
		default:
			errs = append(errs, fmt.Errorf("-D %s: the example payload has no such property: use %s, %s or %s", p.Key, exampleTMTimeout, exampleHeartbeat, exampleSplits))
		}
	}
	plan := amapi.PayloadPlan{TaskManagerCommand: tm}
	if r.Mode == amapi.ModePerJob {
		switch {
		case r.Job != "wordcount":
			errs = append(errs, fmt.Errorf("job %q: the example payload runs one job: `wordcount FILE`", r.Job))
		case len(r.Args) != 1:
			errs = append(errs, fmt.Errorf("wordcount takes exactly one argument, the text file to count (got %d)", len(r.Args)))
		default:
			in := r.Args[0]
			if fi, err := os.Stat(in); err != nil || !fi.Mode().IsRegular() {
				errs = append(errs, fmt.Errorf("wordcount %s: not a readable file: pass the text file to count", in))
				break
			}
			name := "input-" + filepath.Base(in)
			plan.TaskManagerFiles = []hdfs.Source{{Path: in, Name: name}}
			jm = append(jm, "--job-input", name)
		}
	}
	plan.JobManager = amapi.ProcessSpec{Command: jm}
	return plan, errors.Join(errs...)
}

// wordcountCommand runs a word count through a running example session.
func (e *environment) wordcountCommand() *cli.Command {
	return &cli.Command{
		Name:      "wordcount",
		Usage:     "count the words of a file shipped to a session's TaskManagers (-t) and print the result",
		ArgsUsage: "SHIPPED_NAME",
		Description: "SHIPPED_NAME is the name the file has in the containers: the base name of a file given to\n" +
			"`session start -t` (words.txt for -t /data/words.txt), or a path inside a shipped directory\n" +
			"(logs/a.txt for -t /data/logs). The session already has it; nothing is uploaded.\n" +
			"Per-job, `spindle run wordcount LOCAL_PATH` takes a local file instead and ships it itself.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "the session's application id (default: the session recorded at start)"},
			&cli.IntFlag{Name: "splits", Usage: "number of splits", DefaultText: "one per TaskManager"},
			&cli.IntFlag{Name: "top", Value: 10, Usage: "print the N most frequent words"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up (exit 8) when the job has not ended after this long; the session keeps running"},
			outputFlag,
		},
		Action: e.wordcount,
	}
}

func (e *environment) wordcount(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() != 1 {
		return usageError{errors.New("example wordcount: want the name of a file shipped with `session start -t`, e.g. words.txt (a local file goes per-job: spindle run wordcount LOCAL_PATH)")}
	}
	var given *yarn.ApplicationID
	if s := c.String("id"); s != "" {
		id, err := yarn.ParseApplicationID(s)
		if err != nil {
			return usageError{err}
		}
		given = &id
	}
	id, err := e.resolveSession(given)
	if err != nil {
		return err
	}
	if c.Duration("timeout") <= 0 {
		return usageError{fmt.Errorf("--timeout %s: want a positive duration, e.g. 10m", c.Duration("timeout"))}
	}
	// What it waits on, said when it gives up.
	waiting := "the session's JobManager"
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	err = e.runWordCount(ctx, c, id, out, &waiting)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && c.Context.Err() == nil {
		return fmt.Errorf("%w: gave up after --timeout %s waiting for %s (`spindle session status --id %s` shows its TaskManagers; the session keeps running)",
			launch.ErrTimeout, c.Duration("timeout"), waiting, id)
	}
	return err
}

// runWordCount submits the word count to session id's JobManager and
// waits for its end; *waiting says what it waits on.
func (e *environment) runWordCount(ctx context.Context, c *cli.Context, id yarn.ApplicationID, out string, waiting *string) error {
	rep, err := e.appReport(ctx, id)
	if err != nil {
		return err
	}
	amURL, err := amapi.AMURL(rep)
	if err != nil {
		return err
	}
	jm, err := (&amapi.Client{}).JobManager(ctx, amURL)
	if err != nil {
		return err
	}
	if jm.RESTAddress == "" {
		return fmt.Errorf("session %s has no JobManager right now (%s)", id, jm.State)
	}
	base := "http://" + jm.RESTAddress
	*waiting = "the JobManager at " + jm.RESTAddress + " to accept the word count job"
	body, _ := json.Marshal(example.JobRequest{Input: c.Args().First(), Splits: c.Int("splits")})
	var job example.Job
	if err := httpJSON(ctx, http.MethodPost, base+"/jobs", body, &job); err != nil {
		return err
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for job.State == "running" {
		*waiting = fmt.Sprintf("word count job %s on the JobManager at %s to end (%d of %d splits counted)", job.ID, jm.RESTAddress, countedSplits(job), job.Splits)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := httpJSON(ctx, http.MethodGet, base+"/jobs/"+job.ID, nil, &job); err != nil {
			return err
		}
	}
	if out == "json" {
		job.Counts = nil
		(&printer{w: e.stdout, json: true}).value(job)
	} else {
		fmt.Fprintf(e.stdout, "job %s on %s: %s, %s\n", job.ID, id, job.State, job.Summary())
		for _, l := range job.TopLines(c.Int("top")) {
			fmt.Fprintln(e.stdout, l)
		}
	}
	if job.State != "succeeded" {
		return fmt.Errorf("word count job %s %s: %s", job.ID, job.State, job.Error)
	}
	return nil
}

// countedSplits is how many of job's splits a TaskManager has counted.
func countedSplits(job example.Job) int {
	n := 0
	for _, by := range job.By {
		if by != "" {
			n++
		}
	}
	return n
}

func httpJSON(ctx context.Context, method, url string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}
