package conf

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func fakeEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestExpand(t *testing.T) {
	env := fakeEnv(map[string]string{"HOME": "/home/u", "EMPTY": "", "INDIRECT": "${a}"})
	sys := map[string]string{"user.name": "alice"}
	full := Options{Env: env, SystemProperties: sys}
	kv := []string{
		"a", "x",
		"b", "${a}/y",
		"user.name", "bob",
		"env.UNSET", "from-conf",
		"fs.defaultFS", "hdfs://nn",
		"selfref", "${selfref}/x",
		"grows", "x${grows}",
		"refgrows", "${grows}",
	}
	cases := []struct {
		in   string
		opts Options
		want string
	}{
		{"plain", full, "plain"},
		{"${a}", full, "x"},
		{"${b}/z", full, "x/y/z"},
		{"${nope}/q", full, "${nope}/q"},
		// Left-most first; an unresolvable variable stops expansion.
		{"${a}-${nope}-${a}", full, "x-${nope}-${a}"},
		{"${env.HOME}/bin", full, "/home/u/bin"},
		{"${env.NOPE}", full, "${env.NOPE}"},
		{"${env.UNSET}", full, "from-conf"},
		{"${env.HOME:-d}", full, "/home/u"},
		{"${env.EMPTY:-d}", full, "d"},
		{"${env.NOPE:-d}", full, "d"},
		{"${env.EMPTY-d}", full, ""},
		{"${env.NOPE-d}", full, "d"},
		{"${env.NOPE-a-b}", full, "a-b"},
		{"${env.NOPE:-}", full, ""},
		{"${env.NOPE:}", full, "${env.NOPE:}"},
		{"${env.INDIRECT}", full, "x"},
		{"${env.HOME}", Options{}, "${env.HOME}"},
		{"${env.NOPE:-d}", Options{}, "d"},
		{"${user.name}", full, "alice"},
		{"${user.name}", Options{}, "bob"},
		{"${sys.user.name}", full, "${sys.user.name}"},
		{"${fs.default.name}", full, "hdfs://nn"},
		{"${}", full, "${}"},
		{"${a b}", full, "${a b}"},
		{"$${a}", full, "$x"},
		{"${${a}}", full, "${x}"},
		{"${a", full, "${a"},
		{"{a}", full, "{a}"},
		{"${selfref}", full, "${selfref}"},
		{"${refgrows}", full, "${refgrows}"},
		{strings.Repeat("${a}", maxSubst), full, strings.Repeat("x", maxSubst)},
	}
	for _, tc := range cases {
		name := tc.in
		if tc.opts.Env == nil {
			name += " without env"
		}
		t.Run(name, func(t *testing.T) {
			c := newConf(t, tc.opts, append(kv, "probe", tc.in)...)
			require.Equal(t, tc.want, mustGet(t, c, "probe"))
		})
	}
}

func TestExpandDepth(t *testing.T) {
	chain := func(n int) []string {
		var kv []string
		for i := range n {
			kv = append(kv, fmt.Sprintf("k%d", i), fmt.Sprintf("${k%d}", i+1))
		}
		return append(kv, fmt.Sprintf("k%d", n), "end")
	}
	cases := []struct {
		name string
		kv   []string
		key  string
		want string
		err  string
	}{
		{name: "chain of 20", kv: chain(20), key: "k0", want: "end"},
		{
			name: "chain of 21", kv: chain(21), key: "k0",
			err: `conf: test.xml:3: k0: variable substitution depth too large: more than 20 substitutions in "${k1}"`,
		},
		{
			name: "cycle a b", kv: []string{"a", "${b}", "b", "${a}"}, key: "a",
			err: `conf: test.xml:3: a: variable substitution depth too large: more than 20 substitutions in "${b}"`,
		},
		{
			name: "cycle through env default", kv: []string{"a", "${env.X:-${b}}", "b", "${a}"}, key: "b",
			// "${env.X:-${b}" is not a variable ('$' ends the scan), so
			// "${b}" is, and the two keys substitute each other forever.
			err: "variable substitution depth too large",
		},
		{
			name: "21 references in one value", kv: []string{"a", "x", "p", strings.Repeat("${a}", 21)}, key: "p",
			err: "variable substitution depth too large",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newConf(t, Options{}, tc.kv...)
			v, err := c.Get(tc.key)
			if tc.err == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, v)
				return
			}
			require.ErrorIs(t, err, ErrSubstitutionDepth)
			require.Contains(t, err.Error(), tc.err)
			var ve *ValueError
			require.True(t, errors.As(err, &ve))
			require.Equal(t, tc.key, ve.Key)
			require.Equal(t, "test.xml", ve.Source.File)
		})
	}
}

func TestExpandTooLarge(t *testing.T) {
	c := New(Options{MaxBytes: 1000})
	c.Set("h", strings.Repeat("h", 600), Source{})
	c.Set("big", "${h}${h}", Source{File: "cli"})
	_, err := c.Get("big")
	require.ErrorIs(t, err, ErrTooLarge)
	require.Equal(t, `conf: cli: big: expansion of "${h}${h}" exceeds 1000 bytes`, err.Error())
}

func TestFindVar(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"${a}", "a"},
		{"x${ab}y${c}", "ab"},
		{"${}${b}", "b"},
		{"${ a}${b}", "b"},
		{"${a$b}${c}", "c"},
		{"${a{b}", "a{b"},
		{"{a}${b}", "b"},
		{"$", ""},
		{"${", ""},
		{"${}", ""},
		{"${a", ""},
		{"", ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			s, e := findVar(tc.in)
			got := ""
			if s >= 0 {
				got = tc.in[s:e]
			}
			require.Equal(t, tc.want, got)
		})
	}
}
