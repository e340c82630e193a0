package conf

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGetInt(t *testing.T) {
	cases := []struct {
		in   string
		want int
		err  bool
	}{
		{"42", 42, false},
		{"  42\n", 42, false},
		{"+7", 7, false},
		{"-7", -7, false},
		{"0x1F", 31, false},
		{"0X1f", 31, false},
		{"-0x10", -16, false},
		{"2147483647", 2147483647, false},
		{"2147483648", 0, true},
		{"", 0, true},
		{"  ", 0, true},
		{"1_000", 0, true},
		{"10s", 0, true},
		{"1.5", 0, true},
		{"0x", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c := New(Options{})
			c.Set("k", tc.in, Source{File: "yarn-site.xml", Line: 9})
			got, err := c.GetInt("k", -1)
			if tc.err {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Equal(t, "conf: yarn-site.xml:9: k: invalid integer "+quote(javaTrim(tc.in)), err.Error())
				require.Equal(t, -1, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	got, err := New(Options{}).GetInt("unset", 5)
	require.NoError(t, err)
	require.Equal(t, 5, got)
}

func TestGetInt64(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		err  bool
	}{
		{"9223372036854775807", 9223372036854775807, false},
		{"2147483648", 2147483648, false},
		{"0x7fffffffffffffff", 9223372036854775807, false},
		{"9223372036854775808", 0, true},
		{"abc", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c := newConf(t, Options{}, "k", tc.in)
			got, err := c.GetInt64("k", 3)
			if tc.err {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Contains(t, err.Error(), "conf: test.xml:3: k: invalid integer")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestGetBool(t *testing.T) {
	cases := []struct {
		in   string
		want bool
		err  bool
	}{
		{"true", true, false},
		{"TRUE", true, false},
		{" True\n", true, false},
		{"false", false, false},
		{"FaLsE", false, false},
		{"   ", true, false}, // blank: default
		{"yes", true, true},
		{"1", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c := New(Options{})
			c.Set("k", tc.in, Source{File: "core-site.xml", Line: 4})
			got, err := c.GetBool("k", true)
			if tc.err {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Equal(t, "conf: core-site.xml:4: k: invalid boolean "+quote(tc.in)+" (want true or false)", err.Error())
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestGetDuration(t *testing.T) {
	cases := []struct {
		in   string
		unit time.Duration
		want time.Duration
		err  string
	}{
		{"1500", time.Millisecond, 1500 * time.Millisecond, ""},
		{"30", time.Second, 30 * time.Second, ""},
		{"10ns", time.Millisecond, 10 * time.Nanosecond, ""},
		{"10us", time.Millisecond, 10 * time.Microsecond, ""},
		{"10ms", time.Second, 10 * time.Millisecond, ""},
		{"10s", time.Millisecond, 10 * time.Second, ""},
		{"10m", time.Millisecond, 10 * time.Minute, ""},
		{"10h", time.Millisecond, 10 * time.Hour, ""},
		{"2d", time.Millisecond, 48 * time.Hour, ""},
		{" 10S ", time.Millisecond, 10 * time.Second, ""},
		{"10MS", time.Second, 10 * time.Millisecond, ""},
		{"-5s", time.Millisecond, -5 * time.Second, ""},
		{"+5s", time.Millisecond, 5 * time.Second, ""},
		{"1.5s", time.Millisecond, 0, `invalid duration "1.5s"`},
		{"10 s", time.Millisecond, 0, `invalid duration "10 s"`},
		{"s", time.Millisecond, 0, `invalid duration "s"`},
		{"10x", time.Millisecond, 0, `invalid duration "10x"`},
		{"1000000d", time.Millisecond, 0, `duration "1000000d" out of range`},
		{"10", 0, 0, "invalid unit 0s"},
	}
	for _, tc := range cases {
		t.Run(tc.in+" in "+tc.unit.String(), func(t *testing.T) {
			c := newConf(t, Options{}, "k", tc.in)
			got, err := c.GetDuration("k", time.Minute, tc.unit)
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidValue)
				require.Equal(t, "conf: test.xml:3: k: "+tc.err, err.Error())
				require.Equal(t, time.Minute, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	got, err := New(Options{}).GetDuration("unset", time.Minute, time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, time.Minute, got)
}

func TestGetStrings(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"a,b,c", []string{"a", "b", "c"}},
		{" a , b ,c ", []string{"a", "b", "c"}},
		{"a\nb,\n c", []string{"a", "b", "c"}},
		{"a,,b,", []string{"a", "b"}},
		{"single", []string{"single"}},
		{" , ", []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c := newConf(t, Options{}, "k", tc.in)
			got, err := c.GetStrings("k", []string{"def"})
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	got, err := New(Options{}).GetStrings("unset", []string{"def"})
	require.NoError(t, err)
	require.Equal(t, []string{"def"}, got)
}

func TestGettersExpandFirst(t *testing.T) {
	c := newConf(t, Options{}, "base", "0x10", "n", "${base}", "d", "${n}s", "loop", "${loop2}", "loop2", "${loop}")
	n, err := c.GetInt("n", 0)
	require.NoError(t, err)
	require.Equal(t, 16, n)
	_, err = c.GetDuration("d", 0, time.Second) // "0x10s" is not a Java long
	require.ErrorIs(t, err, ErrInvalidValue)
	for name, get := range map[string]func() error{
		"GetInt":      func() error { _, err := c.GetInt("loop", 0); return err },
		"GetInt64":    func() error { _, err := c.GetInt64("loop", 0); return err },
		"GetBool":     func() error { _, err := c.GetBool("loop", false); return err },
		"GetDuration": func() error { _, err := c.GetDuration("loop", 0, time.Second); return err },
		"GetStrings":  func() error { _, err := c.GetStrings("loop", nil); return err },
		"GetString":   func() error { _, err := c.GetString("loop", ""); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := get()
			require.ErrorIs(t, err, ErrSubstitutionDepth)
			var ve *ValueError
			require.True(t, errors.As(err, &ve))
			require.Equal(t, "loop", ve.Key)
		})
	}
}
