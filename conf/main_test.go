package conf

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// siteXML renders key/value pairs as a Hadoop site file, one property per
// line starting at line 3.
func siteXML(kv ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<configuration>\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString("<property><name>")
		_ = xml.EscapeText(&b, []byte(kv[i]))
		b.WriteString("</name><value>")
		_ = xml.EscapeText(&b, []byte(kv[i+1]))
		b.WriteString("</value></property>\n")
	}
	b.WriteString("</configuration>\n")
	return b.String()
}

// newConf returns a Configuration with opts holding kv, loaded from a
// resource named "test.xml".
func newConf(t *testing.T, opts Options, kv ...string) *Configuration {
	t.Helper()
	c := New(opts)
	require.NoError(t, c.AddResource(strings.NewReader(siteXML(kv...)), "test.xml"))
	return c
}

func mustGet(t *testing.T, c *Configuration, key string) string {
	t.Helper()
	v, err := c.Get(key)
	require.NoError(t, err)
	return v
}
