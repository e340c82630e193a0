package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

func TestGC(t *testing.T) {
	home := t.TempDir()
	states := map[int32]yarnpb.YarnApplicationStateProto{
		1: yarnpb.YarnApplicationStateProto_FINISHED,
		2: yarnpb.YarnApplicationStateProto_RUNNING,
		4: yarnpb.YarnApplicationStateProto_KILLED,
	}
	for _, n := range []string{"application_1795317067845_0001", "application_1795317067845_0002", "application_1795317067845_0003", "application_1795317067845_0004", "cache"} {
		d := filepath.Join(home, ".spindle", n)
		require.NoError(t, os.MkdirAll(d, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "job.jar"), []byte("x"), 0o600))
	}
	rm := yarntest.NewRM(t)
	rm.GetApplicationReportF = func(_ context.Context, req *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		s, ok := states[req.GetApplicationId().GetId()]
		if !ok {
			return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "Application with id '%d' doesn't exist in RM.", req.GetApplicationId().GetId())
		}
		r := rmReport(s)
		r.ApplicationId = req.GetApplicationId()
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: r}, nil
	}
	dir := confDir(t, rm.Addr())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "core-site.xml"), []byte(`<configuration><property><name>fs.defaultFS</name><value>file:///</value></property></configuration>`), 0o644))
	env := map[string]string{"HADOOP_CONF_DIR": dir, "HOME": home, "HADOOP_USER_NAME": "alice"}

	code, out, errOut := runCLI(t, env, "gc", "--dry-run")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "would remove")
	require.DirExists(t, filepath.Join(home, ".spindle", "application_1795317067845_0001"), "dry run removes nothing")

	code, out, errOut = runCLI(t, env, "gc")
	require.Equal(t, 0, code, errOut)
	for _, gone := range []string{"0001", "0003", "0004"} {
		require.NoDirExists(t, filepath.Join(home, ".spindle", "application_1795317067845_"+gone))
	}
	require.DirExists(t, filepath.Join(home, ".spindle", "application_1795317067845_0002"), "a running application keeps its staging")
	require.DirExists(t, filepath.Join(home, ".spindle", "cache"), "the upload cache is kept")
	require.Contains(t, out, fmt.Sprintf("removed %s (FINISHED)", filepath.Join(home, ".spindle", "application_1795317067845_0001")))
	require.Contains(t, out, "(unknown to the ResourceManager)")
	require.Contains(t, out, "3 removed, 1 kept")
}
