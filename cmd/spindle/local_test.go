package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
)

// localUp runs `spindle local up` with args in the background, as a user
// runs it in one shell; stop is its Ctrl-C.
func localUp(t *testing.T, env map[string]string, args ...string) (out, errb *testutil.Buffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(testutil.Context(t, 3*time.Minute))
	out, errb = &testutil.Buffer{}, &testutil.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"spindle", "local", "up"}, args...), out, errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}()
	stopped := false
	stop = func() int {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			stopped = true
			return code
		case <-time.After(60 * time.Second):
			t.Fatal("local up did not stop")
			return -1
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	return out, errb, stop
}

var webProxyLine = regexp.MustCompile(`web proxy (http://[^\s,]+)`)

// `local up` as a NodeManager host: containers get the Hadoop homes from
// HADOOP_HOME through the whitelist yarn-site.xml names, the tracking URL
// an application reports reaches its AM's pages through the RM's web
// proxy on yarn.resourcemanager.webapp.address, and stopping prints a
// line and removes what it wrote, DIR/hdfs included.
func TestLocalUpLikeAYARNHost(t *testing.T) {
	bin := spindleBinary(t)
	hadoop := filepath.Join(t.TempDir(), "hadoop")
	for _, p := range []string{"common", "hdfs", "yarn", "mapreduce"} {
		require.NoError(t, os.MkdirAll(filepath.Join(hadoop, "share", "hadoop", p), 0o755))
	}
	t.Setenv("HADOOP_HOME", hadoop) // the NodeManagers' own environment is the process's
	for _, k := range []string{"HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_YARN_HOME", "HADOOP_MAPRED_HOME"} {
		t.Setenv(k, "")
	}
	dir := filepath.Join(t.TempDir(), "local")
	home := t.TempDir()
	out, errb, stop := localUp(t, map[string]string{"HADOOP_USER_NAME": testUser}, "--dir", dir, "--web-port", "0")
	testutil.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 60*time.Second, 20*time.Millisecond,
		"no ready line; stderr: %s", errb.String())
	require.NotContains(t, out.String(), "no HADOOP_HOME", "HADOOP_HOME is set")
	m := webProxyLine.FindStringSubmatch(out.String())
	require.NotNil(t, m, "the ready line names the web proxy: %s", out.String())
	web := m[1]

	confDir := filepath.Join(dir, "conf")
	hc, err := conf.LoadDirs([]string{confDir}, conf.Options{})
	require.NoError(t, err)
	get := func(k string) string {
		v, err := hc.Get(k)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, web, "http://"+get("yarn.resourcemanager.webapp.address"), "the proxy serves where yarn-site.xml says")
	require.Contains(t, get("yarn.nodemanager.env-whitelist"), "HADOOP_COMMON_HOME,HADOOP_HDFS_HOME,HADOOP_CONF_DIR")
	require.Contains(t, get("yarn.nodemanager.env-whitelist"), "HADOOP_MAPRED_HOME")

	env := map[string]string{"HADOOP_CONF_DIR": confDir, "HADOOP_USER_NAME": testUser, "HOME": home, "SPINDLE_BINARY": bin,
		"SPINDLE_AM_ARGS": "--heartbeat-fast 100ms --heartbeat-idle 300ms"}
	ctx := testutil.Context(t, 2*time.Minute)
	code, sout, serr := runIn(ctx, env, "session", "start", "-d", "-n", "1", "-jm", "256m", "-tm", "256m", "--payload", "example", "-o", "json")
	require.Equal(t, 0, code, serr)
	evs := events(t, sout)
	running := evs[len(evs)-1]
	require.Equal(t, "running", running["event"])
	id := running["app_id"].(string)
	tracking := running["tracking_url"].(string)
	require.Equal(t, web+"/proxy/"+id+"/", tracking)

	// The AM's status page and its JSON, through the proxy.
	fetch := func(u string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, page := fetch(tracking)
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, id)
	status, body := fetch(tracking + "v1/status")
	require.Equal(t, http.StatusOK, status, body)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Equal(t, id, st["app_id"])
	require.Equal(t, "session", st["mode"])

	// The AM container's launch script passes the NodeManager's Hadoop
	// homes on as a 3.3.6 NodeManager does, and the AM saw them.
	scripts, err := filepath.Glob(filepath.Join(dir, "nm-0", "logs", id, "*_000001", "launch_container.sh"))
	require.NoError(t, err)
	require.Len(t, scripts, 1)
	script, err := os.ReadFile(scripts[0])
	require.NoError(t, err)
	for _, k := range []string{"HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_YARN_HOME", "HADOOP_MAPRED_HOME", "HADOOP_HOME"} {
		require.Contains(t, string(script), "\nexport "+k+"=${"+k+`:-"`+hadoop+"\"}\n")
	}

	code, _, serr = runIn(ctx, env, "session", "stop")
	require.Equal(t, 0, code, serr)

	require.Equal(t, 0, stop(), errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Equal(t, "mini YARN cluster stopped; removed its configuration, node directories and HDFS data under "+dir, lines[len(lines)-1])
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "DIR, made by local up, is gone with DIR/hdfs")
	l, err := net.Dial("tcp", strings.TrimPrefix(web, "http://"))
	if err == nil {
		l.Close()
		t.Fatalf("the web proxy still listens at %s", web)
	}
}

// `local up` tells a user without a Hadoop installation what Java YARN
// applications will miss, and a --web-port in use is exit 2 naming the fix.
func TestLocalUpEdges(t *testing.T) {
	t.Setenv("HADOOP_HOME", "")
	t.Setenv("HADOOP_COMMON_HOME", "")
	t.Setenv("PATH", "/nonexistent")
	out, errb, stop := localUp(t, map[string]string{"HADOOP_USER_NAME": testUser}, "--dir", filepath.Join(t.TempDir(), "d"), "--web-port", "0", "--no-hdfs")
	testutil.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 60*time.Second, 20*time.Millisecond,
		"no ready line; stderr: %s", errb.String())
	require.Contains(t, out.String(), "note: no HADOOP_HOME and no hadoop command on PATH")
	require.Equal(t, 0, stop(), errb.String())
	require.Contains(t, out.String(), "mini YARN cluster stopped")

	busy, err := net.Listen("tcp", "localhost:0")
	require.NoError(t, err)
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	code, _, errOut := runCLI(t, map[string]string{}, "local", "up", "--dir", t.TempDir(), "--web-port", port)
	require.Equal(t, exitUsage, code, errOut)
	require.Contains(t, errOut, "--web-port "+port+" is in use")
	require.Contains(t, errOut, "or 0 for any free one")
	code, _, errOut = runCLI(t, map[string]string{}, "local", "up", "--dir", t.TempDir(), "--web-port", "70000")
	require.Equal(t, exitUsage, code, errOut)
}

// runIn runs spindle with env and ctx.
func runIn(ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	var out, errb testutil.Buffer
	code := run(ctx, append([]string{"spindle"}, args...), &out, &errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return code, out.String(), errb.String()
}
