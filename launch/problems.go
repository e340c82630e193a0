package launch

import (
	"errors"
	"fmt"
	"strings"
)

// ProblemKind says what kind of fix a problem needs; cmd turns the worst
// of a report into an exit code.
type ProblemKind int

// Problem kinds.
const (
	// Input is a mistake in the request: flags, files, sizes, queue.
	Input ProblemKind = iota
	// Unreachable is a cluster that could not be reached.
	Unreachable
	// Auth is missing or refused credentials.
	Auth
)

// Problem is one thing wrong with a request: what and how to fix it.
type Problem struct {
	Kind ProblemKind
	// Msg names the problem and the fix, in one line.
	Msg string
	// Err is the underlying error, if any (kept for errors.Is).
	Err error
}

// Problems is the validation report: every problem found, in the order
// found. It is an error when non-empty.
type Problems struct {
	List []Problem
}

func (p *Problems) add(kind ProblemKind, err error, format string, args ...any) {
	p.List = append(p.List, Problem{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err})
}

// Add records an input problem (for callers that validate more).
func (p *Problems) Add(kind ProblemKind, format string, args ...any) {
	p.add(kind, nil, format, args...)
}

// Err returns p as an error, or nil when there is no problem.
func (p *Problems) Err() error {
	if p == nil || len(p.List) == 0 {
		return nil
	}
	return p
}

// Has reports whether some problem is of kind k.
func (p *Problems) Has(k ProblemKind) bool {
	for _, x := range p.List {
		if x.Kind == k {
			return true
		}
	}
	return false
}

func (p *Problems) Error() string {
	var b strings.Builder
	if len(p.List) == 1 {
		b.WriteString("1 problem found before submitting, nothing was uploaded or submitted:")
	} else {
		fmt.Fprintf(&b, "%d problems found before submitting, nothing was uploaded or submitted:", len(p.List))
	}
	for _, x := range p.List {
		b.WriteString("\n  - ")
		b.WriteString(x.Msg)
	}
	return b.String()
}

// Unwrap returns the underlying errors (errors.Is finds yarn sentinels).
func (p *Problems) Unwrap() []error {
	var out []error
	for _, x := range p.List {
		if x.Err != nil {
			out = append(out, x.Err)
		}
	}
	return out
}

// Sentinels for how an application ended or a wait ended.
var (
	// ErrFailed: the application ended FAILED (its final status or state).
	ErrFailed = errors.New("launch: application failed")
	// ErrKilled: the application was killed.
	ErrKilled = errors.New("launch: application killed")
	// ErrTimeout: the application did not end within the time allowed
	// (and was killed).
	ErrTimeout = errors.New("launch: timed out")
)
