package hdfs_test

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// Staging to a secure HDFS: colinmarc/hdfs authenticates with the
// caller's Kerberos login (here from a kinit ticket cache) to a NameNode
// that refuses SIMPLE; the home directory is the principal's short name.
func TestStageKerberos(t *testing.T) {
	kdc := krbtest.Start(t)
	aliceKT, nnKT := kdc.AddPrincipal(t, "alice"), kdc.AddPrincipal(t, "nn/localhost")
	c, err := minihdfs.Start(testutil.Context(t, 60*time.Second), minihdfs.Options{
		Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"},
		Security: &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, nnKT), Principal: kdc.Principal("nn/localhost")},
		Logger:   zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, port, _ := net.SplitHostPort(c.NameNodeAddr())
	cfg := conf.New(conf.Options{})
	cfg.Set("fs.defaultFS", "hdfs://localhost:"+port, conf.Source{})
	cfg.Set("hadoop.security.authentication", "kerberos", conf.Source{})
	cfg.Set("dfs.namenode.kerberos.principal", "nn/_HOST@"+kdc.Realm, conf.Source{})

	// No login: one error naming the fix.
	_, err = hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{Conf: cfg})
	require.ErrorIs(t, err, hdfs.ErrAuthentication)
	require.ErrorIs(t, err, hdfs.ErrNoKerberosCredentials)
	require.ErrorContains(t, err, "no Kerberos credentials: hadoop.security.authentication is kerberos but there is no Kerberos login")
	require.NotContains(t, err.Error(), "--keytab", "flags are cmd's advice")

	cl := kdc.KinitClient(t, "alice", aliceKT, "1h")
	s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{Conf: cfg, KerberosClient: cl})
	require.NoError(t, err)
	require.Equal(t, "/user/alice", s.Home())
	local := t.TempDir()
	files := writeTree(t, local, map[string]int{"job.jar": 3000, "conf/a.yaml": 10})
	staged, err := s.Stage(testutil.Context(t, 60*time.Second), "application_1_0001", []hdfs.Source{{Path: filepath.Join(local, "job.jar")}, {Path: filepath.Join(local, "conf")}}, nil)
	require.NoError(t, err)
	require.Len(t, staged, 2)
	for _, f := range staged {
		require.Contains(t, f.URL, "hdfs://localhost:"+port+"/user/alice/.spindle/")
	}
	require.Equal(t, int64(len(files["job.jar"])), staged[0].Size)
	require.NoError(t, s.Delete(testutil.Context(t, 60*time.Second), "application_1_0001"))

	// A login the NameNode cannot verify (a principal unknown to the KDC).
	bad := kdc.KeytabClient(t, "bob", aliceKT, kdc.Config(t))
	_, err = hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{Conf: cfg, KerberosClient: bad})
	require.ErrorIs(t, err, hdfs.ErrAuthentication)
	require.ErrorIs(t, err, hdfs.ErrKerberosRefused)
	require.ErrorContains(t, err, "(check dfs.namenode.kerberos.principal nn/_HOST)")
	require.NotContains(t, err.Error(), "--keytab", "flags are cmd's advice")
	t.Log(err)
}
