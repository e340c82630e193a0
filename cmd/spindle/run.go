package main

import (
	"fmt"

	"github.com/spindle-yarn/spindle/amapi"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/perjob"
)

func runCommand(e *environment) *cli.Command {
	flags := append(clusterFlags(amapi.ModePerJob),
		&cli.StringFlag{Name: "class", Aliases: []string{"c"}, Usage: "--payload flink: the job's entry class (default: the jar's Main-Class)"},
		&cli.DurationFlag{Name: "timeout", Usage: "kill the application (and remove its staging) if the job has not ended after this long, e.g. 30m"})
	return &cli.Command{
		Name:      "run",
		Usage:     "run one job on a dedicated cluster that ends with it (per-job; Flink's application mode)",
		ArgsUsage: "JOB [ARGS...]",
		Description: "Waits for the job by default and exits with its outcome: 0 SUCCEEDED, 6 FAILED, 7 KILLED,\n" +
			"8 timed out (see `spindle help`), and prints the job's result under \"finished:\" (the\n" +
			"\"result\" of the finished event with -o json). With the example payload the job is\n" +
			"`wordcount LOCAL_PATH`: a local file, shipped with the job (in a session, `example wordcount\n" +
			"SHIPPED_NAME` counts a file shipped at start instead); with --payload flink it is the job jar\n" +
			"and its arguments. Flags go before JOB.",
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
	return err
}
