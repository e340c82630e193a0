package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

var outputFlag = &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Usage: "text (for people) or json (for programs: one object per line, a list one per item)"}

func appCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "app",
		Usage: "quick views of any YARN application (like `yarn application`)",
		Subcommands: []*cli.Command{
			{
				Name:      "list",
				Usage:     "list active applications (SUBMITTED, ACCEPTED, RUNNING); --all for every state",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "include finished, failed and killed applications"}, outputFlag},
				Action:    e.appList,
				ArgsUsage: " ",
			},
			{Name: "status", Usage: "show one application", ArgsUsage: "APP_ID", Flags: []cli.Flag{outputFlag}, Action: e.appStatus},
			{Name: "kill", Usage: "kill an application", ArgsUsage: "APP_ID", Flags: []cli.Flag{outputFlag}, Action: e.appKill},
		},
	}
}

func outputFormat(c *cli.Context) (string, error) {
	switch o := c.String("output"); o {
	case "text", "table": // "table" is the old name of text
		return "text", nil
	case "json":
		return o, nil
	default:
		return "", usageError{fmt.Errorf("--output %q: want text or json", o)}
	}
}

func appIDArg(c *cli.Context) (yarn.ApplicationID, error) {
	if c.NArg() != 1 {
		return yarn.ApplicationID{}, usageError{fmt.Errorf("%s: want exactly one APP_ID, e.g. application_1795317067845_0002%s", commandPath(c), flagsAfterArgs(c))}
	}
	id, err := yarn.ParseApplicationID(c.Args().First())
	if err != nil {
		return id, usageError{err}
	}
	return id, nil
}

// flagsAfterArgs explains a surplus argument that is a flag: urfave/cli
// stops reading flags at the first argument.
func flagsAfterArgs(c *cli.Context) string {
	for _, a := range c.Args().Tail() {
		if strings.HasPrefix(a, "-") {
			return fmt.Sprintf(" (%q came after it: flags go before APP_ID, e.g. spindle %s -o json APP_ID)", a, commandPath(c))
		}
	}
	return ""
}

// commandPath is the command as typed after "spindle", e.g. "session attach".
func commandPath(c *cli.Context) string {
	var names []string
	for _, x := range c.Lineage() {
		if x.Command != nil && x.Command.Name != "" && x.Command.Name != c.App.Name {
			names = append([]string{x.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// appJSON is the machine-readable form of a report: snake_case keys,
// numbers as numbers, times as RFC 3339 (empty when unset). It is an API.
type appJSON struct {
	AppID       string  `json:"app_id"`
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	User        string  `json:"user"`
	Queue       string  `json:"queue"`
	State       string  `json:"state"`
	FinalStatus string  `json:"final_status"`
	Progress    float32 `json:"progress"`
	TrackingURL string  `json:"tracking_url"`
	Diagnostics string  `json:"diagnostics"`
	StartTime   string  `json:"start_time"`
	FinishTime  string  `json:"finish_time"`
	AttemptID   string  `json:"attempt_id"`
	AMHost      string  `json:"am_host"`
	// AMRPCPort is the port the AM registered (-1 until then); for
	// Spindle applications the JobManager's REST port.
	AMRPCPort int32    `json:"am_rpc_port"`
	Tags      []string `json:"tags"`
	// Result is a Spindle per-job application's result, taken out of
	// the diagnostics its AM unregistered with (amapi.SplitResult).
	Result *amapi.Result `json:"result,omitempty"`
}

func toJSON(r yarn.AppReport) appJSON {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	result, diag := amapi.SplitResult(r.Diagnostics)
	return appJSON{AppID: r.ID.String(), Name: r.Name, Type: r.Type, User: r.User, Queue: r.Queue, State: r.State.String(),
		FinalStatus: r.FinalStatus.String(), Progress: r.Progress, TrackingURL: r.TrackingURL, Diagnostics: diag,
		StartTime: ts(r.StartTime), FinishTime: ts(r.FinishTime), AttemptID: r.CurrentAttempt.String(), AMHost: r.Host, AMRPCPort: r.RPCPort, Tags: tags,
		Result: result}
}

func (e *environment) appList(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	rm, err := e.rmClient()
	if err != nil {
		return err
	}
	defer rm.Close()
	f := yarn.AppFilter{}
	if !c.Bool("all") {
		f.States = []yarn.AppState{yarn.StateSubmitted, yarn.StateAccepted, yarn.StateRunning}
	}
	apps, err := rm.GetApplications(c.Context, f)
	if err != nil {
		return err
	}
	empty := "no active applications (--all lists ended ones too)"
	if c.Bool("all") {
		empty = "no applications"
	}
	return e.printApps(apps, out, empty)
}

func (e *environment) appStatus(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	id, err := appIDArg(c)
	if err != nil {
		return err
	}
	r, err := e.appReport(c.Context, id)
	if err != nil {
		return err
	}
	if out == "json" {
		return writeJSON(e.stdout, toJSON(r), false)
	}
	j := toJSON(r)
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{{"Application-Id", j.AppID}, {"Application-Name", j.Name}, {"Application-Type", j.Type}, {"User", j.User},
		{"Queue", j.Queue}, {"State", j.State}, {"Final-State", j.FinalStatus}, {"Progress", fmt.Sprintf("%.0f%%", r.Progress*100)},
		{"Tracking-URL", j.TrackingURL}, {"Start-Time", j.StartTime}, {"Finish-Time", j.FinishTime}, {"AM Host", j.AMHost},
		{"Tags", strings.Join(j.Tags, ",")}, {"Diagnostics", j.Diagnostics}} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	if j.Result != nil {
		fmt.Fprintf(tw, "Result:\t%s: %s\n", j.Result.State, j.Result.Summary)
	}
	return tw.Flush()
}

func (e *environment) appKill(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	id, err := appIDArg(c)
	if err != nil {
		return err
	}
	rm, err := e.rmClient()
	if err != nil {
		return err
	}
	defer rm.Close()
	r, err := rm.GetApplicationReport(c.Context, id)
	if err != nil {
		return err
	}
	if r.State.Terminal() {
		if out == "json" {
			(&printer{w: e.stdout, json: true}).value(appKillJSON{AppID: id.String(), Killed: false, State: r.State.String()})
		} else {
			fmt.Fprintf(e.stdout, "%s has already finished with state %s\n", id, r.State)
		}
		return nil
	}
	if err := rm.KillApplication(c.Context, id, "killed by spindle app kill, user "+e.userName()); err != nil {
		return err
	}
	if out == "json" {
		(&printer{w: e.stdout, json: true}).value(appKillJSON{AppID: id.String(), Killed: true, State: yarn.StateKilled.String()})
	} else {
		fmt.Fprintf(e.stdout, "killed %s\n", id)
	}
	return nil
}

// appKillJSON is `app kill -o json`: whether this command killed the
// application, and its state (KILLED, or the state it had already ended in).
type appKillJSON struct {
	AppID  string `json:"app_id"`
	Killed bool   `json:"killed"`
	State  string `json:"state"`
}
