package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/promsd"
)

func metricsCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "metrics",
		Usage: "Prometheus scrape targets of the running Spindle applications (AMs, JobManagers, TaskManagers)",
		Subcommands: []*cli.Command{
			{
				Name: "targets",
				Usage: "print every running Spindle application's scrape targets; -o json prints Prometheus's " +
					"HTTP/file service-discovery document (for file_sd_configs)",
				ArgsUsage: " ",
				Flags:     []cli.Flag{outputFlag},
				Action:    e.metricsTargets,
			},
			{
				Name: "serve",
				Usage: "serve the targets over HTTP for Prometheus's http_sd_configs (GET / answers the service-discovery document, " +
					"asked again of the ResourceManager when older than --max-age); runs until interrupted",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9799", Usage: "address to serve on (host:port; port 0 picks a free one)"},
					&cli.DurationFlag{Name: "max-age", Value: 10 * time.Second, Usage: "how old the served document may be before the ResourceManager is asked again"},
				},
				Action: e.metricsServe,
			},
		},
	}
}

// promOptions are promsd's options with the logged-in RM client (closed
// by the returned func).
func (e *environment) promOptions() (promsd.Options, func(), error) {
	rm, err := e.rmClient()
	if err != nil {
		return promsd.Options{}, nil, err
	}
	return promsd.Options{RM: rm, Logger: e.log}, func() { rm.Close() }, nil
}

func (e *environment) metricsTargets(c *cli.Context) error {
	out, err := outputFormat(c)
	if err != nil {
		return err
	}
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("metrics targets takes no arguments (got %q)", c.Args().Slice())}
	}
	o, done, err := e.promOptions()
	if err != nil {
		return err
	}
	defer done()
	groups, err := promsd.Targets(c.Context, o)
	if err != nil {
		return err
	}
	if out == "json" {
		return writeJSON(e.stdout, groups, false)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP_ID\tATTEMPT\tROLE\tTARGET\tCONTAINER_ID\tMODE\tPAYLOAD")
	for _, g := range groups {
		l := g.Labels
		for _, t := range g.Targets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l[promsd.LabelAppID], l[promsd.LabelAttempt], l[promsd.LabelRole], t,
				l[promsd.LabelContainerID], l[promsd.LabelMode], l[promsd.LabelPayload])
		}
	}
	return tw.Flush()
}

func (e *environment) metricsServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("metrics serve takes no arguments (got %q): flags go before, e.g. --listen :9799", c.Args().Slice())}
	}
	if c.Duration("max-age") <= 0 {
		return usageError{fmt.Errorf("--max-age %s: want a positive duration, e.g. 10s", c.Duration("max-age"))}
	}
	o, done, err := e.promOptions()
	if err != nil {
		return err
	}
	defer done()
	// Log in (and reach the RM) once before serving, so that a wrong
	// keytab or an unreachable RM ends the command with its exit code
	// instead of answering 503 forever.
	if _, err := promsd.Targets(c.Context, o); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return usageError{fmt.Errorf("--listen %s: %w (pick another address, e.g. --listen 127.0.0.1:0)", c.String("listen"), err)}
	}
	srv := &http.Server{Handler: &promsd.Server{Options: o, MaxAge: c.Duration("max-age")}, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "spindle metrics serve: serving Prometheus http_sd_configs on http://%s/ (Ctrl-C stops)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-c.Context.Done():
	}
	_ = srv.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
