package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// badInputsEnvVar names a file TestBadInputs writes its table to, as
// markdown: SPINDLE_BAD_INPUTS_MD=/tmp/bad.md go test -run TestBadInputs ./cmd/spindle
const badInputsEnvVar = "SPINDLE_BAD_INPUTS_MD"

// TestBadInputs is the table of issue #18: mistakes a user makes, each
// answered with a message naming the mistake and the fix, and a
// documented exit code (2 for every mistake in how spindle was called or
// configured). None of them reaches a ResourceManager it should not.
func TestBadInputs(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "Application with id 'application_1795317067845_0099' doesn't exist in RM.")
	}
	live := confDir(t, rm.Addr())
	dead := deadAddr(t)
	deadConf := confDir(t, dead)
	noCore := confDir(t, dead)
	require.NoError(t, os.Remove(filepath.Join(noCore, "core-site.xml")))
	empty := t.TempDir()
	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, "yarn-site.xml"), []byte("<configuration><property><name>x</name>"), 0o644))
	notDir := filepath.Join(t.TempDir(), "conf.xml")
	require.NoError(t, os.WriteFile(notDir, nil, 0o644))
	home := t.TempDir()

	// The markdown names the directories by role, not by temporary path.
	names := strings.NewReplacer(noCore, "/conf-without-core-site", empty, "/empty-dir", broken, "/conf-broken", notDir, "/a-file.xml",
		deadConf, "/conf", live, "/conf", home, "~", dead, "127.0.0.1:PORT")
	env := func(conf string) map[string]string {
		return map[string]string{"HADOOP_CONF_DIR": conf, "HOME": home, "HADOOP_USER_NAME": "alice"}
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		msg  string
	}{
		// item 3: commands and flags
		{[]string{"foo"}, env(deadConf), exitUsage, `unknown command "foo" for "spindle": the commands are session, run, app, metrics, logs, gc`},
		{[]string{"sesion", "start"}, env(deadConf), exitUsage, `unknown command "sesion" for "spindle": did you mean "session"`},
		{[]string{"app", "lst"}, env(deadConf), exitUsage, `unknown command "lst" for "spindle app": did you mean "list"`},
		{[]string{"session", "strat", "-d"}, env(deadConf), exitUsage, `did you mean "start"`},
		{[]string{"help", "foo"}, env(deadConf), exitUsage, `unknown command "foo"`},
		{[]string{"app", "list", "--al"}, env(deadConf), exitUsage, "did you mean --all?"},
		{[]string{"session", "start", "--taskmanager", "2"}, env(deadConf), exitUsage, "did you mean --taskmanagers?"},
		{[]string{"app", "list", "--conf-dir", deadConf}, env(deadConf), exitUsage, "--conf-dir is a global flag: put it before the command"},
		{[]string{"-o", "json", "app", "list"}, env(deadConf), exitUsage, "-o is not a global flag: put it after the command, e.g. spindle app list -o …"},
		{[]string{"local", "up"}, env(deadConf), exitUsage, "--dir is required"},
		{[]string{"version", "now"}, env(deadConf), exitUsage, "version takes no arguments"},
		{[]string{"completion", "powershell"}, env(deadConf), exitUsage, `completion "powershell": want bash, zsh or fish`},
		{[]string{"--log-level", "loud", "app", "list"}, env(deadConf), exitUsage, "want debug, info, warn or error"},
		{[]string{"--rm-timeout", "0s", "app", "list"}, env(deadConf), exitUsage, "--rm-timeout 0s: want a positive duration"},
		// item 1: configuration
		{[]string{"app", "list"}, map[string]string{}, exitUsage, "no Hadoop configuration: point HADOOP_CONF_DIR (or --conf-dir) at"},
		{[]string{"app", "list"}, env("/nonexistent/hadoop/conf"), exitUsage, "$HADOOP_CONF_DIR=/nonexistent/hadoop/conf: no such directory"},
		{[]string{"--conf-dir", notDir, "app", "list"}, env(deadConf), exitUsage, "--conf-dir=" + notDir + ": not a directory"},
		{[]string{"app", "list"}, env(empty), exitUsage, "no yarn-site.xml in " + empty + " ($HADOOP_CONF_DIR): without it the ResourceManager would be Hadoop's default 0.0.0.0:8032"},
		{[]string{"app", "list"}, env(broken), exitUsage, filepath.Join(broken, "yarn-site.xml")},
		{[]string{"gc"}, env(noCore), exitUsage, "no core-site.xml in " + noCore + " ($HADOOP_CONF_DIR): without it fs.defaultFS is file:///"},
		{[]string{"session", "start", "-d"}, env(noCore), exitUsage, "no core-site.xml in " + noCore},
		// arguments and values
		{[]string{"app", "status", "job_1_2"}, env(deadConf), exitUsage, "malformed id"},
		{[]string{"app", "kill"}, env(deadConf), exitUsage, "app kill: want exactly one APP_ID"},
		{[]string{"app", "status", appID, "-o", "json"}, env(deadConf), exitUsage, "flags go before APP_ID"},
		{[]string{"app", "list", "-o", "yaml"}, env(deadConf), exitUsage, `--output "yaml": want text or json`},
		{[]string{"gc", "--min-age", "-1h"}, env(deadConf), exitUsage, "--min-age -1h0m0s: want a duration of 0 or more"},
		{[]string{"gc", "--older-than", "soon"}, env(deadConf), exitUsage, `invalid value "soon" for flag -older-than: parse error: want a duration such as 90s, 30m or 2h`},
		{[]string{"session", "start", "-d", "-n", "two"}, env(deadConf), exitUsage, "want a whole number"},
		{[]string{"gc", "old"}, env(deadConf), exitUsage, "gc takes no arguments"},
		{[]string{"logs", "--container", "c1", "application_1795317067845_0099"}, env(deadConf), exitUsage, `logs: --container: yarn: malformed id "c1": want container_`},
		{[]string{"session", "status"}, env(deadConf), exitUsage, "pass an APP_ID or start one with `spindle session start`"},
		{[]string{"session", "start", "now"}, env(deadConf), exitUsage, "session start takes no arguments"},
		{[]string{"run"}, env(deadConf), exitUsage, "run: no job"},
		{[]string{"session", "start", "-d", "--payload", "spark"}, env(deadConf), exitUsage, `--payload "spark": want example or flink`},
		{[]string{"session", "start", "-d", "-tm", "lots"}, env(deadConf), exitUsage, "--taskmanager-memory"},
		{[]string{"session", "start", "-d", "-jm", "1,5g"}, env(deadConf), exitUsage, "--jobmanager-memory"},
		{[]string{"session", "start", "-d", "--ship-keytab"}, env(deadConf), exitUsage, "--ship-keytab needs --keytab and --principal"},
		// the cluster's answers
		{[]string{"app", "status", "application_1795317067845_0099"}, env(live), exitNotFound, "doesn't exist in RM"},
		{[]string{"app", "list"}, env(deadConf), exitUnreachable, "no answer from " + dead + " (yarn.resourcemanager.address)"},
		{[]string{"session", "start", "-d"}, env(deadConf), exitUnreachable, "cannot reach the ResourceManager"},
	} {
		name := strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.env, tc.args...)
			require.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", out, errOut)
			require.Contains(t, errOut, tc.msg)
			require.NotContains(t, out, "NAME:", "a mistake is not answered with the help")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			msg := lines[len(lines)-1]
			if strings.HasPrefix(errOut, "waiting for the ResourceManager") {
				msg = strings.Join(lines, " / ")
			}
			rows = append(rows, names.Replace(fmt.Sprintf("| `spindle %s`%s | %s | %d |", name, envNote(tc.env, deadConf, live), strings.ReplaceAll(msg, "|", `\|`), code)))
		})
	}
	require.GreaterOrEqual(t, len(rows), 25)
	if p := os.Getenv(badInputsEnvVar); p != "" {
		md := "| input | message (stderr) | exit |\n| --- | --- | --- |\n" + strings.Join(rows, "\n") + "\n"
		require.NoError(t, os.WriteFile(p, []byte(md), 0o644))
	}
}

// rows collects TestBadInputs' table.
var rows []string

// envNote says which configuration a row ran with when it matters.
func envNote(env map[string]string, deadConf, live string) string {
	switch d, ok := env["HADOOP_CONF_DIR"]; {
	case !ok:
		return " (HADOOP_CONF_DIR unset)"
	case d == deadConf:
		return ""
	case d == live:
		return " (RM up)"
	default:
		return " (HADOOP_CONF_DIR=" + d + ")"
	}
}
