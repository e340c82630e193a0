package minihdfs_test

import (
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// TestColinmarcSnapshots takes a snapshot with the unmodified
// colinmarc/hdfs client, then deletes, overwrites, appends to and
// truncates (mid-block and on a block boundary) the live files: the
// snapshot, read through .snapshot, keeps every byte it had, and deleting
// it frees exactly the replicas only it held.
func TestColinmarcSnapshots(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.LeaseCheckInterval = 5 * time.Millisecond })
	cl := client(t, c, "root")
	require.NoError(t, cl.MkdirAll("/user/root/s/sub", 0o755))
	files := map[string][]byte{
		"a": randomBytes(t, 2<<20+500), "b": randomBytes(t, 3000), "c": randomBytes(t, 1<<20+10),
		"d": randomBytes(t, 1<<20+700), "sub/e": randomBytes(t, 2<<20+1),
	}
	for name, data := range files {
		require.NoError(t, writeFile(cl, "/user/root/s/"+name, data, 0o644))
	}
	require.NoError(t, cl.AllowSnapshots("/user/root/s"))
	path, err := cl.CreateSnapshot("/user/root/s", "s1")
	require.NoError(t, err)
	require.Equal(t, "/user/root/s/.snapshot/s1", path)

	require.NoError(t, cl.Remove("/user/root/s/a"))
	require.NoError(t, cl.Remove("/user/root/s/b"))
	newB := randomBytes(t, 100)
	require.NoError(t, writeFile(cl, "/user/root/s/b", newB, 0o644))
	w, err := cl.Append("/user/root/s/c")
	require.NoError(t, err)
	more := randomBytes(t, 4096)
	_, err = w.Write(more)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	done, err := cl.Truncate("/user/root/s/d", 1<<20+100)
	require.NoError(t, err)
	require.False(t, done)
	done, err = cl.Truncate("/user/root/s/sub/e", 1<<20)
	require.NoError(t, err)
	require.True(t, done)
	testutil.Eventually(t, func() bool {
		fi, err := cl.Stat("/user/root/s/d")
		return err == nil && fi.Size() == 1<<20+100
	}, 10*time.Second, 5*time.Millisecond)

	// Read each snapshot file to its length, as the Java client does:
	// colinmarc's ReadFile reads a block to the end of what the DataNode
	// sends, and a DataNode (a real one too, BlockSender) sends the last
	// chunk whole, which for "c" now holds appended bytes.
	for name, data := range files {
		p := "/user/root/s/.snapshot/s1/" + name
		fi, err := cl.Stat(p)
		require.NoError(t, err, name)
		require.Equal(t, int64(len(data)), fi.Size(), name)
		f, err := cl.Open(p)
		require.NoError(t, err, name)
		got := make([]byte, len(data))
		_, err = io.ReadFull(f, got)
		require.NoError(t, err, name)
		require.NoError(t, f.Close())
		require.Equal(t, data, got, name)
	}
	live := map[string][]byte{"b": newB, "c": append(append([]byte{}, files["c"]...), more...), "d": files["d"][:1<<20+100], "sub/e": files["sub/e"][:1<<20]}
	for name, data := range live {
		got, err := cl.ReadFile("/user/root/s/" + name)
		require.NoError(t, err, name)
		require.Equal(t, data, got, name)
	}
	entries, err := cl.ReadDir("/user/root/s/.snapshot")
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "s1", entries[0].Name())
	require.True(t, entries[0].IsDir())
	entries, err = cl.ReadDir("/user/root/s/.snapshot/s1")
	require.NoError(t, err)
	require.Len(t, entries, 5)
	// getFileInfo on .snapshot itself: FSDirectory.DOT_SNAPSHOT_DIR_STATUS.
	dot, err := cl.Stat("/user/root/s/.snapshot")
	require.NoError(t, err)
	require.True(t, dot.IsDir())
	require.Equal(t, os.ModeDir|0o777, dot.Mode())
	require.Zero(t, dot.ModTime().UnixMilli())
	require.Empty(t, dot.(*hdfs.FileInfo).Owner())

	// The snapshot is read-only.
	_, err = cl.Create("/user/root/s/.snapshot/s1/new")
	require.ErrorContains(t, err, "SnapshotAccessControlException")
	require.ErrorContains(t, cl.Remove("/user/root/s/.snapshot/s1/b"), "SnapshotAccessControlException")

	// Deleting the snapshot frees what only it held.
	var liveBytes uint64
	for _, data := range live {
		liveBytes += uint64(len(data))
	}
	st, err := cl.StatFs()
	require.NoError(t, err)
	require.Greater(t, st.Used, liveBytes)
	require.NoError(t, cl.DeleteSnapshot("/user/root/s", "s1"))
	st, err = cl.StatFs()
	require.NoError(t, err)
	require.Equal(t, liveBytes, st.Used)
	_, err = cl.Stat("/user/root/s/.snapshot/s1")
	require.Error(t, err)
	require.NoError(t, cl.DisallowSnapshots("/user/root/s"))
}

// TestSnapshotExceptions checks the snapshot calls' failures as
// FSDirSnapshotOp, SnapshotManager and DirectorySnapshottableFeature word
// them, renameSnapshot, and getSnapshottableDirListing for a user and the
// superuser.
func TestSnapshotExceptions(t *testing.T) {
	c := start(t, nil)
	root, alice := dialNN(t, c, "root"), dialNN(t, c, "alice")
	root.mkdir("/user/root/s/deep", 0o755)
	root.mkdir("/user/root/plain", 0o755)
	alice.mkdir("/user/alice/mine", 0o755)
	cl := client(t, c, "root")
	require.NoError(t, writeFile(cl, "/user/root/f", []byte("f"), 0o644))
	allow := func(p string) *hdfspb.AllowSnapshotRequestProto {
		return &hdfspb.AllowSnapshotRequestProto{SnapshotRoot: proto.String(p)}
	}
	create := func(p, name string) *hdfspb.CreateSnapshotRequestProto {
		return &hdfspb.CreateSnapshotRequestProto{SnapshotRoot: proto.String(p), SnapshotName: proto.String(name)}
	}
	require.NoError(t, root.call("allowSnapshot", allow("/user/root/s"), &hdfspb.AllowSnapshotResponseProto{}))
	require.NoError(t, root.call("allowSnapshot", allow("/user/root/s"), &hdfspb.AllowSnapshotResponseProto{}), "again: no-op")
	require.NoError(t, root.call("allowSnapshot", allow("/user/alice/mine"), &hdfspb.AllowSnapshotResponseProto{}))
	require.NoError(t, root.call("createSnapshot", create("/user/root/s", "s1"), &hdfspb.CreateSnapshotResponseProto{}))
	require.NoError(t, root.call("createSnapshot", create("/user/root/s", "s2"), &hdfspb.CreateSnapshotResponseProto{}))
	const (
		se   = "org.apache.hadoop.hdfs.protocol.SnapshotException"
		ace  = "org.apache.hadoop.security.AccessControlException"
		fnf  = "java.io.FileNotFoundException"
		sace = "org.apache.hadoop.hdfs.protocol.SnapshotAccessControlException"
	)
	cases := []struct {
		name      string
		conn      *nnConn
		method    string
		req, resp proto.Message
		class     string
		msg       string
	}{
		{"allow by a user", alice, "allowSnapshot", allow("/user/alice/mine"), &hdfspb.AllowSnapshotResponseProto{}, ace,
			"Access denied for user alice. Superuser privilege is required"},
		{"allow missing", root, "allowSnapshot", allow("/nope"), &hdfspb.AllowSnapshotResponseProto{}, fnf, "Directory does not exist: /nope"},
		{"allow a file", root, "allowSnapshot", allow("/user/root/f"), &hdfspb.AllowSnapshotResponseProto{},
			"org.apache.hadoop.fs.PathIsNotDirectoryException", "`/user/root/f': Is not a directory"},
		{"allow nested below", root, "allowSnapshot", allow("/user/root/s/deep"), &hdfspb.AllowSnapshotResponseProto{}, se,
			"Nested snapshottable directories not allowed: path=/user/root/s/deep, the ancestor /user/root/s is already a snapshottable directory."},
		{"allow nested above", root, "allowSnapshot", allow("/user/root"), &hdfspb.AllowSnapshotResponseProto{}, se,
			"Nested snapshottable directories not allowed: path=/user/root, the subdirectory /user/root/s is already a snapshottable directory."},
		{"disallow with snapshots", root, "disallowSnapshot", &hdfspb.DisallowSnapshotRequestProto{SnapshotRoot: proto.String("/user/root/s")}, &hdfspb.DisallowSnapshotResponseProto{}, se,
			"The directory /user/root/s has snapshot(s). Please redo the operation after removing all the snapshots."},
		{"create not snapshottable", root, "createSnapshot", create("/user/root/plain", "x"), &hdfspb.CreateSnapshotResponseProto{}, se,
			"Directory is not a snapshottable directory: /user/root/plain"},
		{"create same name", root, "createSnapshot", create("/user/root/s", "s1"), &hdfspb.CreateSnapshotResponseProto{}, se,
			`Failed to add snapshot: there is already a snapshot with the same name "s1".`},
		{"create bad name", root, "createSnapshot", create("/user/root/s", "a:b"), &hdfspb.CreateSnapshotResponseProto{},
			"org.apache.hadoop.fs.InvalidPathException", "Invalid path name Invalid snapshot name: a:b"},
		{"create not owner", alice, "createSnapshot", create("/user/root/s", "x"), &hdfspb.CreateSnapshotResponseProto{}, ace,
			"Permission denied. user=alice is not the owner of inode=/user/root/s"},
		{"create missing", root, "createSnapshot", create("/nope", "x"), &hdfspb.CreateSnapshotResponseProto{}, fnf, "Directory/File does not exist /nope"},
		{"delete missing snapshot", root, "deleteSnapshot", &hdfspb.DeleteSnapshotRequestProto{SnapshotRoot: proto.String("/user/root/s"), SnapshotName: proto.String("zz")},
			&hdfspb.DeleteSnapshotResponseProto{}, se, "Cannot delete snapshot zz from path /user/root/s: the snapshot does not exist."},
		{"rename missing", root, "renameSnapshot", &hdfspb.RenameSnapshotRequestProto{SnapshotRoot: proto.String("/user/root/s"), SnapshotOldName: proto.String("zz"), SnapshotNewName: proto.String("y")},
			&hdfspb.RenameSnapshotResponseProto{}, se, "The snapshot zz does not exist for directory /user/root/s"},
		{"rename onto existing", root, "renameSnapshot", &hdfspb.RenameSnapshotRequestProto{SnapshotRoot: proto.String("/user/root/s"), SnapshotOldName: proto.String("s1"), SnapshotNewName: proto.String("s2")},
			&hdfspb.RenameSnapshotResponseProto{}, se, "The snapshot s2 already exists for directory /user/root/s"},
		{"delete directory with snapshots", root, "delete", &hdfspb.DeleteRequestProto{Src: proto.String("/user/root"), Recursive: proto.Bool(true)}, &hdfspb.DeleteResponseProto{}, se,
			"The directory /user/root/s cannot be deleted since /user/root/s is snapshottable and already has snapshots"},
		// FSDirRenameOp.validateRenameSource: both renames throw it (a
		// real 3.1.3 NameNode does, with the delete wording).
		{"rename directory with snapshots", root, "rename", &hdfspb.RenameRequestProto{Src: proto.String("/user/root/s"), Dst: proto.String("/user/root/s9")}, &hdfspb.RenameResponseProto{}, se,
			"The directory /user/root/s cannot be deleted since /user/root/s is snapshottable and already has snapshots"},
		{"rename parent of directory with snapshots", root, "rename2", &hdfspb.Rename2RequestProto{Src: proto.String("/user/root"), Dst: proto.String("/user/root9"), OverwriteDest: proto.Bool(false)}, &hdfspb.Rename2ResponseProto{}, se,
			"The directory /user/root/s cannot be deleted since /user/root/s is snapshottable and already has snapshots"},
		{"mkdir in a snapshot", root, "mkdirs", &hdfspb.MkdirsRequestProto{Src: proto.String("/user/root/s/.snapshot/s1/x"), Masked: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o755)}, CreateParent: proto.Bool(true)},
			&hdfspb.MkdirsResponseProto{}, sace, "Modification on a read-only snapshot is disallowed"},
		{"mkdir .snapshot", root, "mkdirs", &hdfspb.MkdirsRequestProto{Src: proto.String("/user/root/plain/.snapshot"), Masked: &hdfspb.FsPermissionProto{Perm: proto.Uint32(0o755)}, CreateParent: proto.Bool(true)},
			&hdfspb.MkdirsResponseProto{}, "org.apache.hadoop.HadoopIllegalArgumentException", `".snapshot" is a reserved name.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireRemote(t, tc.conn.call(tc.method, tc.req, tc.resp), tc.class, tc.msg)
		})
	}

	require.NoError(t, root.call("renameSnapshot", &hdfspb.RenameSnapshotRequestProto{SnapshotRoot: proto.String("/user/root/s"),
		SnapshotOldName: proto.String("s1"), SnapshotNewName: proto.String("renamed")}, &hdfspb.RenameSnapshotResponseProto{}))
	require.NotNil(t, root.stat("/user/root/s/.snapshot/renamed"))
	require.Nil(t, root.stat("/user/root/s/.snapshot/s1"))
	require.Equal(t, uint32(8), root.stat("/user/root/s").GetFlags(), "SNAPSHOT_ENABLED")

	// A default name comes from the time.
	cr := &hdfspb.CreateSnapshotResponseProto{}
	require.NoError(t, root.call("createSnapshot", &hdfspb.CreateSnapshotRequestProto{SnapshotRoot: proto.String("/user/root/s")}, cr))
	require.Regexp(t, `^/user/root/s/\.snapshot/s\d{8}-\d{6}\.\d{3}$`, cr.GetSnapshotPath())

	list := func(n *nnConn) []string {
		resp := &hdfspb.GetSnapshottableDirListingResponseProto{}
		require.NoError(t, n.call("getSnapshottableDirListing", &hdfspb.GetSnapshottableDirListingRequestProto{}, resp))
		var out []string
		for _, d := range resp.GetSnapshottableDirList().GetSnapshottableDirListing() {
			out = append(out, string(d.GetParentFullpath())+"/"+string(d.GetDirStatus().GetPath())+":"+itoa(int(d.GetSnapshotNumber())))
		}
		return out
	}
	require.Equal(t, []string{"/user/alice/mine:0", "/user/root/s:3"}, list(root))
	require.Equal(t, []string{"/user/alice/mine:0"}, list(alice))
}

// TestContentSummaryWithSnapshots: getContentSummary counts what a
// snapshot still holds (DirectoryWithSnapshotFeature.
// computeContentSummary4Snapshot: the deleted children of each diff, in
// the totals and the snapshot counts) and a file's space is every block
// it holds now or in a snapshot at its current length
// (INodeFile.storagespaceConsumedContiguous). The expected values are
// what a real Hadoop 3.1.3 NameNode+DataNode answered to the same steps
// through the Java client (FileSystem.getContentSummary).
func TestContentSummaryWithSnapshots(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	nn := dialNN(t, c, "root")
	const d = "/user/root/cs"
	require.NoError(t, cl.MkdirAll(d+"/sub", 0o755))
	require.NoError(t, cl.MkdirAll(d+"/sub2/deep", 0o755))
	require.NoError(t, writeFile(cl, d+"/sub/three", make([]byte, 2621540), 0o644))
	require.NoError(t, writeFile(cl, d+"/small", make([]byte, 1000), 0o644))
	require.NoError(t, writeFile(cl, d+"/sub2/deep/f", make([]byte, 100), 0o644))
	require.NoError(t, nn.call("allowSnapshot", &hdfspb.AllowSnapshotRequestProto{SnapshotRoot: proto.String(d)}, &hdfspb.AllowSnapshotResponseProto{}))
	snap := func(name string) {
		require.NoError(t, nn.call("createSnapshot", &hdfspb.CreateSnapshotRequestProto{SnapshotRoot: proto.String(d), SnapshotName: proto.String(name)}, &hdfspb.CreateSnapshotResponseProto{}))
	}
	// len files dirs space snapLen snapFiles snapDirs snapSpace
	summary := func(path string) [8]uint64 {
		t.Helper()
		resp := &hdfspb.GetContentSummaryResponseProto{}
		require.NoError(t, nn.call("getContentSummary", &hdfspb.GetContentSummaryRequestProto{Path: proto.String(path)}, resp), path)
		s := resp.GetSummary()
		return [8]uint64{s.GetLength(), s.GetFileCount(), s.GetDirectoryCount(), s.GetSpaceConsumed(),
			s.GetSnapshotLength(), s.GetSnapshotFileCount(), s.GetSnapshotDirectoryCount(), s.GetSnapshotSpaceConsumed()}
	}
	snap("s1")
	require.Equal(t, [8]uint64{2622640, 3, 4, 2622640, 0, 0, 0, 0}, summary(d))
	require.NoError(t, cl.Remove(d+"/sub/three"))
	w, err := cl.Append(d + "/small")
	require.NoError(t, err)
	_, err = w.Write(make([]byte, 1000))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, cl.RemoveAll(d+"/sub2"))
	require.NoError(t, writeFile(cl, d+"/n", make([]byte, 500), 0o644))
	snap("s2")
	require.NoError(t, cl.Remove(d+"/n"))

	require.Equal(t, [8]uint64{2624140, 4, 4, 2624140, 2622140, 3, 2, 2622140}, summary(d))
	require.Equal(t, [8]uint64{2621540, 1, 1, 2621540, 2621540, 1, 0, 2621540}, summary(d+"/sub"))
	// small's block grew to 2000 bytes after s1: s1's copy counts it so.
	require.Equal(t, [8]uint64{2622640, 3, 4, 2623640, 0, 0, 0, 0}, summary(d+"/.snapshot/s1"))
	require.Equal(t, [8]uint64{2500, 2, 2, 2500, 0, 0, 0, 0}, summary(d+"/.snapshot/s2"))
	require.Equal(t, [8]uint64{2621540, 1, 1, 2621540, 0, 0, 0, 0}, summary(d+"/.snapshot/s1/sub"))
	err = nn.call("getContentSummary", &hdfspb.GetContentSummaryRequestProto{Path: proto.String(d + "/.snapshot")}, &hdfspb.GetContentSummaryResponseProto{})
	require.ErrorContains(t, err, "File does not exist: "+d+"/.snapshot")
	for _, s := range []string{"s1", "s2"} {
		require.NoError(t, nn.call("deleteSnapshot", &hdfspb.DeleteSnapshotRequestProto{SnapshotRoot: proto.String(d), SnapshotName: proto.String(s)}, &hdfspb.DeleteSnapshotResponseProto{}))
	}
	require.Equal(t, [8]uint64{2000, 1, 2, 2000, 0, 0, 0, 0}, summary(d))
}

// TestSnapshotDiff: getSnapshotDiffReport (a snapshot against the current
// tree) and getSnapshotDiffReportListing (two snapshots), after the same
// steps `hdfs snapshotDiff` was run after on a real Hadoop 3.1.3
// NameNode; the entries are what it printed there.
func TestSnapshotDiff(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	nn := dialNN(t, c, "root")
	const d = "/user/root/sd"
	for _, dir := range []string{d + "/a/b", d + "/c", d + "/plain"} {
		require.NoError(t, cl.MkdirAll(dir, 0o755))
	}
	for _, f := range []string{"a/f1", "a/b/f2", "c/f3", "top", "rm1", "mv1"} {
		require.NoError(t, writeFile(cl, d+"/"+f, []byte("x"), 0o644))
	}
	require.NoError(t, nn.call("allowSnapshot", &hdfspb.AllowSnapshotRequestProto{SnapshotRoot: proto.String(d)}, &hdfspb.AllowSnapshotResponseProto{}))
	snap := func(name string) {
		require.NoError(t, nn.call("createSnapshot", &hdfspb.CreateSnapshotRequestProto{SnapshotRoot: proto.String(d), SnapshotName: proto.String(name)}, &hdfspb.CreateSnapshotResponseProto{}))
	}
	snap("s1")
	w, err := cl.Append(d + "/a/f1")
	require.NoError(t, err)
	_, err = w.Write([]byte("y"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, cl.Chmod(d+"/a/b/f2", 0o600))
	require.NoError(t, cl.SetXAttr(d+"/c", "user.x", "1"))
	require.NoError(t, cl.Remove(d+"/rm1"))
	require.NoError(t, cl.Rename(d+"/mv1", d+"/c/moved"))
	require.NoError(t, cl.Rename(d+"/top", d+"/top2"))
	require.NoError(t, writeFile(cl, d+"/a/b/new", []byte("x"), 0o644))
	require.NoError(t, cl.MkdirAll(d+"/newdir", 0o755))
	require.NoError(t, cl.RemoveAll(d+"/plain"))
	snap("s2")
	require.NoError(t, writeFile(cl, d+"/after", []byte("x"), 0o644))
	require.NoError(t, nn.call("setReplication", &hdfspb.SetReplicationRequestProto{Src: proto.String(d + "/c/f3"), Replication: proto.Uint32(2)}, &hdfspb.SetReplicationResponseProto{}))

	report := func(root, from, to string) []string {
		t.Helper()
		resp := &hdfspb.GetSnapshotDiffReportResponseProto{}
		require.NoError(t, nn.call("getSnapshotDiffReport", &hdfspb.GetSnapshotDiffReportRequestProto{SnapshotRoot: proto.String(root), FromSnapshot: proto.String(from), ToSnapshot: proto.String(to)}, resp))
		var out []string
		for _, e := range resp.GetDiffReport().GetDiffReportEntries() {
			line := e.GetModificationLabel() + " ./" + string(e.GetFullpath())
			if e.GetModificationLabel() == "R" {
				line += " -> ./" + string(e.GetTargetPath())
			}
			out = append(out, strings.TrimSuffix(line, "/"))
		}
		return out
	}
	// SnapshotDiffReport.toString prints "." for the root: here "./".
	require.Equal(t, []string{"M .", "+ ./after", "+ ./newdir", "R ./mv1 -> ./c/moved", "- ./plain", "- ./rm1", "R ./top -> ./top2",
		"M ./c", "M ./a/b", "+ ./a/b/new", "M ./a/f1", "M ./c/f3", "M ./a/b/f2"}, report(d, "s1", "."))
	require.Equal(t, []string{"M .", "+ ./after", "M ./c/f3"}, report(d, "s2", ""))

	listing := func(from, to string) *hdfspb.SnapshotDiffReportListingProto { return listingOf(t, nn, d, from, to) }
	paths := func(es []*hdfspb.SnapshotDiffReportListingEntryProto) []string {
		var out []string
		for _, e := range es {
			p := string(e.GetFullpath())
			if len(e.GetTargetPath()) > 0 {
				p += "->" + string(e.GetTargetPath())
			}
			out = append(out, p)
		}
		sort.Strings(out)
		return out
	}
	// `hdfs snapshotDiff sd s1 s2` printed: M ., + ./newdir,
	// R ./mv1 -> ./c/moved, - ./plain, - ./rm1, R ./top -> ./top2, M ./a/b,
	// + ./a/b/new, M ./a/b/f2, M ./a/f1, M ./c.
	l := listing("s1", "s2")
	require.True(t, l.GetIsFromEarlier())
	require.Equal(t, int32(-1), l.GetCursor().GetIndex())
	require.Equal(t, []string{"", "a/b", "a/b/f2", "a/f1", "c"}, paths(l.GetModifiedEntries()))
	require.Equal(t, []string{"a/b/new", "c/moved", "newdir", "top2"}, paths(l.GetCreatedEntries()))
	require.Equal(t, []string{"mv1->c/moved", "plain", "rm1", "top->top2"}, paths(l.GetDeletedEntries()))
	// s2 to s1 is the same difference, labelled by the client the other way.
	require.False(t, listing("s2", "s1").GetIsFromEarlier())

	err = nn.call("getSnapshotDiffReport", &hdfspb.GetSnapshotDiffReportRequestProto{SnapshotRoot: proto.String(d), FromSnapshot: proto.String("s1"), ToSnapshot: proto.String("nosuch")}, &hdfspb.GetSnapshotDiffReportResponseProto{})
	require.ErrorContains(t, err, "Cannot find the snapshot of directory /user/root/sd with name nosuch")
	// Below the snapshot root (dfs.namenode.snapshotdiff.allow.snap-root-descendant):
	// `hdfs snapshotDiff sd/a s1 s2` printed M ./b, + ./b/new, M ./b/f2, M ./f1.
	l = listingOf(t, nn, d+"/a", "s1", "s2")
	require.Equal(t, []string{"b", "b/f2", "f1"}, paths(l.GetModifiedEntries()))
	require.Equal(t, []string{"b/new"}, paths(l.GetCreatedEntries()))
	require.Empty(t, l.GetDeletedEntries())
}

func listingOf(t *testing.T, nn *nnConn, root, from, to string) *hdfspb.SnapshotDiffReportListingProto {
	t.Helper()
	resp := &hdfspb.GetSnapshotDiffReportListingResponseProto{}
	require.NoError(t, nn.call("getSnapshotDiffReportListing", &hdfspb.GetSnapshotDiffReportListingRequestProto{SnapshotRoot: proto.String(root), FromSnapshot: proto.String(from), ToSnapshot: proto.String(to),
		Cursor: &hdfspb.SnapshotDiffReportCursorProto{StartPath: []byte{}, Index: proto.Int32(-1)}}, resp))
	return resp.GetDiffReport()
}
