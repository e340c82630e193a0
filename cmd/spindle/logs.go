package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/logs"
)

// Roles of an application's containers in `spindle logs`.
const (
	roleJobManager  = "jobmanager" // the AM container: Spindle's AM runs the JobManager in it
	roleTaskManager = "taskmanager"
)

// maxAggregatedFile bounds one node's aggregated file `spindle logs` reads.
const maxAggregatedFile = 1 << 30

// followInterval is how often -f asks the NodeManagers for new bytes.
const followInterval = 500 * time.Millisecond

func logsCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "list an application's containers, print or follow their logs (like `yarn logs`)",
		Description: `Without a selection, lists the application's containers (its AM/JobManager, TaskManagers, ended ones
too): where each runs or ran, whether its logs are live on its NodeManager or aggregated, and its log page.
--container, --jobmanager or --taskmanagers print the logs of those containers (every file, or --file).

Running containers are read through their NodeManager's web services (/ws/v1/node/containers/ID/logs, as
yarn logs does; SPNEGO on a Kerberized cluster); ended ones from the aggregated logs under
yarn.nodemanager.remote-app-log-dir when yarn.log-aggregation-enable is on (Hadoop's TFile format, both the
Hadoop 3.3 bucketed and the older directory layout).`,
		ArgsUsage: "APP_ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "container", Usage: "print the logs of this container"},
			&cli.BoolFlag{Name: "jobmanager", Usage: "print the JobManager's logs (the current AM container)"},
			&cli.BoolFlag{Name: "taskmanagers", Usage: "print the logs of every TaskManager container"},
			&cli.StringFlag{Name: "file", Usage: "only this log file (stdout, stderr, jobmanager.log, …)"},
			&cli.IntFlag{Name: "tail", Usage: "only the last N lines of each file"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing what running containers append, until they end or Ctrl-C"},
			outputFlag,
		},
		Action: e.logs,
	}
}

// logContainer is one container in the listing. It is an API in JSON:
// keys are only ever added.
type logContainer struct {
	ID       string   `json:"container_id"`
	Role     string   `json:"role"`
	State    string   `json:"state"` // running, ended
	Node     string   `json:"node,omitempty"`
	NodeHTTP string   `json:"node_http_address,omitempty"`
	LogURL   string   `json:"log_url,omitempty"`
	Source   string   `json:"source"` // nodemanager, aggregated
	Files    []string `json:"files,omitempty"`

	agg *logs.ContainerLogs
}

type logsListing struct {
	AppID       string         `json:"app_id"`
	State       string         `json:"state"`
	Aggregation bool           `json:"log_aggregation"`
	RemoteDirs  []string       `json:"remote_app_log_dirs,omitempty"`
	Containers  []logContainer `json:"containers"`
	Notes       []string       `json:"notes,omitempty"`
}

// logsSource is what `spindle logs` reads with.
type logsSource struct {
	e    *environment
	hc   *conf.Configuration
	web  *logs.NMWebClient
	agg  logs.Aggregation
	user string
}

func (e *environment) logs(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	id, err := appIDArg(c)
	if err != nil {
		return err
	}
	sel := 0
	for _, f := range []string{"container", "jobmanager", "taskmanagers"} {
		if c.IsSet(f) {
			sel++
		}
	}
	if sel > 1 {
		return usageError{errors.New("logs: give one of --container, --jobmanager, --taskmanagers")}
	}
	if sel == 0 && (c.IsSet("file") || c.IsSet("tail") || c.Bool("follow")) {
		return usageError{errors.New("logs: --file, --tail and -f need a selection: --container ID, --jobmanager or --taskmanagers")}
	}
	if c.Int("tail") < 0 {
		return usageError{fmt.Errorf("logs: --tail %d: want a number of lines ≥ 0", c.Int("tail"))}
	}
	if c.IsSet("container") {
		if _, err := yarn.ParseContainerID(c.String("container")); err != nil {
			return usageError{fmt.Errorf("logs: --container: %w", err)}
		}
	}
	hc, err := e.hadoopConf()
	if err != nil {
		return err
	}
	rep, err := e.appReport(c.Context, id)
	if err != nil {
		return err
	}
	src := &logsSource{e: e, hc: hc, web: &logs.NMWebClient{}, user: rep.User}
	if src.agg, err = logs.AggregationFromConf(hc); err != nil {
		return usageError{err}
	}
	if kc, err := e.kerberos(hc); err != nil {
		return err
	} else if kc != nil {
		src.web.Kerberos = kc
	}
	if p, _ := hc.GetString("yarn.http.policy", "HTTP_ONLY"); p == "HTTPS_ONLY" {
		src.web.Scheme = "https"
	}
	l := src.list(c.Context, rep)
	if sel == 0 {
		return e.printLogsListing(l, out)
	}
	var targets []logContainer
	switch {
	case c.IsSet("container"):
		want := c.String("container")
		for _, lc := range l.Containers {
			if lc.ID == want {
				targets = append(targets, lc)
			}
		}
		if len(targets) == 0 {
			return fmt.Errorf("logs: %s is not a container of %s that Spindle can find (%s); run spindle logs %s to list them",
				want, id, strings.Join(l.Notes, "; "), id)
		}
	case c.Bool("jobmanager"):
		for i := len(l.Containers) - 1; i >= 0; i-- {
			if l.Containers[i].Role == roleJobManager {
				targets = append(targets, l.Containers[i])
				break
			}
		}
		if len(targets) == 0 {
			return fmt.Errorf("logs: no JobManager container of %s found (%s)", id, strings.Join(l.Notes, "; "))
		}
	default:
		for _, lc := range l.Containers {
			if lc.Role == roleTaskManager && (!c.Bool("follow") || lc.State == "running") {
				targets = append(targets, lc)
			}
		}
		if len(targets) == 0 {
			return fmt.Errorf("logs: no TaskManager container of %s found (%s)", id, strings.Join(l.Notes, "; "))
		}
	}
	return src.print(c.Context, targets, c.String("file"), c.Int("tail"), c.Bool("follow"), e.stdout)
}

// list gathers the containers from the AM (running and recently ended
// ones, with their NodeManagers) and from the aggregated logs (every
// container that wrote a log).
func (s *logsSource) list(ctx context.Context, rep yarn.AppReport) logsListing {
	l := logsListing{AppID: rep.ID.String(), State: rep.State.String(), Aggregation: s.agg.Enabled, Containers: []logContainer{}}
	byID := map[string]*logContainer{}
	add := func(lc logContainer) {
		if old, ok := byID[lc.ID]; ok {
			if old.NodeHTTP == "" {
				old.NodeHTTP, old.LogURL = lc.NodeHTTP, lc.LogURL
			}
			if lc.agg != nil {
				old.agg, old.Files, old.Source, old.State = lc.agg, lc.Files, lc.Source, lc.State
			}
			return
		}
		l.Containers = append(l.Containers, lc)
		byID[lc.ID] = &l.Containers[len(l.Containers)-1]
	}
	var st amapi.Status
	amOK := false
	if amURL, err := amapi.AMURL(rep); err == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err = (&amapi.Client{}).Status(actx, amURL)
		cancel()
		if err != nil {
			l.Notes = append(l.Notes, fmt.Sprintf("the AM did not answer (%v): running containers are not listed", err))
		} else {
			amOK = true
		}
	} else if rep.State == yarn.StateRunning || rep.State == yarn.StateAccepted {
		l.Notes = append(l.Notes, "the AM has not registered yet: no containers to list")
	}
	if amOK {
		node, _, _ := strings.Cut(st.NodeHTTP, ":")
		add(logContainer{ID: st.ContainerID, Role: roleJobManager, State: "running", Node: node, NodeHTTP: st.NodeHTTP, LogURL: st.LogURL, Source: "nodemanager"})
		for _, tm := range st.TaskManagers {
			add(logContainer{ID: tm.ContainerID, Role: roleTaskManager, State: "running", Node: tm.Node, NodeHTTP: tm.NodeHTTP, LogURL: tm.LogURL, Source: "nodemanager"})
		}
		for _, c := range st.Completions {
			add(logContainer{ID: c.Container, Role: roleTaskManager, State: "ended", Node: c.Node, NodeHTTP: c.NodeHTTP, LogURL: c.LogURL, Source: "nodemanager"})
		}
	}
	// Aggregated logs (complete once the application has ended).
	if s.agg.Enabled {
		if s.agg.Format != logs.FormatTFile {
			l.Notes = append(l.Notes, fmt.Sprintf("the cluster aggregates logs in the %s format (yarn.log-aggregation.file-formats), which spindle logs does not read yet: use yarn logs -applicationId %s", s.agg.Format, rep.ID))
		} else {
			dirs := s.agg.AppDirs(rep.User, rep.ID)
			l.RemoteDirs = dirs
			found := false
			for _, d := range dirs {
				files, err := s.readAggregatedDir(ctx, d)
				if err != nil {
					if !errors.Is(err, os.ErrNotExist) {
						l.Notes = append(l.Notes, fmt.Sprintf("aggregated logs in %s: %v", d, err))
					}
					continue
				}
				for node, a := range files {
					found = true
					for i := range a.Containers {
						cl := &a.Containers[i]
						cid, err := yarn.ParseContainerID(cl.ContainerID)
						role := roleTaskManager
						if err == nil && cid.Seq() == 1 {
							role = roleJobManager
						}
						lc := logContainer{ID: cl.ContainerID, Role: role, State: "ended", Node: node, Source: "aggregated", agg: cl}
						for _, f := range cl.Files {
							lc.Files = append(lc.Files, f.Name)
						}
						add(lc)
					}
				}
			}
			if !found && rep.State.Terminal() {
				l.Notes = append(l.Notes, fmt.Sprintf("no aggregated logs yet under %s (the NodeManagers upload them right after the application ends)", strings.Join(dirs, " or ")))
			}
		}
	} else if rep.State.Terminal() {
		l.Notes = append(l.Notes, fmt.Sprintf("the cluster does not aggregate logs (%s is false): the logs of %s stay on each node that ran one of its containers, in yarn.nodemanager.log-dirs/%s/<container id>, for yarn.nodemanager.log.retain-seconds (default 3 h)", logs.KeyAggregationEnable, rep.ID, rep.ID))
	}
	for i := range l.Containers {
		if l.Containers[i].Role == roleJobManager && amOK && l.Containers[i].ID != st.ContainerID && l.Containers[i].State == "running" {
			l.Containers[i].State = "ended"
		}
	}
	sort.SliceStable(l.Containers, func(i, j int) bool { return containerLess(l.Containers[i].ID, l.Containers[j].ID) })
	return l
}

func containerLess(a, b string) bool {
	x, errA := yarn.ParseContainerID(a)
	y, errB := yarn.ParseContainerID(b)
	if errA != nil || errB != nil {
		return a < b
	}
	if x.Attempt.Attempt != y.Attempt.Attempt {
		return x.Attempt.Attempt < y.Attempt.Attempt
	}
	return x.Seq() < y.Seq()
}

// readAggregatedDir reads every node's aggregated file in an application
// log dir, by NodeId.
func (s *logsSource) readAggregatedDir(ctx context.Context, dir string) (map[string]*logs.AggregatedFile, error) {
	local, p, err := s.localPath(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	// parse decodes one node's file: a local one in place (io.ReaderAt),
	// a remote one once read.
	parse := func(name string) (*logs.AggregatedFile, error) {
		f, err := os.Open(path.Join(p, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if fi.Size() > maxAggregatedFile {
			return nil, fmt.Errorf("%s is larger than %d bytes", f.Name(), int64(maxAggregatedFile))
		}
		return logs.ReadAggregated(f, fi.Size(), maxAggregatedFile)
	}
	if local {
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			names = append(names, e.Name())
		}
	} else {
		st, err := s.e.stager(&cli.Context{Context: ctx})
		if err != nil {
			return nil, err
		}
		if names, err = st.ReadDirAt(ctx, p); err != nil {
			return nil, err
		}
		parse = func(name string) (*logs.AggregatedFile, error) {
			b, err := st.ReadFileAt(ctx, path.Join(p, name), maxAggregatedFile)
			if err != nil {
				return nil, err
			}
			return logs.ReadAggregated(bytes.NewReader(b), int64(len(b)), maxAggregatedFile)
		}
	}
	out := map[string]*logs.AggregatedFile{}
	for _, n := range names {
		if strings.HasSuffix(n, ".tmp") {
			continue // still being uploaded
		}
		a, err := parse(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(dir, n), err)
		}
		node := logs.NodeFromFileName(n)
		if old := out[node]; old != nil { // rolled uploads of one node
			old.Containers = append(old.Containers, a.Containers...)
		} else {
			out[node] = a
		}
	}
	return out, nil
}

// localPath says whether a remote log dir is on this machine's file
// system (file://, or a bare path with fs.defaultFS file:///), and its path.
func (s *logsSource) localPath(dir string) (bool, string, error) {
	if p, ok := strings.CutPrefix(dir, "file://"); ok {
		return true, p, nil
	}
	if i := strings.Index(dir, "://"); i >= 0 {
		rest := dir[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return false, "/", nil
		}
		return false, rest[j:], nil
	}
	fs, err := s.hc.DefaultFS()
	if err != nil {
		return false, "", err
	}
	return strings.HasPrefix(fs, "file:"), dir, nil
}

func (e *environment) printLogsListing(l logsListing, out string) error {
	if out == "json" {
		return writeJSON(e.stdout, l, false)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tROLE\tSTATE\tNODE\tLOGS\tLOG PAGE")
	for _, c := range l.Containers {
		where := "on its NodeManager"
		if c.Source == "aggregated" {
			where = "aggregated: " + strings.Join(c.Files, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Role, c.State, c.Node, where, c.LogURL)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range l.Notes {
		fmt.Fprintln(e.stdout, "note: "+n)
	}
	return nil
}

// print writes the chosen containers' logs to w: each file whole, or its
// last tail lines; with follow, then what running containers append.
func (s *logsSource) print(ctx context.Context, targets []logContainer, file string, tail int, follow bool, w io.Writer) error {
	type fileRef struct {
		c    logContainer
		name string
	}
	var refs []fileRef
	var errs []error
	for _, c := range targets {
		switch {
		case c.agg != nil:
			for _, f := range c.agg.Files {
				if file == "" || f.Name == file {
					refs = append(refs, fileRef{c, f.Name})
				}
			}
		case c.NodeHTTP != "":
			if file != "" {
				refs = append(refs, fileRef{c, file})
				continue
			}
			infos, err := s.web.ListLogs(ctx, c.NodeHTTP, c.ID)
			if err != nil {
				errs = append(errs, s.unavailable(c, err))
				continue
			}
			for _, f := range infos {
				if f.AggregationType != logs.LogAggregationAggregated {
					refs = append(refs, fileRef{c, f.Name})
				}
			}
		default:
			errs = append(errs, s.unavailable(c, nil))
		}
	}
	if len(refs) == 0 && len(errs) == 0 {
		return fmt.Errorf("logs: no log file %q in the selected containers", file)
	}
	headers := len(refs) > 1
	type followed struct {
		ref      fileRef
		off, len int64
	}
	var live []*followed
	last := -1
	for i, r := range refs {
		if headers {
			fmt.Fprintf(w, "==> %s/%s <==\n", r.c.ID, r.name)
			last = i
		}
		if r.c.agg != nil {
			for _, f := range r.c.agg.Files {
				if f.Name == r.name {
					if _, err := w.Write(tailLines(f.Data, tail)); err != nil {
						return err
					}
				}
			}
			continue
		}
		ch, err := s.readLive(ctx, r.c, r.name, tail)
		if err != nil {
			errs = append(errs, s.unavailable(r.c, err))
			continue
		}
		if _, err := w.Write(tailLines(ch.Data, tail)); err != nil {
			return err
		}
		if follow && ch.Running {
			live = append(live, &followed{ref: r, off: ch.Start + int64(len(ch.Data)), len: ch.Length})
		}
	}
	if !follow || len(live) == 0 {
		return errors.Join(errs...)
	}
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for len(live) > 0 {
		select {
		case <-ctx.Done():
			return errors.Join(errs...)
		case <-t.C:
		}
		keep := live[:0]
		for i, f := range live {
			ch, err := s.web.ReadLog(ctx, f.ref.c.NodeHTTP, f.ref.c.ID, f.ref.name, -(max(f.len-f.off, 0) + 64<<10))
			if errors.Is(err, logs.ErrContainerNotFound) {
				continue // gone from the node: ended and cleaned up
			}
			if err != nil {
				if ctx.Err() != nil {
					return errors.Join(errs...)
				}
				errs = append(errs, s.unavailable(f.ref.c, err))
				continue
			}
			if ch.Start > f.off { // more was appended than asked for: ask again from off
				if ch, err = s.web.ReadLog(ctx, f.ref.c.NodeHTTP, f.ref.c.ID, f.ref.name, -(ch.Length - f.off)); err != nil {
					continue
				}
			}
			if ch.Length < f.off { // truncated or replaced: start again
				f.off = 0
			}
			if skip := f.off - ch.Start; skip >= 0 && skip < int64(len(ch.Data)) {
				if headers && last != i {
					fmt.Fprintf(w, "==> %s/%s <==\n", f.ref.c.ID, f.ref.name)
					last = i
				}
				if _, err := w.Write(ch.Data[skip:]); err != nil {
					return err
				}
				f.off = ch.Start + int64(len(ch.Data))
			}
			f.len = ch.Length
			if ch.Running {
				keep = append(keep, f)
			}
		}
		live = keep
	}
	return errors.Join(errs...)
}

// readLive reads a running (or not yet aggregated) container's file from
// its NodeManager: all of it, or enough of its end for tail lines.
func (s *logsSource) readLive(ctx context.Context, c logContainer, name string, tail int) (logs.Chunk, error) {
	if tail <= 0 {
		return s.web.ReadLog(ctx, c.NodeHTTP, c.ID, name, 0)
	}
	for size := int64(64 << 10); ; size *= 4 {
		ch, err := s.web.ReadLog(ctx, c.NodeHTTP, c.ID, name, -size)
		if err != nil || ch.Start == 0 || bytes.Count(ch.Data, []byte("\n")) > tail {
			return ch, err
		}
	}
}

// tailLines is the last n lines of b (all of b for n ≤ 0).
func tailLines(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// unavailable explains why a container's logs cannot be read and where
// they are.
func (s *logsSource) unavailable(c logContainer, err error) error {
	where := fmt.Sprintf("they stay on %s in yarn.nodemanager.log-dirs/<app id>/%s", orUnknown(c.Node), c.ID)
	if !s.agg.Enabled {
		where += fmt.Sprintf(" (the cluster does not aggregate logs: %s is false)", logs.KeyAggregationEnable)
	} else {
		where += " until the application ends; then they are aggregated under " + s.agg.RemoteDir
	}
	if err != nil {
		if errors.Is(err, logs.ErrUnauthorized) && s.web.Kerberos == nil {
			return fmt.Errorf("logs of %s: %w; the NodeManager web UI needs Kerberos: set hadoop.security.authentication=kerberos and log in (kinit or --keytab)", c.ID, err)
		}
		return fmt.Errorf("logs of %s: %w; %s", c.ID, err, where)
	}
	return fmt.Errorf("logs of %s: its NodeManager's web address is unknown; %s", c.ID, where)
}

func orUnknown(s string) string {
	if s == "" {
		return "its node"
	}
	return s
}
