package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

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
		old := time.Now().Add(-2 * time.Hour) // older than --min-age
		require.NoError(t, os.Chtimes(d, old, old))
	}
	rm := yarntest.NewRM(t)
	rm.GetApplicationsF = listing(states)
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

// listing answers GetApplications with the applications of states.
func listing(states map[int32]yarnpb.YarnApplicationStateProto) func(context.Context, *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
	return func(context.Context, *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
		var resp yarnpb.GetApplicationsResponseProto
		for id, s := range states {
			r := rmReport(s)
			r.ApplicationId = &yarnpb.ApplicationIdProto{Id: proto.Int32(id), ClusterTimestamp: proto.Int64(1795317067845)}
			resp.Applications = append(resp.Applications, r)
		}
		return &resp, nil
	}
}

// gc keeps what it cannot prove dead: the directory of an unknown
// application modified within --min-age (an upload in progress) and one
// whose id carries a cluster timestamp none of the RM's applications has
// (another YARN cluster sharing the home); an old unknown one of this
// cluster goes. --cache removes cache entries unused for --older-than and
// keeps newer ones; --dry-run lists without removing.
func TestGCKeepsRecentAndForeignAndCollectsCache(t *testing.T) {
	home := t.TempDir()
	spindle := filepath.Join(home, ".spindle")
	old := time.Now().Add(-48 * time.Hour)
	mkdir := func(p string, mtime time.Time) string {
		require.NoError(t, os.MkdirAll(p, 0o700))
		require.NoError(t, os.Chtimes(p, mtime, mtime))
		return p
	}
	running := mkdir(filepath.Join(spindle, "application_1795317067845_0001"), old)
	fresh := mkdir(filepath.Join(spindle, "application_1795317067845_0005"), time.Now())
	foreign := mkdir(filepath.Join(spindle, "application_1700000000000_0001"), old)
	dead := mkdir(filepath.Join(spindle, "application_1795317067845_0006"), old)
	cache := mkdir(filepath.Join(spindle, "cache"), time.Now())
	for _, k := range []string{"aaaa", "bbbb"} {
		require.NoError(t, os.WriteFile(filepath.Join(cache, k), []byte(k), 0o600))
	}
	// aaaa was last used two days ago by an ended application, bbbb an hour ago.
	for rec, when := range map[string]time.Time{"application_1795317067845_0003.x/aaaa": old, "application_1795317067845_0004.y/bbbb": time.Now().Add(-time.Hour)} {
		p := filepath.Join(spindle, ".used", rec)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		require.NoError(t, os.Chtimes(filepath.Dir(p), when, when))
	}
	states := map[int32]yarnpb.YarnApplicationStateProto{1: yarnpb.YarnApplicationStateProto_RUNNING}
	rm := yarntest.NewRM(t)
	rm.GetApplicationsF = listing(states)
	rm.GetApplicationReportF = func(_ context.Context, req *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		s, ok := states[req.GetApplicationId().GetId()]
		if !ok || req.GetApplicationId().GetClusterTimestamp() != 1795317067845 {
			return nil, ipc.NewServerError("org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException", "Application doesn't exist in RM.")
		}
		r := rmReport(s)
		r.ApplicationId = req.GetApplicationId()
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: r}, nil
	}
	dir := confDir(t, rm.Addr())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "core-site.xml"), []byte(`<configuration><property><name>fs.defaultFS</name><value>file:///</value></property></configuration>`), 0o644))
	env := map[string]string{"HADOOP_CONF_DIR": dir, "HOME": home, "HADOOP_USER_NAME": "alice"}

	code, out, errOut := runCLI(t, env, "gc", "--dry-run", "--cache", "--older-than", "24h")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "would remove "+dead+" (unknown to the ResourceManager)")
	require.Contains(t, out, "would remove "+filepath.Join(cache, "aaaa"))
	for _, p := range []string{running, fresh, foreign, dead, filepath.Join(cache, "aaaa"), filepath.Join(cache, "bbbb")} {
		_, err := os.Stat(p)
		require.NoError(t, err, "a dry run removes nothing")
	}

	code, out, errOut = runCLI(t, env, "gc", "--cache", "--older-than", "24h")
	require.Equal(t, 0, code, errOut)
	require.NoDirExists(t, dead)
	require.DirExists(t, running)
	require.DirExists(t, fresh, "an upload in progress keeps its directory")
	require.Contains(t, out, "kept "+fresh+" (unknown to the ResourceManager but modified")
	require.DirExists(t, foreign, "another cluster's application keeps its directory")
	require.Contains(t, out, "kept "+foreign+" (unknown to the ResourceManager, whose applications have other cluster timestamps")
	require.Contains(t, out, "1 removed, 1 kept for running applications, 2 kept")
	require.NoFileExists(t, filepath.Join(cache, "aaaa"))
	require.FileExists(t, filepath.Join(cache, "bbbb"), "used an hour ago")
	require.Contains(t, out, "cache: 1 removed, 1 kept")

	for _, bad := range [][]string{{"--min-age", "-1h"}, {"--cache", "--older-than", "0s"}, {"--older-than", "soon"}} {
		code, _, errOut = runCLI(t, env, append([]string{"gc"}, bad...)...)
		require.Equal(t, 2, code, "%v: %s", bad, errOut)
	}
}
