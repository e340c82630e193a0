package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/am/example"
	"github.com/spindle-yarn/spindle/yarn"
)

// exampleCommand runs the example payload (package example) with the
// environment the ApplicationMaster gives its JobManager and TaskManagers.
func exampleCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "example",
		Usage: "the example payload: a JobManager and TaskManagers running a distributed word count",
		Subcommands: []*cli.Command{
			{
				Name:  "jobmanager",
				Usage: "run the example JobManager (the AM starts it; ports from $" + amapi.EnvJMRPCPort + " and $" + amapi.EnvJMRESTPort + ")",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "job-input", Usage: "per-job: count the words of this file (a TaskManager resource), print the result and exit"},
					&cli.IntFlag{Name: "job-splits", Usage: "per-job: number of splits", DefaultText: "one per TaskManager"},
					&cli.IntFlag{Name: "taskmanagers", Usage: "per-job: TaskManagers to wait for", DefaultText: "$" + amapi.EnvTaskManagers},
					&cli.DurationFlag{Name: "taskmanager-timeout", Value: 10 * time.Second, Usage: "drop a TaskManager silent for longer"},
				},
				Action: e.exampleJobManager,
			},
			{
				Name:  "taskmanager",
				Usage: "run the example TaskManager (the AM launches it in its own container)",
				Flags: []cli.Flag{
					&cli.DurationFlag{Name: "heartbeat", Value: 500 * time.Millisecond, Usage: "heartbeat interval"},
				},
				Action: e.exampleTaskManager,
			},
			e.wordcountCommand(),
		},
	}
}

func (e *environment) envInt(k string) (int, error) {
	v, ok := e.lookup(k)
	if !ok || v == "" {
		return 0, usageError{fmt.Errorf("$%s is not set (the ApplicationMaster sets it)", k)}
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usageError{fmt.Errorf("$%s: %w", k, err)}
	}
	return n, nil
}

func (e *environment) exampleJobManager(c *cli.Context) error {
	rpc, err := e.envInt(amapi.EnvJMRPCPort)
	if err != nil {
		return err
	}
	rest, err := e.envInt(amapi.EnvJMRESTPort)
	if err != nil {
		return err
	}
	opts := example.JobManagerOptions{RPCAddr: ":" + strconv.Itoa(rpc), RESTAddr: ":" + strconv.Itoa(rest), Log: e.stdout,
		TaskManagerTimeout: c.Duration("taskmanager-timeout")}
	opts.ResultFile, _ = e.lookup(amapi.EnvResultFile)
	if n, err := e.envInt(amapi.EnvTaskManagers); err == nil {
		opts.FleetSize = n
	}
	if in := c.String("job-input"); in != "" {
		opts.Job = &example.JobRequest{Input: in, Splits: c.Int("job-splits")}
		opts.MinTaskManagers = c.Int("taskmanagers")
		if opts.MinTaskManagers == 0 {
			if opts.MinTaskManagers, err = e.envInt(amapi.EnvTaskManagers); err != nil {
				return err
			}
		}
	}
	return example.RunJobManager(c.Context, opts)
}

func (e *environment) exampleTaskManager(c *cli.Context) error {
	get := func(k string) string { v, _ := e.lookup(k); return v }
	id, jm := get(amapi.EnvResourceID), get(amapi.EnvJMAddress)
	if id == "" || jm == "" {
		return usageError{fmt.Errorf("$%s and $%s must be set (the ApplicationMaster sets them)", amapi.EnvResourceID, amapi.EnvJMAddress)}
	}
	opts := example.TaskManagerOptions{ID: id, Host: get("NM_HOST"), JobManager: jm, Heartbeat: c.Duration("heartbeat"), Log: e.stdout}
	l, err := e.jobManagerLocator(get(amapi.EnvAppID))
	if err != nil {
		return err
	}
	if l != nil {
		defer l.Close()
		opts.Locate = l.Locate
	}
	// This process is the TaskManager: its liveness connection tells the
	// AM of its death at once, SIGKILL included (the kernel closes it).
	defer amapi.ContainerLinks(c.Context, e.lookup, l.AMLocator(), e.log)()
	return example.RunTaskManager(c.Context, opts)
}

// jobManagerLocator is how a TaskManager container of application appID
// ($SPINDLE_APP_ID) finds the application's current JobManager after an
// AM attempt change (amapi.Locator: the RM's report names the current AM,
// whose discovery endpoint names the JobManager); nil for no appID.
func (e *environment) jobManagerLocator(appID string) (*amapi.Locator, error) {
	if appID == "" {
		return nil, nil
	}
	app, err := yarn.ParseApplicationID(appID)
	if err != nil {
		return nil, usageError{fmt.Errorf("$%s: %w", amapi.EnvAppID, err)}
	}
	return &amapi.Locator{App: app, RM: e.containerRMClient, Logger: e.log}, nil
}
