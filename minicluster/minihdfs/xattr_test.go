package minihdfs_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// TestColinmarcXAttrs sets, lists, gets and removes extended attributes
// with the unmodified colinmarc/hdfs client, in the user. and trusted.
// namespaces, as the superuser and as a user.
func TestColinmarcXAttrs(t *testing.T) {
	c := start(t, nil)
	root, alice := client(t, c, "root"), client(t, c, "alice")
	require.NoError(t, writeFile(root, "/user/root/x", []byte("x"), 0o644))
	require.NoError(t, root.Mkdir("/user/root/d", 0o755))

	require.NoError(t, root.SetXAttr("/user/root/x", "user.a", "1"))
	require.NoError(t, root.SetXAttr("/user/root/x", "user.b", ""))
	require.NoError(t, root.SetXAttr("/user/root/x", "trusted.t", "secret"))
	require.NoError(t, root.SetXAttr("/user/root/x", "user.a", "2"), "CREATE|REPLACE replaces")
	require.NoError(t, root.SetXAttr("/user/root/d", "user.dir", "yes"))

	all, err := root.ListXAttrs("/user/root/x")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.a": "2", "user.b": "", "trusted.t": "secret"}, all)
	got, err := root.GetXAttrs("/user/root/x", "user.a", "trusted.t")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.a": "2", "trusted.t": "secret"}, got)
	got, err = root.GetXAttrs("/user/root/d", "user.dir")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.dir": "yes"}, got)

	// A user sees only user. attributes, may not ask for trusted. ones,
	// and may not change a file it cannot write.
	all, err = alice.ListXAttrs("/user/root/x")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.a": "2", "user.b": ""}, all)
	_, err = alice.GetXAttrs("/user/root/x", "trusted.t")
	require.True(t, denied(err), "%v", err)
	require.True(t, denied(alice.SetXAttr("/user/root/x", "user.c", "v")))
	require.True(t, denied(alice.SetXAttr("/user/alice", "trusted.c", "v")))

	_, err = root.GetXAttrs("/user/root/x", "user.nope")
	require.ErrorContains(t, err, "one or more keys not found")
	require.NoError(t, root.RemoveXAttr("/user/root/x", "user.a"))
	require.ErrorContains(t, root.RemoveXAttr("/user/root/x", "user.a"), "one or more keys not found")
	all, err = root.ListXAttrs("/user/root/x")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"user.b": "", "trusted.t": "secret"}, all)
}

// TestXAttrExceptions checks the exception classes and messages of the
// xattr calls against FSDirXAttrOp, XAttrSetFlag.validate and
// XAttrPermissionFilter, and the flags CREATE and REPLACE.
func TestXAttrExceptions(t *testing.T) {
	c := start(t, nil)
	root, alice := dialNN(t, c, "root"), dialNN(t, c, "alice")
	cl := client(t, c, "root")
	require.NoError(t, writeFile(cl, "/user/root/f", []byte("f"), 0o644))
	root.mkdir("/tmp", 0o777)
	require.NoError(t, root.call("setPermission", &hdfspb.SetPermissionRequestProto{Src: proto.String("/tmp"), Permission: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o1777)}}, &hdfspb.SetPermissionResponseProto{}))
	user := func(name, value string) *hdfspb.XAttrProto {
		return &hdfspb.XAttrProto{Namespace: hdfspb.XAttrProto_USER.Enum(), Name: proto.String(name), Value: []byte(value)}
	}
	ns := func(n hdfspb.XAttrProto_XAttrNamespaceProto, name string) *hdfspb.XAttrProto {
		return &hdfspb.XAttrProto{Namespace: n.Enum(), Name: proto.String(name)}
	}
	set := func(p string, x *hdfspb.XAttrProto, flag uint32) *hdfspb.SetXAttrRequestProto {
		return &hdfspb.SetXAttrRequestProto{Src: proto.String(p), XAttr: x, Flag: proto.Uint32(flag)}
	}
	require.NoError(t, root.call("setXAttr", set("/user/root/f", user("k", "v"), 1), &hdfspb.SetXAttrResponseProto{}))
	const (
		ioe  = "java.io.IOException"
		ace  = "org.apache.hadoop.security.AccessControlException"
		fnf  = "java.io.FileNotFoundException"
		hiae = "org.apache.hadoop.HadoopIllegalArgumentException"
	)
	cases := []struct {
		name      string
		conn      *nnConn
		method    string
		req, resp proto.Message
		class     string
		msg       string
	}{
		{"create existing", root, "setXAttr", set("/user/root/f", user("k", "w"), 1), &hdfspb.SetXAttrResponseProto{}, ioe,
			"XAttr: k already exists. The REPLACE flag must be specified."},
		{"replace missing", root, "setXAttr", set("/user/root/f", user("n", "w"), 2), &hdfspb.SetXAttrResponseProto{}, ioe,
			"XAttr: n does not exist. The CREATE flag must be specified."},
		{"no flag", root, "setXAttr", set("/user/root/f", user("n", "w"), 0), &hdfspb.SetXAttrResponseProto{}, hiae, "A flag must be specified."},
		{"set on missing file", root, "setXAttr", set("/user/root/nope", user("n", "w"), 1), &hdfspb.SetXAttrResponseProto{}, fnf, "cannot find /user/root/nope"},
		{"too big", root, "setXAttr", set("/user/root/f", user("big", string(make([]byte, 16384))), 1), &hdfspb.SetXAttrResponseProto{}, hiae,
			"The XAttr is too big. The maximum combined size of the name and value is 16384, but the total size is 16387"},
		{"trusted by a user", alice, "setXAttr", set("/user/alice", ns(hdfspb.XAttrProto_TRUSTED, "t"), 1), &hdfspb.SetXAttrResponseProto{}, ace,
			"User doesn't have permission for xattr: trusted.t"},
		{"system by the superuser", root, "setXAttr", set("/user/root/f", ns(hdfspb.XAttrProto_SYSTEM, "s"), 1), &hdfspb.SetXAttrResponseProto{}, ace,
			"User doesn't have permission for xattr: system.s"},
		{"user attr without write", alice, "setXAttr", set("/user/root/f", user("a", "v"), 1), &hdfspb.SetXAttrResponseProto{}, ace,
			`Permission denied: user=alice, access=WRITE, inode="/user/root/f":root:supergroup:-rw-r--r--`},
		{"sticky directory not owned", alice, "setXAttr", set("/tmp", user("a", "v"), 1), &hdfspb.SetXAttrResponseProto{}, ace,
			"Permission denied. user=alice is not the owner of inode=/tmp"},
		{"get missing key", root, "getXAttrs", &hdfspb.GetXAttrsRequestProto{Src: proto.String("/user/root/f"), XAttrs: []*hdfspb.XAttrProto{ns(hdfspb.XAttrProto_USER, "k"), ns(hdfspb.XAttrProto_USER, "n")}},
			&hdfspb.GetXAttrsResponseProto{}, ioe, "At least one of the attributes provided was not found."},
		{"get on missing file", root, "getXAttrs", &hdfspb.GetXAttrsRequestProto{Src: proto.String("/nope"), XAttrs: []*hdfspb.XAttrProto{ns(hdfspb.XAttrProto_USER, "k")}},
			&hdfspb.GetXAttrsResponseProto{}, fnf, "cannot find /nope"},
		{"get trusted by a user", alice, "getXAttrs", &hdfspb.GetXAttrsRequestProto{Src: proto.String("/user/root/f"), XAttrs: []*hdfspb.XAttrProto{ns(hdfspb.XAttrProto_TRUSTED, "k")}},
			&hdfspb.GetXAttrsResponseProto{}, ace, "User doesn't have permission for xattr: trusted.k"},
		{"list on missing file", root, "listXAttrs", &hdfspb.ListXAttrsRequestProto{Src: proto.String("/nope")}, &hdfspb.ListXAttrsResponseProto{}, fnf, "cannot find /nope"},
		{"remove missing key", root, "removeXAttr", &hdfspb.RemoveXAttrRequestProto{Src: proto.String("/user/root/f"), XAttr: ns(hdfspb.XAttrProto_USER, "n")},
			&hdfspb.RemoveXAttrResponseProto{}, ioe, "No matching attributes found for remove operation"},
		{"remove by a user", alice, "removeXAttr", &hdfspb.RemoveXAttrRequestProto{Src: proto.String("/user/root/f"), XAttr: ns(hdfspb.XAttrProto_USER, "k")},
			&hdfspb.RemoveXAttrResponseProto{}, ace, `Permission denied: user=alice, access=WRITE, inode="/user/root/f":root:supergroup:-rw-r--r--`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireRemote(t, tc.conn.call(tc.method, tc.req, tc.resp), tc.class, tc.msg)
		})
	}

	// REPLACE replaces, and the attribute set last is listed first.
	require.NoError(t, root.call("setXAttr", set("/user/root/f", user("k", "w"), 2), &hdfspb.SetXAttrResponseProto{}))
	require.NoError(t, root.call("setXAttr", set("/user/root/f", &hdfspb.XAttrProto{Namespace: hdfspb.XAttrProto_USER.Enum(), Name: proto.String("novalue")}, 1), &hdfspb.SetXAttrResponseProto{}))
	l := &hdfspb.ListXAttrsResponseProto{}
	require.NoError(t, root.call("listXAttrs", &hdfspb.ListXAttrsRequestProto{Src: proto.String("/user/root/f")}, l))
	require.Len(t, l.GetXAttrs(), 2)
	require.Equal(t, "novalue", l.GetXAttrs()[0].GetName())
	require.Nil(t, l.GetXAttrs()[0].Value, "an attribute set without a value has none")
	require.Equal(t, "w", string(l.GetXAttrs()[1].GetValue()))

	// 32 user-visible attributes per inode.
	for i := 2; i < 32; i++ {
		require.NoError(t, root.call("setXAttr", set("/user/root/f", user("n"+itoa(i), ""), 1), &hdfspb.SetXAttrResponseProto{}))
	}
	requireRemote(t, root.call("setXAttr", set("/user/root/f", user("one-more", ""), 1), &hdfspb.SetXAttrResponseProto{}), ioe,
		"Cannot add additional XAttr to inode, would exceed limit of 32")
}
