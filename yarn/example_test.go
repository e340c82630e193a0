package yarn_test

import (
	"context"
	"fmt"
	"time"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/yarn"
)

// Submitting an application whose AM runs a command, then waiting for it.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := conf.Load("/etc/hadoop/conf", conf.Options{})
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
	fmt.Println("new application", id, "up to", max)
	err = rm.SubmitApplication(ctx, yarn.AppSpec{
		ID: id, Name: "hello", Queue: "default",
		AM:         yarn.ContainerLaunchContext{Commands: []string{"echo hello 1><LOG_DIR>/stdout"}},
		AMResource: yarn.Resource{MemoryMB: 512, VCores: 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := rm.GetApplicationReport(ctx, id)
	if err == nil {
		fmt.Println(r.State, r.TrackingURL)
	}
}
