package session

import (
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
	_, err := ReadProperties(p)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = Resolve(nil, p)
	require.ErrorIs(t, err, ErrNoSession)

	id := yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: 7}
	require.NoError(t, WriteProperties(p, Properties{AppID: id}))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	got, err := ReadProperties(p)
	require.NoError(t, err)
	require.Equal(t, id, got.AppID)
	r, err := Resolve(nil, p)
	require.NoError(t, err)
	require.Equal(t, id, r)
	other := yarn.ApplicationID{ClusterTimestamp: 1, ID: 1}
	r, err = Resolve(&other, p)
	require.NoError(t, err)
	require.Equal(t, other, r, "an explicit id wins")

	// Flink's format (java.util.Properties, comments and all) reads too.
	require.NoError(t, os.WriteFile(p, []byte("#Generated YARN properties file\n#Sun Nov 22 06:00:00 UTC 2026\ndynamicPropertiesString=\napplicationID=application_1795317067845_0009\n"), 0o600))
	got, err = ReadProperties(p)
	require.NoError(t, err)
	require.Equal(t, int32(9), got.AppID.ID)
	require.NoError(t, os.WriteFile(p, []byte("applicationID=garbage\n"), 0o600))
	_, err = ReadProperties(p)
	require.ErrorContains(t, err, "remove the file or start a new session")
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary files left")
}
