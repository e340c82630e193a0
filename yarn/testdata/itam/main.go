// Command itam is a tiny ApplicationMaster for the yarn integration tests:
// it reads its AMRMToken from the container tokens file, registers with the
// real RM over DIGEST-MD5, and either starts one worker container through
// the NodeManager client and finishes SUCCEEDED with the worker's exit
// status (mode "worker"), or stays registered until killed (mode "sleep").
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "itam:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f, err := os.Open(os.Getenv("HADOOP_TOKEN_FILE_LOCATION"))
	if err != nil {
		return err
	}
	creds, err := ipc.ReadCredentials(f)
	f.Close()
	if err != nil {
		return err
	}
	tok, err := yarn.AMRMTokenFromCredentials(creds)
	if err != nil {
		return err
	}
	am, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: os.Getenv("SPINDLE_IT_SCHEDULER")}}, Token: tok})
	if err != nil {
		return err
	}
	defer am.Close()
	reg, err := am.Register(ctx, os.Getenv("NM_HOST"), -1, "")
	if err != nil {
		return err
	}
	fmt.Println("registered; maximum", reg.MaxCapability)
	if os.Getenv("SPINDLE_IT_MODE") == "sleep" {
		for {
			if _, err := am.Allocate(ctx, 0.1); err != nil {
				return err
			}
			time.Sleep(time.Second)
		}
	}
	if err := am.AddRequest(yarn.ContainerRequest{Resource: yarn.Resource{MemoryMB: 128, VCores: 1}, Priority: 1}); err != nil {
		return err
	}
	nm, err := yarn.NewNMClient(yarn.NMOptions{Tokens: am.NMTokens()})
	if err != nil {
		return err
	}
	defer nm.Close()
	var started yarn.ContainerID
	for {
		res, err := am.Allocate(ctx, 0.5)
		if err != nil {
			return err
		}
		for _, c := range res.Allocated {
			r, err := nm.StartContainers(ctx, []yarn.StartRequest{{Container: c, Launch: yarn.ContainerLaunchContext{
				Commands: []string{"echo hello-from-worker 1><LOG_DIR>/stdout 2><LOG_DIR>/stderr; exit 7"},
			}}})
			if err != nil {
				return err
			}
			if err := r.Err(); err != nil {
				return err
			}
			started = c.ID
			fmt.Println("started", c.ID, "on", c.Node)
		}
		for _, s := range res.Completed {
			if s.ID == started {
				diag := fmt.Sprintf("worker %s exit status %d", s.ID, s.ExitStatus)
				return am.Finish(ctx, yarn.FinalSucceeded, diag, "")
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}
