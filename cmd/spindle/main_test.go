package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// TestMain checks for leaked goroutines and removes the binaries the tests
// built (the spindle binary, the stand-in java).
func TestMain(m *testing.M) {
	// gokrb5's SPNEGO service keeps one replay cache per process, swept by
	// a goroutine that never ends (service.GetReplayCache); the mini
	// NodeManagers' SPNEGO web servers start it.
	testutil.Main(m, goleak.IgnoreAnyFunction("github.com/jcmturner/gokrb5/v8/service.GetReplayCache.func1.1"),
		goleak.IgnoreAnyFunction("github.com/jcmturner/gokrb5/v8/service.VerifyAPREQ.GetReplayCache.func1.1")) // its name when inlined
}

// confDir writes a yarn-site.xml pointing at rmAddr with short retries and
// a core-site.xml staging on file:///.
func confDir(t *testing.T, rmAddr string) string {
	d := t.TempDir()
	xml := fmt.Sprintf(`<configuration>
<property><name>yarn.resourcemanager.address</name><value>%s</value></property>
<property><name>yarn.resourcemanager.connect.max-wait.ms</name><value>300</value></property>
<property><name>yarn.resourcemanager.connect.retry-interval.ms</name><value>50</value></property>
</configuration>`, rmAddr)
	require.NoError(t, os.WriteFile(filepath.Join(d, "yarn-site.xml"), []byte(xml), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(d, "core-site.xml"),
		[]byte(`<configuration><property><name>fs.defaultFS</name><value>file:///</value></property></configuration>`), 0o644))
	return d
}

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ctx := testutil.Context(t, 20*time.Second)
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"spindle"}, args...), &out, &errb, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	return code, out.String(), errb.String()
}

const appID = "application_1795317067845_0002"

func rmReport(state yarnpb.YarnApplicationStateProto) *yarnpb.ApplicationReportProto {
	return &yarnpb.ApplicationReportProto{
		ApplicationId: &yarnpb.ApplicationIdProto{Id: proto.Int32(2), ClusterTimestamp: proto.Int64(1795317067845)},
		User:          proto.String("root"), Queue: proto.String("default"), Name: proto.String("DistributedShell"),
		ApplicationType: proto.String("YARN"), YarnApplicationState: state.Enum(),
		FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_UNDEFINED.Enum(), Progress: proto.Float32(0.5),
		TrackingUrl: proto.String("http://vm:8088/proxy/" + appID + "/"), StartTime: proto.Int64(1795317294572),
	}
}

func TestAppCommands(t *testing.T) {
	rm := yarntest.NewRM(t)
	rm.GetApplicationsF = func(_ context.Context, req *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
		if len(req.GetApplicationStates()) > 0 {
			assert.Len(t, req.GetApplicationStates(), 3) // active states only without --all
		}
		return &yarnpb.GetApplicationsResponseProto{Applications: []*yarnpb.ApplicationReportProto{rmReport(yarnpb.YarnApplicationStateProto_RUNNING)}}, nil
	}
	killed := false
	rm.GetApplicationReportF = func(_ context.Context, req *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		if req.GetApplicationId().GetId() != 2 {
			return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "Application with id 'x' doesn't exist in RM.")
		}
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: rmReport(yarnpb.YarnApplicationStateProto_RUNNING)}, nil
	}
	rm.ForceKillApplicationF = func(context.Context, *yarnpb.KillApplicationRequestProto) (*yarnpb.KillApplicationResponseProto, error) {
		killed = true
		return &yarnpb.KillApplicationResponseProto{IsKillCompleted: proto.Bool(true)}, nil
	}
	env := map[string]string{"HADOOP_CONF_DIR": confDir(t, rm.Addr()), "HADOOP_USER_NAME": "alice"}

	code, out, errOut := runCLI(t, env, "app", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, appID)
	require.Contains(t, out, "RUNNING")

	code, out, _ = runCLI(t, env, "app", "list", "--all", "-o", "json")
	require.Equal(t, 0, code)
	list := events(t, out) // one object per line
	require.Len(t, list, 1)
	require.Equal(t, appID, list[0]["app_id"])
	require.Equal(t, 0.5, list[0]["progress"]) // a number, not a string

	code, out, _ = runCLI(t, env, "app", "status", "--output", "json", appID)
	require.Equal(t, 0, code)
	var st map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, "RUNNING", st["state"])
	require.Equal(t, "UNDEFINED", st["final_status"])

	code, out, _ = runCLI(t, env, "app", "kill", appID)
	require.Equal(t, 0, code)
	require.True(t, killed)
	require.Contains(t, out, "killed "+appID)

	code, _, errOut = runCLI(t, env, "app", "status", "application_1795317067845_0099")
	require.Equal(t, exitNotFound, code)
	require.Contains(t, errOut, "doesn't exist")
}

func TestExitCodes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()
	deadEnv := map[string]string{"HADOOP_CONF_DIR": confDir(t, dead)}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"no-conf", map[string]string{}, []string{"app", "list"}, exitUsage, "HADOOP_CONF_DIR"},
		{"bad-id", deadEnv, []string{"app", "status", "job_1_2"}, exitUsage, "malformed id"},
		{"no-id", deadEnv, []string{"app", "kill"}, exitUsage, "APP_ID"},
		{"bad-output", deadEnv, []string{"app", "list", "-o", "yaml"}, exitUsage, "want text or json"},
		{"unknown-flag", deadEnv, []string{"app", "list", "--nope"}, exitUsage, "nope"},
		{"unreachable", deadEnv, []string{"app", "list"}, exitUnreachable, dead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.env, tc.args...)
			require.Equal(t, tc.code, code, errOut)
			require.Contains(t, errOut, tc.msg)
		})
	}
}

// `spindle local up` runs the mini cluster until the context ends and
// leaves a configuration a client can use while it runs.
func TestLocalUp(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(testutil.Context(t, 2*time.Minute))
	var out, errb testutil.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"spindle", "local", "up", "--dir", dir, "--nodes", "2", "--web-port", "0"}, &out, &errb,
			func(k string) (string, bool) {
				return map[string]string{"HADOOP_USER_NAME": "alice"}[k], k == "HADOOP_USER_NAME"
			})
	}()
	if !assert.Eventually(t, func() bool { return strings.Contains(out.String(), "ready") }, 30*time.Second, 20*time.Millisecond) {
		t.Fatalf("no ready line; stderr: %s", errb.String())
	}
	require.Contains(t, out.String(), "2 NodeManager(s)")
	require.FileExists(t, filepath.Join(dir, "conf", "hdfs-site.xml"))
	env := map[string]string{"HADOOP_CONF_DIR": filepath.Join(dir, "conf"), "HADOOP_USER_NAME": "alice"}
	code, list, errOut := runCLI(t, env, "app", "list")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "no active applications (--all lists ended ones too)\n", list, "a fresh cluster: the empty list says so")
	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("local up did not stop")
	}
	require.NoFileExists(t, filepath.Join(dir, "conf", "yarn-site.xml"), "local up removes what it wrote")
}

// A flag after the APP_ID is an argument to urfave/cli; the error says so
// and shows the order that works.
func TestFlagsAfterAppID(t *testing.T) {
	env := map[string]string{"HADOOP_CONF_DIR": t.TempDir(), "HOME": t.TempDir()}
	code, _, errOut := runCLI(t, env, "session", "attach", appID, "-o", "json")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `session attach: want at most one APP_ID ("-o" came after it: flags go before APP_ID, e.g. spindle session attach -o json APP_ID)`)
	code, _, errOut = runCLI(t, env, "app", "status", appID, "--output", "json")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `app status: want exactly one APP_ID, e.g. application_1795317067845_0002 ("--output" came after it: flags go before APP_ID, e.g. spindle app status -o json APP_ID)`)
}
