package minicluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/proc"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// Containers follow the NodeManager contract of Hadoop 3.3 with the
// DefaultContainerExecutor, as the distshell-run fixtures show it:
//
//	<local-dir>/usercache/<user>/appcache/<app>/<container>/   $PWD
//	    launch_container.sh   generated, run by bash in its own process group
//	    container_tokens      the CLC's credentials, HDTS format 0
//	    tmp/
//	    <key> -> <local-dir>/.../filecache/<n>/<name>   one symlink per local resource
//	<log-dir>/<app>/<container>/                          <LOG_DIR>, $LOG_DIRS
//	    prelaunch.out, prelaunch.err, launch_container.sh, directory.info,
//	    and whatever the command redirects there (stdout, stderr)
//
// Stopping a container sends SIGTERM to its process group and SIGKILL
// after SigkillDelay. Exit codes and diagnostics are reported worded as
// ContainerLaunch and ContainerImpl word them.

type containerState int

const (
	cLocalizing containerState = iota
	cRunning
	cKilling
	cDone
)

type container struct {
	n        *NodeManager
	id       yarn.ContainerID
	user     string
	resource yarn.Resource
	clc      *yarnpb.ContainerLaunchContextProto
	workDir  string
	logDir   string
	done     chan struct{}
	am       bool     // the application master's container (ContainerType APPLICATION_MASTER)
	sim      chan int // simulated (nm_sim.go): receives the exit code that ends it early; nil runs a process

	mu         sync.Mutex
	state      containerState
	cmd        *exec.Cmd
	killed     bool // stop requested by the AM, the RM or the node
	exitStatus int32
	diag       strings.Builder
}

func (c *container) isDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == cDone
}

// addDiag is ContainerImpl.addDiagnostics: each entry stamped with the
// local time and ended with a newline.
func (c *container) addDiagLocked(s string) {
	fmt.Fprintf(&c.diag, "[%s]%s\n", time.Now().Format("2006-01-02 15:04:05.000"), s)
}

func (c *container) status() *yarnpb.ContainerStatusProto {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &yarnpb.ContainerStatusProto{ContainerId: yarn.ContainerIDToProto(c.id), Diagnostics: proto.String(c.diag.String()),
		ExitStatus: proto.Int32(c.exitStatus), Capability: yarn.ResourceToProto(c.resource), ExecutionType: yarnpb.ExecutionTypeProto_GUARANTEED.Enum()}
	switch c.state {
	case cDone:
		st.State, st.ContainerSubState = yarnpb.ContainerStateProto_C_COMPLETE.Enum(), yarnpb.ContainerSubStateProto_CSS_DONE.Enum()
	case cRunning:
		st.State, st.ContainerSubState = yarnpb.ContainerStateProto_C_RUNNING.Enum(), yarnpb.ContainerSubStateProto_CSS_RUNNING.Enum()
	case cKilling:
		st.State, st.ContainerSubState = yarnpb.ContainerStateProto_C_RUNNING.Enum(), yarnpb.ContainerSubStateProto_CSS_COMPLETING.Enum()
	default:
		st.State, st.ContainerSubState = yarnpb.ContainerStateProto_C_NEW.Enum(), yarnpb.ContainerSubStateProto_CSS_SCHEDULED.Enum()
	}
	return st
}

// killContainer is ContainerKillEvent: record why, then SIGTERM the
// process group and SIGKILL it after the delay. A container still
// localizing never starts.
func (n *NodeManager) killContainer(c *container, exit int32, diag string) {
	c.mu.Lock()
	if c.state == cDone || c.killed {
		c.mu.Unlock()
		return
	}
	c.killed = true
	c.exitStatus = exit
	c.addDiagLocked(diag)
	if c.sim != nil {
		c.killSimulatedLocked(143) // the launch's SIGTERM ends the command
		c.mu.Unlock()
		return
	}
	if c.state != cRunning || c.cmd == nil || c.cmd.Process == nil {
		c.mu.Unlock()
		return
	}
	c.state = cKilling
	p := c.cmd.Process
	c.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		proc.Stop(p, true, n.opts.SigkillDelay, c.done)
	}()
}

// run localizes, writes the launch files and runs the container to its end.
func (c *container) run() {
	n := c.n
	defer n.wg.Done()
	defer close(c.done)
	defer n.containerDone(c)
	err := c.prepare()
	c.mu.Lock()
	if err != nil || c.killed {
		if err != nil {
			c.addDiagLocked(err.Error())
		}
		c.state = cDone // exit status stays INVALID (-1000) or the kill's
		c.mu.Unlock()
		return
	}
	cmd := exec.Command("/bin/bash", filepath.Join(c.workDir, "launch_container.sh"))
	cmd.Dir = c.workDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if p, ok := n.envValue("PATH"); ok {
		cmd.Env = []string{"PATH=" + p}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.addDiagLocked(fmt.Sprintf("Exception from container-launch.\nContainer id: %s\nExit code: %d\nException message: %v\n", c.id, 127, err))
		c.exitStatus = 127
		c.state = cDone
		c.mu.Unlock()
		return
	}
	c.cmd = cmd
	c.state = cRunning
	c.mu.Unlock()
	n.lg.Debug().Stringer("container_id", c.id).Int("pid", cmd.Process.Pid).Msg("container launched")

	werr := cmd.Wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as bash reports a signalled child
		} else {
			code = ee.ExitCode()
		}
	}
	// Make sure nothing of the container survives its leader.
	proc.KillGroup(cmd.Process.Pid)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exitedLocked(code)
}

// exitedLocked records the end of the container's command with exit code
// code (128+signal for a signalled one), worded as ContainerLaunch and
// ContainerImpl word it.
func (c *container) exitedLocked(code int) {
	n := c.n
	c.state = cDone
	switch {
	case c.killed:
		// ContainerLaunch: a killed container's exit code is reported as
		// a kill on request; the exit status stays the kill's.
		if code != 0 {
			c.addDiagLocked(fmt.Sprintf("Container killed on request. Exit code is %d", code))
			c.addDiagLocked(fmt.Sprintf("Container exited with a non-zero exit code %d. ", code))
		}
	case code == 0:
		c.exitStatus = 0
	case code == 137 || code == 143:
		c.exitStatus = int32(code)
		c.addDiagLocked(fmt.Sprintf("Container killed on request. Exit code is %d", code))
		c.addDiagLocked(fmt.Sprintf("Container exited with a non-zero exit code %d. ", code))
		c.addDiagLocked("Killed by external signal")
	default:
		c.exitStatus = int32(code)
		c.addDiagLocked(fmt.Sprintf("Exception from container-launch.\nContainer id: %s\nExit code: %d\n", c.id, code))
		failure := fmt.Sprintf("Container exited with a non-zero exit code %d. Error file: prelaunch.err.\nLast 4096 bytes of prelaunch.err :\n%sLast 4096 bytes of stderr :\n%s\n",
			code, tail(filepath.Join(c.logDir, "prelaunch.err"), 4096), tail(filepath.Join(c.logDir, "stderr"), 4096))
		// ContainerLaunch adds it, and the exit event adds it again.
		c.addDiagLocked(failure)
		c.addDiagLocked(failure)
	}
	n.lg.Debug().Stringer("container_id", c.id).Int32("exit_status", c.exitStatus).Msg("container finished")
}

func tail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	if st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return ""
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	return string(b)
}

// prepare localizes the resources and writes container_tokens and
// launch_container.sh.
func (c *container) prepare() error {
	n := c.n
	if err := os.MkdirAll(c.logDir, 0o710); err != nil {
		return err
	}
	links, counters, err := n.localize(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.workDir, "tmp"), 0o710); err != nil {
		return err
	}
	creds := &ipc.Credentials{}
	if c.clc.Tokens != nil {
		if creds, err = ipc.ParseCredentials(c.clc.GetTokens()); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(c.workDir, "container_tokens"), creds.Marshal(), 0o644); err != nil {
		return err
	}
	script := n.launchScript(c, links, counters)
	return os.WriteFile(filepath.Join(c.workDir, "launch_container.sh"), []byte(script), 0o700)
}

var varRef = regexp.MustCompile(`\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}`)

// expand replaces the NodeManager's markers (ContainerLaunch.expandEnvironment):
// <LOG_DIR>, <CPS> and {{VAR}}.
func expand(s, logDir string) string {
	s = strings.ReplaceAll(s, "<LOG_DIR>", logDir)
	s = strings.ReplaceAll(s, "<CPS>", ":")
	return varRef.ReplaceAllString(s, "$$$1")
}

// link is one local resource symlink: key in $PWD → localized path.
type link struct{ key, target string }

// launchScript writes launch_container.sh as ContainerLaunch and
// UnixShellScriptBuilder write it.
func (n *NodeManager) launchScript(c *container, links []link, counters string) string {
	var b strings.Builder
	q := func(s string) string { return strconv.Quote(s)[1 : len(strconv.Quote(s))-1] }
	logf := func(name string) string { return filepath.Join(c.logDir, name) }
	b.WriteString("#!/bin/bash\n\nset -o pipefail -e\n")
	fmt.Fprintf(&b, "export PRELAUNCH_OUT=\"%s\"\nexec >\"${PRELAUNCH_OUT}\"\n", logf("prelaunch.out"))
	fmt.Fprintf(&b, "export PRELAUNCH_ERR=\"%s\"\nexec 2>\"${PRELAUNCH_ERR}\"\n", logf("prelaunch.err"))
	b.WriteString("echo \"Setting up env variables\"\n")
	user := map[string]string{}
	var userOrder []string
	for _, e := range c.clc.GetEnvironment() {
		if _, dup := user[e.GetKey()]; !dup {
			userOrder = append(userOrder, e.GetKey())
		}
		user[e.GetKey()] = e.GetValue()
	}
	// Whitelisted variables of the NodeManager's environment, unless the
	// container sets them.
	for _, k := range n.opts.EnvWhitelist {
		if _, set := user[k]; set {
			continue
		}
		if v, ok := n.envValue(k); ok {
			fmt.Fprintf(&b, "export %s=${%s:-\"%s\"}\n", k, k, q(v))
		}
	}
	appDir := filepath.Join(n.localDir, "usercache", c.user, "appcache", c.id.Attempt.App.String())
	nmEnv := [][2]string{
		{"HADOOP_TOKEN_FILE_LOCATION", filepath.Join(c.workDir, "container_tokens")},
		{"CONTAINER_ID", c.id.String()},
		{"NM_PORT", strconv.Itoa(int(n.id.Port))},
		{"NM_HOST", n.id.Host},
		{"NM_HTTP_PORT", strconv.Itoa(n.opts.HTTPPort)},
		{"LOCAL_DIRS", appDir},
		{"LOCAL_USER_DIRS", filepath.Join(n.localDir, "usercache", c.user) + "/"},
		{"LOG_DIRS", c.logDir},
		{"USER", c.user},
		{"LOGNAME", c.user},
		{"HOME", n.opts.UserHomeDir},
		{"PWD", c.workDir},
		{"LOCALIZATION_COUNTERS", counters},
	}
	for _, kv := range nmEnv {
		fmt.Fprintf(&b, "export %s=\"%s\"\n", kv[0], q(kv[1]))
	}
	b.WriteString("export JVM_PID=\"$$\"\n")
	for _, k := range userOrder {
		switch k {
		case "HADOOP_TOKEN_FILE_LOCATION", "CONTAINER_ID", "NM_PORT", "NM_HOST", "NM_HTTP_PORT", "LOCAL_DIRS", "LOCAL_USER_DIRS",
			"LOG_DIRS", "USER", "LOGNAME", "HOME", "PWD", "JVM_PID":
			continue // the NodeManager's values win (sanitizeEnv)
		}
		fmt.Fprintf(&b, "export %s=\"%s\"\n", k, expand(user[k], c.logDir))
	}
	if _, set := user["MALLOC_ARENA_MAX"]; !set {
		if v, ok := n.envValue("MALLOC_ARENA_MAX"); ok {
			fmt.Fprintf(&b, "export MALLOC_ARENA_MAX=\"%s\"\n", q(v))
		}
	}
	b.WriteString("echo \"Setting up job resources\"\n")
	for _, l := range links {
		if d := filepath.Dir(l.key); d != "." {
			fmt.Fprintf(&b, "mkdir -p %s\n", strconv.Quote(d))
		}
		fmt.Fprintf(&b, "ln -sf -- \"%s\" \"%s\"\n", q(l.target), q(l.key))
	}
	b.WriteString("echo \"Copying debugging information\"\n# Creating copy of launch script\n")
	fmt.Fprintf(&b, "cp \"launch_container.sh\" \"%s\"\nchmod 640 \"%s\"\n", logf("launch_container.sh"), logf("launch_container.sh"))
	info := logf("directory.info")
	fmt.Fprintf(&b, "# Determining directory contents\necho \"ls -l:\" 1>\"%s\"\nls -l 1>>\"%s\"\n", info, info)
	fmt.Fprintf(&b, "echo \"find -L . -maxdepth 5 -ls:\" 1>>\"%s\"\nfind -L . -maxdepth 5 -ls 1>>\"%s\"\n", info, info)
	fmt.Fprintf(&b, "echo \"broken symlinks(find -L . -maxdepth 5 -type l -ls):\" 1>>\"%s\"\nfind -L . -maxdepth 5 -type l -ls 1>>\"%s\"\n", info, info)
	b.WriteString("echo \"Launching container\"\n")
	cmds := make([]string, len(c.clc.GetCommand()))
	for i, s := range c.clc.GetCommand() {
		cmds[i] = expand(s, c.logDir)
	}
	// Emitted verbatim, without escaping, as the real NodeManager does.
	fmt.Fprintf(&b, "exec /bin/bash -c \"%s\"\n", strings.Join(cmds, " "))
	return b.String()
}
