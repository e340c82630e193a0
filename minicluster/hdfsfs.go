package minicluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	colinmarc "github.com/colinmarc/hdfs/v2"

	"github.com/spindle-yarn/spindle/yarn"
)

// HDFS localizes hdfs:// resources for the NodeManagers (plug it into
// NMOptions.FileSystems["hdfs"]). It reads as User over SIMPLE
// authentication: a real NodeManager's localizer reads as the application's
// user with its delegation tokens; the mini cluster reads as the HDFS
// superuser so PRIVATE and APPLICATION files (0600) localize too.
type HDFS struct {
	// User is the HDFS user to read as; it should be the mini HDFS's superuser.
	User string
}

var _ FileSystem = HDFS{}

func (h HDFS) client(u yarn.URL) (*colinmarc.Client, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("minicluster: %s has no NameNode host", u)
	}
	port := int(u.Port)
	if port < 0 {
		port = 8020
	}
	return colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{net.JoinHostPort(u.Host, strconv.Itoa(port))}, User: h.User})
}

// Stat returns the file's size and the modification time the NameNode reports.
func (h HDFS) Stat(ctx context.Context, u yarn.URL) (FileStatus, error) {
	c, err := h.client(u)
	if err != nil {
		return FileStatus{}, err
	}
	defer c.Close()
	fi, err := c.Stat(u.File)
	if err != nil {
		return FileStatus{}, err // wraps fs.ErrNotExist for a missing file
	}
	return FileStatus{Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir()}, nil
}

// Open reads the file; closing the reader closes the client.
func (h HDFS) Open(ctx context.Context, u yarn.URL) (io.ReadCloser, error) {
	c, err := h.client(u)
	if err != nil {
		return nil, err
	}
	r, err := c.Open(u.File)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &hdfsReader{r: r, c: c}, nil
}

type hdfsReader struct {
	r *colinmarc.FileReader
	c *colinmarc.Client
}

func (h *hdfsReader) Read(p []byte) (int, error) { return h.r.Read(p) }

func (h *hdfsReader) Close() error { return errors.Join(h.r.Close(), h.c.Close()) }
