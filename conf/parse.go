package conf

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Parse reads one Hadoop configuration resource from r and returns it as a
// new Configuration with zero Options. name identifies the resource in
// Sources and errors (typically the file path). See AddResource for the
// format and the error contract.
func Parse(r io.Reader, name string) (*Configuration, error) {
	c := New(Options{})
	if err := c.AddResource(r, name); err != nil {
		return nil, err
	}
	return c, nil
}

// AddResource parses one Hadoop configuration resource from r and loads it
// on top of c: its values override earlier ones unless the earlier resource
// marked the key final, and its own final markers apply to resources added
// later. A duplicate key within the resource follows the same rule.
//
// The format is that of Hadoop's Configuration.loadResource:
//
//	<configuration>
//	  <property>
//	    <name>key</name>                 trimmed
//	    <value>value</value>             not trimmed; empty means "not set"
//	    <final>true</final>              exactly "true", else not final
//	    <description>...</description>   ignored, as is <source>
//	  </property>
//	  <property name="key" value="v" final="true"/>   attribute form
//	</configuration>
//
// Elements are recognised by local name wherever they appear, and the root
// element's name is not checked, as in Hadoop 3. Comments, processing
// instructions and a DOCTYPE are ignored. An <include href=...> (XInclude)
// is rejected with ErrXInclude.
//
// On failure AddResource returns a single *ParseError naming name and the
// line, and c is left unchanged. r is read at most to Options.MaxBytes+1
// bytes; it is not closed.
func (c *Configuration) AddResource(r io.Reader, name string) error {
	ops, err := parseOps(r, name, c.opts.maxBytes(), c.opts.maxProperties())
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.apply(ops)
	return nil
}

// errLimit is returned by limitReader once more than max bytes are read.
var errLimit = errors.New("size limit exceeded")

type limitReader struct {
	r   io.Reader
	n   int64 // bytes still allowed
	hit bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		l.hit = true
		return 0, errLimit
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		l.hit = true
		return n, errLimit
	}
	return n, err
}

// charsetReader lets encoding/xml read the 8-bit encodings that appear in
// the wild; anything else is an error naming the encoding.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return &latin1Reader{r: bufio.NewReader(in)}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

type latin1Reader struct {
	r   *bufio.Reader
	buf []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(l.buf) == 0 {
		b, err := l.r.ReadByte()
		if err != nil {
			return 0, err
		}
		l.buf = utf8.AppendRune(l.buf, rune(b))
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// parser is the state of Hadoop's StAX loop in Configuration.loadResource.
type parser struct {
	file  string
	dec   *xml.Decoder
	stack []string // open elements, local names

	token      strings.Builder
	parseToken bool

	name, value       string
	hasName, hasValue bool
	final             bool
	propLine          int
	valueLine         int // line of the <value> element being read
	valueSrcLine      int // line the current value came from

	fallbackAllowed, fallbackEntered bool

	nprops, maxProps int
	ops              []op
}

func (p *parser) line() int {
	l, _ := p.dec.InputPos()
	return l
}

func (p *parser) fail(line int, kind error, format string, args ...any) error {
	if line < 1 {
		line = 1
	}
	return &ParseError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func parseOps(r io.Reader, file string, maxBytes int64, maxProps int) ([]op, error) {
	lr := &limitReader{r: r, n: maxBytes}
	br := bufio.NewReader(lr)
	// encoding/xml reports a UTF-8 byte order mark as text; drop it.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	dec := xml.NewDecoder(br)
	dec.Strict = true
	dec.CharsetReader = charsetReader
	p := &parser{file: file, dec: dec, maxProps: maxProps}

	sawRoot, rootDone := false, false
	for {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				if !sawRoot {
					return nil, p.fail(p.line(), ErrSyntax, "no root element")
				}
				return p.ops, nil
			}
			return nil, p.readError(err, lr.hit, maxBytes)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if rootDone {
				return nil, p.fail(p.line(), ErrSyntax, "element <%s> after the root element", t.Name.Local)
			}
			sawRoot = true
			if len(p.stack) >= maxDepth {
				return nil, p.fail(p.line(), ErrSyntax, "elements nested deeper than %d", maxDepth)
			}
			p.stack = append(p.stack, t.Name.Local)
			if err := p.start(t); err != nil {
				return nil, err
			}
		case xml.EndElement:
			p.stack = p.stack[:len(p.stack)-1]
			p.end(t)
			if len(p.stack) == 0 {
				rootDone = true
			}
		case xml.CharData:
			if len(p.stack) == 0 {
				if len(bytes.TrimLeft(t, " \t\r\n")) != 0 {
					return nil, p.fail(p.line(), ErrSyntax, "text outside the root element")
				}
				continue
			}
			if p.parseToken {
				p.token.Write(t)
			}
		}
	}
}

// readError converts an error from the decoder into a *ParseError.
func (p *parser) readError(err error, hitLimit bool, maxBytes int64) error {
	if hitLimit || errors.Is(err, errLimit) {
		return p.fail(p.line(), ErrTooLarge, "input exceeds %d bytes", maxBytes)
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		msg := se.Msg
		if msg == "unexpected EOF" && len(p.stack) > 0 {
			msg = fmt.Sprintf("unexpected EOF in <%s>", p.stack[len(p.stack)-1])
		}
		return p.fail(se.Line, ErrSyntax, "%s", msg)
	}
	// Charset and I/O errors.
	msg := strings.TrimPrefix(err.Error(), "xml: ")
	return &ParseError{File: p.file, Line: max(p.line(), 1), Msg: msg, Err: err}
}

func (p *parser) start(t xml.StartElement) error {
	switch t.Name.Local {
	case "property":
		p.nprops++
		if p.nprops > p.maxProps {
			return p.fail(p.line(), ErrTooManyProperties, "more than %d properties", p.maxProps)
		}
		p.hasName, p.hasValue, p.final = false, false, false
		p.name, p.value = "", ""
		p.propLine = p.line()
		for _, a := range t.Attr {
			if a.Name.Space == "xmlns" {
				continue // a namespace declaration, not an attribute
			}
			switch a.Name.Local {
			case "name":
				p.name, p.hasName = a.Value, true
			case "value":
				p.value, p.hasValue = a.Value, true
				p.valueSrcLine = p.propLine
			case "final":
				p.final = a.Value == "true"
			}
		}
	case "name", "value", "final", "source":
		p.parseToken = true
		p.token.Reset()
		if t.Name.Local == "value" {
			p.valueLine = p.line()
		}
	case "include":
		for _, a := range t.Attr {
			if a.Name.Local == "href" && a.Name.Space != "xmlns" {
				return p.fail(p.line(), ErrXInclude, "XInclude of %s is not supported", quote(a.Value))
			}
		}
	case "fallback":
		p.fallbackEntered = true
	}
	return nil
}

func (p *parser) end(t xml.EndElement) {
	switch t.Name.Local {
	case "name":
		if p.token.Len() > 0 {
			p.name, p.hasName = javaTrim(p.token.String()), true
		}
	case "value":
		if p.token.Len() > 0 {
			p.value, p.hasValue = p.token.String(), true
			p.valueSrcLine = p.valueLine
		}
	case "final":
		p.final = p.token.String() == "true"
	case "include":
		p.fallbackAllowed, p.fallbackEntered = false, false
	case "property":
		if !p.hasName || (!p.fallbackAllowed && p.fallbackEntered) {
			return
		}
		line := p.valueSrcLine
		if !p.hasValue {
			line = p.propLine
		}
		p.ops = append(p.ops, op{
			key:      p.name,
			value:    p.value,
			hasValue: p.hasValue,
			final:    p.final,
			src:      Source{File: p.file, Line: line},
		})
	}
}
