package conf

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func finalXML(key, value string) string {
	return fmt.Sprintf("<configuration>\n<property><name>%s</name><value>%s</value><final>true</final></property>\n</configuration>", key, value)
}

func TestLayering(t *testing.T) {
	type res struct{ name, xml string }
	cases := []struct {
		name      string
		resources []res
		key       string
		want      string
		wantSrc   string
		wantFinal bool
	}{
		{
			name:      "core then yarn later wins",
			resources: []res{{"core-site.xml", siteXML("k", "core")}, {"yarn-site.xml", siteXML("k", "yarn")}},
			key:       "k", want: "yarn", wantSrc: "yarn-site.xml:3",
		},
		{
			name:      "final in core blocks yarn",
			resources: []res{{"core-site.xml", finalXML("k", "core")}, {"yarn-site.xml", siteXML("k", "yarn")}},
			key:       "k", want: "core", wantSrc: "core-site.xml:2", wantFinal: true,
		},
		{
			name: "final in hdfs blocks yarn but not earlier core",
			resources: []res{
				{"core-site.xml", siteXML("k", "core")},
				{"hdfs-site.xml", finalXML("k", "hdfs")},
				{"yarn-site.xml", siteXML("k", "yarn")},
			},
			key: "k", want: "hdfs", wantSrc: "hdfs-site.xml:2", wantFinal: true,
		},
		{
			name:      "final with empty value keeps earlier value and blocks later",
			resources: []res{{"a.xml", siteXML("k", "a")}, {"b.xml", `<configuration><property><name>k</name><final>true</final></property></configuration>`}, {"c.xml", siteXML("k", "c")}},
			key:       "k", want: "a", wantSrc: "a.xml:3", wantFinal: true,
		},
		{
			name:      "unrelated keys merge",
			resources: []res{{"a.xml", siteXML("x", "1")}, {"b.xml", siteXML("k", "2")}},
			key:       "k", want: "2", wantSrc: "b.xml:3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(Options{})
			for _, r := range tc.resources {
				require.NoError(t, c.AddResource(strings.NewReader(r.xml), r.name))
			}
			require.Equal(t, tc.want, mustGet(t, c, tc.key))
			src, ok := c.SourceOf(tc.key)
			require.True(t, ok)
			require.Equal(t, tc.wantSrc, src.String())
			require.Equal(t, tc.wantFinal, c.IsFinal(tc.key))
		})
	}
}

func TestSetOverridesFinalAndLaterResources(t *testing.T) {
	c := New(Options{})
	require.NoError(t, c.AddResource(strings.NewReader(finalXML("k", "file")), "a.xml"))
	c.Set(" k ", "cli", Source{File: "command line"})
	require.Equal(t, "cli", mustGet(t, c, "k"))
	require.NoError(t, c.AddResource(strings.NewReader(siteXML("k", "later")), "b.xml"))
	require.Equal(t, "cli", mustGet(t, c, "k"))
	src, _ := c.SourceOf("k")
	require.Equal(t, "command line", src.String())
}

func TestMerge(t *testing.T) {
	base := New(Options{})
	require.NoError(t, base.AddResource(strings.NewReader(finalXML("locked", "base")), "core-site.xml"))
	require.NoError(t, base.AddResource(strings.NewReader(siteXML("open", "base")), "core-site.xml"))

	other, err := Parse(strings.NewReader(
		"<configuration>\n"+
			"<property><name>locked</name><value>other</value></property>\n"+
			"<property><name>open</name><value>other</value><final>true</final></property>\n"+
			"<property><name>new</name><value>other</value></property>\n"+
			"<property><name>finalonly</name><final>true</final></property>\n"+
			"</configuration>"), "yarn-site.xml")
	require.NoError(t, err)

	base.Merge(other)
	require.Equal(t, "base", mustGet(t, base, "locked"))
	require.Equal(t, "other", mustGet(t, base, "open"))
	require.True(t, base.IsFinal("open"))
	require.Equal(t, "other", mustGet(t, base, "new"))
	require.True(t, base.IsFinal("finalonly"))
	src, _ := base.SourceOf("open")
	require.Equal(t, "yarn-site.xml:3", src.String())

	// Merging nil or itself is a no-op.
	n := base.Len()
	base.Merge(nil)
	base.Merge(base)
	require.Equal(t, n, base.Len())

	// After open became final, a later merge cannot change it.
	base.Merge(newConf(t, Options{}, "open", "third"))
	require.Equal(t, "other", mustGet(t, base, "open"))
}

func TestDeprecatedKeyLookup(t *testing.T) {
	c := newConf(t, Options{}, "fs.defaultFS", "hdfs://nn:8020", "dfs.federation.nameservices", "ns1")
	require.Equal(t, "hdfs://nn:8020", mustGet(t, c, "fs.default.name"))
	v, ok := c.Raw("dfs.nameservices")
	require.True(t, ok)
	require.Equal(t, "ns1", v)
	require.Equal(t, []string{"dfs.nameservices", "fs.defaultFS"}, c.Keys())
}

func TestLookupAndGetString(t *testing.T) {
	c := newConf(t, Options{}, "a", "1")
	v, ok, err := c.Lookup("a")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "1", v)
	_, ok, err = c.Lookup("missing")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, "", mustGet(t, c, "missing"))
	s, err := c.GetString("missing", "def")
	require.NoError(t, err)
	require.Equal(t, "def", s)
	s, err = c.GetString("a", "def")
	require.NoError(t, err)
	require.Equal(t, "1", s)
}

func TestConcurrentUse(t *testing.T) {
	c := newConf(t, Options{}, "a", "${b}", "b", "1")
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 50 {
				_, _ = c.Get("a")
				_, _ = c.GetInt("b", 0)
				_ = c.Keys()
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 50 {
				key := fmt.Sprintf("k%d.%d", i, j)
				if err := c.AddResource(strings.NewReader(siteXML(key, "v")), "x.xml"); err != nil {
					errs <- err
					return
				}
				c.Set(key, "w", Source{})
				other := New(Options{})
				other.Set("b", "1", Source{})
				c.Merge(other)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, "1", mustGet(t, c, "a"))
	require.Equal(t, 2+8*50, c.Len())
}

func TestErrorText(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&ParseError{File: "f.xml", Line: 3, Msg: "m"}, "conf: f.xml:3: m"},
		{&ParseError{File: "f.xml", Msg: "m"}, "conf: f.xml: m"},
		{&ValueError{Key: "k", Source: Source{File: "f.xml", Line: 2}, Msg: "m"}, "conf: f.xml:2: k: m"},
		{&ValueError{Key: "k", Source: Source{File: "cli"}, Msg: "m"}, "conf: cli: k: m"},
		{&ValueError{Key: "k", Msg: "m"}, "conf: k: m"},
		{&ValueError{Msg: "m"}, "conf: m"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.err.Error())
		})
	}
	require.True(t, errors.Is(&ValueError{Err: ErrInvalidValue}, ErrInvalidValue))
	require.Equal(t, `"`+strings.Repeat("x", maxQuoted)+`"...`, quote(strings.Repeat("x", maxQuoted+1)))
}
