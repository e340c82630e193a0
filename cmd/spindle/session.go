package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/session"
	"github.com/spindle-yarn/spindle/yarn"
)

func sessionCommand(e *environment) *cli.Command {
	idFlag := &cli.StringFlag{Name: "id", Usage: "the session's application id (default: the session recorded at start)"}
	return &cli.Command{
		Name:  "session",
		Usage: "long-running session clusters: a JobManager and a fleet of TaskManagers (like yarn-session.sh)",
		Subcommands: []*cli.Command{
			{
				Name:  "start",
				Usage: "start a session cluster",
				Description: "Validates everything first (one report of every problem), uploads the files, submits, and\n" +
					"waits until the JobManager runs. Attached (the default) it then follows the session and stops\n" +
					"it gracefully on Ctrl-C; with -d it prints the application id and URLs and returns. The\n" +
					"session is recorded in ~/" + session.PropertiesFileName("<user>") + " as this cluster's, for the other commands.\n" +
					"While YARN keeps it ACCEPTED, each new reason it gives is printed once, with the fix (a \"waiting\"\n" +
					"event with -o json). --timeout bounds the wait for the JobManager: when it expires the\n" +
					"application is killed, its staging removed and its record forgotten (exit 8).",
				Flags: append(clusterFlags(amapi.ModeSession),
					&cli.DurationFlag{Name: "timeout", Usage: "kill the application (and remove its staging) if its JobManager does not run after this long, e.g. 5m",
						DefaultText: "wait as long as it takes"}),
				ArgsUsage: " ",
				Action:    e.sessionStart,
			},
			{Name: "list", Usage: "list running sessions (all states with --all)", ArgsUsage: " ",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "include ended sessions"}, outputFlag}, Action: e.sessionList},
			{Name: "status", Usage: "show a session: YARN's view and its AM's", ArgsUsage: "[APP_ID]",
				Flags: []cli.Flag{idFlag, outputFlag, &cli.DurationFlag{Name: "wait",
					Usage: "first wait up to this long (e.g. 2m) until every TaskManager runs; exit 8 if they do not"}},
				Action: e.sessionStatus},
			{Name: "stop", Usage: "stop a session gracefully (a YARN kill if its AM does not answer) and remove its staging", ArgsUsage: "[APP_ID]",
				Flags: []cli.Flag{idFlag, outputFlag}, Action: e.sessionStop},
			{Name: "attach", Usage: "follow a session until it ends; Ctrl-C stops it", ArgsUsage: "[APP_ID]",
				Flags: []cli.Flag{idFlag, outputFlag}, Action: e.sessionAttach},
		},
	}
}

// sessionClients are the clients of status, stop and attach. follow
// (attach) keeps the configured RM failover budget: it follows a session
// for as long as it runs, across ResourceManager failovers.
func (e *environment) sessionClients(follow bool) (session.Clients, func(), error) {
	rm, err := e.newRMClient(!follow || e.rmTimeoutSet)
	if err != nil {
		return session.Clients{}, nil, err
	}
	return session.Clients{RM: rm, AM: &amapi.Client{}}, func() { rm.Close() }, nil
}

// sessionID is APP_ID (argument or --id) or the recorded session.
func (e *environment) sessionID(c *cli.Context) (yarn.ApplicationID, error) {
	s := c.String("id")
	if c.NArg() > 1 || (c.NArg() == 1 && s != "") {
		return yarn.ApplicationID{}, usageError{fmt.Errorf("%s: want at most one APP_ID%s", commandPath(c), flagsAfterArgs(c))}
	}
	if c.NArg() == 1 {
		s = c.Args().First()
	}
	var given *yarn.ApplicationID
	if s != "" {
		id, err := yarn.ParseApplicationID(s)
		if err != nil {
			return id, usageError{err}
		}
		given = &id
	}
	id, err := e.resolveSession(given)
	if errors.Is(err, session.ErrNoSession) {
		return id, usageError{err}
	}
	return id, err
}

func (e *environment) sessionStart(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("session start takes no arguments (got %q): flags go before, e.g. -n 2", c.Args().Slice())}
	}
	if c.Duration("timeout") < 0 {
		return usageError{fmt.Errorf("--timeout %s: want a positive duration", c.Duration("timeout"))}
	}
	p, err := e.prepare(c, amapi.ModeSession, "", nil)
	if err != nil {
		return err
	}
	defer p.close()
	if c.Bool("dry-run") {
		return e.dryRun(p, out)
	}
	pr, progress, emit, done := e.reporting(c, out)
	if w, err := e.singleAttemptWarning(c); err != nil {
		return err
	} else if w != "" {
		if out == "text" {
			fmt.Fprintf(e.stderr, "warning: %s\n", w)
		}
		inner := emit
		emit = func(ev launch.Event) {
			if ev.Event == launch.EventSubmitted {
				ev.Warnings = append(ev.Warnings, w)
			}
			inner(ev)
		}
	}
	cl := session.Clients{RM: p.rm, AM: &amapi.Client{}, Stager: p.stager}
	pf, err := e.propertiesFile()
	if err != nil {
		return err
	}
	st, err := session.Start(c.Context, session.StartOptions{Clients: cl, Submission: p.sub, Tokens: p.tokens,
		Progress: progress, Emit: emit, PropertiesFile: pf, Timeout: c.Duration("timeout")})
	done()
	if err != nil {
		return err
	}
	if path, err := writeFlinkYarnProperties(p.payload, st.ID); err != nil {
		e.log.Warn().Err(err).Msg("could not write Flink's .yarn-properties file; pass -Dyarn.application.id to Flink's client")
	} else if path != "" {
		e.log.Info().Str("file", path).Msg("Flink's client finds this session through its .yarn-properties file")
	}
	if c.Bool("detached") {
		if out == "text" {
			fmt.Fprintf(e.stdout, "session %s is running (detached); stop it with: spindle session stop %s\n", st.ID, st.ID)
		}
		return nil
	}
	if out == "text" {
		fmt.Fprintf(e.stdout, "attached to session %s; Ctrl-C stops it\n", st.ID)
	}
	r, err := session.Wait(c.Context, cl, st.ID, st.Seen, pr.event)
	if r.State.Terminal() { // attached: the session ended with this command
		e.forgetSession(st.ID, p.payload)
	}
	if errors.Is(err, launch.ErrKilled) && c.Context.Err() != nil {
		return nil // stopped by Ctrl-C as asked
	}
	return err
}

// singleAttemptWarning is launch.SingleAttemptWarning for --max-attempts
// and the configured yarn.resourcemanager.am.max-attempts (default 2).
func (e *environment) singleAttemptWarning(c *cli.Context) (string, error) {
	hc, err := e.hadoopConf()
	if err != nil {
		return "", err
	}
	max, err := hc.GetInt64("yarn.resourcemanager.am.max-attempts", 2)
	if err != nil {
		return "", usageError{err}
	}
	return launch.SingleAttemptWarning(int32(c.Int("max-attempts")), int32(max)), nil
}

func (e *environment) sessionList(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	rm, err := e.rmClient()
	if err != nil {
		return err
	}
	defer rm.Close()
	apps, err := session.List(c.Context, rm, c.Bool("all"))
	if err != nil {
		return err
	}
	empty := "no running sessions (--all lists ended ones too)"
	if c.Bool("all") {
		empty = "no sessions"
	}
	return e.printApps(apps, out, empty)
}

// printApps prints a list of reports (app list, session list): a table,
// or none says so (empty, e.g. "no active applications (--all lists
// ended ones too)"); with JSON one object per line, none for none.
func (e *environment) printApps(apps []yarn.AppReport, out, empty string) error {
	if out == "json" {
		pr := &printer{w: e.stdout, json: true}
		for _, a := range apps {
			pr.value(toJSON(a))
		}
		return nil
	}
	if len(apps) == 0 {
		fmt.Fprintln(e.stdout, empty)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP_ID\tNAME\tTYPE\tUSER\tQUEUE\tSTATE\tFINAL_STATUS\tPROGRESS\tTRACKING_URL")
	for _, a := range apps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\n", a.ID, a.Name, a.Type, a.User, a.Queue, a.State, a.FinalStatus, a.Progress*100, a.TrackingURL)
	}
	return tw.Flush()
}

// sessionTarget is what status, stop and attach start from: the output
// format, the session and the clients (closed by the returned func).
func (e *environment) sessionTarget(c *cli.Context, follow bool) (string, yarn.ApplicationID, session.Clients, func(), error) {
	out, err := outputFormat(c)
	if err != nil {
		return "", yarn.ApplicationID{}, session.Clients{}, nil, err
	}
	id, err := e.sessionID(c)
	if err != nil {
		return "", id, session.Clients{}, nil, err
	}
	cl, closeFn, err := e.sessionClients(follow)
	return out, id, cl, closeFn, err
}

func (e *environment) sessionStatus(c *cli.Context) error {
	out, id, cl, closeFn, err := e.sessionTarget(c, false)
	if err != nil {
		return err
	}
	defer closeFn()
	var s session.Status
	if wait := c.Duration("wait"); wait > 0 {
		ctx, cancel := context.WithTimeout(c.Context, wait)
		defer cancel()
		s, err = session.WaitReady(ctx, cl, id, 0)
		if err != nil && errors.Is(err, context.DeadlineExceeded) && c.Context.Err() == nil {
			why := "the AM's page says why: " + s.TrackingURL
			if s.TaskManagersPendingDetail != "" {
				why = "the AM says: " + s.TaskManagersPendingDetail
			}
			return fmt.Errorf("%w: session %s: %d of %d TaskManagers running after --wait %s (%d pending); %s",
				launch.ErrTimeout, id, s.TaskManagersRunning, s.TaskManagersTarget, wait, s.TaskManagersPending, why)
		}
	} else if c.Duration("wait") < 0 {
		return usageError{fmt.Errorf("--wait %s: want a positive duration, e.g. 2m", c.Duration("wait"))}
	} else {
		s, err = session.GetStatus(c.Context, cl, id)
	}
	if err != nil {
		return err
	}
	if out == "json" {
		(&printer{w: e.stdout, json: true}).value(s)
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s:\t%v\n", k, v) }
	row("Session", s.AppID)
	row("Name", s.Name)
	row("Queue", s.Queue)
	row("State", s.State+"/"+s.FinalStatus)
	row("Tracking URL", s.TrackingURL)
	if s.AMURL != "" {
		row("AM", s.AMURL)
		row("JobManager", fmt.Sprintf("%s (REST %s), %s", s.JobManagerAddress, s.JobManagerRESTAddress, s.JobManagerState))
		tms := fmt.Sprintf("%d running of %d (%d pending, %d replaced)", s.TaskManagersRunning, s.TaskManagersTarget, s.TaskManagersPending, s.TaskManagerRestarts)
		if s.TaskManagersRunning < s.TaskManagersTarget {
			tms += ": starting (`spindle session status --wait 2m` waits for them)"
		}
		row("TaskManagers", tms)
		if s.TaskManagersPendingDetail != "" {
			row("Pending", s.TaskManagersPendingDetail)
		}
	}
	if s.Waiting != "" {
		row("Waiting", s.Waiting)
		if s.WaitingFix != "" {
			row("Fix", s.WaitingFix)
		}
	}
	if s.AMError != "" {
		row("AM error", s.AMError)
	}
	if s.Diagnostics != "" {
		row("Diagnostics", s.Diagnostics)
	}
	return tw.Flush()
}

func (e *environment) sessionStop(c *cli.Context) error {
	out, id, cl, closeFn, err := e.sessionTarget(c, false)
	if err != nil {
		return err
	}
	defer closeFn()
	var ue usageError
	if cl.Stager, err = e.stager(c); errors.As(err, &ue) {
		return err // the configuration is wrong, not the filesystem down
	} else if err != nil {
		e.log.Warn().Err(err).Msg("staging filesystem unreachable: the AM cannot be asked to stop; killing the session instead")
	}
	pf, err := e.propertiesFile()
	if err != nil {
		return err
	}
	res, err := session.Stop(c.Context, cl, id, pf)
	if err != nil {
		return err
	}
	e.forgetFlinkSession(id, nil) // session.Stop forgot this cluster's entry
	r := res.Report
	if out == "json" {
		(&printer{w: e.stdout, json: true}).value(map[string]any{"app_id": id.String(), "state": r.State.String(), "final_status": r.FinalStatus.String(),
			"stopped": res.How, "staging_removed": res.StagingRemoved, "diagnostics": r.Diagnostics})
		return nil
	}
	fmt.Fprintf(e.stdout, "session %s %s: %s/%s", id, res.How, r.State, r.FinalStatus)
	if res.StagingRemoved {
		fmt.Fprint(e.stdout, ", staging removed")
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func (e *environment) sessionAttach(c *cli.Context) error {
	out, id, cl, closeFn, err := e.sessionTarget(c, true)
	if err != nil {
		return err
	}
	defer closeFn()
	if cl.Stager, err = e.stager(c); err != nil {
		return err
	}
	pr := &printer{w: e.stdout, json: out == "json"}
	if out == "text" {
		fmt.Fprintf(e.stdout, "attached to session %s; Ctrl-C stops it\n", id)
	}
	r, err := session.Wait(c.Context, cl, id, map[string]bool{launch.EventSubmitted: true}, pr.event)
	if r.State.Terminal() { // ended (stopped by Ctrl-C, or by itself): no longer anyone's default
		e.forgetSession(id, nil)
	}
	if errors.Is(err, launch.ErrKilled) && c.Context.Err() != nil {
		return nil
	}
	return err
}
