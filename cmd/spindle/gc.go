package main

import (
	"errors"
	"fmt"
	"strings"

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
			"KILLED or unknown to the RM. Running applications keep theirs. The upload cache is kept.",
		Flags:  []cli.Flag{&cli.BoolFlag{Name: "dry-run", Usage: "print what would be removed, remove nothing"}},
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
	apps, err := st.StagedApps(c.Context)
	if err != nil {
		return err
	}
	removed, kept := 0, 0
	for _, name := range apps {
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
	fmt.Fprintf(e.stdout, "%d removed, %d kept for running applications\n", removed, kept)
	return nil
}
