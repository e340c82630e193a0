package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster"
)

// logsListingOf runs `spindle logs -o json APP` and decodes it.
func (lc *localCluster) logsListing(t *testing.T, id string) logsListing {
	t.Helper()
	code, out, errOut := lc.cli(lc.ctx(time.Minute), "logs", "-o", "json", id)
	require.Equal(t, 0, code, errOut)
	var l logsListing
	require.NoError(t, json.Unmarshal([]byte(out), &l), out)
	return l
}

func roleOf(l logsListing, role string) (logContainer, bool) {
	for _, c := range l.Containers {
		if c.Role == role {
			return c, true
		}
	}
	return logContainer{}, false
}

// TestLogsRunningAndAggregated: `spindle logs` on a running session lists
// the JobManager and the TaskManager with their log pages, prints the
// JobManager's log, follows a TaskManager's (-f prints a line appended
// after it started); once the session has stopped, the same commands read
// the aggregated logs, byte for byte what the containers' files held.
func TestLogsRunningAndAggregated(t *testing.T) {
	lc := newLocalCluster(t, 1)
	ctx := lc.ctx(2 * time.Minute)
	code, out, errOut := lc.cli(ctx, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "--payload", "example", "-o", "json")
	require.Equal(t, 0, code, errOut)
	id := events(t, out)[0]["app_id"].(string)

	var l logsListing
	require.Eventually(t, func() bool {
		l = lc.logsListing(t, id)
		_, jm := roleOf(l, roleJobManager)
		tm, ok := roleOf(l, roleTaskManager)
		return jm && ok && tm.State == "running"
	}, 60*time.Second, 100*time.Millisecond, "JobManager and TaskManager listed")
	jm, _ := roleOf(l, roleJobManager)
	tm, _ := roleOf(l, roleTaskManager)
	nm := lc.l.Cluster.NodeManager(0)
	require.Equal(t, "http://"+nm.HTTPAddress()+"/node/containerlogs/"+jm.ID+"/"+testUser, jm.LogURL)
	require.Equal(t, "http://"+nm.HTTPAddress()+"/node/containerlogs/"+tm.ID+"/"+testUser, tm.LogURL)
	require.Equal(t, "nodemanager", jm.Source)
	code, text, _ := lc.cli(ctx, "logs", id)
	require.Equal(t, 0, code)
	containsAll(t, text, "CONTAINER", jm.ID, tm.ID, "jobmanager", "taskmanager", jm.LogURL)

	// The JobManager's output, through the NodeManager web services.
	jmDir := filepath.Join(nm.LogDir(), id, jm.ID)
	tmDir := filepath.Join(nm.LogDir(), id, tm.ID)
	code, got, errOut := lc.cli(ctx, "logs", "--jobmanager", "--file", "am.stderr", id)
	require.Equal(t, 0, code, errOut)
	disk, err := os.ReadFile(filepath.Join(jmDir, "am.stderr"))
	require.NoError(t, err)
	require.NotEmpty(t, got)
	require.True(t, strings.HasPrefix(string(disk), got), "what was printed is the file's beginning")

	// Files the test writes into the containers' log dirs as the
	// containers would: binary, over 1 MiB, and a line appended while -f runs.
	big := make([]byte, 1<<20+12345)
	rand.New(rand.NewSource(1)).Read(big)
	require.NoError(t, os.WriteFile(filepath.Join(jmDir, "blob.bin"), big, 0o644))
	tmLog := filepath.Join(tmDir, "extra.log")
	require.NoError(t, os.WriteFile(tmLog, []byte("line one\n"), 0o644))
	follow, cancel, done := lc.cliAsync("logs", "--taskmanagers", "--file", "extra.log", "-f", id)
	waitFor(t, follow, "line one\n")
	f, err := os.OpenFile(tmLog, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("line two, appended while following\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	waitFor(t, follow, "line two, appended while following\n")
	cancel()
	require.Equal(t, 0, exitOf(t, done))
	require.Equal(t, "line one\nline two, appended while following\n", follow.String(), "each byte once")

	code, got, _ = lc.cli(ctx, "logs", "--taskmanagers", "--file", "extra.log", "--tail", "1", id)
	require.Equal(t, 0, code)
	require.Equal(t, "line two, appended while following\n", got)

	// Ended: aggregated on the application's end, read from app-logs.
	code, _, errOut = lc.cli(ctx, "session", "stop", id)
	require.Equal(t, 0, code, errOut)
	require.Eventually(t, func() bool {
		l = lc.logsListing(t, id)
		c, ok := roleOf(l, roleJobManager)
		return ok && c.Source == "aggregated"
	}, 60*time.Second, 100*time.Millisecond, "aggregated logs listed")
	require.True(t, l.Aggregation)
	require.Contains(t, l.RemoteDirs[0], "bucket-logs-tfile")
	code, got, errOut = lc.cli(ctx, "logs", "--jobmanager", "--file", "blob.bin", id)
	require.Equal(t, 0, code, errOut)
	require.True(t, bytes.Equal(big, []byte(got)), "aggregated blob.bin is byte-identical (%d bytes, want %d)", len(got), len(big))
	code, got, errOut = lc.cli(ctx, "logs", "--container", tm.ID, "--file", "extra.log", id)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "line one\nline two, appended while following\n", got)
	code, got, _ = lc.cli(ctx, "logs", "--taskmanagers", id)
	require.Equal(t, 0, code)
	containsAll(t, got, "==> "+tm.ID+"/extra.log <==", "==> "+tm.ID+"/taskmanager.out <==")

	code, _, errOut = lc.cli(ctx, "logs", "--container", "container_1_0001_01_000009", id)
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "run spindle logs "+id+" to list them")
	code, _, _ = lc.cli(ctx, "logs", "-f", id)
	require.Equal(t, exitUsage, code)
}

func containsAll(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		require.Contains(t, s, sub)
	}
}

// TestKerberosLogs: on a secure mini cluster whose NodeManager web server
// requires SPNEGO (as hadoop.http.authentication.type=kerberos makes
// it), an anonymous request is refused, and `spindle logs` with alice's
// Kerberos login lists and reads the running session's containers.
func TestKerberosLogs(t *testing.T) {
	bin := spindleBinary(t)
	s := newSecureRealm(t)
	nnKT, nmKT := s.kdc.AddPrincipal(t, "nn/localhost"), s.kdc.AddPrincipal(t, "nm/localhost")
	httpKT := s.kdc.AddPrincipal(t, "HTTP/127.0.0.1")
	s.nmWeb = &minicluster.NMWebSecurity{Keytab: krbtest.LoadKeytab(t, httpKT), Principal: "HTTP/127.0.0.1"}
	ctx := testutil.Context(t, 2*time.Minute)
	sc := s.cluster(t, ctx, "authentication", nnKT, nmKT, nil)
	_, cli := s.secureCLI(t, ctx, sc, bin, "x\n", 1, nil)
	code, out, errOut := cli("session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "-o", "json")
	require.Equal(t, 0, code, errOut)
	id := events(t, out)[0]["app_id"].(string)

	var l logsListing
	require.Eventually(t, func() bool {
		code, out, _ := cli("logs", "-o", "json", id)
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
			return false
		}
		tm, ok := roleOf(l, roleTaskManager)
		return ok && tm.State == "running"
	}, time.Minute, 100*time.Millisecond)
	jm, _ := roleOf(l, roleJobManager)
	require.NotEmpty(t, jm.LogURL)
	resp, err := http.Get(jm.LogURL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the NodeManager web UI wants SPNEGO")
	require.Equal(t, "Negotiate", resp.Header.Get("WWW-Authenticate"))

	require.Eventually(t, func() bool {
		code, out, _ := cli("logs", "--jobmanager", "--file", "am.stderr", id)
		return code == 0 && out != ""
	}, time.Minute, 100*time.Millisecond, "the JobManager's log through SPNEGO")
	code, out, errOut = cli("logs", "--taskmanagers", "--file", "launch_container.sh", id)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "#!/bin/bash")
	code, _, errOut = cli("session", "stop", id)
	require.Equal(t, 0, code, errOut)
}
