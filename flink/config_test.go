package flink

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// Flink 1.x's flink-conf.yaml parser (flink-core .../configuration/GlobalConfiguration.java
// at release 1.17, loadYAMLResource): '#' starts a comment anywhere, a
// pair needs ": ", both sides are trimmed, empty keys or values are
// skipped, the last occurrence wins.
func TestLegacyConfigParse(t *testing.T) {
	c, err := ParseConfig([]byte(`# comment
jobmanager.rpc.address: localhost
  taskmanager.numberOfTaskSlots:   4   # trailing comment
bad.line:no-space
empty.value:
env.java.opts.all: -Dx=a: b
rest.port: 8081
rest.port: 8082
`), false)
	require.NoError(t, err)
	require.Equal(t, []string{"jobmanager.rpc.address", "taskmanager.numberOfTaskSlots", "env.java.opts.all", "rest.port"}, c.Keys())
	got := func(k string) string { v, _ := c.Get(k); return v }
	require.Equal(t, "4", got("taskmanager.numberOfTaskSlots"))
	require.Equal(t, "-Dx=a: b", got("env.java.opts.all"))
	require.Equal(t, "8082", got("rest.port"))
	require.False(t, c.Has("bad.line"))
	require.False(t, c.Has("empty.value"))

	c.Set("rest.port", "1234")
	c.Set("new.key", "v")
	c.Remove("jobmanager.rpc.address")
	b, err := c.Marshal("generated\nsecond line")
	require.NoError(t, err)
	require.Equal(t, "# generated\n# second line\ntaskmanager.numberOfTaskSlots: 4\nenv.java.opts.all: -Dx=a: b\nrest.port: 1234\nnew.key: v\n", string(b))

	c.Set("secret", "pa#ss")
	_, err = c.Marshal("")
	require.ErrorContains(t, err, "cuts a line at '#'")
}

// Flink 2.x's config.yaml (GlobalConfiguration.loadYAMLResource, flatten):
// nested mappings are joined with '.', lists become their YAML text.
func TestStandardConfigParseAndWrite(t *testing.T) {
	c, err := ParseConfig([]byte(`
env:
  java:
    opts:
      all: --add-opens=java.base/java.lang=ALL-UNNAMED
jobmanager:
  rpc: {address: localhost, port: 6123}
taskmanager.numberOfTaskSlots: 2
pipeline:
  jars:
    - file:///a.jar
    - file:///b.jar
base: &b
  x: 1
copy: *b
quoted: "0123"
nothing:
`), true)
	require.NoError(t, err)
	require.Equal(t, []string{"env.java.opts.all", "jobmanager.rpc.address", "jobmanager.rpc.port", "taskmanager.numberOfTaskSlots",
		"pipeline.jars", "base.x", "copy.x", "quoted", "nothing"}, c.Keys())
	got := func(k string) string { v, _ := c.Get(k); return v }
	require.Equal(t, "--add-opens=java.base/java.lang=ALL-UNNAMED", got("env.java.opts.all"))
	require.Equal(t, "6123", got("jobmanager.rpc.port"))
	var jars []string // a list's value is its flow YAML, as Flink's YamlParserUtils.toYAMLString
	require.NoError(t, yaml.Unmarshal([]byte(got("pipeline.jars")), &jars))
	require.Equal(t, []string{"file:///a.jar", "file:///b.jar"}, jars)
	require.Equal(t, "1", got("copy.x"))
	require.Equal(t, "0123", got("quoted"))

	c.Set("jobmanager.rpc.port", "40000")
	c.Set("my.secret", "a: b # c")
	out, err := c.Marshal("generated")
	require.NoError(t, err)
	// Flat keys; the user's values as written (a quoted string stays a
	// string, a list a list); set values as quoted strings, which Flink
	// reads as it reads -D values.
	require.Equal(t, `# generated
env.java.opts.all: --add-opens=java.base/java.lang=ALL-UNNAMED
jobmanager.rpc.address: localhost
jobmanager.rpc.port: "40000"
taskmanager.numberOfTaskSlots: 2
pipeline.jars:
  - file:///a.jar
  - file:///b.jar
base.x: 1
copy.x: 1
quoted: "0123"
nothing:
my.secret: "a: b # c"
`, string(out))
	// It is standard YAML that reads back to the same flat keys.
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(out, &m))
	require.Equal(t, "a: b # c", m["my.secret"])
	back, err := ParseConfig(out, true)
	require.NoError(t, err)
	require.Equal(t, c.Keys(), back.Keys())

	_, err = ParseConfig([]byte("- a\n- b\n"), true)
	require.ErrorContains(t, err, "mapping")
	_, err = ParseConfig([]byte("a: [\n"), true)
	require.Error(t, err)
	empty, err := ParseConfig([]byte("# only comments\n"), true)
	require.NoError(t, err)
	require.Empty(t, empty.Keys())
}
