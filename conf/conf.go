package conf

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Default limits applied when the corresponding Options field is zero.
const (
	// DefaultMaxBytes is the largest resource Parse and AddResource accept,
	// and the largest value variable expansion may produce: 64 MiB.
	DefaultMaxBytes = 64 << 20

	// DefaultMaxProperties is the largest number of <property> elements
	// accepted in one resource. Hadoop's own *-default.xml files hold fewer
	// than a thousand.
	DefaultMaxProperties = 100000
)

// maxDepth bounds XML element nesting. Hadoop files nest three levels deep.
const maxDepth = 64

// Options configures a Configuration. The zero value is usable: no
// environment, no system properties, default limits.
type Options struct {
	// Env looks up environment variables for ${env.NAME} expansion. It has
	// the signature of os.LookupEnv, which the caller (cmd) may pass. Nil
	// means no environment: ${env.NAME} is then resolved only through the
	// :- and - default forms or a configuration key literally named
	// "env.NAME", as Hadoop does when a variable is unset.
	Env func(name string) (string, bool)

	// SystemProperties stands in for Java system properties in ${NAME}
	// expansion (e.g. "user.name"). As in Hadoop, a system property takes
	// precedence over a configuration key of the same name. Nil means none.
	// The map is read, never written, and must not be modified while the
	// Configuration is in use.
	SystemProperties map[string]string

	// MaxBytes bounds the size of each resource and of each expanded value.
	// Zero or negative means DefaultMaxBytes.
	MaxBytes int64

	// MaxProperties bounds the number of <property> elements in each
	// resource. Zero or negative means DefaultMaxProperties.
	MaxProperties int
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

func (o Options) maxProperties() int {
	if o.MaxProperties <= 0 {
		return DefaultMaxProperties
	}
	return o.MaxProperties
}

// Source records where a value was defined.
type Source struct {
	// File is the resource name (a path for the Load functions). It is
	// empty for values set without a source.
	File string
	// Line is the 1-based line of the <value> element (or of the
	// <property> element for the attribute form), or 0 if unknown.
	Line int
}

// String returns "file:line", "file", or "" for the zero Source.
func (s Source) String() string {
	switch {
	case s.File == "" && s.Line == 0:
		return ""
	case s.Line == 0:
		return s.File
	default:
		return fmt.Sprintf("%s:%d", s.File, s.Line)
	}
}

type entry struct {
	value string
	src   Source
}

// Configuration is a set of Hadoop configuration properties: key → value,
// the Source of each value, and the set of keys marked final.
//
// A Configuration is safe for concurrent use. Its methods never read the
// process environment or files; only the Load functions and AddFile open
// the paths they are given.
type Configuration struct {
	opts Options

	mu      sync.RWMutex
	props   map[string]entry
	finals  map[string]bool
	overlay map[string]bool // keys given to Set; resources never override them
}

// New returns an empty Configuration that expands variables and applies
// limits according to opts.
func New(opts Options) *Configuration {
	return &Configuration{
		opts:    opts,
		props:   make(map[string]entry),
		finals:  make(map[string]bool),
		overlay: make(map[string]bool),
	}
}

// deprecatedKeys maps the few deprecated key names Spindle cares about to
// their replacements, as Hadoop's DeprecationContext does (fs.default.name
// is registered by Configuration, dfs.federation.nameservices by
// HdfsConfiguration). A resource setting the old name sets the new one, and
// a lookup of the old name reads the new one.
var deprecatedKeys = map[string]string{
	"fs.default.name":             KeyDefaultFS,
	"dfs.federation.nameservices": KeyDFSNameservices,
}

// canonicalKey trims key as Hadoop does (String.trim) and maps a deprecated
// name to its replacement.
func canonicalKey(key string) string {
	key = javaTrim(key)
	if n, ok := deprecatedKeys[key]; ok {
		return n
	}
	return key
}

// javaTrim removes leading and trailing bytes <= ' ', which is what Java's
// String.trim removes (it leaves non-ASCII white space alone).
func javaTrim(s string) string {
	i, j := 0, len(s)
	for i < j && s[i] <= ' ' {
		i++
	}
	for j > i && s[j-1] <= ' ' {
		j--
	}
	return s[i:j]
}

// Set sets key to value with the given source. Like Hadoop's
// Configuration.set it ignores final markers, and the value keeps
// precedence over resources added later (Hadoop's "overlay").
func (c *Configuration) Set(key, value string, src Source) {
	key = canonicalKey(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.props[key] = entry{value: value, src: src}
	c.overlay[key] = true
}

// Raw returns the value of key without variable expansion, and whether it is
// set.
func (c *Configuration) Raw(key string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.props[canonicalKey(key)]
	return e.value, ok
}

// SourceOf returns where the value of key was defined, and whether key is
// set.
func (c *Configuration) SourceOf(key string) (Source, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.props[canonicalKey(key)]
	return e.src, ok
}

// IsFinal reports whether a resource marked key final. A key can be final
// without a value, when a resource declared it final with an empty value.
func (c *Configuration) IsFinal(key string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.finals[canonicalKey(key)]
}

// Keys returns the keys that have a value, sorted.
func (c *Configuration) Keys() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	keys := make([]string, 0, len(c.props))
	for k := range c.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Len returns the number of keys that have a value.
func (c *Configuration) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.props)
}

// Lookup returns the value of key after variable expansion and whether key
// is set. It fails with a *ValueError wrapping ErrSubstitutionDepth or
// ErrTooLarge when expansion does not terminate within Hadoop's limits.
func (c *Configuration) Lookup(key string) (string, bool, error) {
	key = canonicalKey(key)
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.props[key]
	if !ok {
		return "", false, nil
	}
	v, err := c.expand(e.value)
	if err != nil {
		return "", true, &ValueError{Key: key, Source: e.src, Msg: err.Error(), Err: errorKind(err)}
	}
	return v, true, nil
}

// Get returns the value of key after variable expansion, or "" if key is
// not set. Like Hadoop's get, the value is not trimmed. Errors are those of
// Lookup.
func (c *Configuration) Get(key string) (string, error) {
	v, _, err := c.Lookup(key)
	return v, err
}

// GetString returns the expanded value of key, or def if key is not set.
func (c *Configuration) GetString(key, def string) (string, error) {
	v, ok, err := c.Lookup(key)
	if err != nil || !ok {
		return def, err
	}
	return v, nil
}

// op is one property as a resource declares it: Hadoop's loadProperty
// arguments. hasValue is false for a property with an empty <value>, which
// Hadoop does not load but whose final flag it still records.
type op struct {
	key      string
	value    string
	hasValue bool
	final    bool
	src      Source
}

// apply loads ops in order with Hadoop's rules: a key already final keeps
// its value; a key set through Set keeps its value; a final flag sticks.
// c.mu must be held for writing.
func (c *Configuration) apply(ops []op) {
	for _, o := range ops {
		key := canonicalKey(o.key)
		if o.hasValue && !c.finals[key] && !c.overlay[key] {
			c.props[key] = entry{value: o.value, src: o.src}
		}
		if o.final {
			c.finals[key] = true
		}
	}
}

// Merge loads other's properties into c as if other were a resource added
// after everything already in c: other's values override c's unless c
// marked the key final, and other's final markers become c's. Values set on
// c with Set keep precedence. Merge keeps the Source of each value.
func (c *Configuration) Merge(other *Configuration) {
	if other == nil || other == c {
		return
	}
	other.mu.RLock()
	ops := make([]op, 0, len(other.props)+len(other.finals))
	keys := make([]string, 0, len(other.props))
	for k := range other.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := other.props[k]
		ops = append(ops, op{key: k, value: e.value, hasValue: true, final: other.finals[k], src: e.src})
	}
	for k := range other.finals {
		if _, ok := other.props[k]; !ok {
			ops = append(ops, op{key: k, final: true})
		}
	}
	other.mu.RUnlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.apply(ops)
}

// splitList splits a comma- or newline-separated list, trims each element
// and drops empty ones.
func splitList(v string) []string {
	f := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' })
	out := f[:0]
	for _, s := range f {
		if s = javaTrim(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
