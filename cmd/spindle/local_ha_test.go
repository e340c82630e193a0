package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
)

// TestLocalUpHA: `local up --ha` runs an RM HA pair; yarn-site.xml names
// both rm-ids; SIGUSR1 kills the active RM, the standby takes over after
// the election delay and the killed one comes back as the standby, so a
// second SIGUSR1 fails back. The CLI answers through whichever is active.
func TestLocalUpHA(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(testutil.Context(t, 2*time.Minute))
	defer cancel()
	var out, errb testutil.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"spindle", "local", "up", "--dir", dir, "--no-hdfs", "--web-port", "0", "--ha", "--election-delay", "200ms"}, &out, &errb,
			func(k string) (string, bool) {
				return map[string]string{"HADOOP_USER_NAME": "alice"}[k], k == "HADOOP_USER_NAME"
			})
	}()
	waitOut := func(what string) {
		t.Helper()
		testutil.Eventually(t, func() bool { return strings.Contains(out.String(), what) }, 30*time.Second, 10*time.Millisecond,
			"%q in local up's output; stdout: %s; stderr: %s", what, out.String(), errb.String())
	}
	waitOut("ready")
	require.Regexp(t, `ResourceManager HA rm1 \S+ \(active\) rm2 \S+ \(standby\)`, out.String())
	site, err := os.ReadFile(filepath.Join(dir, "conf", "yarn-site.xml"))
	require.NoError(t, err)
	require.Contains(t, string(site), "<name>yarn.resourcemanager.ha.rm-ids</name>\n    <value>rm1,rm2</value>")
	env := map[string]string{"HADOOP_CONF_DIR": filepath.Join(dir, "conf"), "HADOOP_USER_NAME": "alice"}
	list := func() {
		t.Helper()
		code, stdout, errOut := runCLI(t, env, "app", "list")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, stdout, "no active applications")
	}
	list()

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	waitOut("killed the active ResourceManager rm1")
	list() // waits for the election
	waitOut("ResourceManager rm2 is active; rm1 runs again as the standby")
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	waitOut("ResourceManager rm1 is active; rm2 runs again as the standby")
	list()

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("local up did not stop")
	}
	code, _, errOut := runCLI(t, env, "local", "up", "--dir", t.TempDir(), "--election-delay", "1s")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--election-delay needs --ha")
}
