package example

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// JobManagerOptions configures RunJobManager.
type JobManagerOptions struct {
	// RPCAddr is where TaskManagers register and heartbeat, e.g. ":7001".
	RPCAddr string
	// RESTAddr serves job submission and results, e.g. ":7002".
	RESTAddr string
	// Job, if set, makes a per-job JobManager: it runs Job once
	// MinTaskManagers have registered, prints the result and returns (nil
	// if the job succeeded).
	Job *JobRequest
	// MinTaskManagers is how many TaskManagers a per-job run waits for;
	// 0 means 1.
	MinTaskManagers int
	// FleetSize is how many TaskManagers the cluster keeps (its target):
	// a job that names no split count gets one split per TaskManager,
	// those registered or, if more, FleetSize (the others take their
	// splits when they register). 0 means those registered.
	FleetSize int
	// ResultFile, if set, receives the per-job Job's result when it ends,
	// as the JSON of Spindle's per-job result ({"state", "summary",
	// "lines"}: amapi.Result, which this package does not import), so
	// that it reaches whoever ran the job.
	ResultFile string
	// TaskManagerTimeout drops a TaskManager silent for longer (its
	// splits go to others); 0 means 10 s.
	TaskManagerTimeout time.Duration
	// Log receives one line per event; nil discards.
	Log io.Writer
}

// JobRequest asks for a word count.
type JobRequest struct {
	// Input is the file name, relative to the TaskManagers' working
	// directory: a file shipped with the application, or a file inside a
	// shipped archive (see ValidateInput and OpenInput).
	Input string `json:"input"`
	// Splits is the number of splits; 0 means one per registered
	// TaskManager. At most SplitsPerTaskManager per registered
	// TaskManager, and MaxSplits.
	Splits int `json:"splits,omitempty"`
}

// Job is a word count's state and result.
type Job struct {
	ID     string         `json:"id"`
	Input  string         `json:"input"`
	Splits int            `json:"splits"`
	State  string         `json:"state"` // running, succeeded, failed
	Error  string         `json:"error,omitempty"`
	Words  int            `json:"words"`
	Counts map[string]int `json:"counts,omitempty"`
	// Top are the ten most frequent words, most frequent first.
	Top []WordCount `json:"top,omitempty"`
	// By maps each split to the TaskManager that counted it.
	By        []string  `json:"by"`
	Submitted time.Time `json:"submitted"`
	Finished  time.Time `json:"finished,omitzero"`

	pending  []int          // splits not yet assigned
	assigned map[int]string // split → TaskManager
	done     []bool
}

// WordCount is one word's count.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// Task is one split to count, as a heartbeat answer carries it.
type Task struct {
	Job    string `json:"job"`
	Input  string `json:"input"`
	Split  int    `json:"split"`
	Splits int    `json:"splits"`
}

// TaskResult is a counted split.
type TaskResult struct {
	Job    string         `json:"job"`
	Split  int            `json:"split"`
	Words  int            `json:"words"`
	Counts map[string]int `json:"counts"`
	Error  string         `json:"error,omitempty"`
}

type registerRequest struct {
	ID   string `json:"id"`
	Host string `json:"host,omitempty"`
}

type registerResponse struct {
	JobManager string `json:"jobmanager"`
}

type heartbeatRequest struct {
	ID     string      `json:"id"`
	Result *TaskResult `json:"result,omitempty"`
}

type heartbeatResponse struct {
	Known bool  `json:"known"`
	Task  *Task `json:"task,omitempty"`
}

// TaskManagerInfo is a registered TaskManager.
type TaskManagerInfo struct {
	ID         string    `json:"id"`
	Host       string    `json:"host,omitempty"`
	Registered time.Time `json:"registered"`
	LastSeen   time.Time `json:"last_seen"`
	Busy       string    `json:"busy,omitempty"`
}

type jobManager struct {
	opts     JobManagerOptions
	instance string
	log      func(format string, args ...any)

	mu      sync.Mutex
	tms     map[string]*TaskManagerInfo
	jobs    map[string]*Job
	order   []string
	nextJob int
	changed chan struct{} // closed and replaced on every change
}

// RunJobManager runs a JobManager until ctx ends (session) or its Job is
// done (per-job).
func RunJobManager(ctx context.Context, opts JobManagerOptions) error {
	if opts.TaskManagerTimeout <= 0 {
		opts.TaskManagerTimeout = 10 * time.Second
	}
	if opts.MinTaskManagers <= 0 {
		opts.MinTaskManagers = 1
	}
	if opts.Job != nil {
		if err := ValidateInput(opts.Job.Input); err != nil {
			return err
		}
	}
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	var lmu sync.Mutex
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	j := &jobManager{opts: opts, instance: fmt.Sprintf("%x", b), tms: map[string]*TaskManagerInfo{}, jobs: map[string]*Job{},
		changed: make(chan struct{})}
	j.log = func(format string, args ...any) {
		lmu.Lock()
		defer lmu.Unlock()
		fmt.Fprintf(out, time.Now().UTC().Format("15:04:05.000")+" jobmanager "+format+"\n", args...)
	}
	rpcL, err := net.Listen("tcp", opts.RPCAddr)
	if err != nil {
		return fmt.Errorf("jobmanager: rpc: %w", err)
	}
	restL, err := net.Listen("tcp", opts.RESTAddr)
	if err != nil {
		rpcL.Close()
		return fmt.Errorf("jobmanager: rest: %w", err)
	}
	rpc := http.NewServeMux()
	rpc.HandleFunc("POST /tm/register", j.register)
	rpc.HandleFunc("POST /tm/heartbeat", j.heartbeat)
	rest := http.NewServeMux()
	rest.HandleFunc("POST /jobs", j.submitHTTP)
	rest.HandleFunc("GET /jobs/{id}", j.getJob)
	rest.HandleFunc("GET /jobs", j.listJobs)
	rest.HandleFunc("GET /taskmanagers", j.listTMs)
	servers := []*http.Server{{Handler: rpc, ReadHeaderTimeout: 10 * time.Second}, {Handler: rest, ReadHeaderTimeout: 10 * time.Second}}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for i, l := range []net.Listener{rpcL, restL} {
		wg.Go(func() {
			if err := servers[i].Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	j.log("instance %s serving TaskManagers on %s and REST on %s", j.instance, rpcL.Addr(), restL.Addr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { j.expire(ctx) })
	var result error
	if opts.Job != nil {
		result = j.runOnce(ctx, *opts.Job)
		if result == nil {
			// Let the TaskManagers hear that nothing is left to do.
			j.log("job done; exiting")
		}
	} else {
		select {
		case <-ctx.Done():
			j.log("stopping: %v", context.Cause(ctx))
		case err := <-errc:
			result = err
		}
	}
	cancel()
	for _, s := range servers {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		if err := s.Shutdown(sctx); err != nil {
			s.Close() // connections still busy after a second
		}
		scancel()
	}
	wg.Wait()
	return result
}

// runOnce is the per-job run: wait for the TaskManagers, count, report.
func (j *jobManager) runOnce(ctx context.Context, req JobRequest) error {
	j.log("per-job: waiting for %d TaskManagers", j.opts.MinTaskManagers)
	for {
		j.mu.Lock()
		n, ch := len(j.tms), j.changed
		j.mu.Unlock()
		if n >= j.opts.MinTaskManagers {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
	job, err := j.submit(req)
	if err != nil {
		return err
	}
	for {
		j.mu.Lock()
		state, ch := job.State, j.changed
		var snapshot Job
		if state != "running" {
			snapshot = j.publicLocked(job)
		}
		j.mu.Unlock()
		if state != "running" {
			b, _ := json.Marshal(snapshot)
			j.log("result %s", b)
			if err := writeResult(j.opts.ResultFile, snapshot); err != nil {
				j.log("could not write the result file: %v", err)
			}
			if state == "failed" {
				return fmt.Errorf("jobmanager: job %s failed: %s", job.ID, snapshot.Error)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Summary is job's result in one line: "12034 words (1711 distinct) in
// 2 splits of words.txt", or why it failed.
func (job Job) Summary() string {
	if job.State == "failed" {
		return fmt.Sprintf("word count of %s failed: %s", job.Input, job.Error)
	}
	return fmt.Sprintf("%d %s (%d distinct) in %d %s of %s", job.Words, plural(job.Words, "word"), len(job.Counts),
		job.Splits, plural(job.Splits, "split"), job.Input)
}

// TopLines are the top words, one "   count word" line each.
func (job Job) TopLines(n int) []string {
	var out []string
	for i, wc := range job.Top {
		if i == n {
			break
		}
		out = append(out, fmt.Sprintf("%8d %s", wc.Count, wc.Word))
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// writeResult writes job's result to path (JobManagerOptions.ResultFile),
// if set.
func writeResult(path string, job Job) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(struct {
		State   string   `json:"state"`
		Summary string   `json:"summary"`
		Lines   []string `json:"lines,omitempty"`
	}{job.State, job.Summary(), job.TopLines(10)})
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// notifyLocked wakes whoever waits for a change; mu is held.
func (j *jobManager) notifyLocked() {
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *jobManager) register(w http.ResponseWriter, req *http.Request) {
	var in registerRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&in); err != nil || in.ID == "" {
		http.Error(w, "want {\"id\": ...}", http.StatusBadRequest)
		return
	}
	now := time.Now()
	j.mu.Lock()
	if _, ok := j.tms[in.ID]; !ok {
		j.tms[in.ID] = &TaskManagerInfo{ID: in.ID, Host: in.Host, Registered: now}
		j.log("TaskManager %s registered (%d in all)", in.ID, len(j.tms))
	}
	j.tms[in.ID].LastSeen = now
	j.notifyLocked()
	j.mu.Unlock()
	writeJSON(w, http.StatusOK, registerResponse{JobManager: j.instance})
}

func (j *jobManager) heartbeat(w http.ResponseWriter, req *http.Request) {
	var in heartbeatRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 64<<20)).Decode(&in); err != nil || in.ID == "" {
		http.Error(w, "want {\"id\": ...}", http.StatusBadRequest)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	tm, ok := j.tms[in.ID]
	if !ok {
		writeJSON(w, http.StatusOK, heartbeatResponse{Known: false})
		return
	}
	tm.LastSeen = time.Now()
	if r := in.Result; r != nil {
		j.resultLocked(tm, r)
	}
	resp := heartbeatResponse{Known: true}
	if tm.Busy == "" {
		resp.Task = j.assignLocked(tm)
	}
	writeJSON(w, http.StatusOK, resp)
}

// assignLocked hands tm the next pending split of the oldest job.
func (j *jobManager) assignLocked(tm *TaskManagerInfo) *Task {
	for _, id := range j.order {
		job := j.jobs[id]
		if job.State != "running" || len(job.pending) == 0 {
			continue
		}
		split := job.pending[0]
		job.pending = job.pending[1:]
		job.assigned[split] = tm.ID
		tm.Busy = fmt.Sprintf("%s/%d", job.ID, split)
		return &Task{Job: job.ID, Input: job.Input, Split: split, Splits: job.Splits}
	}
	return nil
}

func (j *jobManager) resultLocked(tm *TaskManagerInfo, r *TaskResult) {
	tm.Busy = ""
	job := j.jobs[r.Job]
	if job == nil || job.State != "running" || r.Split < 0 || r.Split >= job.Splits || job.done[r.Split] {
		return
	}
	if r.Error != "" {
		job.State, job.Error, job.Finished = "failed", fmt.Sprintf("split %d on %s: %s", r.Split, tm.ID, r.Error), time.Now()
		j.log("job %s failed: %s", job.ID, job.Error)
		j.notifyLocked()
		return
	}
	delete(job.assigned, r.Split)
	job.done[r.Split] = true
	job.By[r.Split] = tm.ID
	job.Words += r.Words
	for w, n := range r.Counts {
		job.Counts[w] += n
	}
	if !slices.Contains(job.done, false) {
		job.State, job.Finished = "succeeded", time.Now()
		j.log("job %s succeeded: %d words, %d distinct", job.ID, job.Words, len(job.Counts))
	}
	j.notifyLocked()
}

// expire drops TaskManagers that stopped heartbeating and requeues their splits.
func (j *jobManager) expire(ctx context.Context) {
	t := time.NewTicker(j.opts.TaskManagerTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		j.mu.Lock()
		for id, tm := range j.tms {
			if now.Sub(tm.LastSeen) <= j.opts.TaskManagerTimeout {
				continue
			}
			delete(j.tms, id)
			j.log("TaskManager %s timed out", id)
			for _, job := range j.jobs {
				for split, by := range job.assigned {
					if by == id {
						delete(job.assigned, split)
						job.pending = append(job.pending, split)
					}
				}
			}
			j.notifyLocked()
		}
		j.mu.Unlock()
	}
}

// The limits of a job's split count (a split is one TaskManager task and
// one bool and one string in the job's state; an unbounded count would
// let one request exhaust the JobManager's memory). More splits than
// TaskManagers only help to balance uneven ones: SplitsPerTaskManager
// per registered TaskManager (one when none is registered yet), and
// MaxSplits in all.
const (
	SplitsPerTaskManager = 16
	MaxSplits            = 1024
)

func (j *jobManager) submit(req JobRequest) (*Job, error) {
	if err := ValidateInput(req.Input); err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	limit := min(SplitsPerTaskManager*max(len(j.tms), 1), MaxSplits)
	n := req.Splits
	switch {
	case n < 0:
		return nil, fmt.Errorf("jobmanager: splits: %d is negative (0 means one per registered TaskManager)", n)
	case n > limit:
		return nil, fmt.Errorf("jobmanager: splits: %d is above the limit of %d (%d per registered TaskManager, %d in all)",
			n, limit, SplitsPerTaskManager, MaxSplits)
	case n == 0:
		n = max(len(j.tms), min(j.opts.FleetSize, limit), 1)
	}
	j.nextJob++
	job := &Job{ID: "job-" + strconv.Itoa(j.nextJob), Input: req.Input, Splits: n, State: "running", Counts: map[string]int{},
		By: make([]string, n), Submitted: time.Now(), assigned: map[int]string{}, done: make([]bool, n)}
	for i := range n {
		job.pending = append(job.pending, i)
	}
	j.jobs[job.ID] = job
	j.order = append(j.order, job.ID)
	j.log("job %s submitted: %s in %d splits", job.ID, job.Input, n)
	j.notifyLocked()
	return job, nil
}

func (j *jobManager) submitHTTP(w http.ResponseWriter, req *http.Request) {
	var in JobRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<20)).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	job, err := j.submit(in)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	writeJSON(w, http.StatusAccepted, j.publicLocked(job))
}

// publicLocked copies a job for JSON, with its top words.
func (j *jobManager) publicLocked(job *Job) Job {
	c := Job{ID: job.ID, Input: job.Input, Splits: job.Splits, State: job.State, Error: job.Error, Words: job.Words,
		By: slices.Clone(job.By), Submitted: job.Submitted, Finished: job.Finished, Counts: make(map[string]int, len(job.Counts))}
	for w, n := range job.Counts {
		c.Counts[w] = n
		c.Top = append(c.Top, WordCount{w, n})
	}
	slices.SortFunc(c.Top, func(a, b WordCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Word, b.Word)) })
	if len(c.Top) > 10 {
		c.Top = c.Top[:10]
	}
	return c
}

func (j *jobManager) getJob(w http.ResponseWriter, req *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job := j.jobs[req.PathValue("id")]
	if job == nil {
		http.Error(w, "no such job", http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, j.publicLocked(job))
}

func (j *jobManager) listJobs(w http.ResponseWriter, _ *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Job{}
	for _, id := range j.order {
		out = append(out, j.publicLocked(j.jobs[id]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (j *jobManager) listTMs(w http.ResponseWriter, _ *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []TaskManagerInfo{}
	for _, tm := range j.tms {
		out = append(out, *tm)
	}
	slices.SortFunc(out, func(a, b TaskManagerInfo) int { return cmp.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
