package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// The tests of issue #18, one or more per item: a first user's rough
// edges. TestBadInputs (badinputs_test.go) holds the table of mistakes.

// writeSite writes a Hadoop XML file of props into dir.
func writeSite(t *testing.T, dir, name string, props ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("<configuration>\n")
	for i := 0; i+1 < len(props); i += 2 {
		fmt.Fprintf(&b, "<property><name>%s</name><value>%s</value></property>\n", props[i], props[i+1])
	}
	b.WriteString("</configuration>\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644))
}

// listingRM is a stub RM that lists one running application.
func listingRM(t *testing.T) *yarntest.RM {
	rm := yarntest.NewRM(t)
	rm.GetApplicationsF = func(context.Context, *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
		return &yarnpb.GetApplicationsResponseProto{Applications: []*yarnpb.ApplicationReportProto{rmReport(yarnpb.YarnApplicationStateProto_RUNNING)}}, nil
	}
	return rm
}

// Item 1: the configuration is found or the command stops (exit 2): a
// query needs yarn-site.xml only, found in HADOOP_CONF_DIR or
// YARN_CONF_DIR; staging needs core-site.xml; neither falls back to
// Hadoop's defaults.
func TestConfigurationRequired(t *testing.T) {
	rm := listingRM(t)
	yarnOnly := t.TempDir()
	writeSite(t, yarnOnly, "yarn-site.xml", "yarn.resourcemanager.address", rm.Addr())

	code, out, errOut := runCLI(t, map[string]string{"HADOOP_CONF_DIR": yarnOnly}, "app", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, appID, "a query needs no core-site.xml")

	env := map[string]string{"HADOOP_CONF_DIR": t.TempDir(), "YARN_CONF_DIR": yarnOnly}
	code, out, errOut = runCLI(t, env, "app", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, appID, "yarn-site.xml from YARN_CONF_DIR")

	empty := t.TempDir()
	code, _, errOut = runCLI(t, map[string]string{"HADOOP_CONF_DIR": empty}, "app", "list")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "no yarn-site.xml in "+empty+" ($HADOOP_CONF_DIR)")
	require.Contains(t, errOut, "0.0.0.0:8032", "says what the silent default would have been")
	require.Contains(t, errOut, "point HADOOP_CONF_DIR (or --conf-dir) at")

	code, _, errOut = runCLI(t, map[string]string{"HOME": t.TempDir(), "HADOOP_CONF_DIR": yarnOnly}, "gc")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "no core-site.xml in "+yarnOnly+" ($HADOOP_CONF_DIR)")
	require.Contains(t, errOut, "fs.defaultFS is file:///")

	code, _, errOut = runCLI(t, map[string]string{"HADOOP_CONF_DIR": "/nonexistent"}, "--conf-dir", filepath.Join(yarnOnly, "nope"), "app", "list")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--conf-dir="+filepath.Join(yarnOnly, "nope")+": no such directory", "--conf-dir wins and is named")
}

// Item 2: without a configured wait, a command gives up on an unreachable
// RM after --rm-timeout's 30 s; an explicit
// yarn.resourcemanager.connect.max-wait.ms is kept; --rm-timeout beats both.
func TestRMWaitBound(t *testing.T) {
	bound := func(t *testing.T, flag time.Duration, props ...string) yarn.RetryPolicy {
		dir := t.TempDir()
		writeSite(t, dir, "yarn-site.xml", append([]string{"yarn.resourcemanager.address", "127.0.0.1:1"}, props...)...)
		c, err := conf.Load(dir, conf.Options{})
		require.NoError(t, err)
		opts, err := yarn.RMOptionsFromConf(c)
		require.NoError(t, err)
		e := &environment{stderr: io.Discard, rmTimeout: flag, rmTimeoutSet: flag > 0}
		e.boundRM(c, &opts)
		require.NotNil(t, opts.Dial, "the progress line hooks the dialer")
		return opts.Retry
	}
	p := bound(t, 0)
	require.Equal(t, 30*time.Second, p.MaxWait, "Hadoop's default 15 minutes is not a person's wait")
	require.LessOrEqual(t, p.MaxDelay, 5*time.Second, "retries keep coming within the bound")
	require.Equal(t, 2*time.Minute, bound(t, 0, "yarn.resourcemanager.connect.max-wait.ms", "120000").MaxWait, "an explicit setting raises it")
	require.Equal(t, 5*time.Second, bound(t, 5*time.Second, "yarn.resourcemanager.connect.max-wait.ms", "120000").MaxWait, "--rm-timeout wins")
}

// Item 2, end to end: a dead RM (HA, two addresses) is given up on within
// --rm-timeout, with one progress line on stderr and no retry warnings,
// then exit 4 naming each address and its key; the up-front report of a
// submission says the same before anything is uploaded.
func TestUnreachableRMIsQuick(t *testing.T) {
	a, b := deadAddr(t), deadAddr(t)
	dir := t.TempDir()
	writeSite(t, dir, "yarn-site.xml", "yarn.resourcemanager.ha.enabled", "true", "yarn.resourcemanager.ha.rm-ids", "rm1,rm2",
		"yarn.resourcemanager.address.rm1", a, "yarn.resourcemanager.address.rm2", b)
	writeSite(t, dir, "core-site.xml", "fs.defaultFS", "file:///")
	env := map[string]string{"HADOOP_CONF_DIR": dir, "HOME": t.TempDir(), "HADOOP_USER_NAME": "alice"}

	start := time.Now()
	code, _, errOut := runCLI(t, env, "--rm-timeout", "1s", "app", "list")
	took := time.Since(start)
	require.Equal(t, exitUnreachable, code, errOut)
	require.Less(t, took, 10*time.Second, "bounded by --rm-timeout (1s) and the last backoff")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Len(t, lines, 2, "one progress line, one error: %s", errOut)
	require.Regexp(t, `^waiting for the ResourceManager at 127\.0\.0\.1:\d+ \(yarn\.resourcemanager\.address\.rm[12]\): connection refused \(giving up after 1s, --rm-timeout\)…$`, lines[0])
	require.Contains(t, lines[1], a+" (yarn.resourcemanager.address.rm1)")
	require.Contains(t, lines[1], b+" (yarn.resourcemanager.address.rm2)")
	require.Contains(t, lines[1], "--rm-timeout waits longer")
	require.NotContains(t, errOut, "WRN")

	code, _, errOut = runCLI(t, env, "--rm-timeout", "1s", "session", "status", appID)
	require.Equal(t, exitUnreachable, code, errOut)

	code, out, errOut := runCLI(t, env, "--rm-timeout", "1s", "session", "start", "-d", "-n", "1")
	require.Equal(t, exitUnreachable, code, errOut)
	require.Contains(t, errOut, "1 problem found before submitting, nothing was uploaded or submitted")
	require.Contains(t, errOut, "cannot reach the ResourceManager")
	require.Contains(t, errOut, a+" (yarn.resourcemanager.address.rm1)")
	require.Empty(t, out)
	_, err := os.Stat(filepath.Join(env["HOME"], ".spindle"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing staged")
}

// Item 2: an RM address that accepts connections and drops them (not a
// refused dial) also gets its one progress line, then exit 4.
func TestRMThatHangsUpIsQuick(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-accepted })
	dir := t.TempDir()
	writeSite(t, dir, "yarn-site.xml", "yarn.resourcemanager.address", l.Addr().String())
	code, _, errOut := runCLI(t, map[string]string{"HADOOP_CONF_DIR": dir}, "--rm-timeout", "1s", "app", "status", appID)
	require.Equal(t, exitUnreachable, code, errOut)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Len(t, lines, 2, errOut)
	require.True(t, strings.HasPrefix(lines[0], "waiting for the ResourceManager at "+l.Addr().String()+" (yarn.resourcemanager.address): "), lines[0])
	require.Contains(t, lines[1], l.Addr().String()+" (yarn.resourcemanager.address)")
}

// Item 2: an RM that accepts connections and never answers (a hung
// process, a half-dead host) is bounded too: each attempt by the call
// timeout, the whole by --rm-timeout; exit 4 naming the address.
func TestRMThatNeverAnswersIsQuick(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-accepted
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	dir := t.TempDir()
	writeSite(t, dir, "yarn-site.xml", "yarn.resourcemanager.address", l.Addr().String())
	code, _, errOut := runCLI(t, map[string]string{"HADOOP_CONF_DIR": dir}, "--rm-timeout", "1s", "app", "status", appID)
	require.Equal(t, exitUnreachable, code, errOut)
	require.Contains(t, errOut, l.Addr().String()+" (yarn.resourcemanager.address)")
	require.Contains(t, errOut, "no response to getApplicationReport within")
}

// Item 3: `spindle version` is `spindle --version`; spindle and a command
// group without a subcommand print their help and exit 0.
func TestVersionAndHelp(t *testing.T) {
	env := map[string]string{}
	code, v1, _ := runCLI(t, env, "version")
	require.Equal(t, 0, code)
	code, v2, _ := runCLI(t, env, "--version")
	require.Equal(t, 0, code)
	require.Equal(t, v2, v1)
	require.Equal(t, "spindle version "+Version+"\n", v1)
	code, out, _ := runCLI(t, env, "version", "-o", "json")
	require.Equal(t, 0, code)
	require.JSONEq(t, `{"version":"`+Version+`"}`, out)

	for _, args := range [][]string{nil, {"app"}, {"session"}, {"help", "app"}} {
		code, out, errOut := runCLI(t, env, args...)
		require.Equal(t, 0, code, "%v: %s", args, errOut)
		require.Contains(t, out, "USAGE:", "%v", args)
	}
}

// leafCommands are the commands that do something, by path.
func leafCommands(prefix string, cmds []*cli.Command) map[string]*cli.Command {
	out := map[string]*cli.Command{}
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		p := strings.TrimSpace(prefix + " " + c.Name)
		if len(c.Subcommands) == 0 {
			out[p] = c
		}
		for k, v := range leafCommands(p, c.Subcommands) {
			out[k] = v
		}
	}
	return out
}

// Item 4: every command that reports takes -o json, and prints JSON lines:
// one object per line, one per item of a list, none for an empty list
// (the text says it is empty).
func TestJSONEverywhere(t *testing.T) {
	// Commands that report nothing a program would parse: local up is a
	// server, completion prints a script, the example's processes run in
	// containers.
	exempt := map[string]bool{"local up": true, "metrics serve": true, "completion": true, "example jobmanager": true, "example taskmanager": true}
	app, _ := newApp(io.Discard, io.Discard, func(string) (string, bool) { return "", false })
	leaves := leafCommands("", app.Commands)
	require.Contains(t, leaves, "gc")
	require.Contains(t, leaves, "app kill")
	for path, c := range leaves {
		has := false
		for _, f := range c.Flags {
			has = has || f.Names()[0] == "output"
		}
		require.Equal(t, !exempt[path], has, "spindle %s: --output", path)
	}

	killed := false
	rm := yarntest.NewRM(t)
	var apps []*yarnpb.ApplicationReportProto
	rm.GetApplicationsF = func(context.Context, *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
		return &yarnpb.GetApplicationsResponseProto{Applications: apps}, nil
	}
	rm.GetApplicationReportF = func(_ context.Context, req *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		if req.GetApplicationId().GetId() != 2 {
			return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "Application doesn't exist in RM.")
		}
		state := yarnpb.YarnApplicationStateProto_RUNNING
		if killed {
			state = yarnpb.YarnApplicationStateProto_KILLED
		}
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: rmReport(state)}, nil
	}
	rm.ForceKillApplicationF = func(context.Context, *yarnpb.KillApplicationRequestProto) (*yarnpb.KillApplicationResponseProto, error) {
		killed = true
		return &yarnpb.KillApplicationResponseProto{IsKillCompleted: proto.Bool(true)}, nil
	}
	home := t.TempDir()
	env := map[string]string{"HADOOP_CONF_DIR": confDir(t, rm.Addr()), "HOME": home, "HADOOP_USER_NAME": "alice"}

	// Empty lists: said in text, nothing in JSON.
	for _, c := range []struct{ args, text string }{
		{"app list", "no active applications (--all lists ended ones too)\n"},
		{"app list --all", "no applications\n"},
		{"session list", "no running sessions (--all lists ended ones too)\n"},
	} {
		code, out, errOut := runCLI(t, env, strings.Fields(c.args)...)
		require.Equal(t, 0, code, errOut)
		require.Equal(t, c.text, out, c.args)
		code, out, errOut = runCLI(t, env, append(strings.Fields(c.args), "-o", "json")...)
		require.Equal(t, 0, code, errOut)
		require.Empty(t, out, c.args)
	}
	// Two items: two lines.
	two := rmReport(yarnpb.YarnApplicationStateProto_RUNNING)
	two.ApplicationId = &yarnpb.ApplicationIdProto{Id: proto.Int32(3), ClusterTimestamp: proto.Int64(1795317067845)}
	apps = []*yarnpb.ApplicationReportProto{rmReport(yarnpb.YarnApplicationStateProto_RUNNING), two}
	code, out, errOut := runCLI(t, env, "app", "list", "-o", "json")
	require.Equal(t, 0, code, errOut)
	evs := events(t, out)
	require.Len(t, evs, 2)
	require.Equal(t, "application_1795317067845_0003", evs[1]["app_id"])

	code, out, errOut = runCLI(t, env, "app", "kill", "-o", "json", appID)
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"app_id":"`+appID+`","killed":true,"state":"KILLED"}`, out)
	code, out, errOut = runCLI(t, env, "app", "kill", "-o", "json", appID)
	require.Equal(t, 0, code, errOut)
	require.JSONEq(t, `{"app_id":"`+appID+`","killed":false,"state":"KILLED"}`, out, "already ended")

	// gc: one line per directory, then the summary.
	staged := filepath.Join(home, ".spindle", appID)
	require.NoError(t, os.MkdirAll(staged, 0o700))
	for _, dry := range []bool{true, false} {
		args := []string{"gc", "-o", "json"}
		if dry {
			args = append(args, "--dry-run")
		}
		code, out, errOut = runCLI(t, env, args...)
		require.Equal(t, 0, code, errOut)
		evs = events(t, out)
		require.Len(t, evs, 2, out)
		require.Equal(t, map[string]any{"kind": "staging", "app_id": appID, "path": staged, "action": map[bool]string{true: "would_remove", false: "removed"}[dry],
			"reason": "KILLED", "dry_run": dry}, evs[0])
		require.Equal(t, "summary", evs[1]["kind"])
		require.Equal(t, dry, evs[1]["dry_run"])
		if dry {
			require.Equal(t, float64(1), evs[1]["would_remove"])
			require.DirExists(t, staged)
		} else {
			require.Equal(t, float64(1), evs[1]["removed"])
			require.NoDirExists(t, staged)
		}
	}
}

// Item 5: spindle completion bash|zsh|fish prints a script that drives
// urfave/cli's completion protocol; in bash (when installed) it completes
// a subcommand and a flag through the real binary.
func TestCompletion(t *testing.T) {
	for sh, want := range map[string]string{"bash": "complete -o bashdefault -o default -F _spindle_complete spindle",
		"zsh": "compdef _spindle spindle", "fish": "complete -r -c spindle -n '__fish_spindle_no_subcommand' -a 'session'"} {
		code, out, errOut := runCLI(t, map[string]string{}, "completion", sh)
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, want, sh)
		if sh != "fish" {
			require.Contains(t, out, "--generate-bash-completion", sh)
		}
	}
	// The protocol, through the binary: urfave/cli reads os.Args for it.
	bin := filepath.Join(t.TempDir(), "spindle")
	require.NoError(t, os.Symlink(spindleBinary(t), bin))
	b, err := exec.Command(bin, "app", "--generate-bash-completion").Output()
	require.NoError(t, err)
	require.Equal(t, []string{"list", "status", "kill"}, strings.Fields(string(b))[:3])

	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash: the script and the protocol were checked above, not the script in a shell")
	}
	complete := func(words ...string) string {
		script := fmt.Sprintf(`source <(spindle completion bash)
COMP_WORDS=(%s); COMP_CWORD=%d; _spindle_complete; echo "${COMPREPLY[*]}"`, strings.Join(words, " "), len(words)-1)
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
		return strings.TrimSpace(string(b))
	}
	require.Equal(t, "session", complete("spindle", "ses"))
	require.Equal(t, "list status kill", strings.Join(strings.Fields(complete("spindle", "app", `""`))[:3], " "))
	require.Equal(t, "--dry-run", complete("spindle", "gc", "--dr"))
}

var ansi = regexp.MustCompile("\x1b\\[")

// Item 8: logs are plain text unless stderr is a terminal.
func TestLogColoursOnlyOnATerminal(t *testing.T) {
	dir := confDir(t, deadAddr(t))
	env := map[string]string{"HADOOP_CONF_DIR": dir}
	args := []string{"--log-level", "warn", "app", "list"} // an explicit level shows the retry warnings

	code, _, errOut := runCLI(t, env, args...)
	require.Equal(t, exitUnreachable, code)
	require.Contains(t, errOut, "WRN")
	require.False(t, ansi.MatchString(errOut), "no colours in a buffer: %q", errOut)

	f, err := os.Create(filepath.Join(t.TempDir(), "spindle.log"))
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, exitUnreachable, run(testutil.Context(t, 20*time.Second), append([]string{"spindle"}, args...), io.Discard, f,
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	b, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Contains(t, string(b), "WRN")
	require.False(t, ansi.Match(b), "no colours in a log file: %q", b)

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var got bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&got, ptmx) // ends with EIO once tty is closed
		close(copied)
	}()
	code = run(testutil.Context(t, 20*time.Second), append([]string{"spindle"}, args...), io.Discard, tty,
		func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, tty.Close())
	<-copied
	require.Equal(t, exitUnreachable, code)
	require.True(t, ansi.Match(got.Bytes()), "colours on a terminal: %q", got.String())
}

// Item 12: a dry run says it is one instead of "0 removed"; no flag's
// help shows two defaults.
func TestGCDryRunWordingAndOneDefault(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: rmReport(yarnpb.YarnApplicationStateProto_FINISHED)}, nil
	}
	home := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".spindle", appID), 0o700))
	env := map[string]string{"HADOOP_CONF_DIR": confDir(t, rm.Addr()), "HOME": home, "HADOOP_USER_NAME": "alice"}
	code, out, errOut := runCLI(t, env, "gc", "--dry-run", "--cache")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "would remove "+filepath.Join(home, ".spindle", appID)+" (FINISHED)\n")
	require.Contains(t, out, "dry run, nothing removed: 1 would be removed, 0 kept for running applications\n")
	require.Contains(t, out, "cache: dry run, nothing removed: 0 would be removed, 0 kept\n")
	require.NotContains(t, out, "0 removed")
	require.DirExists(t, filepath.Join(home, ".spindle", appID))

	app, _ := newApp(io.Discard, io.Discard, func(string) (string, bool) { return "", false })
	paths := []string{""}
	for p := range leafCommands("", app.Commands) {
		paths = append(paths, p)
	}
	for _, p := range paths {
		code, out, _ := runCLI(t, map[string]string{}, append(strings.Fields(p), "--help")...)
		require.Equal(t, 0, code, p)
		require.Contains(t, out, "USAGE:", p)
		for _, line := range strings.Split(out, "\n") {
			require.LessOrEqual(t, strings.Count(line, "(default"), 1, "spindle %s --help: %q", p, line)
		}
	}
	code, out, _ = runCLI(t, map[string]string{}, "run", "--help")
	require.Equal(t, 0, code)
	require.Regexp(t, `--max-attempts value +AM attempts \(default: the cluster's yarn.resourcemanager.am.max-attempts\)\n`, out)
}

// Item 13: the README says what `make test` needs for full coverage —
// every package CI installs for it — and the Makefile sums up the
// Kerberos tests that skipped without them.
func TestMakeTestNeedsDocumented(t *testing.T) {
	ci, err := os.ReadFile("../../.ci/run")
	require.NoError(t, err)
	m := regexp.MustCompile(`apt-get install -y -qq ([^>]+)`).FindSubmatch(ci)
	require.NotNil(t, m, ".ci/run installs the test dependencies")
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, pkg := range strings.Fields(string(m[1])) {
		require.Contains(t, string(readme), pkg, "README names %s, which make test needs for full coverage", pkg)
	}
	mk, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	require.Contains(t, string(mk), "SPINDLE_KDC_SKIPS=$$skips")
	// Run the Makefile's summing-up on two skips of one cause.
	prog := regexp.MustCompile(`awk -F'\\t' '([^']+)' \$\$skips`).FindSubmatch(mk)
	require.NotNil(t, prog, "make test sums up the skips with awk")
	awk, err := exec.LookPath("awk")
	if err != nil {
		t.Skip("no awk")
	}
	skips := filepath.Join(t.TempDir(), "skips")
	require.NoError(t, os.WriteFile(skips, []byte("krb5kdc not installed (apt-get install krb5-kdc)\tTestA\nkrb5kdc not installed (apt-get install krb5-kdc)\tTestB\n"), 0o600))
	out, err := exec.Command(awk, "-F\t", strings.ReplaceAll(string(prog[1]), "$$", "$"), skips).Output()
	require.NoError(t, err)
	require.Equal(t, "2 Kerberos tests skipped: krb5kdc not installed (apt-get install krb5-kdc)\n", string(out))
}

// The README's exit code table and `spindle help` list the same codes.
func TestExitCodeTablesAgree(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var fromReadme, fromHelp []string
	for _, m := range regexp.MustCompile(`(?m)^\| (\d) \| `).FindAllStringSubmatch(string(readme), -1) {
		fromReadme = append(fromReadme, m[1])
	}
	for _, m := range regexp.MustCompile(`(?m)^   (\d)  `).FindAllStringSubmatch(exitCodesHelp, -1) {
		fromHelp = append(fromHelp, m[1])
	}
	require.Equal(t, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, fromHelp)
	require.Equal(t, fromHelp, fromReadme)
}

// Item 3: Ctrl-C during `spindle run` kills the application, removes its
// staging, says so in one line and exits 7 (not 1 with "context
// canceled"). The job waits for a fourth TaskManager that never fits, so
// it runs until interrupted.
func TestRunInterrupted(t *testing.T) {
	lc := newLocalCluster(t, 1)
	out, interrupt, done := lc.cliAsync("run", "-n", "4", "-jm", "256m", "-tm", "3g", "-o", "json", "wordcount", lc.words)
	waitFor(t, out, `"event":"running"`)
	id := events(t, strings.SplitN(out.String(), "\n", 2)[0])[0]["app_id"].(string)
	interrupt()
	require.Equal(t, exitKilled, exitOf(t, done), out.String())
	stdout, stderr, _ := strings.Cut(out.String(), "\nstderr: ")
	evs := events(t, stdout)
	require.Equal(t, "KILLED", evs[len(evs)-1]["state"])
	require.Equal(t, "spindle: interrupted: application "+id+" was killed and its staging removed\n", stderr)
	require.NotContains(t, stderr, "context canceled")
	require.Equal(t, "KILLED", lc.app(id)["state"])
	require.Empty(t, lc.stagedApps())
}
