package minihdfs_test

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// checksumCase is one line of testdata/checksum/hadoop-3.1.3.tsv: what
// `hdfs dfs -checksum` prints for a file of fixture bytes (see
// testdata/checksum/README.md for how the values were obtained).
type checksumCase struct {
	size, blockSize int
	seed            uint32
	name, mode      string
	algorithm, hex  string
}

func checksumCases(t *testing.T) []checksumCase {
	t.Helper()
	f, err := os.Open("testdata/checksum/hadoop-3.1.3.tsv")
	require.NoError(t, err)
	defer f.Close()
	var out []checksumCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		require.Len(t, c, 7, sc.Text())
		size, err1 := strconv.Atoi(c[0])
		bs, err2 := strconv.Atoi(c[1])
		seed, err3 := strconv.ParseUint(c[2], 10, 32)
		require.NoError(t, err1)
		require.NoError(t, err2)
		require.NoError(t, err3)
		out = append(out, checksumCase{size, bs, uint32(seed), c[3], c[4], c[5], c[6]})
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}

// fixtureBytes are the fixture files' contents, as HadoopChecksums.java
// makes them: x = x*1664525 + 1013904223 (mod 2^32), byte = x>>24.
func fixtureBytes(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// fileChecksum does what the Java client's FileChecksumHelper does for
// `hdfs dfs -checksum` (ReplicatedFileChecksumComputer, Hadoop 3.1.3):
// OP_BLOCK_CHECKSUM for each block, trying its replicas in order, then
// the MD5 of the block MD5s (padded with zeros to DataOutputBuffer's
// capacity: 32 bytes, doubled as needed) or, for COMPOSITE_CRC, the block
// CRCs composed. It returns the algorithm and hex Display.Checksum prints,
// and the block checksums.
func fileChecksum(t *testing.T, nn *nnConn, path string, composite bool) (alg, sum string, blockSums [][]byte) {
	t.Helper()
	blocks := nn.blocks(path)
	if len(blocks) == 0 {
		z := md5.Sum(make([]byte, 32))
		return "MD5-of-0MD5-of-0CRC32", hex.EncodeToString(append(make([]byte, 12), z[:]...)), nil
	}
	typ := hdfspb.BlockChecksumTypeProto_MD5CRC
	if composite {
		typ = hdfspb.BlockChecksumTypeProto_COMPOSITE_CRC
	}
	var bpc uint32
	var cpb uint64
	var buf []byte
	for i, b := range blocks {
		var resp *hdfspb.BlockOpResponseProto
		for _, loc := range b.GetLocs() {
			conn, _, r, err := dataOp(loc, 85, &hdfspb.OpBlockChecksumProto{
				Header:               &hdfspb.BaseHeaderProto{Block: b.GetB(), Token: b.GetBlockToken()},
				BlockChecksumOptions: &hdfspb.BlockChecksumOptionsProto{BlockChecksumType: typ.Enum()},
			})
			if err == nil {
				conn.Close()
				if r.GetStatus() == hdfspb.Status_SUCCESS {
					resp = r
					break
				}
			}
		}
		require.NotNil(t, resp, "no replica of block %d answered", i)
		cr := resp.GetChecksumResponse()
		require.Equal(t, hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C, cr.GetCrcType())
		require.Equal(t, typ, cr.GetBlockChecksumOptions().GetBlockChecksumType())
		if i == 0 {
			bpc = cr.GetBytesPerCrc()
			if len(blocks) > 1 {
				cpb = cr.GetCrcPerBlock()
			}
		}
		require.Equal(t, (b.GetB().GetNumBytes()+511)/512, cr.GetCrcPerBlock())
		buf = append(buf, cr.GetBlockChecksum()...)
		blockSums = append(blockSums, cr.GetBlockChecksum())
	}
	if composite {
		// The composition of the block CRCs is the CRC of the file, which
		// the caller checks; here the block CRCs are returned.
		return "COMPOSITE-CRC32C", "", blockSums
	}
	capacity := 32
	for capacity < len(buf) {
		capacity *= 2
	}
	m := md5.Sum(append(buf, make([]byte, capacity-len(buf))...))
	out := binary.BigEndian.AppendUint32(nil, bpc)
	out = binary.BigEndian.AppendUint64(out, cpb)
	return fmt.Sprintf("MD5-of-%dMD5-of-%dCRC32C", cpb, bpc), hex.EncodeToString(append(out, m[:]...)), blockSums
}

// TestFileChecksumMatchesHadoop writes each fixture file (replication 2 on
// 2 DataNodes, the fixture's block size) and checks, against the values
// a real Hadoop 3.1.3 NameNode+DataNode gives (testdata/checksum/hadoop-3.1.3.tsv):
//   - MD5MD5CRC: the whole `hdfs dfs -checksum` value from the DataNodes'
//     block MD5s combined as FileChecksumHelper does, and colinmarc/hdfs's
//     FileReader.Checksum (the MD5 part; colinmarc drops bytesPerCRC and
//     crcPerBlock);
//   - COMPOSITE_CRC: each block's composite CRC is the CRC32C of the
//     block, so their composition is the CRC32C of the file, which is the
//     fixture's value.
func TestFileChecksumMatchesHadoop(t *testing.T) {
	c := start(t, func(o *minihdfs.Options) { o.DataNodes, o.Replication = 2, 2 })
	cl := client(t, c, "root")
	nn := dialNN(t, c, "root")
	written := map[string][]byte{}
	for _, tc := range checksumCases(t) {
		t.Run(tc.name+"/"+tc.mode, func(t *testing.T) {
			path := "/user/root/checksum/" + tc.name
			data, ok := written[path]
			if !ok {
				data = fixtureBytes(tc.size, tc.seed)
				require.NoError(t, cl.MkdirAll("/user/root/checksum", 0o755))
				w, err := cl.CreateFile(path, 2, int64(tc.blockSize), 0o644)
				require.NoError(t, err)
				if len(data) > 0 {
					_, err = w.Write(data)
					require.NoError(t, err)
				}
				require.NoError(t, w.Close())
				written[path] = data
			}
			composite := tc.mode == "COMPOSITE_CRC"
			alg, sum, blocks := fileChecksum(t, nn, path, composite)
			require.Equal(t, tc.algorithm, alg)
			if !composite || len(data) == 0 {
				require.Equal(t, tc.hex, sum)
			} else {
				castagnoli := crc32.MakeTable(crc32.Castagnoli)
				for i, b := range blocks {
					blk := data[i*tc.blockSize : min((i+1)*tc.blockSize, len(data))]
					require.Equal(t, crc32.Checksum(blk, castagnoli), binary.BigEndian.Uint32(b), "block %d", i)
				}
				require.Equal(t, tc.hex, fmt.Sprintf("%08x", crc32.Checksum(data, castagnoli)))
			}
			if !composite {
				f, err := cl.Open(path)
				require.NoError(t, err)
				defer f.Close()
				got, err := f.Checksum()
				require.NoError(t, err)
				require.Equal(t, tc.hex[len(tc.hex)-32:], hex.EncodeToString(got), "colinmarc/hdfs FileReader.Checksum")
			}
		})
	}
}
