// Command spindle runs applications on Hadoop YARN: session clusters,
// per-job clusters, and quick views of any YARN application.
//
// This package is wiring only: it reads the environment (HADOOP_CONF_DIR,
// YARN_CONF_DIR, HADOOP_USER_NAME), loads the Hadoop configuration, sets up
// zerolog and turns errors into exit codes in one place (exitCode). Library
// errors name conditions and configuration keys; the flags that fix them
// are added here, from one table (advice.go).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr, os.LookupEnv))
}

// run executes the CLI and returns the process exit code. Tests call it
// in-process with buffers and a fake environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) (string, bool)) int {
	app, e := newApp(stdout, stderr, env)
	e.args = args
	err := app.RunContext(ctx, args)
	if err == nil {
		err = e.helpErr
	}
	if err == nil {
		return 0
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "spindle: %s\n", errorMessage(err))
	return code
}

func newApp(stdout, stderr io.Writer, env func(string) (string, bool)) (*cli.App, *environment) {
	e := &environment{lookup: env, stdout: stdout, stderr: stderr}
	app := &cli.App{
		Name:        "spindle",
		Usage:       "run applications on Hadoop YARN",
		Description: exitCodesHelp,
		// -D values may hold commas (env.java.opts=-Xmx1g,-Dx=y): every
		// repetition of a slice flag is one value.
		DisableSliceFlagSeparator: true,
		Version:                   Version,
		EnableBashCompletion:      true, // spindle completion bash|zsh|fish
		Writer:                    stdout,
		ErrWriter:                 stderr,
		ExitErrHandler:            func(*cli.Context, error) {}, // run() reports and maps errors
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "conf-dir", Usage: "Hadoop configuration directory (default: $HADOOP_CONF_DIR, then $YARN_CONF_DIR)"},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "debug, info, warn or error (logs go to stderr)"},
			keytabFlag,
			principalFlag,
			rmTimeoutFlag,
		},
		Before:       e.setup,
		After:        e.teardown,
		OnUsageError: e.onUsageError,
		Action:       helpOrUnknown,
		// `spindle help foo`: urfave/cli would exit 3, "the application
		// does not exist".
		CommandNotFound: func(c *cli.Context, name string) {
			e.helpErr = unknownCommand("spindle", name, c.App.Commands)
		},
		Commands: []*cli.Command{
			sessionCommand(e),
			runCommand(e),
			appCommand(e),
			metricsCommand(e),
			logsCommand(e),
			gcCommand(e),
			amCommand(e),
			exampleCommand(e),
			flinkCommand(e),
			localCommand(e),
			versionCommand(e),
			completionCommand(e),
		},
	}
	markUsageErrors(app.Commands, e.onUsageError)
	return app, e
}

// markUsageErrors makes flag errors of every command exit with exitUsage,
// and an unknown subcommand too.
func markUsageErrors(cmds []*cli.Command, onUsage cli.OnUsageErrorFunc) {
	for _, c := range cmds {
		c.OnUsageError = onUsage
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = helpOrUnknown
		}
		markUsageErrors(c.Subcommands, onUsage)
	}
}

// Version is stamped at build time with -ldflags "-X main.Version=…".
var Version = "dev"
