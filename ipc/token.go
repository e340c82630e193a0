package ipc

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Token kinds Spindle handles (Text kind of org.apache.hadoop.security.token.Token).
const (
	KindAMRMToken        = "YARN_AM_RM_TOKEN"
	KindNMToken          = "NMToken"
	KindContainerToken   = "ContainerToken"
	KindRMDelegation     = "RM_DELEGATION_TOKEN"
	KindHDFSDelegation   = "HDFS_DELEGATION_TOKEN"
	KindClientToAMToken  = "YARN_CLIENT_TOKEN"
	KindTimelineDelegate = "TIMELINE_DELEGATION_TOKEN"
)

// ErrCredentials wraps every failure to decode tokens or credentials files.
var ErrCredentials = errors.New("ipc: credentials")

// maxTokenField bounds each length read while decoding tokens and
// credentials; Hadoop's own identifiers and passwords are well under 1 KiB.
const maxTokenField = 1 << 20

// Token is a Hadoop token. Its String and MarshalZerologObject print only
// kind and service, never identifier or password bytes.
type Token struct {
	Identifier []byte
	Password   []byte
	Kind       string
	Service    string
}

func (t *Token) String() string {
	if t == nil {
		return "<nil token>"
	}
	return fmt.Sprintf("token{kind=%s service=%q}", t.Kind, t.Service)
}

// MarshalZerologObject logs the token without its secret parts.
func (t *Token) MarshalZerologObject(e *zerolog.Event) {
	e.Str("kind", t.Kind).Str("service", t.Service)
}

// TokenFromProto converts the wire form; nil maps to nil.
func TokenFromProto(p *commonpb.TokenProto) *Token {
	if p == nil {
		return nil
	}
	return &Token{Identifier: bytes.Clone(p.GetIdentifier()), Password: bytes.Clone(p.GetPassword()), Kind: p.GetKind(), Service: p.GetService()}
}

// Proto returns the wire form with all four required fields present.
func (t *Token) Proto() *commonpb.TokenProto {
	id, pw := t.Identifier, t.Password
	if id == nil {
		id = []byte{}
	}
	if pw == nil {
		pw = []byte{}
	}
	kind, svc := t.Kind, t.Service
	return &commonpb.TokenProto{Identifier: id, Password: pw, Kind: &kind, Service: &svc}
}

// AppendWritable appends Token.write's form:
//
//	| VInt len | identifier | VInt len | password | Text kind | Text service |
func (t *Token) AppendWritable(dst []byte) []byte {
	dst = AppendVLong(dst, int64(len(t.Identifier)))
	dst = append(dst, t.Identifier...)
	dst = AppendVLong(dst, int64(len(t.Password)))
	dst = append(dst, t.Password...)
	dst = AppendText(dst, t.Kind)
	return AppendText(dst, t.Service)
}

// EncodeURLString is Token.encodeToUrlString: URL-safe base64 without
// padding of the Writable form, as CLIs and web services pass tokens.
func (t *Token) EncodeURLString() string {
	return base64.RawURLEncoding.EncodeToString(t.AppendWritable(nil))
}

// DecodeTokenURLString parses the form EncodeURLString produces.
func DecodeTokenURLString(s string) (*Token, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: token string is not URL-safe base64: %w", ErrCredentials, err)
	}
	r := &wreader{b: b}
	t, err := r.token()
	if err != nil {
		return nil, err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after token", ErrCredentials, len(r.b))
	}
	return t, nil
}

// --- Writable primitives (org.apache.hadoop.io.WritableUtils, Text) ------

// AppendVLong appends v in WritableUtils.writeVLong form.
func AppendVLong(dst []byte, v int64) []byte {
	if v >= -112 && v <= 127 {
		return append(dst, byte(v))
	}
	l := int64(-112)
	if v < 0 {
		v = ^v
		l = -120
	}
	n := 0
	for tmp := v; tmp != 0; tmp >>= 8 {
		n++
	}
	dst = append(dst, byte(l-int64(n)))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// AppendText appends a Hadoop Text: VInt byte length then UTF-8 bytes.
func AppendText(dst []byte, s string) []byte {
	dst = AppendVLong(dst, int64(len(s)))
	return append(dst, s...)
}

// wreader decodes Writable data from a byte slice with bounds checks.
type wreader struct{ b []byte }

func (r *wreader) byte1() (byte, error) {
	if len(r.b) < 1 {
		return 0, fmt.Errorf("%w: unexpected end of data", ErrCredentials)
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

// vlong is WritableUtils.readVLong.
func (r *wreader) vlong() (int64, error) {
	first, err := r.byte1()
	if err != nil {
		return 0, err
	}
	b := int8(first)
	if b >= -112 {
		return int64(b), nil
	}
	neg := b < -120
	n := int(-(int(b) + 112))
	if neg {
		n = int(-(int(b) + 120))
	}
	if n > len(r.b) {
		return 0, fmt.Errorf("%w: VLong needs %d bytes, %d left", ErrCredentials, n, len(r.b))
	}
	var v int64
	for i := 0; i < n; i++ {
		v = v<<8 | int64(r.b[i])
	}
	r.b = r.b[n:]
	if neg {
		v = ^v
	}
	return v, nil
}

func (r *wreader) length() (int, error) {
	v, err := r.vlong()
	if err != nil {
		return 0, err
	}
	if v < 0 || v > maxTokenField || v > int64(len(r.b)) {
		return 0, fmt.Errorf("%w: length %d out of range (%d bytes left)", ErrCredentials, v, len(r.b))
	}
	return int(v), nil
}

func (r *wreader) bytes() ([]byte, error) {
	n, err := r.length()
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(r.b[:n])
	if out == nil {
		out = []byte{}
	}
	r.b = r.b[n:]
	return out, nil
}

func (r *wreader) text() (string, error) {
	b, err := r.bytes()
	return string(b), err
}

func (r *wreader) token() (*Token, error) {
	var t Token
	var err error
	if t.Identifier, err = r.bytes(); err != nil {
		return nil, err
	}
	if t.Password, err = r.bytes(); err != nil {
		return nil, err
	}
	if t.Kind, err = r.text(); err != nil {
		return nil, err
	}
	if t.Service, err = r.text(); err != nil {
		return nil, err
	}
	return &t, nil
}

// --- Credentials ("HDTS" token storage) ---------------------------------

// Credentials is Hadoop's Credentials: tokens and secret keys by alias, kept
// in insertion order so a decoded file re-encodes to the same bytes.
type Credentials struct {
	tokens  []aliased[*Token]
	secrets []aliased[[]byte]
}

type aliased[T any] struct {
	alias string
	v     T
}

// AddToken sets the token for alias, replacing an existing one in place.
func (c *Credentials) AddToken(alias string, t *Token) {
	for i := range c.tokens {
		if c.tokens[i].alias == alias {
			c.tokens[i].v = t
			return
		}
	}
	c.tokens = append(c.tokens, aliased[*Token]{alias, t})
}

// RemoveToken deletes alias's token, if any.
func (c *Credentials) RemoveToken(alias string) {
	for i := range c.tokens {
		if c.tokens[i].alias == alias {
			c.tokens = append(c.tokens[:i], c.tokens[i+1:]...)
			return
		}
	}
}

// AddSecret sets the secret key for alias.
func (c *Credentials) AddSecret(alias string, key []byte) {
	for i := range c.secrets {
		if c.secrets[i].alias == alias {
			c.secrets[i].v = key
			return
		}
	}
	c.secrets = append(c.secrets, aliased[[]byte]{alias, key})
}

// Token returns alias's token or nil.
func (c *Credentials) Token(alias string) *Token {
	for _, e := range c.tokens {
		if e.alias == alias {
			return e.v
		}
	}
	return nil
}

// TokenOfKind returns the first token of kind, or nil.
func (c *Credentials) TokenOfKind(kind string) *Token {
	for _, e := range c.tokens {
		if e.v.Kind == kind {
			return e.v
		}
	}
	return nil
}

// Aliases returns the token aliases in order.
func (c *Credentials) Aliases() []string {
	out := make([]string, len(c.tokens))
	for i, e := range c.tokens {
		out[i] = e.alias
	}
	return out
}

// Tokens returns the tokens in order.
func (c *Credentials) Tokens() []*Token {
	out := make([]*Token, len(c.tokens))
	for i, e := range c.tokens {
		out[i] = e.v
	}
	return out
}

// Secret returns alias's secret key or nil.
func (c *Credentials) Secret(alias string) []byte {
	for _, e := range c.secrets {
		if e.alias == alias {
			return e.v
		}
	}
	return nil
}

// SecretAliases returns the secret aliases, sorted.
func (c *Credentials) SecretAliases() []string {
	out := make([]string, len(c.secrets))
	for i, e := range c.secrets {
		out[i] = e.alias
	}
	sort.Strings(out)
	return out
}

// Len is the number of tokens.
func (c *Credentials) Len() int { return len(c.tokens) }

// Clone returns a copy that shares token values (tokens are immutable).
func (c *Credentials) Clone() *Credentials {
	return &Credentials{tokens: append([]aliased[*Token](nil), c.tokens...), secrets: append([]aliased[[]byte](nil), c.secrets...)}
}

var credMagic = []byte("HDTS")

// Credentials file formats (Credentials.SerializedFormat).
const (
	CredFormatWritable byte = 0
	CredFormatProtobuf byte = 1
)

// maxCredentialEntries bounds the token and secret counts of a file.
const maxCredentialEntries = 1 << 16

// AppendCredentials appends the format-0 (Writable) storage form every
// Hadoop since 3.0 GA writes and every 2.x and 3.x reads:
//
//	| "HDTS" | 00 | VInt n | n × (Text alias | Token) | VInt m | m × (Text alias | VInt len | bytes) |
func (c *Credentials) AppendCredentials(dst []byte) []byte {
	dst = append(append(dst, credMagic...), CredFormatWritable)
	dst = AppendVLong(dst, int64(len(c.tokens)))
	for _, e := range c.tokens {
		dst = AppendText(dst, e.alias)
		dst = e.v.AppendWritable(dst)
	}
	dst = AppendVLong(dst, int64(len(c.secrets)))
	for _, e := range c.secrets {
		dst = AppendText(dst, e.alias)
		dst = AppendVLong(dst, int64(len(e.v)))
		dst = append(dst, e.v...)
	}
	return dst
}

// Marshal returns the format-0 bytes, the form ContainerLaunchContext.tokens
// and container_tokens files carry.
func (c *Credentials) Marshal() []byte { return c.AppendCredentials(nil) }

// ParseCredentials decodes a token storage file in format 0 (Writable) or
// 1 (protobuf CredentialsProto, delimited).
func ParseCredentials(b []byte) (*Credentials, error) {
	if len(b) < 5 || !bytes.Equal(b[:4], credMagic) {
		return nil, fmt.Errorf("%w: not a token storage file (no HDTS header)", ErrCredentials)
	}
	switch b[4] {
	case CredFormatWritable:
		return parseCredWritable(b[5:])
	case CredFormatProtobuf:
		return parseCredProto(b[5:])
	default:
		return nil, fmt.Errorf("%w: unknown token storage format %d", ErrCredentials, b[4])
	}
}

// ReadCredentials reads a token storage file from r (at most 64 MiB).
func ReadCredentials(r io.Reader) (*Credentials, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 64<<20 {
		return nil, fmt.Errorf("%w: token storage larger than 64 MiB", ErrCredentials)
	}
	return ParseCredentials(b)
}

func parseCredWritable(b []byte) (*Credentials, error) {
	r := &wreader{b: b}
	c := &Credentials{}
	n, err := r.vlong()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > maxCredentialEntries {
		return nil, fmt.Errorf("%w: token count %d out of range", ErrCredentials, n)
	}
	for i := int64(0); i < n; i++ {
		alias, err := r.text()
		if err != nil {
			return nil, err
		}
		t, err := r.token()
		if err != nil {
			return nil, fmt.Errorf("token %q: %w", alias, err)
		}
		c.tokens = append(c.tokens, aliased[*Token]{alias, t})
	}
	m, err := r.vlong()
	if err != nil {
		return nil, err
	}
	if m < 0 || m > maxCredentialEntries {
		return nil, fmt.Errorf("%w: secret count %d out of range", ErrCredentials, m)
	}
	for i := int64(0); i < m; i++ {
		alias, err := r.text()
		if err != nil {
			return nil, err
		}
		v, err := r.bytes()
		if err != nil {
			return nil, err
		}
		c.secrets = append(c.secrets, aliased[[]byte]{alias, v})
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCredentials, len(r.b))
	}
	return c, nil
}

func parseCredProto(b []byte) (*Credentials, error) {
	n, k := protowire.ConsumeVarint(b)
	if k < 0 || n > uint64(len(b)-k) {
		return nil, fmt.Errorf("%w: bad CredentialsProto length", ErrCredentials)
	}
	var p commonpb.CredentialsProto
	if err := Unmarshal(b[k:k+int(n)], &p); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	c := &Credentials{}
	for _, kv := range p.GetTokens() {
		if kv.Token == nil {
			return nil, fmt.Errorf("%w: token entry %q has no token", ErrCredentials, kv.GetAlias())
		}
		c.tokens = append(c.tokens, aliased[*Token]{kv.GetAlias(), TokenFromProto(kv.Token)})
	}
	for _, kv := range p.GetSecrets() {
		c.secrets = append(c.secrets, aliased[[]byte]{kv.GetAlias(), bytes.Clone(kv.GetSecret())})
	}
	return c, nil
}

// AppendCredentialsProto appends the format-1 form (for tests and tools
// that must produce it; Spindle writes format 0).
func (c *Credentials) AppendCredentialsProto(dst []byte) ([]byte, error) {
	p := &commonpb.CredentialsProto{}
	for _, e := range c.tokens {
		a := e.alias
		p.Tokens = append(p.Tokens, &commonpb.CredentialsKVProto{Alias: &a, Token: e.v.Proto()})
	}
	for _, e := range c.secrets {
		a := e.alias
		p.Secrets = append(p.Secrets, &commonpb.CredentialsKVProto{Alias: &a, Secret: bytes.Clone(e.v)})
	}
	dst = append(append(dst, credMagic...), CredFormatProtobuf)
	return AppendDelimited(dst, p)
}

// DelegationTokenIdentifier is AbstractDelegationTokenIdentifier's Writable
// form, the identifier of HDFS_DELEGATION_TOKEN:
//
//	| byte version 0 | Text owner | Text renewer | Text realUser |
//	| VLong issueDate | VLong maxDate | VInt sequenceNumber | VInt masterKeyId |
type DelegationTokenIdentifier struct {
	Owner, Renewer, RealUser string
	IssueDate, MaxDate       int64 // ms since the epoch
	SequenceNumber           int32
	MasterKeyID              int32
}

// ParseDelegationTokenIdentifier decodes the Writable identifier.
func ParseDelegationTokenIdentifier(b []byte) (*DelegationTokenIdentifier, error) {
	r := &wreader{b: b}
	v, err := r.byte1()
	if err != nil {
		return nil, err
	}
	if v != 0 {
		return nil, fmt.Errorf("%w: delegation token identifier version %d, want 0", ErrCredentials, v)
	}
	var d DelegationTokenIdentifier
	if d.Owner, err = r.text(); err != nil {
		return nil, err
	}
	if d.Renewer, err = r.text(); err != nil {
		return nil, err
	}
	if d.RealUser, err = r.text(); err != nil {
		return nil, err
	}
	if d.IssueDate, err = r.vlong(); err != nil {
		return nil, err
	}
	if d.MaxDate, err = r.vlong(); err != nil {
		return nil, err
	}
	seq, err := r.vlong()
	if err != nil {
		return nil, err
	}
	key, err := r.vlong()
	if err != nil {
		return nil, err
	}
	d.SequenceNumber, d.MasterKeyID = int32(seq), int32(key)
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after delegation token identifier", ErrCredentials, len(r.b))
	}
	return &d, nil
}

// Marshal returns the Writable identifier bytes.
func (d *DelegationTokenIdentifier) Marshal() []byte {
	b := []byte{0}
	b = AppendText(b, d.Owner)
	b = AppendText(b, d.Renewer)
	b = AppendText(b, d.RealUser)
	b = AppendVLong(b, d.IssueDate)
	b = AppendVLong(b, d.MaxDate)
	b = AppendVLong(b, int64(d.SequenceNumber))
	return AppendVLong(b, int64(d.MasterKeyID))
}
