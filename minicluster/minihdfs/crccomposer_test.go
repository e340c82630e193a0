package minihdfs

import (
	"crypto/rand"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// TestCrcComposer checks the port of Hadoop's CrcComposer: composing the
// CRCs of consecutive pieces (equal ones, then odd-sized ones that take
// the monomial path) gives the CRC of the whole, for CRC32C and CRC32;
// stripes give one CRC each.
func TestCrcComposer(t *testing.T) {
	data := make([]byte, 10000)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tab  *crc32.Table
		poly uint32
	}{{"crc32c", crc32.MakeTable(crc32.Castagnoli), castagnoliPolynomial}, {"crc32", crc32.IEEETable, gzipPolynomial}} {
		for _, piece := range []int{512, 1, 333, 10000} {
			c := newCrcComposer(tc.poly, 512, 0)
			for off := 0; off < len(data); off += piece {
				p := data[off:min(off+piece, len(data))]
				c.update(crc32.Checksum(p, tc.tab), int64(len(p)))
			}
			got := binary.BigEndian.Uint32(c.digest())
			if want := crc32.Checksum(data, tc.tab); got != want {
				t.Errorf("%s pieces of %d: composed %08x, want %08x", tc.name, piece, got, want)
			}
		}
		c := newCrcComposer(tc.poly, 512, 4096)
		for off := 0; off < len(data); off += 512 {
			p := data[off:min(off+512, len(data))]
			c.update(crc32.Checksum(p, tc.tab), int64(len(p)))
		}
		d := c.digest()
		if len(d) != 12 {
			t.Fatalf("%s: %d stripe bytes, want 12", tc.name, len(d))
		}
		for i := 0; i < 3; i++ {
			s := data[i*4096 : min((i+1)*4096, len(data))]
			if got, want := binary.BigEndian.Uint32(d[4*i:]), crc32.Checksum(s, tc.tab); got != want {
				t.Errorf("%s stripe %d: %08x, want %08x", tc.name, i, got, want)
			}
		}
	}
}
