package hdfs

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"testing/iotest"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
)

// readerConn serves reads from r.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *readerConn) Close() error               { return nil }

func frame(n int) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	return append(b, bytes.Repeat([]byte{'x'}, n)...)
}

// The limit applies to every frame of the stream, however reads are cut:
// whole frames, one byte at a time, or a reader asking for more than a
// frame (bufio).
func TestFrameLimitConnTracksFrames(t *testing.T) {
	const max = 100
	ok := append(append(frame(0), frame(100)...), frame(7)...)
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"whole":   func(r io.Reader) io.Reader { return r },
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
	} {
		t.Run(name, func(t *testing.T) {
			c := &frameLimitConn{Conn: &readerConn{r: wrap(bytes.NewReader(ok))}, addr: "nn:8020", max: max}
			got, err := io.ReadAll(c)
			require.NoError(t, err)
			require.Equal(t, ok, got)

			bad := append(append([]byte(nil), ok...), frame(101)...)
			c = &frameLimitConn{Conn: &readerConn{r: wrap(bytes.NewReader(bad))}, addr: "nn:8020", max: max}
			got, err = io.ReadAll(c)
			require.ErrorIs(t, err, ErrResponseTooLarge)
			// Everything before the oversized prefix, never the whole prefix
			// (io.ReadFull of the prefix fails).
			require.Equal(t, ok, got[:len(ok)])
			require.Less(t, len(got), len(ok)+4)
			_, err = c.Read(make([]byte, 10))
			require.ErrorIs(t, err, ErrResponseTooLarge, "the connection stays failed")
		})
	}
}

func TestClientFromConf(t *testing.T) {
	cc, err := clientFromConf(nil)
	require.NoError(t, err)
	require.Equal(t, uint32(conf.DefaultIPCMaxResponseLength), cc.maxResponse)
	require.Equal(t, hdfs.ClientOptions{}, cc.opts)

	for _, tc := range []struct {
		set         map[string]string
		hostname    bool
		protection  string
		maxResponse uint32
		wantInvalid bool
	}{
		{set: nil, maxResponse: conf.DefaultIPCMaxResponseLength},
		{set: map[string]string{"dfs.client.use.datanode.hostname": "TRUE"}, hostname: true, maxResponse: conf.DefaultIPCMaxResponseLength},
		{set: map[string]string{"dfs.data.transfer.protection": " integrity , Privacy "}, protection: "privacy", maxResponse: conf.DefaultIPCMaxResponseLength},
		{set: map[string]string{"dfs.data.transfer.protection": "authentication"}, protection: "authentication", maxResponse: conf.DefaultIPCMaxResponseLength},
		{set: map[string]string{"dfs.encrypt.data.transfer": "true"}, protection: "privacy", maxResponse: conf.DefaultIPCMaxResponseLength},
		{set: map[string]string{"ipc.maximum.response.length": "1024"}, maxResponse: 1024},
		{set: map[string]string{"ipc.maximum.response.length": "0"}, maxResponse: conf.DefaultIPCMaxResponseLength},
		{set: map[string]string{"dfs.data.transfer.protection": "secret"}, wantInvalid: true},
	} {
		c := conf.New(conf.Options{})
		for k, v := range tc.set {
			c.Set(k, v, conf.Source{})
		}
		cc, err := clientFromConf(c)
		if tc.wantInvalid {
			require.ErrorIs(t, err, ErrInvalid, "%v", tc.set)
			continue
		}
		require.NoError(t, err, "%v", tc.set)
		require.Equal(t, tc.hostname, cc.opts.UseDatanodeHostname, "%v", tc.set)
		require.Equal(t, tc.protection, cc.opts.DataTransferProtection, "%v", tc.set)
		require.Equal(t, tc.maxResponse, cc.maxResponse, "%v", tc.set)
	}
}
