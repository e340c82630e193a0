package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	krb "github.com/jcmturner/gokrb5/v8/client"
)

// fileInfo is what staging needs to know about a remote file.
type fileInfo struct {
	size  int64
	mtime int64 // ms since the epoch
	mode  os.FileMode
	dir   bool
}

// filesystem is the staging target: HDFS through colinmarc/hdfs, or the
// local filesystem for file:// staging. Paths are absolute.
type filesystem interface {
	stat(path string) (fileInfo, error) // wraps os.ErrNotExist if absent
	mkdirAll(path string, perm os.FileMode) error
	chmod(path string, perm os.FileMode) error
	// create opens a new file for writing; it fails if path exists.
	create(path string, perm os.FileMode) (writer, error)
	// rename moves old to new, replacing a file at new.
	rename(old, new string) error
	setMtime(path string, ms int64) error
	removeAll(path string) error
	// readDirNames lists the names in a directory; a missing directory is empty.
	readDirNames(path string) ([]string, error)
	// readFile reads a small file whole, at most limit bytes.
	readFile(path string, limit int64) ([]byte, error)
	close() error
}

// writer is an open file. abort releases it after a failed write.
type writer interface {
	io.Writer
	Close() error
	abort()
}

// ---- HDFS ------------------------------------------------------------------

// hdfsFS is one colinmarc/hdfs client. colinmarc takes no contexts, so the
// client's connections are tied to the context it was made for: when that
// is done they are closed under it, which fails whatever call is blocked.
type hdfsFS struct {
	c           *hdfs.Client
	replication int
	blockSize   int64
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

func dialHDFS(ctx context.Context, addrs []string, user string, kc *krb.Client, spn string, dial dialFunc, replication int, cc clientConf) (*hdfsFS, error) {
	if dial == nil {
		dial = (&net.Dialer{Timeout: 20 * time.Second}).DialContext
	}
	bound := func(_ context.Context, network, addr string) (net.Conn, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &boundConn{Conn: nc, stop: context.AfterFunc(ctx, func() { nc.Close() })}, nil
	}
	limited := func(_ context.Context, network, addr string) (net.Conn, error) {
		nc, err := bound(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &frameLimitConn{Conn: nc, addr: addr, max: cc.maxResponse}, nil
	}
	o := cc.opts
	o.Addresses, o.User, o.NamenodeDialFunc, o.DatanodeDialFunc = addrs, user, limited, bound
	if kc != nil {
		o.KerberosClient, o.KerberosServicePrincipleName = kc, spn
	}
	c, err := hdfs.NewClient(o)
	if err != nil {
		return nil, err
	}
	d, err := c.ServerDefaults()
	if err != nil {
		c.Close()
		return nil, err
	}
	if replication <= 0 {
		replication = d.Replication
	}
	return &hdfsFS{c: c, replication: replication, blockSize: d.BlockSize}, nil
}

// boundConn is a connection closed when its context is done.
type boundConn struct {
	net.Conn
	stop func() bool
}

func (b *boundConn) Close() error {
	b.stop()
	return b.Conn.Close()
}

func (h *hdfsFS) stat(path string) (fileInfo, error) {
	fi, err := h.c.Stat(path)
	if err != nil {
		return fileInfo{}, err
	}
	return fileInfo{size: fi.Size(), mtime: fi.ModTime().UnixMilli(), mode: fi.Mode().Perm() | fi.Mode()&os.ModeSticky, dir: fi.IsDir()}, nil
}

func (h *hdfsFS) mkdirAll(path string, perm os.FileMode) error { return h.c.MkdirAll(path, perm) }

func (h *hdfsFS) chmod(path string, perm os.FileMode) error { return h.c.Chmod(path, perm) }

func (h *hdfsFS) create(path string, perm os.FileMode) (writer, error) {
	w, err := h.c.CreateFile(path, h.replication, h.blockSize, perm)
	if err != nil {
		return nil, err
	}
	return &hdfsWriter{w: w}, nil
}

func (h *hdfsFS) rename(old, new string) error { return h.c.Rename(old, new) }

func (h *hdfsFS) setMtime(path string, ms int64) error {
	t := time.UnixMilli(ms)
	return h.c.Chtimes(path, t, t)
}

func (h *hdfsFS) removeAll(path string) error { return h.c.RemoveAll(path) }

func (h *hdfsFS) readDirNames(path string) ([]string, error) {
	infos, err := h.c.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	names := make([]string, 0, len(infos))
	for _, fi := range infos {
		names = append(names, fi.Name())
	}
	return names, err
}

func (h *hdfsFS) readFile(path string, limit int64) ([]byte, error) {
	f, err := h.c.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

func (h *hdfsFS) close() error { return h.c.Close() }

// hdfsWriter skips empty writes (colinmarc allocates a block for one, which
// no DataNode then receives) and retries a close while the NameNode waits
// for the last block's replica report.
type hdfsWriter struct {
	w       *hdfs.FileWriter
	written bool
}

func (w *hdfsWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.written = true
	return w.w.Write(p)
}

func (w *hdfsWriter) Close() error {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := w.w.Close()
		if err == nil || !hdfs.IsErrReplicating(err) || attempt == 6 {
			return err
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// abort closes the writer to stop colinmarc's goroutines; the file stays
// open on the NameNode until it is deleted.
func (w *hdfsWriter) abort() { _ = w.w.Close() }

// ---- local -----------------------------------------------------------------

// localFS is file:// staging: the same layout on the local filesystem, for
// clusters whose NodeManagers share it (or a single-host cluster).
type localFS struct{}

func (localFS) stat(path string) (fileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileInfo{}, err
	}
	return fileInfo{size: fi.Size(), mtime: fi.ModTime().UnixMilli(), mode: fi.Mode().Perm() | fi.Mode()&os.ModeSticky, dir: fi.IsDir()}, nil
}

func (localFS) mkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }

func (localFS) chmod(path string, perm os.FileMode) error { return os.Chmod(path, perm) }

func (localFS) create(path string, perm os.FileMode) (writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(perm); err != nil { // whatever the umask
		f.Close()
		return nil, err
	}
	return &localWriter{f}, nil
}

func (localFS) rename(old, new string) error { return os.Rename(old, new) }

func (localFS) setMtime(path string, ms int64) error {
	t := time.UnixMilli(ms)
	return os.Chtimes(path, t, t)
}

func (localFS) removeAll(path string) error {
	err := os.RemoveAll(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (localFS) readDirNames(path string) ([]string, error) {
	entries, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}

func (localFS) readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, limit)
}

func (localFS) close() error { return nil }

// readLimited reads r whole, failing past limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, limit)
	}
	return b, nil
}

type localWriter struct{ *os.File }

func (w *localWriter) abort() { _ = w.File.Close() }

// ancestors lists the directories above path, closest first.
func ancestors(p string) []string {
	var out []string
	for d := path.Dir(p); ; d = path.Dir(d) {
		out = append(out, d)
		if d == "/" || d == "." || d == path.Dir(d) {
			return out
		}
	}
}
