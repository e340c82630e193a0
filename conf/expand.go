package conf

import (
	"errors"
	"fmt"
	"strings"
)

// maxSubst is Hadoop's Configuration.MAX_SUBST: the number of ${...}
// substitutions one value may need.
const maxSubst = 20

// expandError is what expand returns; Lookup turns it into a *ValueError.
type expandError struct {
	kind error
	msg  string
}

func (e *expandError) Error() string { return e.msg }

// errorKind returns the sentinel behind an error from expand.
func errorKind(err error) error {
	var ee *expandError
	if errors.As(err, &ee) {
		return ee.kind
	}
	return ErrInvalidValue
}

// findVar returns the bounds [start, end) of the name in the left-most
// "${name}" of s, or -1, -1. A name is non-empty and contains none of '}',
// '$' and ' '. This is the scan of Hadoop's Configuration.findSubVariable
// (the regex \$\{[^\}\$ ]+\}); all delimiters are ASCII, so byte offsets
// give the same matches as Java's UTF-16 offsets.
func findVar(s string) (int, int) {
	matchStart := 1
	for {
		lb := -1
		if matchStart < len(s) {
			if i := strings.IndexByte(s[matchStart:], '{'); i >= 0 {
				lb = matchStart + i
			}
		}
		// The smallest variable is "${c}": '{' needs '$' before it and at
		// least two bytes after it.
		if lb <= 0 || lb+2 >= len(s) {
			return -1, -1
		}
		if s[lb-1] != '$' {
			matchStart = lb + 1
			continue
		}
		start, n := lb+1, 0
		reset := false
		for i := start; i < len(s) && !reset; i++ {
			switch s[i] {
			case '}':
				if n > 0 {
					return start, start + n
				}
				matchStart, reset = i+1, true
			case ' ', '$':
				matchStart, reset = i+1, true
			default:
				n++
			}
		}
		if !reset {
			return -1, -1 // "${" runs to the end of s
		}
	}
}

// resolve returns the replacement for variable name, following Hadoop's
// substituteVars: "env.NAME" (with the ":-default" and "-default" forms)
// from the environment, any other name from the system properties, and
// then, if neither applies, the raw value of the configuration key name.
// c.mu must be held.
func (c *Configuration) resolve(name string) (string, bool) {
	if rest, ok := strings.CutPrefix(name, "env."); ok && rest != "" {
		if v, ok := c.resolveEnv(rest); ok {
			return v, true
		}
	} else if v, ok := c.opts.SystemProperties[name]; ok {
		return v, true
	}
	e, ok := c.props[canonicalKey(name)]
	return e.value, ok
}

// resolveEnv implements ${env.NAME}, ${env.NAME:-def} (def when NAME is
// unset or empty) and ${env.NAME-def} (def when NAME is unset). The first
// ":-" or "-" ends the variable name, as in Hadoop.
func (c *Configuration) resolveEnv(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == ':' && i < len(v)-1 && v[i+1] == '-':
			if val, ok := c.getenv(v[:i]); ok && val != "" {
				return val, true
			}
			return v[i+2:], true
		case v[i] == '-':
			if val, ok := c.getenv(v[:i]); ok {
				return val, true
			}
			return v[i+1:], true
		}
	}
	return c.getenv(v)
}

func (c *Configuration) getenv(name string) (string, bool) {
	if c.opts.Env == nil {
		return "", false
	}
	return c.opts.Env(name)
}

// expand performs Hadoop's variable expansion on expr: repeatedly replace
// the left-most ${var}. An unresolvable variable stops expansion and the
// text expanded so far is returned. A replacement containing the very
// reference it replaces (a self-reference such as a=${a}) returns expr
// unchanged. More than maxSubst substitutions is an error, which is how a
// cycle through several keys ends. c.mu must be held.
func (c *Configuration) expand(expr string) (string, error) {
	limit := c.opts.maxBytes()
	eval := expr
	for n := 0; ; n++ {
		start, end := findVar(eval)
		if start < 0 {
			return eval, nil
		}
		if n == maxSubst {
			return "", &expandError{ErrSubstitutionDepth,
				fmt.Sprintf("variable substitution depth too large: more than %d substitutions in %s", maxSubst, quote(expr))}
		}
		name := eval[start:end]
		val, ok := c.resolve(name)
		if !ok {
			return eval, nil
		}
		ref := eval[start-2 : end+1] // "${name}"
		if strings.Contains(val, ref) {
			return expr, nil
		}
		if int64(len(eval)-len(ref)+len(val)) > limit {
			return "", &expandError{ErrTooLarge,
				fmt.Sprintf("expansion of %s exceeds %d bytes", quote(expr), limit)}
		}
		eval = eval[:start-2] + val + eval[end+1:]
	}
}
