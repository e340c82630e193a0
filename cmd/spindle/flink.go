package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/yarn"
)

// flinkCommand is what the Flink payload's containers run (hidden):
// `spindle flink jobmanager` in the AM container (the AM's JobManager
// child) and `spindle flink taskmanager` in each TaskManager container.
// It reads the container's environment (package am's SPINDLE_* variables,
// the NodeManager's) and has package flink write the process's Flink
// configuration and build its java command line.
//
// The JobManager execs java: java then is the AM's child, which the AM
// signals and whose exit code it sees (a restarted JobManager keeps its
// ports, so the TaskManagers reconnect by themselves). A TaskManager keeps
// java as its child instead and watches the JobManager's RPC address: when
// it stays unreachable, it asks the ResourceManager and the current AM
// where the JobManager is (the AM's DiscoveryPath) and, if the JobManager
// moved (a new AM attempt adopted this container and started its own),
// restarts java against it; Flink's standalone TaskManager never looks
// for a new address itself. It forwards SIGTERM and ends with java's exit
// status.
func flinkCommand(e *environment) *cli.Command {
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "log-dir", Usage: "the container's log directory (default: the first of $LOG_DIRS)"},
			&cli.BoolFlag{Name: "print", Usage: "print the prepared java command as JSON instead of running it"},
			&cli.DurationFlag{Name: "jobmanager-check", Value: 2 * time.Second, Usage: "TaskManager: how often to check that the JobManager answers"},
		}
	}
	return &cli.Command{
		Name:   "flink",
		Usage:  "run a Flink JobManager or TaskManager (inside a YARN container of a --payload flink cluster)",
		Hidden: true,
		Subcommands: []*cli.Command{
			{Name: string(flink.RoleJobManager), Usage: "run the JobManager (the AM starts it with $" + amapi.EnvJMRPCPort + " and $" + amapi.EnvJMRESTPort + ")",
				Flags: flags(), Action: func(c *cli.Context) error { return e.flinkLaunch(c, flink.RoleJobManager) }},
			{Name: string(flink.RoleTaskManager), Usage: "run a TaskManager (the AM launches it in its own container)",
				Flags: flags(), Action: func(c *cli.Context) error { return e.flinkLaunch(c, flink.RoleTaskManager) }},
		},
	}
}

// execJava replaces the process with java; tests replace it.
var execJava = syscall.Exec

// flinkEnvKeys are variables a Flink process may need even when the
// process environment (os.Environ) does not list them, e.g. in tests.
var flinkEnvKeys = []string{"PATH", "JAVA_HOME", "JVM_ARGS", "HADOOP_CONF_DIR", "HADOOP_CLASSPATH", "YARN_CONF_DIR", "HBASE_CONF_DIR",
	"HADOOP_HOME", "HBASE_HOME", "HADOOP_USER_NAME", "HADOOP_TOKEN_FILE_LOCATION", "CONTAINER_ID", "NM_HOST", "LOG_DIRS", "LOCAL_DIRS", "PWD",
	amapi.EnvAppID, amapi.EnvAttemptID, amapi.EnvMode, amapi.EnvAMURL, amapi.EnvJMHost, amapi.EnvJMRPCPort, amapi.EnvJMRESTPort, amapi.EnvJMAddress,
	amapi.EnvJMRESTAddress, amapi.EnvTaskManagers, amapi.EnvResourceID, amapi.EnvKerberosPrincipal, amapi.EnvKerberosKeytab, flink.EnvSpec}

// environList is the process environment as e sees it.
func (e *environment) environList() []string {
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		if v, ok := e.lookup(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		add(k)
	}
	for _, k := range flinkEnvKeys {
		add(k)
	}
	return out
}

func (e *environment) flinkLaunch(c *cli.Context, role flink.Role) error {
	get := func(k string) string { v, _ := e.lookup(k); return v }
	enc := get(flink.EnvSpec)
	if enc == "" {
		return usageError{fmt.Errorf("$%s is not set: `spindle flink %s` runs inside a container of a --payload flink cluster", flink.EnvSpec, role)}
	}
	spec, err := flink.DecodeSpec(enc)
	if err != nil {
		return usageError{err}
	}
	wd := get("PWD") // the NodeManager sets it to the container's working directory
	if wd == "" {
		if wd, err = os.Getwd(); err != nil {
			return err
		}
	}
	logDir := c.String("log-dir")
	if logDir == "" {
		logDir, _, _ = strings.Cut(get("LOG_DIRS"), ",")
	}
	if logDir == "" {
		logDir = wd
	}
	o := flink.LaunchOptions{Role: role, Spec: spec, WorkDir: wd, LogDir: logDir, AppID: get(amapi.EnvAppID), LocalDirs: get("LOCAL_DIRS"),
		Environ: e.environList()}
	if role == flink.RoleJobManager {
		if o.RPCPort, err = e.envInt(amapi.EnvJMRPCPort); err != nil {
			return err
		}
		if o.RESTPort, err = e.envInt(amapi.EnvJMRESTPort); err != nil {
			return err
		}
		o.Host = get(amapi.EnvJMHost)
		o.KerberosPrincipal, o.KerberosKeytab = get(amapi.EnvKerberosPrincipal), get(amapi.EnvKerberosKeytab)
	} else {
		o.JobManagerAddress, o.ResourceID, o.Host = get(amapi.EnvJMAddress), get(amapi.EnvResourceID), get("NM_HOST")
	}
	if role == flink.RoleTaskManager && !c.Bool("print") {
		return e.superviseTaskManager(c.Context, o, c.Duration("jobmanager-check"))
	}
	p, err := flink.Prepare(o)
	if err != nil {
		return err
	}
	if c.Bool("print") {
		// The environment's names only: its values may be secrets.
		keys := make([]string, len(p.Env))
		for i, kv := range p.Env {
			keys[i], _, _ = strings.Cut(kv, "=")
		}
		b, err := json.MarshalIndent(struct {
			Java     string   `json:"java"`
			Args     []string `json:"args"`
			EnvNames []string `json:"env_names"`
			Dir      string   `json:"dir"`
			ConfFile string   `json:"conf_file"`
		}{p.Java, p.Args, keys, p.Dir, p.ConfFile}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
		return nil
	}
	// Not the arguments: env.java.opts may carry secrets (Flink logs
	// them itself, in its own log).
	fmt.Fprintf(e.stderr, "spindle flink %s: starting %s %s with %s\n", role, p.Java, mainClass(p.Args), p.ConfFile)
	if err := execJava(p.Java, p.Args, p.Env); err != nil {
		return fmt.Errorf("starting %s: %w", p.Java, err)
	}
	return nil
}

// flinkLocator returns how a TaskManager finds its application's current
// JobManager (the example payload's locator: the RM's report names the
// current AM, whose DiscoveryPath names the JobManager) and how to close
// it; tests replace it.
var flinkLocator = func(e *environment, app yarn.ApplicationID) (func(context.Context) (string, error), func()) {
	l := &amapi.Locator{App: app, RM: e.rmClient}
	return l.Locate, l.Close
}

// javaExit is java's end as this process's: ExitCode is its exit code, or
// 128+signal.
type javaExit struct{ code int }

func (j javaExit) Error() string { return fmt.Sprintf("java exited with code %d", j.code) }

// ExitCode makes javaExit a cli.ExitCoder.
func (j javaExit) ExitCode() int { return j.code }

func javaExitOf(ps *os.ProcessState) error {
	if ps.Success() {
		return nil
	}
	code := ps.ExitCode()
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	return javaExit{code}
}

// javaStopGrace is how long a TaskManager's java gets after SIGTERM
// before SIGKILL (Flink's scripts allow 10 s; the NodeManager's own
// SIGKILL usually comes first).
const javaStopGrace = 10 * time.Second

// superviseTaskManager runs a TaskManager's java as a child until it
// ends or ctx ends (SIGTERM from the NodeManager), restarting it against
// the JobManager's new address when the JobManager moved.
func (e *environment) superviseTaskManager(ctx context.Context, o flink.LaunchOptions, every time.Duration) error {
	locate := func(context.Context) (string, error) {
		return "", errors.New("no application id ($" + amapi.EnvAppID + ")")
	}
	if app, err := yarn.ParseApplicationID(o.AppID); err == nil {
		var closeLocator func()
		locate, closeLocator = flinkLocator(e, app)
		defer closeLocator()
	}
	defer e.followCredentials(ctx)()
	for {
		p, err := flink.Prepare(o)
		if err != nil {
			return err
		}
		cmd := exec.Command(p.Java, p.Args[1:]...)
		cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = p.Env, p.Dir, e.stdout, e.stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", p.Java, err)
		}
		fmt.Fprintf(e.stderr, "spindle flink taskmanager: started %s %s (pid %d) for the JobManager at %s, with %s\n",
			p.Java, mainClass(p.Args), cmd.Process.Pid, o.JobManagerAddress, p.ConfFile)
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		moved := watchJobManager(ctx, o.JobManagerAddress, every, locate, exited)
		select {
		case <-exited:
			return javaExitOf(cmd.ProcessState)
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(javaStopGrace)
		select {
		case <-exited:
		case <-t.C:
			_ = cmd.Process.Kill()
			<-exited
		}
		t.Stop()
		if moved == "" { // ctx ended: the container is being stopped
			return javaExitOf(cmd.ProcessState)
		}
		fmt.Fprintf(e.stderr, "spindle flink taskmanager: the JobManager moved from %s to %s (a new AM attempt); restarting the TaskManager\n",
			o.JobManagerAddress, moved)
		o.JobManagerAddress = moved
	}
}

// watchJobManager returns when java exits (""), when ctx ends (""), or
// with the JobManager's new address once the current one has not
// answered three checks in a row and locate names another.
func watchJobManager(ctx context.Context, addr string, every time.Duration, locate func(context.Context) (string, error), exited <-chan struct{}) string {
	t := time.NewTicker(every)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-exited:
			return ""
		case <-ctx.Done():
			return ""
		case <-t.C:
		}
		d := net.Dialer{Timeout: max(every, time.Second)}
		if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			misses = 0
			continue
		}
		if misses++; misses < 3 {
			continue
		}
		if now, err := locate(ctx); err == nil && now != "" && now != addr {
			return now
		}
	}
}

// mainClass is the argument after -classpath's value.
func mainClass(args []string) string {
	for i, a := range args {
		if a == "-classpath" && i+2 < len(args) {
			return args[i+2]
		}
	}
	return "?"
}

// flinkYarnPropertiesFile is where Flink's client looks for the current
// YARN session (see flink.Payload.YarnProperties) for p, nil unless p is
// the Flink payload. The user is the OS user, as Java's user.name.
func flinkYarnPropertiesFile(p amapi.Payload, id yarn.ApplicationID) (string, []byte, error) {
	fp, ok := p.(*flink.Payload)
	if !ok {
		return "", nil, nil
	}
	u, err := user.Current()
	if err != nil {
		return "", nil, fmt.Errorf("the OS user (for Flink's .yarn-properties file): %w", err)
	}
	return fp.YarnProperties(id.String(), u.Username)
}

// writeFlinkYarnProperties records a Flink session where Flink's own
// client finds it, so that `flink run -t yarn-session` and `flink list`
// reach it as a yarn-session.sh session. It returns the file written, ""
// for other payloads. The file is readable by all, as Flink writes it; it
// holds only the application id.
func writeFlinkYarnProperties(p amapi.Payload, id yarn.ApplicationID) (string, error) {
	path, b, err := flinkYarnPropertiesFile(p, id)
	if err != nil || path == "" {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".yarn-properties-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

// removeFlinkYarnProperties removes the file writeFlinkYarnProperties
// wrote if it still names id (a later session may have replaced it), as
// yarn-session.sh does when its session stops.
func removeFlinkYarnProperties(p amapi.Payload, id yarn.ApplicationID) error {
	path, _, err := flinkYarnPropertiesFile(p, id)
	if err != nil || path == "" {
		return err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), "\napplicationID="+id.String()+"\n") {
		return nil
	}
	return os.Remove(path)
}
