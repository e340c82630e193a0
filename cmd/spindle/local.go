package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/minicluster"
)

func localCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:  "local",
		Usage: "the embedded mini cluster on this machine",
		Subcommands: []*cli.Command{{
			Name:  "up",
			Usage: "run a ResourceManager, NodeManagers and a mini HDFS on loopback in the foreground",
			Description: "Writes DIR/conf/{core,yarn,hdfs}-site.xml so that any Hadoop client (spindle, yarn, hdfs)\n" +
				"with HADOOP_CONF_DIR=DIR/conf finds the cluster, prints one line when ready, and stops\n" +
				"cleanly on Ctrl-C or SIGTERM, removing its processes and the files it wrote.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "dir", Usage: "directory for the cluster's state and DIR/conf (required)"},
				&cli.IntFlag{Name: "nodes", Value: 1, Usage: "number of NodeManagers"},
				&cli.BoolFlag{Name: "no-hdfs", Usage: "no mini HDFS: fs.defaultFS is file:///"},
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
	err := minicluster.RunLocal(c.Context, minicluster.LocalOptions{
		Dir:       c.String("dir"),
		Nodes:     c.Int("nodes"),
		HDFS:      !c.Bool("no-hdfs"),
		HDFSUsers: []string{e.userName()},
		Out:       e.stdout,
		Logger:    e.log,
	})
	if errors.Is(err, c.Context.Err()) {
		return nil
	}
	return err
}
