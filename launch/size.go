package launch

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseMemoryMB parses a memory size as Flink's -jm and -tm take it: a
// number with an optional unit (b, k/kb, m/mb, g/gb, t/tb, any case, an
// optional space before it); a bare number is megabytes. The result is in
// MB, rounded up.
func ParseMemoryMB(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("memory %q: want a number with an optional unit, e.g. 1024m or 2g", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memory %q: %w", s, err)
	}
	var bytesPer int64
	switch strings.TrimSpace(t[i:]) {
	case "b", "bytes":
		bytesPer = 1
	case "k", "kb", "kib":
		bytesPer = 1 << 10
	case "", "m", "mb", "mib":
		return n, nil
	case "g", "gb", "gib":
		bytesPer = 1 << 30
	case "t", "tb", "tib":
		bytesPer = 1 << 40
	default:
		return 0, fmt.Errorf("memory %q: unknown unit %q (want b, k, m, g or t)", s, t[i:])
	}
	if n > (1<<62)/bytesPer {
		return 0, fmt.Errorf("memory %q: too large", s)
	}
	b := n * bytesPer
	return (b + 1<<20 - 1) >> 20, nil
}

// roundUp rounds v up to a multiple of step, as YARN's resource
// calculators normalize requests (step <= 0 leaves v).
func roundUp(v, step int64) int64 {
	if step <= 0 {
		return v
	}
	return (v + step - 1) / step * step
}
