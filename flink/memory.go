package flink

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// MemorySize is a number of bytes, as Flink's MemorySize.
type MemorySize int64

// Binary units of MemorySize.parse (MemoryUnit): b, k, m, g, t and their
// long forms, case-insensitive.
var memoryUnits = []struct {
	names []string
	mult  int64
}{
	{[]string{"b", "bytes"}, 1},
	{[]string{"k", "kb", "kibibytes"}, 1 << 10},
	{[]string{"m", "mb", "mebibytes"}, 1 << 20},
	{[]string{"g", "gb", "gibibytes"}, 1 << 30},
	{[]string{"t", "tb", "tebibytes"}, 1 << 40},
}

// ParseMemorySize parses a size as MemorySize.parseBytes does: digits,
// optional blanks, an optional unit; no unit means bytes.
func ParseMemorySize(s string) (MemorySize, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("memory size: empty value")
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("memory size %q: does not start with a number", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory size %q: numeric overflow", s)
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mult := int64(1)
	if unit != "" {
		found := false
		for _, u := range memoryUnits {
			for _, name := range u.names {
				if name == unit {
					mult, found = u.mult, true
				}
			}
		}
		if !found {
			return 0, fmt.Errorf("memory size %q: unknown unit %q: use b, k, m, g or t (kb, mb, gb, …)", s, unit)
		}
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("memory size %q: numeric overflow", s)
	}
	return MemorySize(n * mult), nil
}

// Bytes returns m as an int64.
func (m MemorySize) Bytes() int64 { return int64(m) }

// String returns m in Flink's human-readable form ("512.000mb (536870920 bytes)").
func (m MemorySize) String() string {
	units := []struct {
		name string
		mult int64
	}{{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}}
	for _, u := range units {
		if int64(m) > u.mult {
			return fmt.Sprintf("%.3f%s (%d bytes)", float64(m)/float64(u.mult), u.name, int64(m))
		}
	}
	return fmt.Sprintf("%d bytes", int64(m))
}

// arg is the "<bytes>b" form of the dynamic properties.
func (m MemorySize) arg() string { return strconv.FormatInt(int64(m), 10) + "b" }

// multiply is MemorySize.multiply: the exact product of the bytes and the
// decimal that Double.toString gives for f, truncated.
func (m MemorySize) multiply(f float64) MemorySize {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		panic("flink: bad multiplier " + strconv.FormatFloat(f, 'g', -1, 64))
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(m)))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return MemorySize(math.MaxInt64)
	}
	return MemorySize(q.Int64())
}
