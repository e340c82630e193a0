package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/session"
	"github.com/spindle-yarn/spindle/yarn"
)

// startDetached starts a small detached session and returns its id.
func (lc *localCluster) startDetached(t *testing.T) string {
	t.Helper()
	code, out, errOut := lc.cli(lc.ctx(2*time.Minute), "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m")
	require.Equal(t, 0, code, errOut)
	id := regexpApp.FindString(out)
	require.NotEmpty(t, id, out)
	return id
}

// statusID is the session `session status` (no APP_ID) picks, or the
// exit code and stderr when it picks none.
func (lc *localCluster) statusID(t *testing.T) (string, int, string) {
	t.Helper()
	code, out, errOut := lc.cli(lc.ctx(30*time.Second), "session", "status")
	return regexpApp.FindString(out), code, errOut
}

// Two clusters, one home: each cluster's commands default to the session
// started on it, whatever was started on the other since; stopping one
// leaves the other's default.
func TestSessionDefaultPerCluster(t *testing.T) {
	a, b := newLocalCluster(t, 1), newLocalCluster(t, 1)
	b.env["HOME"] = a.env["HOME"] // one user, one ~/.spindle-yarn-properties-<user>
	b.home = a.home
	idA := a.startDetached(t)
	idB := b.startDetached(t)
	require.NotEqual(t, idA, idB)

	got, code, errOut := a.statusID(t)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, idA, got, "cluster B's session did not replace cluster A's default")
	got, code, errOut = b.statusID(t)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, idB, got)

	props, err := os.ReadFile(filepath.Join(a.home, session.PropertiesFileName(testUser)))
	require.NoError(t, err)
	require.Contains(t, string(props), "cluster="+a.l.Cluster.RM().ClientAddr()+"\n")
	require.Contains(t, string(props), "cluster="+b.l.Cluster.RM().ClientAddr()+"\n")

	code, _, errOut = b.cli(b.ctx(time.Minute), "session", "stop")
	require.Equal(t, 0, code, errOut)
	_, code, errOut = b.statusID(t)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "no session given and none recorded for this cluster ("+b.l.Cluster.RM().ClientAddr()+")")
	got, code, errOut = a.statusID(t)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, idA, got, "stopping B's session kept A's default")
	code, _, errOut = a.cli(a.ctx(time.Minute), "session", "stop")
	require.Equal(t, 0, code, errOut)
	_, err = os.Stat(filepath.Join(a.home, session.PropertiesFileName(testUser)))
	require.ErrorIs(t, err, os.ErrNotExist, "the file goes with its last session")
}

// `session attach` + Ctrl-C stops the session: neither Spindle's file nor
// Flink's .yarn-properties-<user> points at it afterwards; the same for an
// attached `session start` interrupted.
func TestSessionAttachInterruptForgetsTheSession(t *testing.T) {
	lc := newLocalCluster(t, 1)
	id := lc.startDetached(t)
	got, code, errOut := lc.statusID(t)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, id, got)

	// Flink's file for this session, where $FLINK_HOME's distribution
	// puts it (as a Flink session's start writes it).
	fhome := t.TempDir()
	require.NoError(t, os.CopyFS(fhome, os.DirFS(flinkHome200)))
	loc := t.TempDir()
	f, err := os.OpenFile(filepath.Join(fhome, "conf", "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(f, "yarn.properties-file.location: %s\n", loc)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	pl, err := flink.New(flink.Options{Home: fhome})
	require.NoError(t, err)
	appID, err := yarn.ParseApplicationID(id)
	require.NoError(t, err)
	flinkFile, err := writeFlinkYarnProperties(pl, appID)
	require.NoError(t, err)
	lc.env["FLINK_HOME"] = fhome

	out, interrupt, done := lc.cliAsync("session", "attach")
	waitFor(t, out, "attached to session "+id)
	interrupt()
	require.Equal(t, 0, exitOf(t, done), out.String())
	require.Equal(t, "FINISHED", lc.app(id)["state"], "Ctrl-C stopped it")
	_, code, errOut = lc.statusID(t)
	require.Equal(t, exitUsage, code, "the file no longer points at the ended session")
	require.Contains(t, errOut, "pass an APP_ID or start one with `spindle session start`")
	require.NoFileExists(t, flinkFile, "nor Flink's")

	// An attached start, interrupted once running.
	out, interrupt, done = lc.cliAsync("session", "start", "-n", "1", "-jm", "256m", "-tm", "256m")
	waitFor(t, out, "attached to session ")
	id2 := regexpApp.FindString(out.String())
	got, code, errOut = lc.statusID(t)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, id2, got, "recorded while it runs")
	interrupt()
	require.Equal(t, 0, exitOf(t, done), out.String())
	_, code, _ = lc.statusID(t)
	require.Equal(t, exitUsage, code, "forgotten once it ended")
	require.False(t, strings.Contains(out.String(), "stderr:"), out.String())
}
