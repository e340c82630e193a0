package conf

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error this package returns is a *ParseError or a
// *ValueError (or wraps one) whose Err field is one of these, so callers can
// use errors.Is without matching on text.
var (
	// ErrSyntax marks malformed XML: not well-formed, truncated, more than one
	// root element, text outside the root element, or nesting deeper than the
	// parser allows.
	ErrSyntax = errors.New("conf: malformed XML")

	// ErrTooLarge marks a resource longer than Options.MaxBytes, or a value
	// whose variable expansion grows beyond Options.MaxBytes.
	ErrTooLarge = errors.New("conf: input too large")

	// ErrTooManyProperties marks a resource with more <property> elements
	// than Options.MaxProperties.
	ErrTooManyProperties = errors.New("conf: too many properties")

	// ErrXInclude marks a resource that uses <xi:include href=...>, which this
	// package does not follow (see the package documentation).
	ErrXInclude = errors.New("conf: XInclude is not supported")

	// ErrSubstitutionDepth marks a value whose ${...} expansion needs more
	// than 20 substitutions, Hadoop's MAX_SUBST. A cycle through two or more
	// keys ends this way.
	ErrSubstitutionDepth = errors.New("conf: variable substitution depth too large")

	// ErrInvalidValue marks a value that a typed getter or helper cannot
	// interpret: a malformed number, boolean, duration, address or URI, or
	// an unknown enumeration value.
	ErrInvalidValue = errors.New("conf: invalid value")

	// ErrMissingKey marks a key that a helper needs but the configuration
	// does not set, e.g. the address of an RM in HA mode.
	ErrMissingKey = errors.New("conf: missing key")

	// ErrNotHDFS marks a file system URI whose scheme is not hdfs.
	ErrNotHDFS = errors.New("conf: not an hdfs URI")

	// ErrNotFound marks a configuration file or directory that was named
	// explicitly but does not exist.
	ErrNotFound = errors.New("conf: not found")
)

// ParseError reports a resource that could not be read or parsed. Its text
// is "conf: <file>:<line>: <msg>"; Line is 0 when the error is not tied to a
// position (an I/O error opening the file).
type ParseError struct {
	// File is the resource name given to Parse or AddResource, or the path
	// given to the Load functions.
	File string
	// Line is the 1-based line at which the problem was detected.
	Line int
	// Msg describes the problem.
	Msg string
	// Err is one of the package sentinels (ErrSyntax, ErrTooLarge, ...) or
	// the underlying I/O error.
	Err error
}

// Error implements error.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("conf: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("conf: %s: %s", e.File, e.Msg)
}

// Unwrap returns e.Err.
func (e *ParseError) Unwrap() error { return e.Err }

// ValueError reports a value that is set but unusable, or a key that a helper
// needs but is missing. Its text names the key and, when known, the file and
// line the value came from: "conf: <file>:<line>: <key>: <msg>".
type ValueError struct {
	// Key is the configuration key at fault, or "" when the value was
	// passed in by the caller (a URI given to NameNodes).
	Key string
	// Source is where the value of Key was defined. It is the zero Source
	// when the value was not read from a file.
	Source Source
	// Msg describes the problem.
	Msg string
	// Err is ErrInvalidValue, ErrMissingKey, ErrSubstitutionDepth,
	// ErrTooLarge or ErrNotHDFS.
	Err error
}

// Error implements error.
func (e *ValueError) Error() string {
	msg := e.Msg
	if e.Key != "" {
		msg = e.Key + ": " + msg
	}
	if s := e.Source.String(); s != "" {
		return "conf: " + s + ": " + msg
	}
	return "conf: " + msg
}

// Unwrap returns e.Err.
func (e *ValueError) Unwrap() error { return e.Err }

// maxQuoted bounds how much of a bad value an error message repeats.
const maxQuoted = 80

// quote returns v quoted for an error message, shortened to maxQuoted bytes.
func quote(v string) string {
	if len(v) > maxQuoted {
		return strconv.Quote(v[:maxQuoted]) + "..."
	}
	return strconv.Quote(v)
}
