package conf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// kerberosConfDir holds the site files of the Hadoop 3.3.6 Kerberos test
// cluster the wire captures came from.
const kerberosConfDir = "../../shared/fixtures/hadoop-3.3.6/kerberos/conf"

func fixtureDir(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(kerberosConfDir, YARNSite)); err != nil {
		t.Skipf("fixtures not available: %v", err)
	}
	return kerberosConfDir
}

func TestKerberosFixture(t *testing.T) {
	dir := fixtureDir(t)
	c, err := Load(dir, Options{})
	require.NoError(t, err)

	t.Run("rm addresses", func(t *testing.T) {
		for svc, want := range map[RMService]string{
			RMClient:          "localhost:39032",
			RMScheduler:       "localhost:39030",
			RMResourceTracker: "localhost:39031",
			RMAdmin:           "localhost:39033",
			RMWebApp:          "localhost:39088",
			RMWebAppHTTPS:     "localhost:39090",
		} {
			addrs, err := c.RMAddresses(svc)
			require.NoError(t, err)
			require.Len(t, addrs, 1)
			require.Equal(t, want, addrs[0].Address, svc.String())
			require.Equal(t, svc.Key(), addrs[0].Key)
			require.Equal(t, filepath.Join(dir, YARNSite), addrs[0].Source.File)
			require.False(t, addrs[0].Default)
		}
		addrs, err := c.RMAddresses(RMClient)
		require.NoError(t, err)
		require.Equal(t, 4, addrs[0].Source.Line)
	})

	t.Run("security", func(t *testing.T) {
		sec, err := c.Security()
		require.NoError(t, err)
		require.Equal(t, Security{
			Authentication:    AuthKerberos,
			Protection:        []QOP{QOPAuthentication},
			RMPrincipal:       "rm/_HOST@EXAMPLE.COM",
			NameNodePrincipal: "nn/_HOST@EXAMPLE.COM",
		}, sec)
	})

	t.Run("hdfs", func(t *testing.T) {
		fs, err := c.DefaultFS()
		require.NoError(t, err)
		require.Equal(t, "hdfs://localhost:39000", fs)
		nns, err := c.NameNodes("")
		require.NoError(t, err)
		require.Equal(t, []NameNodeAddr{{
			Address: "localhost:39000",
			Key:     KeyDefaultFS,
			Source:  Source{File: filepath.Join(dir, CoreSite), Line: 3},
		}}, nns)
		rpc, err := c.Get("dfs.namenode.rpc-address")
		require.NoError(t, err)
		require.Equal(t, "localhost:39000", rpc)
	})

	t.Run("values", func(t *testing.T) {
		mem, err := c.GetInt("yarn.nodemanager.resource.memory-mb", 0)
		require.NoError(t, err)
		require.Equal(t, 8192, mem)
		vmem, err := c.GetBool("yarn.nodemanager.vmem-check-enabled", true)
		require.NoError(t, err)
		require.False(t, vmem)
		rules, err := c.Get("hadoop.security.auth_to_local")
		require.NoError(t, err)
		require.Equal(t, "RULE:[1:$1@$0](.*@EXAMPLE.COM)s/.*/root/\nRULE:[2:$1@$0](.*@EXAMPLE.COM)s/.*/root/\nDEFAULT", rules)
		delay, err := c.GetDuration("yarn.nodemanager.delete.debug-delay-sec", 0, 1e9)
		require.NoError(t, err)
		require.Equal(t, 36000.0, delay.Seconds())
		ha, err := c.GetBool(KeyRMHAEnabled, false)
		require.NoError(t, err)
		require.False(t, ha)
		require.False(t, c.IsFinal(KeyRMAddress))
	})

	t.Run("defaults where unset", func(t *testing.T) {
		r, err := c.RMRetry()
		require.NoError(t, err)
		require.Equal(t, 900000.0, float64(r.MaxWait.Milliseconds()))
		ipc, err := c.IPC()
		require.NoError(t, err)
		require.Equal(t, int64(120000), ipc.RPCTimeout.Milliseconds())
	})

	t.Run("each file parses alone", func(t *testing.T) {
		for file, n := range map[string]int{CoreSite: 6, HDFSSite: 24, YARNSite: 33} {
			f, err := os.Open(filepath.Join(dir, file))
			require.NoError(t, err)
			pc, err := Parse(f, file)
			require.NoError(t, f.Close())
			require.NoError(t, err)
			require.Equal(t, n, pc.Len(), file)
		}
	})
}
