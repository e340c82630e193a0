package minicluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

// TestApplicationRunsToSucceeded is the end-to-end run: a Go AM built from
// testdata/amprog, shipped as a file:// LocalResource, authenticates to the
// scheduler port with the AMRMToken from its container_tokens (DIGEST-MD5),
// asks for one container strictly on each of two NodeManagers, starts them
// with the NMTokens the RM sent, sees both complete with exit status 0 and
// unregisters SUCCEEDED.
func TestApplicationRunsToSucceeded(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 60*time.Second)
	am := amBinary(t)
	tmp := t.TempDir()
	worker := filepath.Join(tmp, "worker.sh")
	require.NoError(t, os.WriteFile(worker, []byte("env | sort\necho ---\nls -l\necho \"arg=$1\" >&2\n"), 0o644))
	wr := fileResource(t, worker)
	events := filepath.Join(tmp, "events.jsonl")
	hosts := []string{c.NodeManager(0).ID().Host, c.NodeManager(1).ID().Host}
	require.NotEqual(t, hosts[0], hosts[1], "the nodes need distinct hosts for node-local requests")

	id := submit(t, ctx, rmc, yarn.AppSpec{
		Name: "e2e",
		AM: yarn.ContainerLaunchContext{
			Commands: []string{"./amprog 1><LOG_DIR>/AppMaster.stdout 2><LOG_DIR>/AppMaster.stderr"},
			Environment: map[string]string{
				"TESTAM_SCHEDULER": c.RM().SchedulerAddr(),
				"TESTAM_NODES":     strings.Join(hosts, ","),
				"TESTAM_COMMAND":   "bash worker.sh [[CONTAINER_ID]] 1>%LOG_DIR%/stdout 2>%LOG_DIR%/stderr",
				"TESTAM_RESOURCE":  strings.Join([]string{"worker.sh", worker, itoa(wr.Size), itoa(wr.Timestamp)}, "|"),
				"TESTAM_EVENTS":    events,
				"CLASSPATH":        "{{CLASSPATH}}<CPS>./*",
			},
			LocalResources: map[string]yarn.LocalResource{"amprog": fileResource(t, am)},
		},
	})
	acc := waitState(t, ctx, rmc, id, yarn.StateAccepted)
	require.Equal(t, "N/A", acc.Host)
	require.Equal(t, int32(-1), acc.RPCPort)

	fin := waitReport(t, ctx, rmc, id, "end", func(r yarn.AppReport) bool { return r.State.Terminal() })
	require.Equal(t, yarn.StateFinished, fin.State, "diagnostics: %s", fin.Diagnostics)
	require.Equal(t, yarn.FinalSucceeded, fin.FinalStatus)
	require.Equal(t, "", fin.Diagnostics)
	require.Equal(t, float32(1), fin.Progress)
	require.Equal(t, testUser, fin.User)
	require.Equal(t, "default", fin.Queue)
	require.False(t, fin.FinishTime.IsZero())
	require.False(t, fin.LaunchTime.IsZero())

	var evs []amEvent
	eventually(t, ctx, "the AM's last event", func() bool {
		evs = readEvents(t, events)
		return len(evs) > 0 && (evs[len(evs)-1].Event == "finished" || evs[len(evs)-1].Event == "error")
	})
	nodes := map[string]bool{}
	var completed []amEvent
	for _, e := range evs {
		require.NotEqual(t, "error", e.Event, e.Diag)
		switch e.Event {
		case "allocated":
			nodes[strings.Split(e.Node, ":")[0]] = true
		case "completed":
			completed = append(completed, e)
		}
	}
	require.Len(t, nodes, 2, "one container on each node: %v", evs)
	require.Len(t, completed, 2)
	for _, e := range completed {
		require.Zero(t, e.Exit, e.Diag)
	}
	require.Equal(t, "finished", evs[len(evs)-1].Event)
	require.Equal(t, "SUCCEEDED", evs[len(evs)-1].Status)

	// What the NodeManager gave the workers: environment, symlinked
	// resource, logs, expanded markers.
	for _, e := range completed {
		cid, err := yarn.ParseContainerID(e.Container)
		require.NoError(t, err)
		var logDir string
		for _, nm := range c.NodeManagers() {
			d := filepath.Join(nm.LogDir(), id.String(), cid.String())
			if _, err := os.Stat(d); err == nil {
				logDir = d
			}
		}
		require.NotEmpty(t, logDir)
		out, err := os.ReadFile(filepath.Join(logDir, "stdout"))
		require.NoError(t, err)
		env := string(out)
		containsAll(t, env, "CONTAINER_ID="+cid.String()+"\n", "USER="+testUser+"\n", "LOGNAME="+testUser+"\n", "TESTAM_WORKER=1\n",
			"LOG_DIRS="+logDir+"\n", "HOME=/home/\n", "NM_HTTP_PORT=8042\n", "JVM_PID=", "LOCALIZATION_COUNTERS=",
			"/usercache/"+testUser+"/appcache/"+id.String()+"/"+cid.String()+"/container_tokens\n",
			"LOCAL_DIRS=", "/usercache/"+testUser+"/appcache/"+id.String()+"\n",
			"worker.sh -> ", "/usercache/"+testUser+"/appcache/"+id.String()+"/filecache/", "container_tokens", "tmp")
		stderr, err := os.ReadFile(filepath.Join(logDir, "stderr"))
		require.NoError(t, err)
		require.Equal(t, "arg="+cid.String()+"\n", string(stderr), "{{CONTAINER_ID}} expanded to $CONTAINER_ID")
		script, err := os.ReadFile(filepath.Join(logDir, "launch_container.sh"))
		require.NoError(t, err)
		containsAll(t, string(script), "set -o pipefail -e\n", "export CONTAINER_ID=\""+cid.String()+"\"\n",
			"exec /bin/bash -c \"bash worker.sh $CONTAINER_ID 1>"+logDir+"/stdout 2>"+logDir+"/stderr\"\n")
		pre, err := os.ReadFile(filepath.Join(logDir, "prelaunch.out"))
		require.NoError(t, err)
		require.Equal(t, "Setting up env variables\nSetting up job resources\nCopying debugging information\nLaunching container\n", string(pre))
		info, err := os.ReadFile(filepath.Join(logDir, "directory.info"))
		require.NoError(t, err)
		containsAll(t, string(info), "ls -l:", "worker.sh ->")
	}

	// The AM's own launch: CLASSPATH expansion, the RM's additions.
	amLog := ""
	for _, nm := range c.NodeManagers() {
		d := filepath.Join(nm.LogDir(), id.String(), yarn.ContainerID{Attempt: yarn.AttemptID{App: id, Attempt: 1}, ID: 1}.String())
		if _, err := os.Stat(d); err == nil {
			amLog = d
		}
	}
	require.NotEmpty(t, amLog)
	script, err := os.ReadFile(filepath.Join(amLog, "launch_container.sh"))
	require.NoError(t, err)
	containsAll(t, string(script), "export CLASSPATH=\"$CLASSPATH:./*\"\n", "export APPLICATION_WEB_PROXY_BASE=\"/proxy/"+id.String()+"\"\n",
		"export APP_SUBMIT_TIME_ENV=\"", "ln -sf -- \"", "\" \"amprog\"\n")

	// The application's local dirs are cleaned once it finished.
	eventually(t, ctx, "app dirs removed", func() bool {
		for _, nm := range c.NodeManagers() {
			if _, err := os.Stat(filepath.Join(nm.LocalDir(), "usercache", testUser, "appcache", id.String())); err == nil {
				return false
			}
		}
		return true
	})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestAMContainerTokensFile checks the file the NodeManager writes for the
// AM: HDTS format 0 with exactly the AMRMToken under alias "" and an empty
// service, like distshell-run/am-container_tokens.bin.
func TestAMContainerTokensFile(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	rmc := rmClient(t, c)
	ctx := testutil.Context(t, 30*time.Second)
	p := submitPuppet(t, ctx, c, rmc, nil)
	b, err := os.ReadFile(filepath.Join(p.dir, "container_tokens"))
	require.NoError(t, err)
	require.Equal(t, []byte("HDTS\x00\x01\x00"), b[:7], "magic, format 0 (Writable), one token, alias \"\"")
	creds, err := ipc.ParseCredentials(b)
	require.NoError(t, err)
	require.Equal(t, []string{""}, creds.Aliases())
	tok := creds.Token("")
	require.Equal(t, ipc.KindAMRMToken, tok.Kind)
	require.Equal(t, "", tok.Service)
	require.Len(t, tok.Password, 20, "HMAC-SHA1")
	ident, err := yarn.ParseAMRMTokenIdentifier(tok.Identifier)
	require.NoError(t, err)
	require.Equal(t, p.att, ident.Attempt)
	require.Equal(t, b, creds.Marshal(), "re-encodes byte for byte")
	p.exit(0)
}
