package hdfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"

	hdfs "github.com/colinmarc/hdfs/v2"
	"github.com/colinmarc/hdfs/v2/hadoopconf"

	"github.com/spindle-yarn/spindle/conf"
)

// ErrResponseTooLarge is returned when a NameNode announces a response
// frame longer than ipc.maximum.response.length.
var ErrResponseTooLarge = errors.New("hdfs: NameNode response too large")

// frameLimitConn is a NameNode connection that checks the length of every
// response frame before colinmarc/hdfs sees it: colinmarc's readRPCPacket
// runs make([]byte, n) on the untrusted uint32. Everything a NameNode sends
// is framed the same way (SASL negotiation, responses, and SASL WRAP
// messages, whose inner frames are then bounded by the outer one):
//
//	+---------------------+------------------------+
//	| u32 BE length n     | n bytes of payload     |
//	+---------------------+------------------------+
//
// Reads stop at frame boundaries, so a read of a length prefix sees only
// the prefix, and fails with ErrResponseTooLarge (returning no bytes, so
// that io.ReadFull does not take the prefix as read) when n exceeds max.
type frameLimitConn struct {
	net.Conn
	addr string
	max  uint32
	hdr  [4]byte
	nhdr int    // bytes of the current length prefix read
	left uint32 // payload bytes of the current frame not yet read
	err  error
}

func (c *frameLimitConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return c.Conn.Read(p)
	}
	if c.left > 0 {
		n, err := c.Conn.Read(p[:min(uint64(len(p)), uint64(c.left))])
		c.left -= uint32(n)
		return n, err
	}
	n, err := c.Conn.Read(p[:min(len(p), 4-c.nhdr)])
	copy(c.hdr[c.nhdr:], p[:n])
	c.nhdr += n
	if c.nhdr < 4 {
		return n, err
	}
	c.nhdr = 0
	l := binary.BigEndian.Uint32(c.hdr[:])
	if l > c.max {
		c.err = fmt.Errorf("%w: %s announced %d bytes, limit %d (%s)", ErrResponseTooLarge, c.addr, l, c.max, conf.KeyIPCMaxResponseLength)
		_ = c.Conn.Close()
		return 0, c.err
	}
	c.left = l
	return n, err
}

// clientConf is what the HDFS client takes from the configuration.
type clientConf struct {
	// opts holds UseDatanodeHostname and DataTransferProtection (and
	// colinmarc's unexported companion of dfs.encrypt.data.transfer).
	opts hdfs.ClientOptions
	// maxResponse is ipc.maximum.response.length; 0 or less (no limit in
	// Hadoop) means its default, 128 MiB.
	maxResponse uint32
}

// clientFromConf reads dfs.client.use.datanode.hostname,
// dfs.data.transfer.protection, dfs.encrypt.data.transfer and
// ipc.maximum.response.length. The dfs keys go through colinmarc's own
// ClientOptionsFromConf, which also sets what it keeps unexported (Java's
// skipping of SASL on privileged DataNode ports without
// dfs.encrypt.data.transfer); the values are normalised first, as Hadoop
// reads them (booleans without regard to case, protections trimmed).
func clientFromConf(c *conf.Configuration) (clientConf, error) {
	cc := clientConf{maxResponse: conf.DefaultIPCMaxResponseLength}
	if c == nil {
		return cc, nil
	}
	hc := hadoopconf.HadoopConf{}
	for _, key := range []string{keyUseDatanodeHostname, keyEncryptDataTransfer} {
		v, err := c.GetBool(key, false)
		if err != nil {
			return cc, err
		}
		hc[key] = fmt.Sprint(v)
	}
	prots, err := c.GetStrings(keyDataTransferProtection, nil)
	if err != nil {
		return cc, err
	}
	for i, p := range prots {
		prots[i] = strings.ToLower(p)
		switch prots[i] {
		case hdfs.DataTransferProtectionAuthentication, hdfs.DataTransferProtectionIntegrity, hdfs.DataTransferProtectionPrivacy:
		default:
			return cc, fmt.Errorf("%w: %s: %q is none of authentication, integrity, privacy", ErrInvalid, keyDataTransferProtection, p)
		}
	}
	hc[keyDataTransferProtection] = strings.Join(prots, ",")
	cc.opts = hdfs.ClientOptionsFromConf(hc)
	max, err := c.GetInt(conf.KeyIPCMaxResponseLength, conf.DefaultIPCMaxResponseLength)
	if err != nil {
		return cc, err
	}
	if max > 0 && uint64(max) <= 1<<32-1 {
		cc.maxResponse = uint32(max)
	}
	return cc, nil
}

// HDFS client keys (HdfsClientConfigKeys).
const (
	keyUseDatanodeHostname    = "dfs.client.use.datanode.hostname"
	keyDataTransferProtection = "dfs.data.transfer.protection"
	keyEncryptDataTransfer    = "dfs.encrypt.data.transfer"
)
