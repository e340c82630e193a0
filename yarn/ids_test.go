package yarn

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/internal/capture"
)

func TestIDsPrintAndParse(t *testing.T) {
	app := ApplicationID{ClusterTimestamp: 1795317067845, ID: 2}
	att := AttemptID{App: app, Attempt: 1}
	for _, tc := range []struct {
		s     string
		check func(t *testing.T, s string)
	}{
		{"application_1795317067845_0002", func(t *testing.T, s string) {
			a, err := ParseApplicationID(s)
			require.NoError(t, err)
			require.Equal(t, app, a)
			require.Equal(t, s, a.String())
		}},
		{"application_1795317067845_12345", func(t *testing.T, s string) { // widths are minimums
			a, err := ParseApplicationID(s)
			require.NoError(t, err)
			require.Equal(t, s, a.String())
		}},
		{"appattempt_1795317067845_0002_000001", func(t *testing.T, s string) {
			a, err := ParseAttemptID(s)
			require.NoError(t, err)
			require.Equal(t, att, a)
			require.Equal(t, s, a.String())
		}},
		{"container_1795317067845_0002_01_000003", func(t *testing.T, s string) {
			c, err := ParseContainerID(s)
			require.NoError(t, err)
			require.Equal(t, ContainerID{Attempt: att, ID: 3}, c)
			require.Zero(t, c.Epoch())
			require.Equal(t, s, c.String())
		}},
		{"container_e17_1795317067845_0002_01_000003", func(t *testing.T, s string) {
			c, err := ParseContainerID(s)
			require.NoError(t, err)
			require.EqualValues(t, 17, c.Epoch())
			require.EqualValues(t, 3, c.Seq())
			require.Equal(t, int64(17)<<40|3, c.ID)
			require.Equal(t, s, c.String())
		}},
		{"localhost:8041", func(t *testing.T, s string) {
			n, err := ParseNodeID(s)
			require.NoError(t, err)
			require.Equal(t, NodeID{"localhost", 8041}, n)
			require.Equal(t, s, n.String())
		}},
	} {
		t.Run(tc.s, func(t *testing.T) { tc.check(t, tc.s) })
	}
	for _, bad := range []string{"", "application_", "application_x_1", "application_1_-1", "appattempt_1_2", "container_1_2_3", "container_ex_1_2_3_4", "job_1_2", "container_e1_1_1_1_99999999999999"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			_, e1 := ParseApplicationID(bad)
			_, e2 := ParseAttemptID(bad)
			_, e3 := ParseContainerID(bad)
			require.ErrorIs(t, e1, ErrBadID)
			require.ErrorIs(t, e2, ErrBadID)
			require.ErrorIs(t, e3, ErrBadID)
		})
	}
}

// The container ids a real NodeManager handed to containers parse and print back.
func TestContainerIDFromRealEnvironment(t *testing.T) {
	dir, err := capture.Dir()
	require.NoError(t, err)
	f, err := os.Open(filepath.Join(dir, "distshell-run", "worker-container-env.txt"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONTAINER_ID="); ok {
			c, err := ParseContainerID(v)
			require.NoError(t, err)
			require.Equal(t, v, c.String())
			found = true
		}
	}
	require.True(t, found)
}

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"application_1795317067845_0002", "appattempt_1795317067845_0002_000001", "container_e17_1795317067845_0002_01_000003", "container_1_1_1_1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseApplicationID(s); err == nil {
			b, err := ParseApplicationID(a.String())
			require.NoError(t, err)
			require.Equal(t, a, b)
		}
		if a, err := ParseAttemptID(s); err == nil {
			b, err := ParseAttemptID(a.String())
			require.NoError(t, err)
			require.Equal(t, a, b)
		}
		if c, err := ParseContainerID(s); err == nil {
			d, err := ParseContainerID(c.String())
			require.NoError(t, err)
			require.Equal(t, c, d)
		}
	})
}
