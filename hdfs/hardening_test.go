package hdfs_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
)

// hostileNameNode accepts one connection, reads the client's preamble and
// frames, and answers the first call (getServerDefaults) with the bytes
// reply returns for it.
func hostileNameNode(t *testing.T, reply func() []byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(nc)
				if _, err := io.ReadFull(br, make([]byte, 7)); err != nil { // hrpc preamble
					return
				}
				for i := 0; i < 2; i++ { // connection context, then the call
					var n [4]byte
					if _, err := io.ReadFull(br, n[:]); err != nil {
						return
					}
					if _, err := io.CopyN(io.Discard, br, int64(binary.BigEndian.Uint32(n[:]))); err != nil {
						return
					}
				}
				_, _ = nc.Write(reply())
				_, _ = io.Copy(io.Discard, br) // hold the connection until the client gives up
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String()
}

// colinmarc/hdfs allocates whatever uint32 length a NameNode sends before
// reading the frame. A hostile (or broken) NameNode announcing a frame past
// ipc.maximum.response.length must fail the client at once, without that
// allocation.
func TestHostileNameNodeHugeLength(t *testing.T) {
	for _, tc := range []struct {
		name   string
		length uint32
		max    string // ipc.maximum.response.length; "" for the 128 MiB default
	}{
		{"512MiB", 512 << 20, ""},
		{"4GiB-1", 1<<32 - 1, ""},
		{"2MiB-over-a-1MiB-limit", 2 << 20, "1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := hostileNameNode(t, func() []byte {
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], tc.length)
				return append(b[:], "a few bytes, never the frame"...)
			})
			cfg := conf.New(conf.Options{})
			cfg.Set("fs.defaultFS", "hdfs://"+addr, conf.Source{})
			if tc.max != "" {
				cfg.Set("ipc.maximum.response.length", tc.max, conf.Source{})
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := hdfs.New(testutil.Context(t, 30*time.Second), hdfs.Options{Conf: cfg, User: "alice"})
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			require.Less(t, alloc, uint64(64<<20), "the client allocated %d bytes for a frame announced as %d", alloc, tc.length)
			require.ErrorIs(t, err, hdfs.ErrResponseTooLarge)
			require.Contains(t, err.Error(), strconv.FormatUint(uint64(tc.length), 10))
			require.Less(t, time.Since(start), 5*time.Second, "failed fast, not by a timeout")
		})
	}
}

// With dfs.client.use.datanode.hostname the client dials the DataNode by
// the host name the NameNode reports (multi-homed DataNodes), not by its
// IP address.
func TestUseDataNodeHostname(t *testing.T) {
	c, err := minihdfs.Start(testutil.Context(t, 60*time.Second), minihdfs.Options{
		Dir: t.TempDir(), BlockSize: 1 << 20, Superuser: "root", Users: []string{"alice"},
		DataNodeHostname: "dn1.spindle.invalid",
		Logger:           zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, port, _ := net.SplitHostPort(c.DataNodeAddr())
	byName := net.JoinHostPort("dn1.spindle.invalid", port)

	for _, useHostname := range []bool{false, true} {
		t.Run("use.datanode.hostname="+strconv.FormatBool(useHostname), func(t *testing.T) {
			var d testutil.Dialer
			d.Route(byName, c.DataNodeAddr()) // what DNS would do on a multi-homed cluster
			cfg := conf.New(conf.Options{})
			cfg.Set("fs.defaultFS", c.URI(), conf.Source{})
			cfg.Set("dfs.client.use.datanode.hostname", strconv.FormatBool(useHostname), conf.Source{})
			s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{Conf: cfg, User: "alice", Dial: d.Dial})
			require.NoError(t, err)
			local := t.TempDir()
			writeTree(t, local, map[string]int{"a.jar": 1000})
			_, err = s.Stage(testutil.Context(t, 60*time.Second), "application_1700000000000_0001", []hdfs.Source{{Path: filepath.Join(local, "a.jar")}}, nil)
			require.NoError(t, err)
			want, other := c.DataNodeAddr(), byName
			if useHostname {
				want, other = byName, c.DataNodeAddr()
			}
			require.Contains(t, d.Dialed(), want)
			require.NotContains(t, d.Dialed(), other)
		})
	}
}

// dfs.data.transfer.protection reaches colinmarc: with it the client
// negotiates SASL with DataNodes, whose first step is asking the NameNode
// for a data encryption key. (The mini DataNode does not speak SASL data
// transfer, so the test stops the client there.)
func TestDataTransferProtectionReachesClient(t *testing.T) {
	c := startHDFS(t)
	for _, prot := range []string{"", "authentication", "integrity", "Privacy"} {
		t.Run("protection="+prot, func(t *testing.T) {
			asked := make(chan struct{}, 1)
			var d testutil.Dialer
			d.Set(testutil.AnyAddr, testutil.CutWhen(func(sent []byte) bool {
				if bytes.Contains(sent, []byte("getDataEncryptionKey")) {
					select {
					case asked <- struct{}{}:
					default:
					}
					return true
				}
				return false
			}))
			cfg := conf.New(conf.Options{})
			cfg.Set("fs.defaultFS", c.URI(), conf.Source{})
			if prot != "" {
				cfg.Set("dfs.data.transfer.protection", prot, conf.Source{})
			}
			s, err := hdfs.New(testutil.Context(t, 60*time.Second), hdfs.Options{Conf: cfg, User: "alice", Dial: d.Dial})
			require.NoError(t, err)
			local := t.TempDir()
			writeTree(t, local, map[string]int{"a.jar": 1000})
			_, err = s.Stage(testutil.Context(t, 60*time.Second), "application_1700000000000_0001", []hdfs.Source{{Path: filepath.Join(local, "a.jar")}}, nil)
			if prot == "" {
				require.NoError(t, err)
				require.Empty(t, asked, "no protection configured, no SASL")
				return
			}
			require.Len(t, asked, 1, "the client did not start SASL data transfer")
			require.Error(t, err)
		})
	}
}
