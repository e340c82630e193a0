package flink

import (
	"math"
	"strconv"
	"strings"
)

// javaDouble formats f as Java's Double.toString (String.valueOf(double)).
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e+07, 1.5e-05
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// javaHashMapOrder returns keys in the iteration order of a
// java.util.HashMap they were put into in this order: by bucket
// (String.hashCode spread as HashMap.hash does, modulo the table size,
// which starts at 16 and doubles when the size passes 3/4 of it), and by
// insertion within a bucket. Flink builds its dynamic properties in
// HashMaps, so this reproduces the order of its command lines.
func javaHashMapOrder(keys []string) []string {
	size := 16
	for n := 1; n <= len(keys); n++ {
		if n > size*3/4 {
			size *= 2
		}
	}
	type item struct {
		key    string
		bucket int
		i      int
	}
	items := make([]item, len(keys))
	for i, k := range keys {
		var h int32
		for _, u := range utf16Units(k) {
			h = 31*h + int32(u)
		}
		spread := uint32(h) ^ (uint32(h) >> 16)
		items[i] = item{k, int(spread & uint32(size-1)), i}
	}
	out := make([]string, 0, len(keys))
	for b := 0; b < size; b++ {
		for _, it := range items {
			if it.bucket == b {
				out = append(out, it.key)
			}
		}
	}
	return out
}

func utf16Units(s string) []uint16 {
	var u []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			u = append(u, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		u = append(u, uint16(r))
	}
	return u
}
