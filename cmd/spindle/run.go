package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/perjob"
	"github.com/spindle-yarn/spindle/yarn"
)

func runCommand(e *environment) *cli.Command {
	flags := append(clusterFlags(amapi.ModePerJob),
		&cli.StringFlag{Name: "class", Aliases: []string{"c"}, Usage: "--payload flink: the job's entry class (default: the jar's Main-Class)"},
		&cli.DurationFlag{Name: "timeout", Usage: "kill the application (and remove its staging) if the job has not ended after this long, e.g. 30m"})
	return &cli.Command{
		Name:      "run",
		Usage:     "run one job on a dedicated cluster that ends with it (per-job; Flink's application mode)",
		ArgsUsage: "JOB [ARGS...]",
		Description: "Waits for the job by default and exits with its outcome: 0 SUCCEEDED, 6 FAILED, 7 KILLED\n" +
			"(Ctrl-C kills the application, removes its staging and exits 7 too), 8 timed out (see\n" +
			"`spindle help`), and prints the job's result under \"finished:\" (the \"result\" of the\n" +
			"finished event with -o json). With the example payload the job is `wordcount LOCAL_PATH`:\n" +
			"a local file, shipped with the job (in a session, `example wordcount SHIPPED_NAME` counts a\n" +
			"file shipped at start instead); with --payload flink it is the job jar and its arguments.\n" +
			"Flags go before JOB.",
		Flags:  flags,
		Action: e.run,
	}
}

func (e *environment) run(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return usageError{fmt.Errorf("run: no job: %s", "spindle run [flags] JOB [ARGS...], e.g. spindle run --payload example wordcount words.txt")}
	}
	if c.Duration("timeout") < 0 {
		return usageError{fmt.Errorf("--timeout %s: want a positive duration", c.Duration("timeout"))}
	}
	p, err := e.prepare(c, amapi.ModePerJob, c.Args().First(), c.Args().Tail())
	if err != nil {
		return err
	}
	defer p.close()
	if c.Bool("dry-run") {
		return e.dryRun(p, out)
	}
	_, progress, emit, done := e.reporting(c, out)
	res, err := perjob.Run(c.Context, perjob.Options{RM: p.rm, AM: &amapi.Client{}, Stager: p.stager, Submission: p.sub, Tokens: p.tokens,
		Progress: progress, Emit: emit, Detached: c.Bool("detached"), Timeout: c.Duration("timeout")})
	done()
	if err == nil && c.Bool("detached") && out == "text" {
		fmt.Fprintf(e.stdout, "job %s is running (detached); follow it with: spindle app status %s\n", res.ID, res.ID)
	}
	if err != nil && c.Context.Err() != nil && errors.Is(err, context.Canceled) {
		if res.ID.IsZero() {
			return errors.New("interrupted before submitting: nothing was submitted")
		}
		return interruptedError{res.ID}
	}
	return err
}

// interruptedError is a per-job run ended by Ctrl-C (or SIGTERM): perjob
// killed the application and removed its staging. It exits 7, as a kill.
type interruptedError struct{ id yarn.ApplicationID }

func (i interruptedError) Error() string {
	return fmt.Sprintf("interrupted: application %s was killed and its staging removed", i.id)
}

// Is makes it a launch.ErrKilled.
func (i interruptedError) Is(target error) bool { return target == launch.ErrKilled }
