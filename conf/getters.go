package conf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// lookupTrimmed returns the expanded, trimmed value of key (Hadoop's
// getTrimmed) with its source.
func (c *Configuration) lookupTrimmed(key string) (string, Source, bool, error) {
	v, ok, err := c.Lookup(key)
	if err != nil || !ok {
		return "", Source{}, ok, err
	}
	src, _ := c.SourceOf(key)
	return javaTrim(v), src, true, nil
}

func invalid(key string, src Source, format string, args ...any) error {
	return &ValueError{Key: canonicalKey(key), Source: src, Msg: fmt.Sprintf(format, args...), Err: ErrInvalidValue}
}

// parseJavaInt parses like Hadoop's getInt/getLong: decimal with an optional
// sign, or hexadecimal after "0x"/"0X" (with an optional leading '-').
func parseJavaInt(s string, bits int) (int64, error) {
	neg := false
	t := s
	if strings.HasPrefix(t, "-") {
		neg, t = true, t[1:]
	}
	if strings.HasPrefix(t, "0x") || strings.HasPrefix(t, "0X") {
		h := t[2:]
		if neg {
			h = "-" + h
		}
		return strconv.ParseInt(h, 16, bits)
	}
	return strconv.ParseInt(s, 10, bits)
}

// GetInt returns key as a Java int (32 bits), or def if key is not set.
// Like Hadoop's getInt, the value is trimmed and may be decimal or "0x" hex.
// A malformed or out-of-range value is a *ValueError wrapping
// ErrInvalidValue.
func (c *Configuration) GetInt(key string, def int) (int, error) {
	v, src, ok, err := c.lookupTrimmed(key)
	if err != nil || !ok {
		return def, err
	}
	n, err := parseJavaInt(v, 32)
	if err != nil {
		return def, invalid(key, src, "invalid integer %s", quote(v))
	}
	return int(n), nil
}

// GetInt64 returns key as a Java long, or def if key is not set. Parsing is
// that of GetInt with 64 bits (Hadoop's getLong).
func (c *Configuration) GetInt64(key string, def int64) (int64, error) {
	v, src, ok, err := c.lookupTrimmed(key)
	if err != nil || !ok {
		return def, err
	}
	n, err := parseJavaInt(v, 64)
	if err != nil {
		return def, invalid(key, src, "invalid integer %s", quote(v))
	}
	return n, nil
}

// GetBool returns key as a boolean, or def if key is unset or blank. "true"
// and "false" are accepted in any case, after trimming. Hadoop's getBoolean
// silently returns the default for anything else; GetBool returns a
// *ValueError wrapping ErrInvalidValue instead.
func (c *Configuration) GetBool(key string, def bool) (bool, error) {
	v, src, ok, err := c.lookupTrimmed(key)
	if err != nil || !ok || v == "" {
		return def, err
	}
	switch {
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return def, invalid(key, src, "invalid boolean %s (want true or false)", quote(v))
}

// durationUnits are the suffixes of Hadoop's Configuration.ParsedTimeDuration,
// in its matching order (so "ms" is tried before "s").
var durationUnits = []struct {
	suffix string
	unit   time.Duration
}{
	{"ns", time.Nanosecond},
	{"us", time.Microsecond},
	{"ms", time.Millisecond},
	{"s", time.Second},
	{"m", time.Minute},
	{"h", time.Hour},
	{"d", 24 * time.Hour},
}

// parseDuration parses a Hadoop time duration: an integer (Java long) with
// an optional case-insensitive suffix ns, us, ms, s, m, h or d, after
// trimming. A bare number is in unit. The result must fit in a
// time.Duration.
func parseDuration(v string, unit time.Duration) (time.Duration, error) {
	s := strings.ToLower(javaTrim(v))
	u := unit
	for _, du := range durationUnits {
		if strings.HasSuffix(s, du.suffix) {
			s, u = s[:len(s)-len(du.suffix)], du.unit
			break
		}
	}
	if u <= 0 {
		return 0, fmt.Errorf("invalid unit %v", unit)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %s", quote(v))
	}
	if n > math.MaxInt64/int64(u) || n < math.MinInt64/int64(u) {
		return 0, fmt.Errorf("duration %s out of range", quote(v))
	}
	return time.Duration(n) * u, nil
}

// GetDuration returns key as a duration, or def if key is not set, with the
// syntax of Hadoop's getTimeDuration: an integer with an optional
// case-insensitive suffix ns, us, ms, s, m, h or d. A bare number is in unit, which must be positive (e.g. time.Millisecond for a "*.ms" key).
// Unlike Hadoop, which converts to unit and truncates, the result keeps full
// precision. A malformed value is a *ValueError wrapping ErrInvalidValue.
func (c *Configuration) GetDuration(key string, def, unit time.Duration) (time.Duration, error) {
	v, src, ok, err := c.lookupTrimmed(key)
	if err != nil || !ok {
		return def, err
	}
	d, err := parseDuration(v, unit)
	if err != nil {
		return def, invalid(key, src, "%v", err)
	}
	return d, nil
}

// GetStrings returns key split at commas and newlines, each element
// trimmed, empty elements dropped (Hadoop's getTrimmedStringCollection,
// without its de-duplication). It returns def if key is not set, and an
// empty slice if the value is blank.
func (c *Configuration) GetStrings(key string, def []string) ([]string, error) {
	v, ok, err := c.Lookup(key)
	if err != nil || !ok {
		return def, err
	}
	return splitList(v), nil
}
