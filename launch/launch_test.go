package launch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

func TestMain(m *testing.M) { testutil.Main(m) }

func TestParseMemoryMB(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "512m": 512, "512M": 512, "1g": 1024, "1 GB": 1024, "2gib": 2048,
		"1048576k": 1024, "1b": 1, "1048577b": 2, "1t": 1 << 20} {
		t.Run(in, func(t *testing.T) {
			got, err := ParseMemoryMB(in)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
	for _, in := range []string{"", "m", "lots", "1x", "-1g", "99999999999t"} {
		t.Run("bad "+in, func(t *testing.T) {
			_, err := ParseMemoryMB(in)
			require.Error(t, err)
		})
	}
}

func TestRoundUp(t *testing.T) {
	require.Equal(t, int64(1024), roundUp(1, 1024))
	require.Equal(t, int64(1024), roundUp(1024, 1024))
	require.Equal(t, int64(2048), roundUp(1025, 1024))
	require.Equal(t, int64(7), roundUp(7, 0))
}

func TestProblems(t *testing.T) {
	var p Problems
	require.NoError(t, p.Err())
	p.add(Unreachable, yarn.ErrUnreachable, "cannot reach")
	require.True(t, p.Has(Unreachable))
	require.False(t, p.Has(Input))
	require.ErrorIs(t, p.Err(), yarn.ErrUnreachable)
	require.Equal(t, "1 problem found before submitting, nothing was uploaded or submitted:\n  - cannot reach", p.Err().Error())
	p.Add(Input, "-s %d: bad", 0)
	require.Contains(t, p.Err().Error(), "2 problems found")
	require.Contains(t, p.Err().Error(), "\n  - -s 0: bad")
}

func TestEndError(t *testing.T) {
	id := yarn.ApplicationID{ClusterTimestamp: 1, ID: 2}
	for _, tc := range []struct {
		state yarn.AppState
		final yarn.FinalStatus
		want  error
	}{
		{yarn.StateFinished, yarn.FinalSucceeded, nil},
		{yarn.StateFinished, yarn.FinalFailed, ErrFailed},
		{yarn.StateFailed, yarn.FinalFailed, ErrFailed},
		{yarn.StateFinished, yarn.FinalUndefined, ErrFailed},
		{yarn.StateKilled, yarn.FinalKilled, ErrKilled},
		{yarn.StateFinished, yarn.FinalKilled, ErrKilled},
	} {
		t.Run(fmt.Sprintf("%s-%s", tc.state, tc.final), func(t *testing.T) {
			err := EndError(yarn.AppReport{ID: id, State: tc.state, FinalStatus: tc.final, Diagnostics: "why"})
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.True(t, IsEnd(err))
			require.Contains(t, err.Error(), "why")
		})
	}
	require.False(t, IsEnd(errors.New("x")))
	require.Error(t, EndError(yarn.AppReport{ID: id, State: yarn.StateRunning}))
}

func TestRedactEnv(t *testing.T) {
	got := redactEnv(map[string]string{"HADOOP_CONF_DIR": "hadoop-conf", "AWS_SECRET_ACCESS_KEY": "s", "DB_PASSWORD": "p", "MY_TOKEN": "t", "PATH": "/bin"})
	require.Equal(t, map[string]string{"HADOOP_CONF_DIR": "hadoop-conf", "AWS_SECRET_ACCESS_KEY": Redacted, "DB_PASSWORD": Redacted, "MY_TOKEN": Redacted, "PATH": "/bin"}, got)

	// Names with PASS, PWD, SECRET, TOKEN or KEY anywhere, and the
	// password of a user:password@ URL in any value.
	got = redactEnv(map[string]string{"SMTP_PASS": "a", "MYSQL_PWD": "b", "KEYSTORE_PATH": "c", "apiKey": "d", "GH_TOKEN_FILE": "e",
		"DB_URL": "jdbc:postgresql://db:5432/x", "S3_URL": "s3a://AKIA:wJalrXUtn/FEMI@bucket/path", "PROXY": "http://bob:hunter2@proxy:3128",
		"MIRROR": "https://user@host/repo"})
	require.Equal(t, map[string]string{"SMTP_PASS": Redacted, "MYSQL_PWD": Redacted, "KEYSTORE_PATH": Redacted, "apiKey": Redacted,
		"GH_TOKEN_FILE": Redacted, "DB_URL": "jdbc:postgresql://db:5432/x", "S3_URL": "s3a://AKIA:" + Redacted + "@bucket/path",
		"PROXY": "http://bob:" + Redacted + "@proxy:3128", "MIRROR": "https://user@host/repo"}, got)
}

// stubPayload plans one JobManager and a TaskManager command.
type stubPayload struct{}

func (stubPayload) Name() string { return "stub" }

func (stubPayload) Plan(amapi.PayloadRequest) (amapi.PayloadPlan, error) {
	return amapi.PayloadPlan{JobManager: amapi.ProcessSpec{Command: []string{"jm"}}, TaskManagerCommand: "tm"}, nil
}

// A shipped keytab goes to the AM only, uncached (so APPLICATION
// visibility, 0600 in the staging directory), under its fixed name; the
// spec tells the AM to log in with it; the dry run never shows its path;
// and a keytab without a principal, or one that cannot be read, is
// refused without printing the path either.
func TestPrepareShipsKeytab(t *testing.T) {
	dir := t.TempDir()
	bin, kt, krb5 := filepath.Join(dir, "spindle"), filepath.Join(dir, "secret-place.keytab"), filepath.Join(dir, "krb5.conf")
	for _, f := range []string{bin, kt, krb5} {
		require.NoError(t, os.WriteFile(f, []byte("x"), 0o600))
	}
	req := Request{Mode: amapi.ModeSession, Payload: stubPayload{}, JobManagerMemoryMB: 512, TaskManagerMemoryMB: 512, VCores: 1, Slots: 1,
		TaskManagers: 1, Binary: bin, Keytab: kt, Principal: "alice@EXAMPLE.COM", Krb5Conf: krb5}
	sub, err := Prepare(req)
	require.NoError(t, err)
	require.Equal(t, &amapi.KerberosSpec{Principal: "alice@EXAMPLE.COM", Keytab: amapi.KeytabFile, Krb5Conf: amapi.Krb5ConfFile}, sub.Spec.Kerberos)
	require.Contains(t, sub.AMFiles, hdfs.Source{Path: kt, Name: amapi.KeytabFile, NoCache: true})
	require.Contains(t, sub.AMFiles, hdfs.Source{Path: krb5, Name: amapi.Krb5ConfFile, NoCache: true})
	for _, s := range append(sub.Shared, sub.TMFiles...) {
		require.NotEqual(t, kt, s.Path, "the keytab never goes to the TaskManagers")
	}
	d := Describe(sub, nil, nil)
	require.Equal(t, PlannedRes{Source: Redacted + " (--keytab)", Size: 1, Type: "FILE", Visibility: "APPLICATION"}, d.AM.LocalResources[amapi.KeytabFile])
	require.NotContains(t, d.TaskManagers.LocalResources, amapi.KeytabFile)
	b, err := json.Marshal(d)
	require.NoError(t, err)
	require.NotContains(t, string(b), "secret-place")

	req.Principal = ""
	_, err = Prepare(req)
	require.ErrorContains(t, err, "--ship-keytab needs --principal")
	req.Principal, req.Keytab = "alice", filepath.Join(dir, "gone-secret-place.keytab")
	_, err = Prepare(req)
	require.ErrorContains(t, err, "--keytab: the keytab is not a readable file")
	require.NotContains(t, err.Error(), "secret-place")

	req.Keytab, req.Ship = "", []string{kt}
	require.NoError(t, os.Rename(kt, filepath.Join(dir, amapi.KeytabFile)))
	req.Ship = []string{filepath.Join(dir, amapi.KeytabFile)}
	_, err = Prepare(req)
	require.ErrorContains(t, err, `its name "krb5.keytab" is taken by the shipped keytab`)
}
