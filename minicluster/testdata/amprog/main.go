// Command amprog is the ApplicationMaster of the mini cluster's end-to-end
// tests: a small Go program that uses Spindle's YARN clients the way a real
// AM does. It reads its AMRMToken from $HADOOP_TOKEN_FILE_LOCATION,
// registers, asks for containers, starts them on their NodeManagers with
// the NMTokens the RM sent, waits for them to complete and unregisters.
//
// It is configured through its environment (the test sets it in the AM's
// launch context):
//
//	TESTAM_SCHEDULER  scheduler address (host:port)
//	TESTAM_NODES      comma-separated hosts: one container strictly on each
//	TESTAM_COUNT      containers to ask for anywhere (when TESTAM_NODES is unset)
//	TESTAM_MEMORY     container memory in MB
//	TESTAM_COMMAND    the workers' command, with [[VAR]] for {{VAR}} and
//	                  %LOG_DIR% for <LOG_DIR> (the NodeManager would
//	                  expand those markers in the AM's own environment)
//	TESTAM_RESOURCE   key|path|size|mtime of a file:// resource for the workers
//	TESTAM_EVENTS     file to append one JSON line per event to
//
// It exits 0 after unregistering, non-zero if anything went wrong.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

type event struct {
	Event     string `json:"event"`
	Container string `json:"container,omitempty"`
	Node      string `json:"node,omitempty"`
	Exit      int32  `json:"exit,omitempty"`
	Diag      string `json:"diag,omitempty"`
	Status    string `json:"status,omitempty"`
}

var events *os.File

func emit(e event) {
	if events == nil {
		return
	}
	b, _ := json.Marshal(e)
	_, _ = events.Write(append(b, '\n'))
}

func main() {
	if p := os.Getenv("TESTAM_EVENTS"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		events = f
		defer f.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		emit(event{Event: "error", Diag: err.Error()})
		fmt.Fprintln(os.Stderr, "amprog:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
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
	amrm, err := yarn.NewAMRMClient(yarn.AMRMOptions{Scheduler: []yarn.Endpoint{{Addr: os.Getenv("TESTAM_SCHEDULER")}}, Token: tok,
		FinishInterval: 20 * time.Millisecond})
	if err != nil {
		return err
	}
	defer amrm.Close()
	nmc, err := yarn.NewNMClient(yarn.NMOptions{Tokens: amrm.NMTokens()})
	if err != nil {
		return err
	}
	defer nmc.Close()
	host, _ := os.Hostname()
	if _, err := amrm.Register(ctx, host, -1, ""); err != nil {
		return err
	}
	emit(event{Event: "registered"})

	mem, _ := strconv.ParseInt(os.Getenv("TESTAM_MEMORY"), 10, 64)
	if mem == 0 {
		mem = 128
	}
	res := yarn.Resource{MemoryMB: mem, VCores: 1}
	want := 0
	if nodes := os.Getenv("TESTAM_NODES"); nodes != "" {
		for _, h := range strings.Split(nodes, ",") {
			if err := amrm.AddRequest(yarn.ContainerRequest{Resource: res, Nodes: []string{h}}); err != nil {
				return err
			}
			want++
		}
	} else {
		want, _ = strconv.Atoi(os.Getenv("TESTAM_COUNT"))
		for i := 0; i < want; i++ {
			if err := amrm.AddRequest(yarn.ContainerRequest{Resource: res}); err != nil {
				return err
			}
		}
	}
	cmd := strings.NewReplacer("[[", "{{", "]]", "}}", "%LOG_DIR%", "<LOG_DIR>").Replace(os.Getenv("TESTAM_COMMAND"))
	launch := yarn.ContainerLaunchContext{Commands: []string{cmd}, Environment: map[string]string{"TESTAM_WORKER": "1"}}
	if r := os.Getenv("TESTAM_RESOURCE"); r != "" {
		p := strings.Split(r, "|")
		size, _ := strconv.ParseInt(p[2], 10, 64)
		mtime, _ := strconv.ParseInt(p[3], 10, 64)
		launch.LocalResources = map[string]yarn.LocalResource{p[0]: {URL: yarn.URL{Scheme: "file", File: p[1], Port: -1}, Size: size,
			Timestamp: mtime, Type: yarn.File, Visibility: yarn.Application}}
	}

	done, failed := 0, 0
	var diags []string
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for done < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d containers (%d done): %w", want, done, ctx.Err())
		case <-t.C:
		}
		r, err := amrm.Allocate(ctx, float32(done)/float32(want))
		if err != nil {
			return err
		}
		var starts []yarn.StartRequest
		for _, c := range r.Allocated {
			emit(event{Event: "allocated", Container: c.ID.String(), Node: c.Node.String()})
			starts = append(starts, yarn.StartRequest{Container: c, Launch: launch})
		}
		if len(starts) > 0 {
			res, err := nmc.StartContainers(ctx, starts)
			if err != nil {
				return err
			}
			if err := res.Err(); err != nil {
				return err
			}
			for _, id := range res.Succeeded {
				emit(event{Event: "started", Container: id.String()})
			}
		}
		for _, st := range r.Completed {
			done++
			if st.ExitStatus != 0 {
				failed++
				diags = append(diags, st.Diagnostics)
			}
			emit(event{Event: "completed", Container: st.ID.String(), Exit: st.ExitStatus, Diag: st.Diagnostics})
		}
	}
	status, diag := yarn.FinalSucceeded, ""
	if failed > 0 {
		status = yarn.FinalFailed
		diag = fmt.Sprintf("Application Failure: desired = %d, completed = %d, allocated = %d, failed = %d, diagnostics = %s",
			want, done, want, failed, strings.Join(diags, ""))
	}
	if err := amrm.Finish(ctx, status, diag, ""); err != nil {
		return err
	}
	emit(event{Event: "finished", Status: status.String()})
	return nil
}
