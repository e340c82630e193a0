package minihdfs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	colinmarc "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

const clientProtocol = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// nnConn is a raw ClientNamenodeProtocol connection through Spindle's own
// ipc client, to see exception classes and messages as a Java client would.
type nnConn struct {
	t    *testing.T
	conn *ipc.Conn
	ctx  context.Context
}

func dialNN(t *testing.T, c *minihdfs.Cluster, user string) *nnConn {
	t.Helper()
	ctx := testutil.Context(t, 30*time.Second)
	conn, err := ipc.Dial(ctx, ipc.Options{Addr: c.NameNodeAddr(), Protocol: clientProtocol, User: user})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &nnConn{t: t, conn: conn, ctx: ctx}
}

func (n *nnConn) call(method string, req, resp proto.Message) error {
	return n.conn.Call(n.ctx, method, req, resp)
}

func (n *nnConn) mkdir(p string, perm uint32) {
	n.t.Helper()
	require.NoError(n.t, n.call("mkdirs", &hdfspb.MkdirsRequestProto{Src: proto.String(p),
		Masked: &hdfspb.FsPermissionProto{Perm: proto.Uint32(perm)}, CreateParent: proto.Bool(true)}, &hdfspb.MkdirsResponseProto{}))
}

func createReq(p, client string, flag uint32) *hdfspb.CreateRequestProto {
	return &hdfspb.CreateRequestProto{Src: proto.String(p), Masked: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o644)},
		ClientName: proto.String(client), CreateFlag: proto.Uint32(flag), CreateParent: proto.Bool(true),
		Replication: proto.Uint32(1), BlockSize: proto.Uint64(1 << 20)}
}

func (n *nnConn) create(p, client string) *hdfspb.HdfsFileStatusProto {
	n.t.Helper()
	resp := &hdfspb.CreateResponseProto{}
	require.NoError(n.t, n.call("create", createReq(p, client, 1), resp))
	return resp.GetFs()
}

func (n *nnConn) stat(p string) *hdfspb.HdfsFileStatusProto {
	n.t.Helper()
	resp := &hdfspb.GetFileInfoResponseProto{}
	require.NoError(n.t, n.call("getFileInfo", &hdfspb.GetFileInfoRequestProto{Src: proto.String(p)}, resp))
	return resp.GetFs()
}

func requireRemote(t *testing.T, err error, class, msg string) {
	t.Helper()
	var re *ipc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, class, re.Class)
	require.Equal(t, msg, re.Message)
}

// TestExceptions checks the Java exception classes and messages of the
// NameNode's failure cases, as HDFS 3.3 words them.
func TestExceptions(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.Users = []string{"root", "alice", "bob"} })
	root, alice, bob := dialNN(t, c, "root"), dialNN(t, c, "alice"), dialNN(t, c, "bob")
	root.mkdir("/user/root/d/e", 0o755)
	root.create("/user/root/f", "DFSClient_root")
	require.NoError(t, root.call("complete", &hdfspb.CompleteRequestProto{Src: proto.String("/user/root/f"), ClientName: proto.String("DFSClient_root")}, &hdfspb.CompleteResponseProto{}))
	root.mkdir("/tmp", 0o777)
	require.NoError(t, root.call("setPermission", &hdfspb.SetPermissionRequestProto{Src: proto.String("/tmp"), Permission: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o1777)}}, &hdfspb.SetPermissionResponseProto{}))
	alice.create("/tmp/a", "DFSClient_alice")

	const (
		fnf  = "java.io.FileNotFoundException"
		faee = "org.apache.hadoop.fs.FileAlreadyExistsException"
		ace  = "org.apache.hadoop.security.AccessControlException"
		pnde = "org.apache.hadoop.fs.ParentNotDirectoryException"
		ioe  = "java.io.IOException"
	)
	mk := func(p string, parent bool) *hdfspb.MkdirsRequestProto {
		return &hdfspb.MkdirsRequestProto{Src: proto.String(p), Masked: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o755)}, CreateParent: proto.Bool(parent)}
	}
	cases := []struct {
		name      string
		conn      *nnConn
		method    string
		req, resp proto.Message
		class     string
		msg       string
	}{
		{"mkdirs over a file", root, "mkdirs", mk("/user/root/f", true), &hdfspb.MkdirsResponseProto{}, faee, "Path is not a directory: /user/root/f"},
		{"mkdirs below a file", root, "mkdirs", mk("/user/root/f/g", true), &hdfspb.MkdirsResponseProto{}, pnde, "/user/root/f (is not a directory)"},
		{"mkdirs without parent", root, "mkdirs", mk("/user/root/x/y", false), &hdfspb.MkdirsResponseProto{}, fnf, "Parent directory doesn't exist: /user/root/x"},
		{"mkdirs denied", alice, "mkdirs", mk("/user/root/z", true), &hdfspb.MkdirsResponseProto{}, ace,
			`Permission denied: user=alice, access=WRITE, inode="/user/root":root:supergroup:drwxr-xr-x`},
		{"stat through a file", alice, "getFileInfo", &hdfspb.GetFileInfoRequestProto{Src: proto.String("/user/root/f/x")}, &hdfspb.GetFileInfoResponseProto{}, ace, "/user/root/f (is not a directory)"},
		{"create existing", root, "create", createReq("/user/root/f", "DFSClient_root", 1), &hdfspb.CreateResponseProto{}, faee, "/user/root/f for client 127.0.0.1 already exists"},
		{"create over a directory", root, "create", createReq("/user/root/d", "DFSClient_root", 3), &hdfspb.CreateResponseProto{}, faee, "/user/root/d already exists as a directory"},
		{"create being written", bob, "create", createReq("/tmp/a", "DFSClient_bob", 1), &hdfspb.CreateResponseProto{},
			"org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
			"Failed to CREATE_FILE /tmp/a for DFSClient_bob on 127.0.0.1 because this file lease is currently owned by DFSClient_alice on 127.0.0.1"},
		{"create denied", alice, "create", createReq("/user/root/new", "DFSClient_alice", 1), &hdfspb.CreateResponseProto{}, ace,
			`Permission denied: user=alice, access=WRITE, inode="/user/root":root:supergroup:drwxr-xr-x`},
		{"create tiny blocks", root, "create", func() *hdfspb.CreateRequestProto {
			r := createReq("/user/root/t", "c", 1)
			r.BlockSize = proto.Uint64(512)
			return r
		}(),
			&hdfspb.CreateResponseProto{}, ioe, "Specified block size is less than configured minimum value (dfs.namenode.fs-limits.min-block-size): 512 < 1048576"},
		{"delete non-empty", root, "delete", &hdfspb.DeleteRequestProto{Src: proto.String("/user/root/d"), Recursive: proto.Bool(false)}, &hdfspb.DeleteResponseProto{},
			"org.apache.hadoop.fs.PathIsNotEmptyDirectoryException", "`/user/root/d is non empty': Directory is not empty"},
		{"delete sticky", bob, "delete", &hdfspb.DeleteRequestProto{Src: proto.String("/tmp/a"), Recursive: proto.Bool(false)}, &hdfspb.DeleteResponseProto{}, ace,
			`Permission denied by sticky bit: user=bob, path="/tmp/a":alice:supergroup:-rw-r--r--, parent="/tmp":root:supergroup:drwxrwxrwt`},
		{"read a directory", root, "getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/d"), Offset: proto.Uint64(0), Length: proto.Uint64(1)},
			&hdfspb.GetBlockLocationsResponseProto{}, fnf, "Path is not a file: /user/root/d"},
		{"read missing", root, "getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/nope"), Offset: proto.Uint64(0), Length: proto.Uint64(1)},
			&hdfspb.GetBlockLocationsResponseProto{}, fnf, "File does not exist: /nope"},
		{"chmod missing", root, "setPermission", &hdfspb.SetPermissionRequestProto{Src: proto.String("/nope"), Permission: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0)}},
			&hdfspb.SetPermissionResponseProto{}, fnf, "Directory/File does not exist /nope"},
		{"chmod not owner", alice, "setPermission", &hdfspb.SetPermissionRequestProto{Src: proto.String("/user/root/f"), Permission: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o777)}},
			&hdfspb.SetPermissionResponseProto{}, ace, "Permission denied. user=alice is not the owner of inode=/user/root/f"},
		{"chown by non-superuser", alice, "setOwner", &hdfspb.SetOwnerRequestProto{Src: proto.String("/tmp/a"), Username: proto.String("bob")},
			&hdfspb.SetOwnerResponseProto{}, ace, "User alice is not a super user (non-super user cannot change owner)."},
		{"rename2 onto existing", root, "rename2", &hdfspb.Rename2RequestProto{Src: proto.String("/user/root/d/e"), Dst: proto.String("/user/root/d"), OverwriteDest: proto.Bool(false)},
			&hdfspb.Rename2ResponseProto{}, faee, "rename destination /user/root/d already exists"},
		{"rename2 under itself", root, "rename2", &hdfspb.Rename2RequestProto{Src: proto.String("/user/root/d"), Dst: proto.String("/user/root/d/e/x"), OverwriteDest: proto.Bool(false)},
			&hdfspb.Rename2ResponseProto{}, ioe, "Rename destination /user/root/d/e/x is a directory or file under source /user/root/d"},
		{"rename2 missing", root, "rename2", &hdfspb.Rename2RequestProto{Src: proto.String("/nope"), Dst: proto.String("/x"), OverwriteDest: proto.Bool(false)},
			&hdfspb.Rename2ResponseProto{}, fnf, "rename source /nope is not found."},
		{"replication 0", root, "setReplication", &hdfspb.SetReplicationRequestProto{Src: proto.String("/user/root/f"), Replication: proto.Uint32(0)},
			&hdfspb.SetReplicationResponseProto{}, ioe, "Requested replication factor of 0 is less than the required minimum of 1 for /user/root/f"},
		{"addBlock without lease", root, "addBlock", &hdfspb.AddBlockRequestProto{Src: proto.String("/user/root/f"), ClientName: proto.String("DFSClient_root")},
			&hdfspb.AddBlockResponseProto{}, "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException",
			"File is not open for writing: /user/root/f (inode 0) Holder DFSClient_root does not have any open files."},
		{"setTimes missing", root, "setTimes", &hdfspb.SetTimesRequestProto{Src: proto.String("/nope"), Mtime: proto.Uint64(1), Atime: proto.Uint64(1)},
			&hdfspb.SetTimesResponseProto{}, fnf, "File/Directory /nope does not exist."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireRemote(t, tc.conn.call(tc.method, tc.req, tc.resp), tc.class, tc.msg)
		})
	}

	// Not errors: a missing file has no status; the superuser sees none
	// through a file; delete of a missing path is false.
	require.Nil(t, root.stat("/nope"))
	require.Nil(t, root.stat("/user/root/f/x"))
	del := &hdfspb.DeleteResponseProto{}
	require.NoError(t, root.call("delete", &hdfspb.DeleteRequestProto{Src: proto.String("/nope"), Recursive: proto.Bool(true)}, del))
	require.False(t, del.GetResult())
	var re *ipc.RemoteError
	require.ErrorAs(t, root.call("concat", &hdfspb.ConcatRequestProto{Trg: proto.String("/a")}, &hdfspb.ConcatResponseProto{}), &re)
	require.Equal(t, ipc.ClassNoSuchMethod, re.Class)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) set(ms int64) {
	f.mu.Lock()
	f.t = time.UnixMilli(ms)
	f.mu.Unlock()
}

// TestModificationTimes checks the times getFileInfo reports, to the
// millisecond, against HDFS's rules: create stamps mtime and atime;
// complete moves mtime; rename leaves the file's times alone and stamps
// both parents; adding a child stamps the directory.
func TestModificationTimes(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_000_000_000_123)}
	c := start(t, func(o *minihdfs.Options) { o.Clock = clk.now })
	nn := dialNN(t, c, "root")
	clk.set(1_700_000_000_001)
	nn.mkdir("/user/root/a", 0o755)
	nn.mkdir("/user/root/b", 0o755)
	require.Equal(t, uint64(1_700_000_000_001), nn.stat("/user/root/a").GetModificationTime())
	require.Zero(t, nn.stat("/user/root/a").GetAccessTime())

	clk.set(1_700_000_000_002)
	st := nn.create("/user/root/a/f", "DFSClient_t")
	require.Equal(t, uint64(1_700_000_000_002), st.GetModificationTime())
	require.Equal(t, uint64(1_700_000_000_002), st.GetAccessTime())
	require.Equal(t, uint64(1_700_000_000_002), nn.stat("/user/root/a").GetModificationTime())

	clk.set(1_700_000_000_003)
	done := &hdfspb.CompleteResponseProto{}
	require.NoError(t, nn.call("complete", &hdfspb.CompleteRequestProto{Src: proto.String("/user/root/a/f"), ClientName: proto.String("DFSClient_t"), FileId: proto.Uint64(st.GetFileId())}, done))
	require.True(t, done.GetResult())
	st = nn.stat("/user/root/a/f")
	require.Equal(t, uint64(1_700_000_000_003), st.GetModificationTime())
	require.Equal(t, uint64(1_700_000_000_002), st.GetAccessTime())

	clk.set(1_700_000_000_004)
	ok := &hdfspb.RenameResponseProto{}
	require.NoError(t, nn.call("rename", &hdfspb.RenameRequestProto{Src: proto.String("/user/root/a/f"), Dst: proto.String("/user/root/b")}, ok))
	require.True(t, ok.GetResult())
	st = nn.stat("/user/root/b/f")
	require.Equal(t, uint64(1_700_000_000_003), st.GetModificationTime(), "rename keeps the file's mtime")
	require.Equal(t, uint64(1_700_000_000_004), nn.stat("/user/root/a").GetModificationTime())
	require.Equal(t, uint64(1_700_000_000_004), nn.stat("/user/root/b").GetModificationTime())
}

// TestLeases checks lease expiry: a writer that stops renewing loses its
// file after the soft limit to another client's create (after which the
// file is closed), and after the hard limit to the NameNode itself, which
// keeps what the DataNode received.
func TestLeases(t *testing.T) {
	clk := &fakeClock{t: time.UnixMilli(1_700_000_000_000)}
	c := start(t, func(o *minihdfs.Options) {
		o.Clock = clk.now
		o.LeaseSoftLimit = time.Minute
		o.LeaseHardLimit = time.Hour
		o.LeaseCheckInterval = 10 * time.Millisecond
	})
	nn := dialNN(t, c, "root")
	nn.create("/user/root/soft", "DFSClient_gone")
	requireRemote(t, nn.call("create", createReq("/user/root/soft", "DFSClient_other", 1), &hdfspb.CreateResponseProto{}),
		"org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException",
		"Failed to CREATE_FILE /user/root/soft for DFSClient_other on 127.0.0.1 because this file lease is currently owned by DFSClient_gone on 127.0.0.1")
	clk.set(1_700_000_000_000 + time.Minute.Milliseconds() + 1)
	requireRemote(t, nn.call("create", createReq("/user/root/soft", "DFSClient_other", 1), &hdfspb.CreateResponseProto{}),
		"org.apache.hadoop.fs.FileAlreadyExistsException", "/user/root/soft for client 127.0.0.1 already exists")
	lb := &hdfspb.GetBlockLocationsResponseProto{}
	require.NoError(t, nn.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/soft"), Offset: proto.Uint64(0), Length: proto.Uint64(1)}, lb))
	require.False(t, lb.GetLocations().GetUnderConstruction(), "the soft-expired file was recovered and closed")

	// A colinmarc writer whose DataNode dies mid-block leaves a file under
	// construction; past the hard limit the NameNode closes it with the
	// bytes the DataNode got.
	cl, err := colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{c.NameNodeAddr()}, User: "root"}) // closed below, once
	require.NoError(t, err)
	c.StopDataNodeAfter(c.DataNodeBytesReceived() + 1<<20 + 300<<10)
	w, err := cl.CreateFile("/user/root/hard", 1, 1<<20, 0o644)
	require.NoError(t, err)
	_, werr := w.Write(randomBytes(t, 3<<20))
	cerr := w.Close()
	require.True(t, werr != nil || cerr != nil)
	cl.Close() // stops renewing
	require.NotNil(t, nn.stat("/user/root/hard"))
	clk.set(1_700_000_000_000 + 2*time.Hour.Milliseconds())
	require.Eventually(t, func() bool {
		lb := &hdfspb.GetBlockLocationsResponseProto{}
		err := nn.call("getBlockLocations", &hdfspb.GetBlockLocationsRequestProto{Src: proto.String("/user/root/hard"), Offset: proto.Uint64(0), Length: proto.Uint64(1 << 30)}, lb)
		return err == nil && !lb.GetLocations().GetUnderConstruction()
	}, 10*time.Second, 10*time.Millisecond)
	st := nn.stat("/user/root/hard")
	require.Equal(t, uint64(c.DataNodeBytesReceived()), st.GetLength(), "the file keeps exactly what reached the DataNode")
}
