package conf

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	type want struct {
		props  map[string]string
		finals []string
	}
	cases := []struct {
		name string
		in   string
		want want
	}{
		{
			name: "element form",
			in:   `<configuration><property><name>a</name><value>1</value></property></configuration>`,
			want: want{props: map[string]string{"a": "1"}},
		},
		{
			name: "name trimmed value kept verbatim",
			in:   "<configuration><property><name>\n  a\t</name><value> 1 \n</value></property></configuration>",
			want: want{props: map[string]string{"a": " 1 \n"}},
		},
		{
			name: "description and source ignored",
			in: `<configuration><property><name>a</name><value>1</value>` +
				`<description>about a</description><source>core-default.xml</source></property></configuration>`,
			want: want{props: map[string]string{"a": "1"}},
		},
		{
			name: "comments processing instructions doctype",
			in: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<?xml-stylesheet type="text/xsl" href="configuration.xsl"?>` + "\n" +
				`<!DOCTYPE configuration>` + "\n" +
				`<!-- licence --><configuration><!-- x --><property><name>a</name><value>1<!-- inner -->2</value></property></configuration>` + "\n<!-- trailing -->\n",
			want: want{props: map[string]string{"a": "12"}},
		},
		{
			// Hadoop stores the attribute name untrimmed, where get (which
			// trims) cannot reach it; we trim keys on load.
			name: "attribute form",
			in:   `<configuration><property name="a" value="1" final="true"/><property name=" b " value=" 2 "/></configuration>`,
			want: want{props: map[string]string{"a": "1", "b": " 2 "}, finals: []string{"a"}},
		},
		{
			name: "attribute form empty value is set",
			in:   `<configuration><property name="a" value=""/></configuration>`,
			want: want{props: map[string]string{"a": ""}},
		},
		{
			name: "element empty value is not set",
			in:   `<configuration><property><name>a</name><value></value></property><property><name>b</name><value/></property></configuration>`,
			want: want{props: map[string]string{}},
		},
		{
			name: "final must be exactly true",
			in: `<configuration>` +
				`<property><name>a</name><value>1</value><final>true</final></property>` +
				`<property><name>b</name><value>1</value><final>TRUE</final></property>` +
				`<property><name>c</name><value>1</value><final> true</final></property>` +
				`<property><name>d</name><value>1</value><final>false</final></property>` +
				`</configuration>`,
			want: want{props: map[string]string{"a": "1", "b": "1", "c": "1", "d": "1"}, finals: []string{"a"}},
		},
		{
			name: "final without value",
			in:   `<configuration><property><name>a</name><final>true</final></property></configuration>`,
			want: want{props: map[string]string{}, finals: []string{"a"}},
		},
		{
			name: "entities and CDATA",
			in:   `<configuration><property><name>a</name><value>x&amp;y&lt;&#x41;<![CDATA[<b>&amp;]]></value></property></configuration>`,
			want: want{props: map[string]string{"a": "x&y<A<b>&amp;"}},
		},
		{
			name: "property without name skipped",
			in:   `<configuration><property><value>1</value></property><property><name>b</name><value>2</value></property></configuration>`,
			want: want{props: map[string]string{"b": "2"}},
		},
		{
			name: "root element name not checked",
			in:   `<conf><property><name>a</name><value>1</value></property></conf>`,
			want: want{props: map[string]string{"a": "1"}},
		},
		{
			name: "namespaced elements by local name",
			in:   `<c:configuration xmlns:c="urn:x"><c:property><c:name>a</c:name><c:value>1</c:value></c:property></c:configuration>`,
			want: want{props: map[string]string{"a": "1"}},
		},
		{
			name: "utf-8 byte order mark",
			in:   "\ufeff<?xml version=\"1.0\"?><configuration><property><name>a</name><value>é</value></property></configuration>",
			want: want{props: map[string]string{"a": "é"}},
		},
		{
			name: "latin1 encoding",
			in:   "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><configuration><property><name>a</name><value>caf\xe9</value></property></configuration>",
			want: want{props: map[string]string{"a": "café"}},
		},
		{
			name: "duplicate key later wins",
			in:   siteXML("a", "1", "a", "2"),
			want: want{props: map[string]string{"a": "2"}},
		},
		{
			name: "duplicate key after final ignored",
			in: `<configuration><property><name>a</name><value>1</value><final>true</final></property>` +
				`<property><name>a</name><value>2</value></property></configuration>`,
			want: want{props: map[string]string{"a": "1"}, finals: []string{"a"}},
		},
		{
			name: "deprecated fs.default.name",
			in:   siteXML("fs.default.name", "hdfs://nn:8020"),
			want: want{props: map[string]string{"fs.defaultFS": "hdfs://nn:8020"}},
		},
		{
			name: "multi-line value",
			in:   siteXML("hadoop.security.auth_to_local", "RULE:[1:$1@$0](.*@EXAMPLE.COM)s/.*/root/\nDEFAULT"),
			want: want{props: map[string]string{"hadoop.security.auth_to_local": "RULE:[1:$1@$0](.*@EXAMPLE.COM)s/.*/root/\nDEFAULT"}},
		},
		{
			name: "include without href ignored",
			in:   `<configuration><include/><property><name>a</name><value>1</value></property></configuration>`,
			want: want{props: map[string]string{"a": "1"}},
		},
		{
			name: "empty configuration",
			in:   `<configuration/>`,
			want: want{props: map[string]string{}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in), "site.xml")
			require.NoError(t, err)
			got := map[string]string{}
			for _, k := range c.Keys() {
				v, ok := c.Raw(k)
				require.True(t, ok)
				got[k] = v
			}
			require.Equal(t, tc.want.props, got)
			var finals []string
			for _, k := range []string{"a", "b", "c", "d"} {
				if c.IsFinal(k) {
					finals = append(finals, k)
				}
			}
			require.Equal(t, tc.want.finals, finals)
		})
	}
}

func TestParseSourceLines(t *testing.T) {
	in := `<?xml version="1.0"?>
<configuration>
  <property>
    <name>a</name>
    <value>1</value>
  </property>
  <property name="b" value="2"/>
  <property>
    <name>c</name>
    <final>true</final>
  </property>
  <property>
    <name>d</name>
    <value>multi
line</value>
  </property>
</configuration>
`
	c, err := Parse(strings.NewReader(in), "/etc/hadoop/conf/core-site.xml")
	require.NoError(t, err)
	for key, line := range map[string]int{"a": 5, "b": 7, "d": 14} {
		src, ok := c.SourceOf(key)
		require.True(t, ok, key)
		require.Equal(t, Source{File: "/etc/hadoop/conf/core-site.xml", Line: line}, src, key)
	}
	_, ok := c.SourceOf("c")
	require.False(t, ok)
	require.True(t, c.IsFinal("c"))
	require.Equal(t, "/etc/hadoop/conf/core-site.xml:5", Source{File: "/etc/hadoop/conf/core-site.xml", Line: 5}.String())
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("<a>", maxDepth+1) + strings.Repeat("</a>", maxDepth+1)
	cases := []struct {
		name string
		in   string
		opts Options
		msg  string
		kind error
	}{
		{"empty input", "", Options{}, "conf: yarn-site.xml:1: no root element", ErrSyntax},
		{"only a declaration", `<?xml version="1.0"?>` + "\n", Options{}, "conf: yarn-site.xml:2: no root element", ErrSyntax},
		{
			"truncated in property",
			"<configuration>\n<property>\n<name>a</name>\n<value>1</value>",
			Options{}, "conf: yarn-site.xml:4: unexpected EOF in <property>", ErrSyntax,
		},
		{
			"truncated in value",
			"<configuration>\n<property>\n<name>a</name>\n<value>1",
			Options{}, "conf: yarn-site.xml:4: unexpected EOF in <value>", ErrSyntax,
		},
		{
			"mismatched end tag",
			"<configuration>\n<property>\n<name>a</value>\n</property>\n</configuration>",
			Options{}, "conf: yarn-site.xml:3: element <name> closed by </value>", ErrSyntax,
		},
		{
			"undefined entity",
			"<configuration>\n<property><name>a</name>\n<value>&nbsp;</value></property></configuration>",
			Options{}, "conf: yarn-site.xml:3: invalid character entity &nbsp;", ErrSyntax,
		},
		{
			"invalid utf-8",
			"<configuration>\n<property><name>a</name><value>\xff</value></property></configuration>",
			Options{}, "conf: yarn-site.xml:2: invalid UTF-8", ErrSyntax,
		},
		{
			"two root elements",
			"<configuration/>\n<configuration/>",
			Options{}, "conf: yarn-site.xml:2: element <configuration> after the root element", ErrSyntax,
		},
		{
			"text after root",
			"<configuration/>\njunk",
			Options{}, "conf: yarn-site.xml:2: text outside the root element", ErrSyntax,
		},
		{
			"nesting too deep",
			deep, Options{}, "conf: yarn-site.xml:1: elements nested deeper than 64", ErrSyntax,
		},
		{
			"xinclude",
			"<configuration xmlns:xi=\"http://www.w3.org/2001/XInclude\">\n<xi:include href=\"other.xml\"/>\n</configuration>",
			Options{}, `conf: yarn-site.xml:2: XInclude of "other.xml" is not supported`, ErrXInclude,
		},
		{
			"input over MaxBytes",
			siteXML("a", strings.Repeat("x", 200)),
			Options{MaxBytes: 100}, "conf: yarn-site.xml:3: input exceeds 100 bytes", ErrTooLarge,
		},
		{
			"properties over MaxProperties",
			siteXML("a", "1", "b", "2", "c", "3"),
			Options{MaxProperties: 2}, "conf: yarn-site.xml:5: more than 2 properties", ErrTooManyProperties,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.opts)
			c.Set("keep", "me", Source{})
			err := c.AddResource(strings.NewReader(tc.in), "yarn-site.xml")
			require.Error(t, err)
			require.Equal(t, tc.msg, err.Error())
			require.ErrorIs(t, err, tc.kind)
			var pe *ParseError
			require.True(t, errors.As(err, &pe))
			require.Equal(t, "yarn-site.xml", pe.File)
			require.Positive(t, pe.Line)
			require.Equal(t, []string{"keep"}, c.Keys(), "a failed AddResource leaves c unchanged")
		})
	}
}

func TestParseUnsupportedEncoding(t *testing.T) {
	_, err := Parse(strings.NewReader(`<?xml version="1.0" encoding="UTF-16"?><configuration/>`), "x.xml")
	require.Error(t, err)
	var pe *ParseError
	require.True(t, errors.As(err, &pe))
	require.Contains(t, err.Error(), `conf: x.xml:1: `)
	require.Contains(t, err.Error(), `unsupported encoding "UTF-16"`)
}

// errReader fails after returning its data.
type errReader struct {
	data string
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := Parse(&errReader{data: "<configuration>\n<property>", err: boom}, "x.xml")
	require.ErrorIs(t, err, boom)
	require.Equal(t, "conf: x.xml:2: disk on fire", err.Error())
}
