package launch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
)

// The dry run lists a -t directory's symbolic links as staging ships
// them (as their targets), and Prepare refuses links out of the tree
// (unless --ship-follow-links) and dangling ones as invalid input (exit
// 2), naming the link and the fix.
func TestPrepareShipSymlinks(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "spindle")
	require.NoError(t, os.WriteFile(bin, []byte("x"), 0o600))
	tree, outside := filepath.Join(dir, "tree"), filepath.Join(dir, "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "sub"), 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	for _, f := range []string{filepath.Join(tree, "a"), filepath.Join(tree, "sub", "x"), filepath.Join(outside, "o")} {
		require.NoError(t, os.WriteFile(f, []byte("data"), 0o644))
	}
	require.NoError(t, os.Symlink("a", filepath.Join(tree, "alink")))
	require.NoError(t, os.Symlink("sub", filepath.Join(tree, "sublink")))
	req := Request{Mode: amapi.ModeSession, Payload: stubPayload{}, JobManagerMemoryMB: 512, TaskManagerMemoryMB: 512, VCores: 1, Slots: 1,
		TaskManagers: 1, Binary: bin, Ship: []string{tree}}
	sub, err := Prepare(req)
	require.NoError(t, err)
	tm := Describe(sub, nil, nil).TaskManagers.LocalResources
	for _, n := range []string{"tree/a", "tree/alink", "tree/sub/x", "tree/sublink/x"} {
		require.Contains(t, tm, n)
		require.Equal(t, int64(4), tm[n].Size, n)
	}

	link := filepath.Join(tree, "out")
	require.NoError(t, os.Symlink(filepath.Join(outside, "o"), link))
	_, err = Prepare(req)
	var lp *Problems
	require.True(t, errors.As(err, &lp) && lp.Has(Input), "%v", err)
	require.ErrorContains(t, err, link+" points outside the shipped directory")
	require.ErrorContains(t, err, "--ship-follow-links")
	req.ShipFollowLinks = true
	sub, err = Prepare(req)
	require.NoError(t, err)
	require.Contains(t, Describe(sub, nil, nil).TaskManagers.LocalResources, "tree/out")

	dangling := filepath.Join(tree, "gone")
	require.NoError(t, os.Symlink(filepath.Join(outside, "nothing"), dangling))
	_, err = Prepare(req)
	require.True(t, errors.As(err, &lp) && lp.Has(Input), "%v", err)
	require.ErrorContains(t, err, dangling+" is dangling")
}
