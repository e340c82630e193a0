package session

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/yarn"
)

func TestMain(m *testing.M) { testutil.Main(m) }

func TestProperties(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, PropertiesFileName("alice"))
	require.Equal(t, ".spindle-yarn-properties-alice", filepath.Base(p))
	a := PropertiesFile{Path: p, Cluster: ClusterKey("", []string{"rma:8032"})}
	b := PropertiesFile{Path: p, Cluster: ClusterKey("", []string{"rmb:8032"})}
	_, err := a.Read()
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = Resolve(nil, a)
	require.ErrorIs(t, err, ErrNoSession)
	require.ErrorContains(t, err, "for this cluster (rma:8032)")

	idA := yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: 7}
	idB := yarn.ApplicationID{ClusterTimestamp: 1795317067999, ID: 1}
	require.NoError(t, a.Record(idA))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = b.Read()
	require.ErrorIs(t, err, os.ErrNotExist, "cluster B has no session")
	require.NoError(t, b.Record(idB))
	r, err := Resolve(nil, a)
	require.NoError(t, err)
	require.Equal(t, idA, r, "B's session did not replace A's")
	r, err = Resolve(nil, b)
	require.NoError(t, err)
	require.Equal(t, idB, r)
	other := yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}
	r, err = Resolve(&other, a)
	require.NoError(t, err)
	require.Equal(t, other, r, "an explicit id wins")

	// Forget: only the cluster's entry, only if it names the session.
	require.NoError(t, a.Forget(idB))
	got, err := a.Read()
	require.NoError(t, err)
	require.Equal(t, idA, got.AppID, "A's entry names another session: kept")
	require.NoError(t, a.Forget(idA))
	_, err = a.Read()
	require.ErrorIs(t, err, os.ErrNotExist)
	got, err = b.Read()
	require.NoError(t, err)
	require.Equal(t, idB, got.AppID)
	require.NoError(t, b.Forget(idB))
	_, err = os.Stat(p)
	require.ErrorIs(t, err, os.ErrNotExist, "the file goes with its last entry")
	require.NoError(t, b.Forget(idB), "nothing to forget")

	// An older spindle's file names no cluster: not a session of this one,
	// and replaced by the first record.
	require.NoError(t, os.WriteFile(p, []byte("#Spindle session properties\napplicationID=application_1795317067845_0009\n"), 0o600))
	_, err = a.Read()
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, a.Record(idA))
	content, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NotContains(t, string(content), "_0009")
	require.Contains(t, string(content), "session.1.cluster=rma:8032\nsession.1.applicationID=application_1795317067845_0007\n")

	require.NoError(t, os.WriteFile(p, []byte("session.1.cluster=rma:8032\nsession.1.applicationID=garbage\n"), 0o600))
	_, err = a.Read()
	require.ErrorContains(t, err, "remove the file or start a new session")
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary files left")
}

func TestClusterKey(t *testing.T) {
	require.Equal(t, "rm1:8032,rm2:8032", ClusterKey("", []string{"rm2:8032", "rm1:8032"}), "HA: every RM, in one order")
	require.Equal(t, "yarn-cluster@rm1:8032", ClusterKey("yarn-cluster", []string{"rm1:8032"}))
	require.NotEqual(t, ClusterKey("yarn-cluster", []string{"rm1:8032"}), ClusterKey("yarn-cluster", []string{"rm9:8032"}),
		"two clusters with the documentation's cluster-id")
}

// Commands recording sessions on many clusters at once all land, and the
// file keeps the newest maxRecorded.
func TestPropertiesConcurrentAndBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), PropertiesFileName("alice"))
	const n = 12
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			f := PropertiesFile{Path: p, Cluster: fmt.Sprintf("rm%d:8032", i)}
			errs <- f.Record(yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: int32(i + 1)})
		}()
	}
	for i := 0; i < n; i++ {
		require.NoError(t, <-errs)
	}
	for i := 0; i < n; i++ {
		got, err := PropertiesFile{Path: p, Cluster: fmt.Sprintf("rm%d:8032", i)}.Read()
		require.NoError(t, err, "cluster %d lost", i)
		require.Equal(t, int32(i+1), got.AppID.ID)
	}
	for i := n; i < maxRecorded+5; i++ {
		require.NoError(t, PropertiesFile{Path: p, Cluster: fmt.Sprintf("rm%d:8032", i)}.Record(yarn.ApplicationID{ClusterTimestamp: 1, ID: int32(i + 1)}))
	}
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Len(t, parseEntries(b), maxRecorded)
	_, err = PropertiesFile{Path: p, Cluster: fmt.Sprintf("rm%d:8032", maxRecorded+4)}.Read()
	require.NoError(t, err, "the newest is kept")
}
