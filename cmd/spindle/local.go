package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

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
				&cli.StringFlag{Name: "dir", Usage: "directory for the cluster's state and DIR/conf (required)"},
				&cli.IntFlag{Name: "nodes", Value: 1, Usage: "number of NodeManagers"},
				&cli.BoolFlag{Name: "no-hdfs", Usage: "no mini HDFS: fs.defaultFS is file:///"},
				&cli.IntFlag{Name: "datanodes", Value: 1, Usage: "number of the mini HDFS's DataNodes; dfs.replication is that, up to 3"},
				&cli.BoolFlag{Name: "ha", Usage: "two ResourceManagers, rm1 active and rm2 standby, as an HA pair (yarn-site.xml names both); " +
					"kill -USR1 PID kills the active one, and the standby takes over after --election-delay"},
				&cli.DurationFlag{Name: "election-delay", Value: 10 * time.Second, Usage: "with --ha: from the active RM's death to the standby's election " +
					"(ZooKeeper's session timeout, yarn.resourcemanager.zk-timeout-ms, 10s by default)"},
				&cli.IntFlag{Name: "web-port", Value: defaultWebPort, Usage: "port of the ResourceManager's web proxy (yarn.resourcemanager.webapp.address, " +
					"where tracking URLs point); 0 picks a free one, as does a default 8088 already in use"},

				&cli.Float64Flag{Name: "max-am-resource-percent", Value: minicluster.DefaultMaxAMResourcePercent,
					Usage: "the queue's AM share (yarn.scheduler.capacity.maximum-am-resource-percent, a fraction as in YARN, default 0.1): " +
						"more concurrent sessions fit with more (with 0.1 of one 8 GB node, one 512 MB AM at a time)"},
			},
			Action: e.localUp,
		}},
	}
}

func (e *environment) localUp(c *cli.Context) error {
	if c.String("dir") == "" {
		return usageError{errors.New("local up: --dir is required: the directory for the cluster's state and its client configuration DIR/conf, e.g. spindle local up --dir /tmp/spindle-local")}
	}
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("local up takes no arguments (got %q): flags only, e.g. --dir DIR --nodes 2", c.Args().Slice())}
	}
	if n := c.Int("nodes"); n < 1 || n > 64 {
		return usageError{fmt.Errorf("--nodes %d: want 1 to 64", n)}
	}
	if n := c.Int("datanodes"); n < 1 || n > 64 {
		return usageError{fmt.Errorf("--datanodes %d: want 1 to 64", n)}
	}
	if c.IsSet("datanodes") && c.Bool("no-hdfs") {
		return usageError{errors.New("--datanodes needs the mini HDFS: drop --no-hdfs")}
	}
	port := c.Int("web-port")
	if port < 0 || port > 65535 {
		return usageError{fmt.Errorf("--web-port %d: want 0 (any free port) to 65535", port)}
	}
	opts := minicluster.LocalOptions{
		Dir:           c.String("dir"),
		Nodes:         c.Int("nodes"),
		HDFS:          !c.Bool("no-hdfs"),
		HDFSUsers:     []string{e.userName()},
		HDFSDataNodes: c.Int("datanodes"),
		WebProxy:      true,
		WebFallback:   !c.IsSet("web-port"),
		Out:           e.stdout,
		Logger:        e.log,
	}
	opts.RM.WebAddress = net.JoinHostPort("localhost", strconv.Itoa(port))
	if f := c.Float64("max-am-resource-percent"); f <= 0 || f > 1 {
		return usageError{fmt.Errorf("--max-am-resource-percent %g: want a fraction in (0, 1], e.g. 0.5", f)}
	}
	opts.RM.MaxAMResourcePercent = c.Float64("max-am-resource-percent")
	if c.IsSet("election-delay") && !c.Bool("ha") {
		return usageError{errors.New("--election-delay needs --ha")}
	}
	if c.Bool("ha") {
		if d := c.Duration("election-delay"); d < 0 {
			return usageError{fmt.Errorf("--election-delay %s: want 0 or more", d)}
		}
		opts.RM.HA = &minicluster.HAOptions{ElectionDelay: c.Duration("election-delay")}
		failover := make(chan struct{}, 1)
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGUSR1)
		defer signal.Stop(sig)
		go func() {
			for {
				select {
				case <-c.Context.Done():
					return
				case <-sig:
					select {
					case failover <- struct{}{}:
					default:
					}
				}
			}
		}()
		opts.Failover = failover
	}
	err := minicluster.RunLocal(c.Context, opts)
	if errors.Is(err, c.Context.Err()) {
		return nil
	}
	if errors.Is(err, syscall.EADDRINUSE) && c.IsSet("web-port") {
		return usageError{fmt.Errorf("--web-port %d is in use (another ResourceManager or local up?): pass another port, or 0 for any free one: %w", port, err)}
	}
	return err
}
