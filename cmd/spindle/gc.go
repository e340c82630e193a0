package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

func gcCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "remove the staging directories of applications that have ended",
		Description: "Lists <home>/.spindle/<application id> on the default filesystem, asks the ResourceManager\n" +
			"about each application, and removes the directories of those that are FINISHED, FAILED,\n" +
			"KILLED or unknown to the RM. Running applications keep theirs. A directory of an unknown\n" +
			"application is kept while younger than --min-age (an upload in progress) and when its id's\n" +
			"cluster timestamp is none of those of the applications this RM lists (another YARN cluster\n" +
			"sharing this home). The upload cache is kept unless --cache: then its entries not used for\n" +
			"--older-than by any submission, and used by no application still staged, are removed too.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would be removed, remove nothing"},
			&cli.DurationFlag{Name: "min-age", Value: time.Hour, Usage: "keep the directories of applications unknown to the RM modified more recently than this (uploads in progress)"},
			&cli.BoolFlag{Name: "cache", Usage: "also remove upload cache entries unused for --older-than"},
			&cli.DurationFlag{Name: "older-than", Value: 7 * 24 * time.Hour, Usage: "with --cache: how long an entry must have gone unused"},
			outputFlag,
		},
		ArgsUsage: " ",
		Action:    e.gc,
	}
}

// stager opens the staging area on fs.defaultFS as the current user.
func (e *environment) stager(c *cli.Context) (*hdfs.Stager, error) {
	hc, err := e.hadoopConf()
	if err != nil {
		return nil, err
	}
	if err := e.needCoreSite(); err != nil {
		return nil, err
	}
	fs, err := hc.DefaultFS()
	if err != nil {
		return nil, err
	}
	opts := hdfs.Options{Conf: hc, User: e.userName(), Logger: e.log}
	if opts.KerberosClient, err = e.kerberos(hc); err != nil {
		return nil, err
	}
	if opts.KerberosClient != nil {
		opts.User = "" // the principal's short name
	}
	if strings.HasPrefix(fs, "file:") {
		home, ok := e.lookup("HOME")
		if !ok || home == "" {
			return nil, usageError{errors.New("fs.defaultFS is file:///, so staging lives under $HOME/.spindle: set HOME")}
		}
		opts.Home = home
	}
	return hdfs.New(c.Context, opts)
}

// gcLine is one line of `gc -o json`: a staging directory or cache entry
// ("kind": "staging" or "cache") and what happened to it, or the summary
// of either ("kind": "summary" or "cache_summary").
type gcLine struct {
	Kind   string `json:"kind"`
	AppID  string `json:"app_id,omitempty"`
	Path   string `json:"path,omitempty"`
	Action string `json:"action,omitempty"` // removed, would_remove, kept, skipped
	Reason string `json:"reason,omitempty"`
	DryRun bool   `json:"dry_run"`
	// Summaries only.
	Removed     *int `json:"removed,omitempty"`
	WouldRemove *int `json:"would_remove,omitempty"`
	KeptRunning *int `json:"kept_running,omitempty"`
	KeptOther   *int `json:"kept_other,omitempty"`
	Kept        *int `json:"kept,omitempty"`
}

func (e *environment) gc(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("gc takes no arguments (got %q): flags only, e.g. spindle gc --dry-run", c.Args().Slice())}
	}
	if c.Duration("min-age") < 0 {
		return usageError{fmt.Errorf("--min-age %s: want a duration of 0 or more, e.g. 1h", c.Duration("min-age"))}
	}
	if c.Bool("cache") && c.Duration("older-than") <= 0 {
		return usageError{fmt.Errorf("--older-than %s: want a positive duration, e.g. 168h", c.Duration("older-than"))}
	}
	st, err := e.stager(c)
	if err != nil {
		return err
	}
	rm, err := e.rmClient()
	if err != nil {
		return err
	}
	defer rm.Close()
	dirs, err := st.StagedDirs(c.Context)
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	pr := &printer{w: e.stdout, json: out == "json"}
	emit := func(l gcLine, text string) {
		l.DryRun = dry
		if pr.json {
			pr.value(l)
		} else if text != "" {
			fmt.Fprintln(e.stdout, text)
		}
	}
	now := time.Now()
	var ours map[int64]bool // cluster timestamps of the applications the RM lists
	removed, kept, spared := 0, 0, 0
	for _, d := range dirs {
		name := d.AppID
		path := st.StagingDir(name)
		id, err := yarn.ParseApplicationID(name)
		if err != nil {
			if pr.json {
				emit(gcLine{Kind: "staging", Path: path, Action: "skipped", Reason: "not an application id"}, "")
			} else {
				fmt.Fprintf(e.stderr, "skipping %s: not an application id\n", path)
			}
			continue
		}
		why := ""
		r, err := rm.GetApplicationReport(c.Context, id)
		switch {
		case errors.Is(err, yarn.ErrApplicationNotFound):
			why = "unknown to the ResourceManager"
			if age := now.Sub(d.ModTime); age < c.Duration("min-age") {
				spared++
				reason := fmt.Sprintf("unknown to the ResourceManager but modified %s ago, less than --min-age %s: an upload in progress?",
					age.Round(time.Second), c.Duration("min-age"))
				emit(gcLine{Kind: "staging", AppID: name, Path: path, Action: "kept", Reason: reason}, fmt.Sprintf("kept %s (%s)", path, reason))
				continue
			}
			if ours == nil {
				if ours, err = clusterTimestamps(c, rm); err != nil {
					return err
				}
			}
			if !ours[id.ClusterTimestamp] {
				spared++
				reason := fmt.Sprintf("unknown to the ResourceManager, whose applications have other cluster timestamps than %d: "+
					"another YARN cluster's, or from before an RM restart; remove it by hand if it is neither", id.ClusterTimestamp)
				emit(gcLine{Kind: "staging", AppID: name, Path: path, Action: "kept", Reason: reason}, fmt.Sprintf("kept %s (%s)", path, reason))
				continue
			}
		case err != nil:
			return err
		case r.State.Terminal():
			why = r.State.String()
		default:
			kept++
			continue
		}
		if dry {
			removed++
			emit(gcLine{Kind: "staging", AppID: name, Path: path, Action: "would_remove", Reason: why}, fmt.Sprintf("would remove %s (%s)", path, why))
			continue
		}
		if err := st.Delete(c.Context, name); err != nil {
			return err
		}
		removed++
		emit(gcLine{Kind: "staging", AppID: name, Path: path, Action: "removed", Reason: why}, fmt.Sprintf("removed %s (%s)", path, why))
	}
	sum := gcLine{Kind: "summary", KeptRunning: &kept, KeptOther: &spared}
	text := fmt.Sprintf("%d removed, %d kept for running applications", removed, kept)
	if dry {
		sum.WouldRemove = &removed
		text = fmt.Sprintf("dry run, nothing removed: %d would be removed, %d kept for running applications", removed, kept)
	} else {
		sum.Removed = &removed
	}
	if spared > 0 {
		text += fmt.Sprintf(", %d kept (unknown but recent, or of another cluster)", spared)
	}
	emit(sum, text)
	if !c.Bool("cache") {
		return nil
	}
	res, err := st.CollectCache(c.Context, hdfs.CacheGCOptions{OlderThan: c.Duration("older-than"), DryRun: dry})
	if err != nil {
		return err
	}
	verb, action := "removed", "removed"
	if dry {
		verb, action = "would remove", "would_remove"
	}
	for _, p := range res.Removed {
		reason := fmt.Sprintf("cache entry unused for --older-than %s", c.Duration("older-than"))
		emit(gcLine{Kind: "cache", Path: p, Action: action, Reason: reason}, fmt.Sprintf("%s %s (%s)", verb, p, reason))
	}
	n, k := len(res.Removed), res.Kept
	csum := gcLine{Kind: "cache_summary", Kept: &k}
	text = fmt.Sprintf("cache: %d removed, %d kept", n, k)
	if dry {
		csum.WouldRemove = &n
		text = fmt.Sprintf("cache: dry run, nothing removed: %d would be removed, %d kept", n, k)
	} else {
		csum.Removed = &n
	}
	emit(csum, text)
	return nil
}

// clusterTimestamps are the cluster timestamps of the application ids the
// RM lists: its own (every id it hands out carries its start time) and
// those of the applications it recovered from before a restart. An id with
// none of them is not this RM's to judge.
func clusterTimestamps(c *cli.Context, rm *yarn.RMClient) (map[int64]bool, error) {
	apps, err := rm.GetApplications(c.Context, yarn.AppFilter{})
	if err != nil {
		return nil, err
	}
	out := map[int64]bool{}
	for _, a := range apps {
		out[a.ID.ClusterTimestamp] = true
	}
	return out, nil
}
