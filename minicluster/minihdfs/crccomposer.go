package minihdfs

import "encoding/binary"

// CRC composition as Hadoop's CrcUtil and CrcComposer (hadoop-common
// org.apache.hadoop.util, 3.1+) do it, for the COMPOSITE_CRC block and
// file checksums: the CRC of A||B is CRC(A)·x^(8·|B|) + CRC(B) in GF(2)[x]
// modulo the CRC polynomial, in the bit-reflected representation where the
// top bit is the x^0 term. For these CRCs (initial value and final XOR all
// ones) the composition of a file's chunk CRCs equals the CRC of the whole
// file.

// CrcUtil.GZIP_POLYNOMIAL and CrcUtil.CASTAGNOLI_POLYNOMIAL.
const (
	gzipPolynomial       = 0xEDB88320
	castagnoliPolynomial = 0x82F63B78
	gfOne                = 0x80000000 // CrcUtil.MULTIPLICATIVE_IDENTITY
)

// gfMultiply is CrcUtil.galoisFieldMultiply: p·q mod m.
func gfMultiply(p, q, m uint32) uint32 {
	var sum uint32
	px := p
	for term := uint32(gfOne); term != 0; term >>= 1 {
		if q&term != 0 {
			sum ^= px
		}
		carry := px&1 != 0
		px >>= 1
		if carry {
			px ^= m
		}
	}
	return sum
}

// gfMonomial is CrcUtil.getMonomial: x^(8·n) mod m.
func gfMonomial(n int64, m uint32) uint32 {
	if n == 0 {
		return gfOne
	}
	multiplier := uint32(gfOne >> 8)
	product := uint32(gfOne)
	for ; n > 0; n >>= 1 {
		if n&1 != 0 {
			if product == gfOne {
				product = multiplier
			} else {
				product = gfMultiply(product, multiplier, m)
			}
		}
		multiplier = gfMultiply(multiplier, multiplier, m)
	}
	return product
}

// crcComposer is CrcComposer: it composes CRCs of consecutive pieces and,
// at each stripe boundary, emits the composite as 4 big-endian bytes.
type crcComposer struct {
	poly        uint32
	hint        int64  // the usual piece length
	hintMonomio uint32 // gfMonomial(hint)
	stripe      int64
	cur         uint32
	pos         int64
	out         []byte
}

// newCrcComposer is CrcComposer.newStripedCrcComposer; stripe <= 0 means
// one stripe of any length (newCrcComposer's Long.MAX_VALUE).
func newCrcComposer(poly uint32, hint, stripe int64) *crcComposer {
	if stripe <= 0 {
		stripe = 1<<63 - 1
	}
	return &crcComposer{poly: poly, hint: hint, hintMonomio: gfMonomial(hint, poly), stripe: stripe}
}

// update adds the CRC of the next n bytes. As in Hadoop, a running value
// of 0 counts as "nothing yet" (CrcComposer.update).
func (c *crcComposer) update(crc uint32, n int64) {
	switch {
	case c.cur == 0:
		c.cur = crc
	case n == c.hint:
		c.cur = gfMultiply(c.cur, c.hintMonomio, c.poly) ^ crc
	default:
		c.cur = gfMultiply(c.cur, gfMonomial(n, c.poly), c.poly) ^ crc
	}
	c.pos += n
	if c.pos >= c.stripe {
		c.out = binary.BigEndian.AppendUint32(c.out, c.cur)
		c.cur, c.pos = 0, 0
	}
}

// digest is CrcComposer.digest: the stripes' CRCs, the last one partial.
func (c *crcComposer) digest() []byte {
	if c.pos > 0 {
		c.out = binary.BigEndian.AppendUint32(c.out, c.cur)
		c.cur, c.pos = 0, 0
	}
	d := c.out
	c.out = nil
	return d
}
