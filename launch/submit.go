package launch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// SubmitOptions are what Submit needs besides the submission.
type SubmitOptions struct {
	RM     *yarn.RMClient
	Stager *hdfs.Stager
	// Tokens go into the AM's launch context (delegation tokens on a
	// secure cluster); nil sends none.
	Tokens *yarn.Credentials
	// Progress receives the upload's progress; nil means none.
	Progress func(hdfs.Progress)
	// TempDir holds the spec and the stop secret while they are uploaded;
	// "" means os.TempDir().
	TempDir string
	Logger  zerolog.Logger
}

// Event is the submitted event of s, the first of its lifecycle.
func (s *Submitted) Event() Event {
	up := s.Uploaded
	return Event{Event: EventSubmitted, Time: time.Now().UTC(), AppID: s.ID.String(), Name: s.Name, Queue: s.Queue,
		StagingDir: s.StagingDir, Uploaded: &up}
}

// Submitted is a submitted application.
type Submitted struct {
	ID yarn.ApplicationID
	// Name and Queue are the application's (Queue "default" when the
	// submission named none).
	Name, Queue string
	// StagingDir is the application's staging directory (its URL).
	StagingDir string
	// Files are every staged file.
	Files []hdfs.StagedFile
	// Uploaded is the number of bytes uploaded (0 for a resubmit the
	// cache served whole).
	Uploaded int64
}

// UnconfirmedError is Submit's error when the RM took the submission but
// its acceptance could not be confirmed (ctx ended, the RM became
// unreachable): the application may exist and run, so its staging
// directory is kept. It matches yarn.ErrNotConfirmed and the cause.
type UnconfirmedError struct {
	ID yarn.ApplicationID
	// StagingDir is the kept staging directory (its URL).
	StagingDir string
	Err        error
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("application %s was submitted but its acceptance could not be confirmed (staging %s kept): %v", e.ID, e.StagingDir, e.Err)
}

func (e *UnconfirmedError) Unwrap() error { return e.Err }

// Submit stages the submission's files, the spec and a fresh stop secret,
// and submits the AM (asking for a new application id unless sub.App.ID
// is set). If anything fails after the staging directory was created, or
// ctx ends, it removes the staging directory again (with a context of its
// own, so that Ctrl-C during the upload leaves nothing behind) — unless
// the RM took the submission: when only its acceptance could not be
// confirmed, Submit keeps the staging and returns the Submitted together
// with an *UnconfirmedError.
func Submit(ctx context.Context, o SubmitOptions, sub *Submission) (_ *Submitted, err error) {
	if sub.App.ID.ClusterTimestamp == 0 {
		id, _, err := o.RM.GetNewApplication(ctx)
		if err != nil {
			return nil, err
		}
		sub.App.ID = id
	}
	id := sub.App.ID
	lg := o.Logger.With().Str("component", "submit").Stringer("app_id", id).Logger()
	if tm := &sub.Spec.TaskManagers; tm.Count > 0 && !tm.NoLocalitySpread && tm.NodeLabel == "" && len(tm.Nodes)+len(tm.Racks) == 0 && len(tm.ClusterNodes) == 0 {
		// The AM asks node-local on these (amapi.TaskManagerSpec.ClusterNodes);
		// without them it asks for any host, which only costs time.
		nodes, err := o.RM.GetClusterNodes(ctx, yarn.NodeRunning)
		if err != nil {
			lg.Warn().Err(err).Msg("could not list the cluster's nodes; the AM will ask for any host")
		}
		for _, n := range nodes {
			tm.ClusterNodes = append(tm.ClusterNodes, amapi.ClusterNodeFromReport(n))
		}
	}
	tempDir := o.TempDir
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	now := time.Now()
	for _, p := range append(sweepTemp(tempDir, SubmitTempPattern, now), sweepTemp(o.Stager.TempDir(), hdfs.ZipTempPattern, now)...) {
		lg.Info().Str("path", p).Msg("removed the leftover of a killed submit")
	}
	submitted := false
	defer func() {
		if err == nil || submitted {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := o.Stager.Delete(cctx, id.String()); derr != nil {
			lg.Warn().Err(derr).Msg("could not remove the staging directory of the failed submission; spindle gc will")
		}
	}()
	tmp, err := os.MkdirTemp(o.TempDir, SubmitTempPattern) // 0700
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The payload's private files: 0600 here and in the 0700 staging
	// directory, APPLICATION visibility, never cached; both sides.
	private := []hdfs.Source{}
	for _, name := range slices.Sorted(maps.Keys(sub.Private)) {
		p := filepath.Join(tmp, "private-"+strconv.Itoa(len(private)))
		if err := os.WriteFile(p, sub.Private[name], 0o600); err != nil {
			return nil, err
		}
		private = append(private, hdfs.Source{Path: p, Name: name, NoCache: true})
	}
	groups := [][]hdfs.Source{append(slices.Clone(sub.Shared), private...), sub.AMFiles, sub.TMFiles}
	var all []hdfs.Source
	for _, g := range groups {
		all = append(all, g...)
	}
	staged, err := o.Stager.Stage(ctx, id.String(), all, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("stage the files of %s: %w", id, err)
	}
	// Which side each staged file goes to: by the source it came from
	// (a directory's files are named <source name>/<path inside>).
	side := func(f hdfs.StagedFile) int {
		for gi, g := range groups {
			for _, s := range g {
				n := resourceName(s)
				if f.Name == n || strings.HasPrefix(f.Name, n+"/") {
					return gi
				}
			}
		}
		return 0
	}
	res := map[string]yarn.LocalResource{}
	spec := sub.Spec
	spec.TaskManagers.Files = map[string]amapi.LocalFile{}
	var uploaded int64
	for _, f := range staged {
		uploaded += f.Uploaded
		lf := amapi.FileFromStaged(f)
		s := side(f)
		if s != 2 {
			if res[f.Name], err = lf.Resource(); err != nil {
				return nil, err
			}
		}
		if s != 1 {
			spec.TaskManagers.Files[f.Name] = lf
		}
	}
	spec.Staging = amapi.StagingSpec{FS: o.Stager.URL("/"), Home: o.Stager.Home(), User: o.Stager.User()}
	secret, err := amapi.NewStopSecret()
	if err != nil {
		return nil, err
	}
	specBytes, err := spec.Marshal()
	if err != nil {
		return nil, err
	}
	specPath, secretPath := filepath.Join(tmp, amapi.SpecFile), filepath.Join(tmp, amapi.StopSecretFile)
	if err := os.WriteFile(specPath, specBytes, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
		return nil, err
	}
	more, err := o.Stager.Stage(ctx, id.String(), []hdfs.Source{{Path: specPath, NoCache: true}, {Path: secretPath, NoCache: true}}, nil)
	if err != nil {
		return nil, fmt.Errorf("stage the spec of %s: %w", id, err)
	}
	for _, f := range more {
		if res[f.Name], err = amapi.FileFromStaged(f).Resource(); err != nil {
			return nil, err
		}
	}
	tokens := o.Tokens
	if sub.Spec.Kerberos != nil || (tokens != nil && tokens.Len() > 0) {
		// The containers fetch the application's current tokens from the
		// AM (refreshed with a shipped keytab; the AM of a later attempt
		// hands them to the containers it adopts) with this secret, which
		// only the application's credentials hold.
		if tokens == nil {
			tokens = &yarn.Credentials{}
		} else {
			tokens = tokens.Clone()
		}
		cs, err := amapi.NewCredentialsSecret()
		if err != nil {
			return nil, err
		}
		tokens.AddSecret(amapi.CredentialsSecretAlias, cs)
	}
	app := sub.App
	app.AM = yarn.ContainerLaunchContext{Commands: []string{sub.AMCommand}, Environment: sub.AMEnv, LocalResources: res, Tokens: tokens}
	lg.Info().Int("files", len(staged)+len(more)).Int64("uploaded", uploaded).Msg("files staged; submitting")
	serr := o.RM.SubmitApplication(ctx, app)
	if serr != nil && !errors.Is(serr, yarn.ErrNotConfirmed) {
		return nil, fmt.Errorf("submit %s: %w", id, serr)
	}
	submitted = true
	queue := app.Queue
	if queue == "" {
		queue = "default"
	}
	s := &Submitted{ID: id, Name: app.Name, Queue: queue, StagingDir: o.Stager.URL(o.Stager.StagingDir(id.String())), Files: append(staged, more...), Uploaded: uploaded}
	if serr != nil {
		lg.Warn().Err(serr).Msg("submitted, but the acceptance could not be confirmed; staging kept")
		return s, &UnconfirmedError{ID: id, StagingDir: s.StagingDir, Err: serr}
	}
	return s, nil
}
