package launch_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// submitEnv is an RM stub, a file:// stager and a submission of one file.
type submitEnv struct {
	rm      *yarntest.RM
	c       *yarn.RMClient
	st      *hdfs.Stager
	tmp     string
	sub     *launch.Submission
	id      yarn.ApplicationID
	staging string
}

func newSubmitEnv(t *testing.T) *submitEnv {
	t.Helper()
	e := &submitEnv{rm: yarntest.NewRM(t), tmp: t.TempDir(), id: yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: 7}}
	var err error
	e.c, err = yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: e.rm.Addr(), Key: "yarn.resourcemanager.address"}}, User: "alice",
		PollInterval: 10 * time.Millisecond, Logger: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	t.Cleanup(func() { e.c.Close() })
	e.st, err = hdfs.New(testutil.Context(t, 10*time.Second), hdfs.Options{FS: "file:///", Home: t.TempDir(), TempDir: e.tmp})
	require.NoError(t, err)
	f := filepath.Join(t.TempDir(), "job.jar")
	require.NoError(t, os.WriteFile(f, []byte("jar"), 0o644))
	e.sub = &launch.Submission{App: yarn.AppSpec{ID: e.id, Name: "t", AMResource: yarn.Resource{MemoryMB: 512, VCores: 1}},
		Spec:   amapi.Spec{Mode: amapi.ModeSession, JobManager: amapi.ProcessSpec{Command: []string{"jm"}}},
		Shared: []hdfs.Source{{Path: f}}, AMCommand: "am"}
	e.staging = e.st.StagingDir(e.id.String())
	return e
}

func report(id yarn.ApplicationID, s yarnpb.YarnApplicationStateProto) *yarnpb.GetApplicationReportResponseProto {
	return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: &yarnpb.ApplicationReportProto{ApplicationId: yarn.AppIDToProto(id),
		User: proto.String("alice"), YarnApplicationState: s.Enum(), FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_UNDEFINED.Enum()}}
}

// When the RM took the submission but its acceptance could not be
// confirmed (interrupted, or the RM failing from then on), the application
// may run: Submit keeps its staging and says so, with the id. A refused
// submission still removes the staging.
func TestSubmitUnconfirmedKeepsStaging(t *testing.T) {
	for _, tc := range []string{"interrupted", "rm-fails-after-submit"} {
		t.Run(tc, func(t *testing.T) {
			e := newSubmitEnv(t)
			ctx, cancel := context.WithCancel(testutil.Context(t, 10*time.Second))
			defer cancel()
			e.rm.SubmitApplicationF = func(context.Context, *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
				return &yarnpb.SubmitApplicationResponseProto{}, nil
			}
			e.rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
				if tc == "interrupted" {
					cancel() // Ctrl-C right after the submit call returned
					return report(e.id, yarnpb.YarnApplicationStateProto_NEW_SAVING), nil
				}
				return nil, ipc.NewServerError("java.io.IOException", "the RM is going away")
			}
			s, err := launch.Submit(ctx, launch.SubmitOptions{RM: e.c, Stager: e.st, TempDir: e.tmp}, e.sub)
			var uc *launch.UnconfirmedError
			require.ErrorAs(t, err, &uc)
			require.ErrorIs(t, err, yarn.ErrNotConfirmed)
			require.Equal(t, e.id, uc.ID)
			require.ErrorContains(t, err, e.id.String()+" was submitted but its acceptance could not be confirmed")
			require.NotNil(t, s)
			require.Equal(t, e.id, s.ID)
			require.DirExists(t, e.staging, "the application may run: its staging stays")
			_, err = e.st.ReadFile(testutil.Context(t, 5*time.Second), e.id.String(), amapi.SpecFile)
			require.NoError(t, err)
		})
	}
	t.Run("refused", func(t *testing.T) {
		e := newSubmitEnv(t)
		e.rm.SubmitApplicationF = func(context.Context, *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
			return nil, ipc.NewServerError("org.apache.hadoop.security.AccessControlException", "no")
		}
		s, err := launch.Submit(testutil.Context(t, 10*time.Second), launch.SubmitOptions{RM: e.c, Stager: e.st, TempDir: e.tmp}, e.sub)
		require.Error(t, err)
		require.Nil(t, s)
		var uc *launch.UnconfirmedError
		require.False(t, errors.As(err, &uc))
		require.NoDirExists(t, e.staging)
	})
}

// Submit's temporary spec and secret are private (0700 directory, 0600
// files); the leftovers of a killed submit (older than a day, ours,
// matching the names) are removed by the next one, and a fresh one (a
// submit running now) or another name stays.
func TestSubmitTempFilesPrivateAndSwept(t *testing.T) {
	e := newSubmitEnv(t)
	old := time.Now().Add(-launch.StaleTempAge - time.Hour)
	mk := func(name string, dir, stale bool) string {
		p := filepath.Join(e.tmp, name)
		if dir {
			require.NoError(t, os.Mkdir(p, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(p, amapi.StopSecretFile), []byte("s"), 0o600))
		} else {
			require.NoError(t, os.WriteFile(p, []byte("zip"), 0o600))
		}
		if stale {
			require.NoError(t, os.Chtimes(p, old, old))
		}
		return p
	}
	staleSubmit, staleZip := mk("spindle-submit-111", true, true), mk("spindle-stage-222.zip", false, true)
	freshSubmit, freshZip := mk("spindle-submit-333", true, false), mk("spindle-stage-444.zip", false, false)
	other := mk("spindle-other-555", true, true)

	modes := map[string]os.FileMode{} // of this submit's temporary files, while it submits
	e.rm.SubmitApplicationF = func(context.Context, *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
		dirs, _ := filepath.Glob(filepath.Join(e.tmp, "spindle-submit-*"))
		for _, d := range dirs {
			if d == freshSubmit || d == staleSubmit {
				continue
			}
			files, _ := filepath.Glob(filepath.Join(d, "*"))
			for _, p := range append(files, d) {
				if fi, err := os.Stat(p); err == nil {
					modes[filepath.Base(p)] = fi.Mode().Perm()
				}
			}
		}
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	e.rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		return report(e.id, yarnpb.YarnApplicationStateProto_ACCEPTED), nil
	}
	_, err := launch.Submit(testutil.Context(t, 10*time.Second), launch.SubmitOptions{RM: e.c, Stager: e.st, TempDir: e.tmp}, e.sub)
	require.NoError(t, err)
	require.Len(t, modes, 3, "%v", modes)
	for name, m := range modes {
		want := os.FileMode(0o600)
		if name != amapi.SpecFile && name != amapi.StopSecretFile {
			want = 0o700 // the directory
		}
		require.Equal(t, want, m, name)
	}
	require.NoFileExists(t, staleZip)
	require.NoDirExists(t, staleSubmit)
	require.DirExists(t, freshSubmit, "another submit running now keeps its files")
	require.FileExists(t, freshZip)
	require.DirExists(t, other)
}
