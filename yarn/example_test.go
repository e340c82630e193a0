package yarn_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// Submitting an application whose AM runs a command, then waiting for it
// to end. The command is no real AM: it exits without registering, so
// YARN fails its one attempt and the application.
func Example() {
	// A mini cluster stands in for a real one; against a real cluster,
	// confDir is $HADOOP_CONF_DIR.
	confDir, stop := exampleCluster()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := conf.Load(confDir, conf.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	opts, err := yarn.RMOptionsFromConf(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	opts.User = "alice"
	rm, err := yarn.NewRMClient(opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rm.Close()
	id, max, err := rm.GetNewApplication(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("new application, up to", max.MemoryMB, "MB and", max.VCores, "vcores")
	err = rm.SubmitApplication(ctx, yarn.AppSpec{
		ID: id, Name: "hello", Queue: "default",
		AM:          yarn.ContainerLaunchContext{Commands: []string{"echo hello 1><LOG_DIR>/stdout"}},
		AMResource:  yarn.Resource{MemoryMB: 512, VCores: 1},
		MaxAttempts: 1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		r, err := rm.GetApplicationReport(ctx, id)
		if err != nil {
			fmt.Println(err)
			return
		}
		if r.State.Terminal() {
			fmt.Println(r.Name, r.State, r.FinalStatus)
			return
		}
		select {
		case <-ctx.Done():
			fmt.Println(ctx.Err())
			return
		case <-poll.C:
		}
	}
	// Output:
	// new application, up to 8192 MB and 4 vcores
	// hello FAILED FAILED
}

// exampleCluster starts a one-node mini cluster and returns its client
// configuration directory.
func exampleCluster() (confDir string, stop func()) {
	dir, err := os.MkdirTemp("", "yarn-example-")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := minicluster.StartLocal(ctx, minicluster.LocalOptions{Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		panic(err)
	}
	return l.ConfDir, func() { l.Close(); os.RemoveAll(dir) }
}
