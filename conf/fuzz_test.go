package conf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzMaxBytes keeps fuzz inputs, and expansions of them, small.
const fuzzMaxBytes = 1 << 20

// FuzzParse feeds arbitrary bytes to the XML parser and then exercises
// every getter on what it accepted. It checks that nothing panics, that
// every error is a *ParseError with a file and line, and that a parsed
// configuration survives a round trip through the attribute form.
func FuzzParse(f *testing.F) {
	for _, name := range SiteFiles {
		if b, err := os.ReadFile(filepath.Join(kerberosConfDir, name)); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"",
		"<configuration/>",
		siteXML("a", "1", "b", "${a}", "c", "${env.HOME:-x}", "d", "${c}${b}"),
		`<configuration><property name="a" value="" final="true"/></configuration>`,
		`<configuration><property><name>a</name><final>true</final></property><property><name>a</name><value>2</value></property></configuration>`,
		"<configuration>\n<property>\n<name>a</name>\n<value>1",
		`<configuration xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="x.xml"><xi:fallback/></xi:include></configuration>`,
		`<configuration><fallback/><property><name>a</name><value>1</value></property></configuration>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><configuration><property><name>a</name><value>` + "\xe9" + `</value></property></configuration>`,
		"\ufeff<configuration><property><name>a</name><value><![CDATA[x]]>&amp;</value></property></configuration>",
		siteXML("p", "${q}", "q", "${p}"),
		siteXML(KeyRMHAEnabled, "true", KeyRMHAIDs, "rm1,rm2", KeyRMHostname+".rm1", "h"),
		siteXML(KeyDFSNameservices, "ns", "dfs.ha.namenodes.ns", "a", "dfs.namenode.rpc-address.ns.a", "x:1", KeyDefaultFS, "hdfs://ns"),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := Options{
			Env:              fakeEnv(map[string]string{"HOME": "/h", "LOOP": "${LOOP}"}),
			SystemProperties: map[string]string{"user.name": "u"},
			MaxBytes:         fuzzMaxBytes,
			MaxProperties:    1000,
		}
		c := New(opts)
		err := c.AddResource(bytes.NewReader(data), "fuzz.xml")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "fuzz.xml" || pe.Line < 1 {
				t.Fatalf("error %v (%T) is not a positioned *ParseError", err, err)
			}
			if !strings.HasPrefix(err.Error(), "conf: fuzz.xml:") {
				t.Fatalf("error text %q", err)
			}
			if c.Len() != 0 {
				t.Fatalf("failed AddResource changed the configuration")
			}
			return
		}
		exercise(t, c)
		roundTrip(t, c, opts)
	})
}

// exercise calls every reader; errors are fine, panics and non-package
// errors are not.
func exercise(t *testing.T, c *Configuration) {
	check := func(err error) {
		t.Helper()
		if err == nil {
			return
		}
		var ve *ValueError
		var pe *ParseError
		if !errors.As(err, &ve) && !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a package error", err, err)
		}
		if !strings.HasPrefix(err.Error(), "conf: ") {
			t.Fatalf("error text %q lacks the package prefix", err)
		}
	}
	for _, k := range c.Keys() {
		v, err := c.Get(k)
		check(err)
		if int64(len(v)) > fuzzMaxBytes {
			t.Fatalf("expansion of %q is %d bytes", k, len(v))
		}
		_, err = c.GetInt(k, 0)
		check(err)
		_, err = c.GetInt64(k, 0)
		check(err)
		_, err = c.GetBool(k, false)
		check(err)
		_, err = c.GetDuration(k, 0, time.Millisecond)
		check(err)
		_, err = c.GetStrings(k, nil)
		check(err)
	}
	for svc := RMClient; svc <= RMWebAppHTTPS; svc++ {
		_, err := c.RMAddresses(svc)
		check(err)
	}
	_, err := c.RMRetry()
	check(err)
	_, err = c.Security()
	check(err)
	_, err = c.IPC()
	check(err)
	_, err = c.DefaultFS()
	check(err)
	_, err = c.NameNodes("")
	check(err)
}

// roundTrip writes c in the attribute form, which can express every value
// (including "" and untrimmed text), parses it back and compares.
func roundTrip(t *testing.T, c *Configuration, opts Options) {
	var b bytes.Buffer
	b.WriteString("<configuration>\n")
	attr := func(s string) {
		b.WriteByte('"')
		if err := xml.EscapeText(&b, []byte(s)); err != nil {
			t.Fatal(err)
		}
		b.WriteByte('"')
	}
	keys := c.Keys()
	for _, k := range keys {
		v, _ := c.Raw(k)
		b.WriteString("<property name=")
		attr(k)
		b.WriteString(" value=")
		attr(v)
		if c.IsFinal(k) {
			b.WriteString(` final="true"`)
		}
		b.WriteString("/>\n")
	}
	b.WriteString("</configuration>\n")
	if int64(b.Len()) > opts.maxBytes() {
		return
	}
	d := New(Options{MaxProperties: opts.MaxProperties, MaxBytes: opts.MaxBytes})
	if err := d.AddResource(&b, "roundtrip.xml"); err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	if got := d.Keys(); len(got) != len(keys) {
		t.Fatalf("round trip keys: got %q, want %q", got, keys)
	}
	for _, k := range keys {
		want, _ := c.Raw(k)
		got, ok := d.Raw(k)
		if !ok || got != want {
			t.Fatalf("round trip %q: got %q, want %q", k, got, want)
		}
		if c.IsFinal(k) != d.IsFinal(k) {
			t.Fatalf("round trip %q: final %v, want %v", k, d.IsFinal(k), c.IsFinal(k))
		}
	}
}
