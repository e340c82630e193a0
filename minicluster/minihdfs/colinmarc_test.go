package minihdfs_test

import (
	"errors"
	"io"
	"os"
	"path"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"
)

// These tests drive the mini HDFS with the unmodified colinmarc/hdfs client
// (v2.4.0): its own NameNode RPC code and its own data transfer code.

func TestColinmarcWriteReadMultiBlock(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	require.NoError(t, cl.MkdirAll("/user/root/data/sub", 0o755))

	for _, size := range []int{0, 1, 511, 512, 65536, 1<<20 - 1, 1 << 20, 1<<20 + 1, 5*(1<<20) + 12345} {
		name := path.Join("/user/root/data/sub", "f"+itoa(size))
		want := randomBytes(t, size)
		w, err := cl.Create(name)
		require.NoError(t, err)
		// Odd-sized writes so packets and blocks do not line up with them.
		for off := 0; off < len(want); off += 70001 {
			_, err := w.Write(want[off:min(off+70001, len(want))])
			require.NoError(t, err)
		}
		require.NoError(t, w.Close(), "size %d", size)

		got, err := cl.ReadFile(name)
		require.NoError(t, err)
		require.Equal(t, want, got, "size %d", size)

		fi, err := cl.Stat(name)
		require.NoError(t, err)
		require.Equal(t, int64(size), fi.Size())
		require.Equal(t, os.FileMode(0o644), fi.Mode())
		require.Equal(t, "root", fi.(*hdfs.FileInfo).Owner())
		require.Equal(t, "supergroup", fi.(*hdfs.FileInfo).OwnerGroup())
		require.WithinDuration(t, time.Now(), fi.ModTime(), time.Minute)

		// Random access across block boundaries.
		if size >= 1<<20+3000 {
			f, err := cl.Open(name)
			require.NoError(t, err)
			buf := make([]byte, 4000)
			off := int64(1<<20 - 1000)
			_, err = f.ReadAt(buf, off)
			require.NoError(t, err)
			require.Equal(t, want[off:off+4000], buf)
			require.NoError(t, f.Close())
		}
	}
	c.StopDataNodeAfter(0)
	require.Equal(t, int64(1+511+512+65536+(1<<20-1)+(1<<20)+(1<<20+1)+5*(1<<20)+12345), c.DataNodeBytesReceived())

	entries, err := cl.ReadDir("/user/root/data/sub")
	require.NoError(t, err)
	require.Len(t, entries, 9)
	require.Equal(t, "f0", entries[0].Name())

	sum, err := cl.GetContentSummary("/user/root/data")
	require.NoError(t, err)
	require.Equal(t, 9, sum.FileCount())
	require.Equal(t, 2, sum.DirectoryCount())

	st, err := cl.StatFs()
	require.NoError(t, err)
	require.Positive(t, st.Capacity)
	require.Equal(t, c.DataNodeBytesReceived(), int64(st.Used))
}

func TestColinmarcNamespace(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	require.NoError(t, cl.Mkdir("/user/root/a", 0o750))
	fi, err := cl.Stat("/user/root/a")
	require.NoError(t, err)
	require.True(t, fi.IsDir())
	require.Equal(t, os.ModeDir|0o750, fi.Mode())

	require.NoError(t, writeFile(cl, "/user/root/a/x", []byte("hello"), 0o600))
	require.NoError(t, cl.Chmod("/user/root/a/x", 0o640))
	fi, err = cl.Stat("/user/root/a/x")
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode())

	require.NoError(t, cl.Rename("/user/root/a/x", "/user/root/a/y"))
	_, err = cl.Stat("/user/root/a/x")
	require.True(t, errors.Is(err, os.ErrNotExist), "%v", err)
	got, err := cl.ReadFile("/user/root/a/y")
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))

	// rename2 overwrites a file.
	require.NoError(t, writeFile(cl, "/user/root/a/z", []byte("other"), 0o644))
	require.NoError(t, cl.Rename("/user/root/a/y", "/user/root/a/z"))
	got, err = cl.ReadFile("/user/root/a/z")
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))

	mt := time.UnixMilli(1_700_000_000_000)
	require.NoError(t, cl.Chtimes("/user/root/a/z", mt, mt))
	fi, err = cl.Stat("/user/root/a/z")
	require.NoError(t, err)
	require.Equal(t, mt.UnixMilli(), fi.ModTime().UnixMilli())

	require.NoError(t, cl.Chown("/user/root/a/z", "alice", "staff"))
	fi, err = cl.Stat("/user/root/a/z")
	require.NoError(t, err)
	require.Equal(t, "alice", fi.(*hdfs.FileInfo).Owner())
	require.Equal(t, "staff", fi.(*hdfs.FileInfo).OwnerGroup())

	err = cl.Remove("/user/root/a")
	require.Error(t, err, "non-empty directory")
	require.NoError(t, cl.RemoveAll("/user/root/a"))
	_, err = cl.Stat("/user/root/a")
	require.True(t, errors.Is(err, os.ErrNotExist))

	// Create refuses an existing file; mkdir an existing one.
	require.NoError(t, writeFile(cl, "/user/root/f", nil, 0o644))
	_, err = cl.Create("/user/root/f")
	require.True(t, errors.Is(err, os.ErrExist), "%v", err)
	require.True(t, errors.Is(cl.Mkdir("/user/root/f", 0o755), os.ErrExist))
}

func TestColinmarcPermissionDenied(t *testing.T) {
	c := start(t, nil)
	root := client(t, c, "root")
	alice := client(t, c, "alice")
	bob := client(t, c, "bob")

	require.NoError(t, writeFile(root, "/user/root/secret", []byte("s"), 0o600))
	require.NoError(t, writeFile(alice, "/user/alice/mine", []byte("m"), 0o644))

	// alice cannot write into root's home, read root's private file, or
	// remove it; bob (another user) cannot write into alice's home.
	_, err := alice.Create("/user/root/x")
	require.True(t, denied(err), "%v", err)
	_, err = alice.ReadFile("/user/root/secret")
	require.True(t, denied(err), "%v", err)
	require.True(t, denied(alice.Remove("/user/root/secret")))
	require.True(t, denied(alice.Chmod("/user/root/secret", 0o777)))
	require.True(t, errors.Is(writeFile(bob, "/user/alice/b", nil, 0o644), os.ErrPermission))
	require.True(t, denied(bob.Mkdir("/user/alice/d", 0o755)))

	// What the mode allows works: alice's file is world-readable; after a
	// chmod bob reads nothing under a 0700 home.
	got, err := bob.ReadFile("/user/alice/mine")
	require.NoError(t, err)
	require.Equal(t, "m", string(got))
	require.NoError(t, alice.Chmod("/user/alice", 0o700))
	_, err = bob.ReadFile("/user/alice/mine")
	require.True(t, denied(err), "%v", err)

	// Group access: a staff directory of alice's is writable by bob.
	require.NoError(t, alice.Chmod("/user/alice", 0o755))
	require.NoError(t, alice.Mkdir("/user/alice/shared", 0o775))
	require.NoError(t, alice.Chown("/user/alice/shared", "", "staff"))
	require.NoError(t, writeFile(bob, "/user/alice/shared/b", []byte("b"), 0o644))

	// The superuser may do anything.
	got, err = root.ReadFile("/user/alice/shared/b")
	require.NoError(t, err)
	require.Equal(t, "b", string(got))
	require.NoError(t, root.Chown("/user/alice/mine", "bob", ""))
}

func TestColinmarcDataNodeDies(t *testing.T) {
	c := start(t, nil)
	cl := client(t, c, "root")
	c.StopDataNodeAfter(3 << 20)
	w, err := cl.Create("/user/root/big")
	require.NoError(t, err)
	data := randomBytes(t, 8<<20)
	_, werr := w.Write(data)
	cerr := w.Close()
	require.True(t, werr != nil || cerr != nil, "the write must fail when the DataNode dies")
	require.False(t, c.DataNodeAlive())

	// The NameNode still answers; the file is left open (under
	// construction) and can be removed.
	require.NoError(t, cl.Remove("/user/root/big"))
	_, err = cl.Stat("/user/root/big")
	require.True(t, errors.Is(err, os.ErrNotExist))
	// No DataNode: new blocks cannot be placed.
	w, err = cl.Create("/user/root/again")
	require.NoError(t, err)
	_, err = w.Write([]byte("x"))
	if err == nil {
		err = w.Close()
	} else {
		w.Close()
	}
	require.ErrorContains(t, err, "create")
}

// denied reports a permission error as colinmarc/hdfs returns it: mapped to
// os.ErrPermission where the client interprets the exception, the raw
// AccessControlException where it does not (reads).
func denied(err error) bool {
	var he hdfs.Error
	return errors.Is(err, os.ErrPermission) || (errors.As(err, &he) && he.Exception() == "org.apache.hadoop.security.AccessControlException")
}

// writeFile creates name with data and mode perm (one replica, 1 MiB
// blocks) through the client's writer.
func writeFile(cl *hdfs.Client, name string, data []byte, perm os.FileMode) error {
	w, err := cl.CreateFile(name, 1, 1<<20, perm)
	if err != nil {
		return err
	}
	// colinmarc allocates a block even for an empty Write, which a
	// NameNode then never sees written: write only when there is data.
	if len(data) > 0 {
		if _, err := w.Write(data); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

var _ io.Reader = (*hdfs.FileReader)(nil)
