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
		},
		Action: e.gc,
	}
}

// stager opens the staging area on fs.defaultFS as the current user.
func (e *environment) stager(c *cli.Context) (*hdfs.Stager, error) {
	hc, err := e.hadoopConf()
	if err != nil {
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

func (e *environment) gc(c *cli.Context) error {
	st, err := e.stager(c)
	if err != nil {
		return err
	}
	rm, err := e.rmClient()
	if err != nil {
		return err
	}
	defer rm.Close()
	if c.Duration("min-age") < 0 {
		return usageError{fmt.Errorf("--min-age %s: want a duration of 0 or more, e.g. 1h", c.Duration("min-age"))}
	}
	if c.Bool("cache") && c.Duration("older-than") <= 0 {
		return usageError{fmt.Errorf("--older-than %s: want a positive duration, e.g. 168h", c.Duration("older-than"))}
	}
	dirs, err := st.StagedDirs(c.Context)
	if err != nil {
		return err
	}
	now := time.Now()
	var ours map[int64]bool // cluster timestamps of the applications the RM lists
	removed, kept, spared := 0, 0, 0
	for _, d := range dirs {
		name := d.AppID
		id, err := yarn.ParseApplicationID(name)
		if err != nil {
			fmt.Fprintf(e.stderr, "skipping %s: not an application id\n", st.StagingDir(name))
			continue
		}
		why := ""
		r, err := rm.GetApplicationReport(c.Context, id)
		switch {
		case errors.Is(err, yarn.ErrApplicationNotFound):
			why = "unknown to the ResourceManager"
			if age := now.Sub(d.ModTime); age < c.Duration("min-age") {
				spared++
				fmt.Fprintf(e.stdout, "kept %s (unknown to the ResourceManager but modified %s ago, less than --min-age %s: an upload in progress?)\n",
					st.StagingDir(name), age.Round(time.Second), c.Duration("min-age"))
				continue
			}
			if ours == nil {
				if ours, err = clusterTimestamps(c, rm); err != nil {
					return err
				}
			}
			if !ours[id.ClusterTimestamp] {
				spared++
				fmt.Fprintf(e.stdout, "kept %s (unknown to the ResourceManager, whose applications have other cluster timestamps than %d: "+
					"another YARN cluster's, or from before an RM restart; remove it by hand if it is neither)\n", st.StagingDir(name), id.ClusterTimestamp)
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
		if c.Bool("dry-run") {
			fmt.Fprintf(e.stdout, "would remove %s (%s)\n", st.StagingDir(name), why)
			continue
		}
		if err := st.Delete(c.Context, name); err != nil {
			return err
		}
		removed++
		fmt.Fprintf(e.stdout, "removed %s (%s)\n", st.StagingDir(name), why)
	}
	fmt.Fprintf(e.stdout, "%d removed, %d kept for running applications", removed, kept)
	if spared > 0 {
		fmt.Fprintf(e.stdout, ", %d kept (unknown but recent, or of another cluster)", spared)
	}
	fmt.Fprintln(e.stdout)
	if !c.Bool("cache") {
		return nil
	}
	res, err := st.CollectCache(c.Context, hdfs.CacheGCOptions{OlderThan: c.Duration("older-than"), DryRun: c.Bool("dry-run")})
	if err != nil {
		return err
	}
	verb := "removed"
	if c.Bool("dry-run") {
		verb = "would remove"
	}
	for _, p := range res.Removed {
		fmt.Fprintf(e.stdout, "%s %s (cache entry unused for --older-than %s)\n", verb, p, c.Duration("older-than"))
	}
	fmt.Fprintf(e.stdout, "cache: %d %s, %d kept\n", len(res.Removed), verb, res.Kept)
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
