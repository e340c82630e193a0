package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/internal/proc"
	"github.com/spindle-yarn/spindle/yarn"
)

// flinkCommand is what the Flink payload's containers run (hidden):
// `spindle flink jobmanager` in the AM container (the AM's JobManager
// child) and `spindle flink taskmanager` in each TaskManager container.
// It reads the container's environment (package amapi's SPINDLE_* variables,
// the NodeManager's) and has package flink write the process's Flink
// configuration and build its java command line.
//
// The JobManager execs java: java then is the AM's child, which the AM
// signals and whose exit code it sees (a restarted JobManager keeps its
// ports, so the TaskManagers reconnect by themselves). A TaskManager keeps
// java as its child instead (flink.SuperviseTaskManager) and restarts it
// when the JobManager moved (a new AM attempt adopted this container and
// started its own), which it learns from the ResourceManager and the
// current AM (amapi.Locator); it keeps the container's tokens fresh
// and holds the container's liveness connection to the AM
// (amapi.ContainerLinks), forwards SIGTERM and ends with
// java's exit status.
func flinkCommand(e *environment) *cli.Command {
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "log-dir", Usage: "the container's log directory (default: the first of $LOG_DIRS)"},
			&cli.BoolFlag{Name: "print", Usage: "print the prepared java command as JSON instead of running it"},
			&cli.DurationFlag{Name: "jobmanager-check", Value: time.Second, Usage: "TaskManager: how often to check that the JobManager answers"},
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

// execJava replaces the process with java, handing on the AM's
// parent-death signal (proc.Exec); tests replace it.
var execJava = proc.Exec

// flinkEnvKeys are variables a Flink process may need even when the
// process environment (os.Environ) does not list them, e.g. in tests.
var flinkEnvKeys = []string{"PATH", "JAVA_HOME", "JVM_ARGS", "HADOOP_CONF_DIR", "HADOOP_CLASSPATH", "YARN_CONF_DIR", "HBASE_CONF_DIR",
	"HADOOP_HOME", "HBASE_HOME", "HADOOP_USER_NAME", "HADOOP_TOKEN_FILE_LOCATION", "CONTAINER_ID", "NM_HOST", "LOG_DIRS", "LOCAL_DIRS", "PWD",
	amapi.EnvAppID, amapi.EnvAttemptID, amapi.EnvMode, amapi.EnvAMURL, amapi.EnvJMHost, amapi.EnvJMRPCPort, amapi.EnvJMRESTPort, amapi.EnvJMAddress,
	amapi.EnvJMRESTAddress, amapi.EnvJMMetricsPort, amapi.EnvTaskManagers, amapi.EnvResourceID, amapi.EnvKerberosPrincipal, amapi.EnvKerberosKeytab}

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
	wd := get("PWD") // the NodeManager sets it to the container's working directory
	var err error
	if wd == "" {
		if wd, err = os.Getwd(); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(filepath.Join(wd, flink.SpecFile))
	if errors.Is(err, os.ErrNotExist) {
		return usageError{fmt.Errorf("no %s in the working directory: `spindle flink %s` runs inside a container of a --payload flink cluster", flink.SpecFile, role)}
	}
	if err != nil {
		return err
	}
	spec, err := flink.DecodeSpec(b)
	if err != nil {
		return usageError{err}
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
		if _, ok := e.lookup(amapi.EnvJMMetricsPort); ok && spec.PrometheusReporter {
			if o.MetricsPort, err = e.envInt(amapi.EnvJMMetricsPort); err != nil {
				return err
			}
		}
	} else {
		o.JobManagerAddress, o.ResourceID, o.Host = get(amapi.EnvJMAddress), get(amapi.EnvResourceID), get("NM_HOST")
	}
	if role == flink.RoleTaskManager && !c.Bool("print") {
		// The TaskManager's Prometheus port, chosen once for the life of
		// the container (java keeps it across restarts), reaches every
		// AM attempt on the liveness connection.
		lookup := e.lookup
		if spec.PrometheusReporter {
			if o.MetricsPort, err = flink.ChooseMetricsPort(); err != nil {
				e.log.Warn().Err(err).Msg("the TaskManager runs without its Prometheus endpoint")
			} else {
				port := strconv.Itoa(o.MetricsPort)
				lookup = func(k string) (string, bool) {
					if k == amapi.EnvMetricsPort {
						return port, true
					}
					return e.lookup(k)
				}
			}
		}
		so := flink.SuperviseOptions{Launch: o, Every: c.Duration("jobmanager-check"), Stdout: e.stdout, Stderr: e.stderr}
		l, err := e.jobManagerLocator(o.AppID)
		if err == nil && l != nil {
			defer l.Close()
			so.Locate = l.Locate
		}
		// The liveness connection is this launcher's: it ends when java
		// does (or is restarted for a moved JobManager, staying open), so
		// its close tells the AM of the TaskManager's death at once.
		defer amapi.ContainerLinks(c.Context, lookup, l.AMLocator(), e.log)()
		return flink.SuperviseTaskManager(c.Context, so)
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
		return writeJSON(e.stdout, struct {
			Java     string   `json:"java"`
			Args     []string `json:"args"`
			EnvNames []string `json:"env_names"`
			Dir      string   `json:"dir"`
			ConfFile string   `json:"conf_file"`
		}{p.Java, p.Args, keys, p.Dir, p.ConfFile}, true)
	}
	// Not the arguments: env.java.opts may carry secrets (Flink logs
	// them itself, in its own log).
	fmt.Fprintf(e.stderr, "spindle flink %s: starting %s %s with %s\n", role, p.Java, p.MainClass(), p.ConfFile)
	if err := execJava(p.Java, p.Args, p.Env); err != nil {
		return fmt.Errorf("starting %s: %w", p.Java, err)
	}
	return nil
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
	return removeIfNames(path, id)
}
