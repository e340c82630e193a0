package flink

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a Flink configuration: flat keys ("taskmanager.memory.process.size")
// with their values, in file order, for one of the two file formats.
//
// Legacy (conf/flink-conf.yaml, Flink 1.x) follows GlobalConfiguration's
// line parser: everything after the first '#' of a line is a comment, a
// line is "key: value" split at the first ": ", both sides trimmed, and a
// line without ": " or with an empty key or value is skipped. Values are
// plain strings. Standard (conf/config.yaml, 1.19 and 2.x) is YAML whose
// nested mappings are flattened with '.' between the keys; a list becomes
// its flow YAML text. Later keys win in both.
//
// A Config is not safe for concurrent use.
type Config struct {
	standard bool
	m        ordered[entry]
}

type entry struct {
	value string
	// node is a standard YAML value as the user wrote it (re-emitted as
	// is); nil for values set with Set, which are written as strings.
	node *yaml.Node
}

// NewConfig returns an empty configuration in the standard (config.yaml)
// format if standard is set, else in the legacy (flink-conf.yaml) one.
func NewConfig(standard bool) *Config {
	return &Config{standard: standard, m: newOrdered[entry]()}
}

// ParseConfig reads a configuration file's content.
func ParseConfig(b []byte, standard bool) (*Config, error) {
	c := NewConfig(standard)
	if !standard {
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				continue
			}
			c.Set(k, v)
		}
		return c, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return c, nil // empty, or only comments
	}
	root := resolveAlias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the configuration must be a YAML mapping of keys to values", root.Line)
	}
	if err := c.flatten(root, ""); err != nil {
		return nil, err
	}
	return c, nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// flatten adds the leaves of m under prefix, as GlobalConfiguration.flatten.
func (c *Config) flatten(m *yaml.Node, prefix string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolveAlias(m.Content[i]), resolveAlias(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: a configuration key must be a scalar", k.Line)
		}
		key := prefix + k.Value
		if k.Tag == "!!merge" {
			return fmt.Errorf("line %d: YAML merge keys (<<) are not supported in a Flink configuration", k.Line)
		}
		switch v.Kind {
		case yaml.MappingNode:
			if err := c.flatten(v, key+"."); err != nil {
				return err
			}
		case yaml.ScalarNode:
			n := plainCopy(v)
			val := v.Value
			if v.Tag == "!!null" {
				val = ""
			}
			c.set(key, entry{value: val, node: n})
		default:
			n := plainCopy(v)
			n.Style = yaml.FlowStyle
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			if err := enc.Encode(n); err != nil {
				return fmt.Errorf("line %d: %s: %w", v.Line, key, err)
			}
			c.set(key, entry{value: strings.TrimSpace(b.String()), node: plainCopy(v)})
		}
	}
	return nil
}

// plainCopy deep-copies n with aliases replaced by what they point at and
// without anchors or comments, so that it can be emitted on its own.
func plainCopy(n *yaml.Node) *yaml.Node {
	n = resolveAlias(n)
	c := &yaml.Node{Kind: n.Kind, Style: n.Style, Tag: n.Tag, Value: n.Value}
	for _, ch := range n.Content {
		c.Content = append(c.Content, plainCopy(ch))
	}
	return c
}

// Standard reports whether c is in the standard YAML (config.yaml) format.
func (c *Config) Standard() bool { return c.standard }

// Get returns key's value; lists are their flow YAML text.
func (c *Config) Get(key string) (string, bool) {
	e, ok := c.m.get(key)
	return e.value, ok
}

// Has reports whether key is set.
func (c *Config) Has(key string) bool {
	_, ok := c.m.get(key)
	return ok
}

// Set sets key to the string value; a new key goes last.
func (c *Config) Set(key, value string) { c.set(key, entry{value: value}) }

func (c *Config) set(key string, e entry) { c.m.set(key, e) }

// Remove deletes key.
func (c *Config) Remove(key string) { c.m.remove(key) }

// Keys returns the keys in order.
func (c *Config) Keys() []string { return append([]string(nil), c.m.keys...) }

// Clone returns a copy of c.
func (c *Config) Clone() *Config {
	return &Config{standard: c.standard, m: c.m.clone()}
}

// checkLegacy reports why key=value cannot be written to a
// flink-conf.yaml line such that Flink's parser reads it back.
func checkLegacy(key, value string) error {
	switch {
	case strings.ContainsAny(key, "#\r\n") || strings.Contains(key, ": ") || strings.TrimSpace(key) != key || strings.HasSuffix(key, ":"):
		return errors.New("the key cannot be written to flink-conf.yaml (no '#', ': ', line breaks or surrounding blanks)")
	case strings.ContainsAny(value, "#\r\n"):
		return errors.New("the value cannot be written to flink-conf.yaml: Flink 1.x's parser cuts a line at '#' and reads one line per key")
	case strings.TrimSpace(value) == "":
		return errors.New("flink-conf.yaml cannot hold an empty value: Flink 1.x's parser skips it (leave the key out instead)")
	case strings.TrimSpace(value) != value:
		return errors.New("flink-conf.yaml cannot hold leading or trailing blanks: Flink 1.x's parser trims them")
	}
	return nil
}

// Marshal writes c in its format, header (a comment, one or more lines)
// first.
func (c *Config) Marshal(header string) ([]byte, error) {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(header, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(&b, "# %s\n", l)
		}
	}
	if !c.standard {
		for _, k := range c.m.keys {
			v := c.m.vals[k].value
			if err := checkLegacy(k, v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
		return b.Bytes(), nil
	}
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range c.m.keys {
		e := c.m.vals[k]
		v := e.node
		if v == nil {
			v = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.value, Style: yaml.DoubleQuotedStyle}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	if len(m.Content) == 0 {
		b.WriteString("{}\n")
		return b.Bytes(), nil
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
