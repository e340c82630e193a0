package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/minicluster"
)

// defaultWebPort is the port of yarn.resourcemanager.webapp.address's
// default, localhost:8088.
const defaultWebPort = 8088

func localCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "local",
		Usage: "the embedded mini cluster on this machine",
		Subcommands: []*cli.Command{{
			Name:  "up",
			Usage: "run a ResourceManager, NodeManagers and a mini HDFS on loopback in the foreground",
			Description: "Writes DIR/conf/{core,yarn,hdfs}-site.xml so that any Hadoop client (spindle, yarn, hdfs)\n" +
				"with HADOOP_CONF_DIR=DIR/conf finds the cluster, and prints one line when ready. The nodes\n" +
				"run containers as a NodeManager host does: HADOOP_HOME (else the hadoop command on PATH)\n" +
				"gives HADOOP_COMMON_HOME, HADOOP_HDFS_HOME, HADOOP_YARN_HOME and HADOOP_MAPRED_HOME as\n" +
				"Hadoop's scripts derive them, and yarn.nodemanager.env-whitelist passes them on. The\n" +
				"ResourceManager's web proxy serves the tracking URLs (http://localhost:8088/proxy/<app>/).\n" +
				"Stops cleanly on Ctrl-C or SIGTERM (kill -INT PID of spindle itself, not of `go run`),\n" +
				"prints one line, and removes its processes and what it wrote (DIR/conf files, DIR/nm-*,\n" +
				"DIR/hdfs, DIR itself if it made it and nothing else is in it).",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dir", Required: true, Usage: "directory for the cluster's state and DIR/conf"},
				&cli.IntFlag{Name: "nodes", Value: 1, Usage: "number of NodeManagers"},
				&cli.BoolFlag{Name: "no-hdfs", Usage: "no mini HDFS: fs.defaultFS is file:///"},
				&cli.IntFlag{Name: "web-port", Value: defaultWebPort, Usage: "port of the ResourceManager's web proxy (yarn.resourcemanager.webapp.address, " +
					"where tracking URLs point); 0 picks a free one, as does a default 8088 already in use"},
			},
			Action: e.localUp,
		}},
	}
}

func (e *environment) localUp(c *cli.Context) error {
	if n := c.Int("nodes"); n < 1 || n > 64 {
		return usageError{fmt.Errorf("--nodes %d: want 1 to 64", n)}
	}
	port := c.Int("web-port")
	if port < 0 || port > 65535 {
		return usageError{fmt.Errorf("--web-port %d: want 0 (any free port) to 65535", port)}
	}
	opts := minicluster.LocalOptions{
		Dir:         c.String("dir"),
		Nodes:       c.Int("nodes"),
		HDFS:        !c.Bool("no-hdfs"),
		HDFSUsers:   []string{e.userName()},
		WebProxy:    true,
		WebFallback: !c.IsSet("web-port"),
		Out:         e.stdout,
		Logger:      e.log,
	}
	opts.RM.WebAddress = net.JoinHostPort("localhost", strconv.Itoa(port))
	err := minicluster.RunLocal(c.Context, opts)
	if errors.Is(err, c.Context.Err()) {
		return nil
	}
	if errors.Is(err, syscall.EADDRINUSE) && c.IsSet("web-port") {
		return usageError{fmt.Errorf("--web-port %d is in use (another ResourceManager or local up?): pass another port, or 0 for any free one: %w", port, err)}
	}
	return err
}
