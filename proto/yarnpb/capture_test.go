package yarnpb_test

// These tests replay the real Hadoop 3.3.6 wire captures in
// shared/fixtures/hadoop-3.3.6 through our YARN definitions. Every request
// and response body of every YARN call, and every token identifier found in
// them, must
//
//  1. unmarshal (including proto2 required-field checks),
//  2. leave no unknown field anywhere in the decoded tree (a wrong field
//     number or enum value shows up here), and
//  3. re-encode, deterministically, to exactly the captured bytes (a wrong
//     wire type, label or packing shows up here).

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// Protocol strings as they appear in the connection context and in every
// RequestHeaderProto.
const (
	clientProtocol    = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB"
	masterProtocol    = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB"
	containerProtocol = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB"
)

// rpc holds prototypes of one method's request and response.
type rpc struct{ req, resp proto.Message }

func newOf(m proto.Message) proto.Message { return m.ProtoReflect().Type().New().Interface() }

// yarnMethods maps protocol → wire method name → messages, for every method
// of the three services (35 + 3 + 12).
var yarnMethods = map[string]map[string]rpc{
	clientProtocol: {
		"getNewApplication":           {&yarnpb.GetNewApplicationRequestProto{}, &yarnpb.GetNewApplicationResponseProto{}},
		"getApplicationReport":        {&yarnpb.GetApplicationReportRequestProto{}, &yarnpb.GetApplicationReportResponseProto{}},
		"submitApplication":           {&yarnpb.SubmitApplicationRequestProto{}, &yarnpb.SubmitApplicationResponseProto{}},
		"failApplicationAttempt":      {&yarnpb.FailApplicationAttemptRequestProto{}, &yarnpb.FailApplicationAttemptResponseProto{}},
		"forceKillApplication":        {&yarnpb.KillApplicationRequestProto{}, &yarnpb.KillApplicationResponseProto{}},
		"getClusterMetrics":           {&yarnpb.GetClusterMetricsRequestProto{}, &yarnpb.GetClusterMetricsResponseProto{}},
		"getApplications":             {&yarnpb.GetApplicationsRequestProto{}, &yarnpb.GetApplicationsResponseProto{}},
		"getClusterNodes":             {&yarnpb.GetClusterNodesRequestProto{}, &yarnpb.GetClusterNodesResponseProto{}},
		"getQueueInfo":                {&yarnpb.GetQueueInfoRequestProto{}, &yarnpb.GetQueueInfoResponseProto{}},
		"getQueueUserAcls":            {&yarnpb.GetQueueUserAclsInfoRequestProto{}, &yarnpb.GetQueueUserAclsInfoResponseProto{}},
		"getDelegationToken":          {&commonpb.GetDelegationTokenRequestProto{}, &commonpb.GetDelegationTokenResponseProto{}},
		"renewDelegationToken":        {&commonpb.RenewDelegationTokenRequestProto{}, &commonpb.RenewDelegationTokenResponseProto{}},
		"cancelDelegationToken":       {&commonpb.CancelDelegationTokenRequestProto{}, &commonpb.CancelDelegationTokenResponseProto{}},
		"moveApplicationAcrossQueues": {&yarnpb.MoveApplicationAcrossQueuesRequestProto{}, &yarnpb.MoveApplicationAcrossQueuesResponseProto{}},
		"getApplicationAttemptReport": {&yarnpb.GetApplicationAttemptReportRequestProto{}, &yarnpb.GetApplicationAttemptReportResponseProto{}},
		"getApplicationAttempts":      {&yarnpb.GetApplicationAttemptsRequestProto{}, &yarnpb.GetApplicationAttemptsResponseProto{}},
		"getContainerReport":          {&yarnpb.GetContainerReportRequestProto{}, &yarnpb.GetContainerReportResponseProto{}},
		"getContainers":               {&yarnpb.GetContainersRequestProto{}, &yarnpb.GetContainersResponseProto{}},
		"getNewReservation":           {&yarnpb.GetNewReservationRequestProto{}, &yarnpb.GetNewReservationResponseProto{}},
		"submitReservation":           {&yarnpb.ReservationSubmissionRequestProto{}, &yarnpb.ReservationSubmissionResponseProto{}},
		"updateReservation":           {&yarnpb.ReservationUpdateRequestProto{}, &yarnpb.ReservationUpdateResponseProto{}},
		"deleteReservation":           {&yarnpb.ReservationDeleteRequestProto{}, &yarnpb.ReservationDeleteResponseProto{}},
		"listReservations":            {&yarnpb.ReservationListRequestProto{}, &yarnpb.ReservationListResponseProto{}},
		"getNodeToLabels":             {&yarnpb.GetNodesToLabelsRequestProto{}, &yarnpb.GetNodesToLabelsResponseProto{}},
		"getLabelsToNodes":            {&yarnpb.GetLabelsToNodesRequestProto{}, &yarnpb.GetLabelsToNodesResponseProto{}},
		"getClusterNodeLabels":        {&yarnpb.GetClusterNodeLabelsRequestProto{}, &yarnpb.GetClusterNodeLabelsResponseProto{}},
		"updateApplicationPriority":   {&yarnpb.UpdateApplicationPriorityRequestProto{}, &yarnpb.UpdateApplicationPriorityResponseProto{}},
		"signalToContainer":           {&yarnpb.SignalContainerRequestProto{}, &yarnpb.SignalContainerResponseProto{}},
		"updateApplicationTimeouts":   {&yarnpb.UpdateApplicationTimeoutsRequestProto{}, &yarnpb.UpdateApplicationTimeoutsResponseProto{}},
		"getResourceProfiles":         {&yarnpb.GetAllResourceProfilesRequestProto{}, &yarnpb.GetAllResourceProfilesResponseProto{}},
		"getResourceProfile":          {&yarnpb.GetResourceProfileRequestProto{}, &yarnpb.GetResourceProfileResponseProto{}},
		"getResourceTypeInfo":         {&yarnpb.GetAllResourceTypeInfoRequestProto{}, &yarnpb.GetAllResourceTypeInfoResponseProto{}},
		"getClusterNodeAttributes":    {&yarnpb.GetClusterNodeAttributesRequestProto{}, &yarnpb.GetClusterNodeAttributesResponseProto{}},
		"getAttributesToNodes":        {&yarnpb.GetAttributesToNodesRequestProto{}, &yarnpb.GetAttributesToNodesResponseProto{}},
		"getNodesToAttributes":        {&yarnpb.GetNodesToAttributesRequestProto{}, &yarnpb.GetNodesToAttributesResponseProto{}},
	},
	masterProtocol: {
		"registerApplicationMaster": {&yarnpb.RegisterApplicationMasterRequestProto{}, &yarnpb.RegisterApplicationMasterResponseProto{}},
		"finishApplicationMaster":   {&yarnpb.FinishApplicationMasterRequestProto{}, &yarnpb.FinishApplicationMasterResponseProto{}},
		"allocate":                  {&yarnpb.AllocateRequestProto{}, &yarnpb.AllocateResponseProto{}},
	},
	containerProtocol: {
		"startContainers":              {&yarnpb.StartContainersRequestProto{}, &yarnpb.StartContainersResponseProto{}},
		"stopContainers":               {&yarnpb.StopContainersRequestProto{}, &yarnpb.StopContainersResponseProto{}},
		"getContainerStatuses":         {&yarnpb.GetContainerStatusesRequestProto{}, &yarnpb.GetContainerStatusesResponseProto{}},
		"increaseContainersResource":   {&yarnpb.IncreaseContainersResourceRequestProto{}, &yarnpb.IncreaseContainersResourceResponseProto{}},
		"updateContainer":              {&yarnpb.ContainerUpdateRequestProto{}, &yarnpb.ContainerUpdateResponseProto{}},
		"signalToContainer":            {&yarnpb.SignalContainerRequestProto{}, &yarnpb.SignalContainerResponseProto{}},
		"localize":                     {&yarnpb.ResourceLocalizationRequestProto{}, &yarnpb.ResourceLocalizationResponseProto{}},
		"reInitializeContainer":        {&yarnpb.ReInitializeContainerRequestProto{}, &yarnpb.ReInitializeContainerResponseProto{}},
		"restartContainer":             {&yarnpb.ContainerIdProto{}, &yarnpb.RestartContainerResponseProto{}},
		"rollbackLastReInitialization": {&yarnpb.ContainerIdProto{}, &yarnpb.RollbackResponseProto{}},
		"commitLastReInitialization":   {&yarnpb.ContainerIdProto{}, &yarnpb.CommitResponseProto{}},
		"getLocalizationStatuses":      {&yarnpb.GetLocalizationStatusesRequestProto{}, &yarnpb.GetLocalizationStatusesResponseProto{}},
	},
}

// identifierTypes maps a token kind to the message its identifier holds.
// HDFS_DELEGATION_TOKEN identifiers are Writable records, not protobuf.
var identifierTypes = map[string]proto.Message{
	"YARN_AM_RM_TOKEN":          &yarnpb.AMRMTokenIdentifierProto{},
	"NMToken":                   &yarnpb.NMTokenIdentifierProto{},
	"ContainerToken":            &yarnpb.ContainerTokenIdentifierProto{},
	"YARN_CLIENT_TOKEN":         &yarnpb.ClientToAMTokenIdentifierProto{},
	"RM_DELEGATION_TOKEN":       &yarnpb.YARNDelegationTokenIdentifierProto{},
	"TIMELINE_DELEGATION_TOKEN": &yarnpb.YARNDelegationTokenIdentifierProto{},
}

// saslIdentifierTypes: the token kind a SASL TOKEN (DIGEST-MD5) client uses
// on each protocol; its identifier is the base64 username.
var saslIdentifierTypes = map[string]string{
	masterProtocol:    "YARN_AM_RM_TOKEN",
	containerProtocol: "NMToken",
	clientProtocol:    "RM_DELEGATION_TOKEN",
}

// ---------------------------------------------------------------------------
// Fixture location and transcript parsing
// ---------------------------------------------------------------------------

// fixtureDir finds shared/fixtures/hadoop-3.3.6 ($SPINDLE_FIXTURES overrides),
// looking upwards from the package directory.
func fixtureDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SPINDLE_FIXTURES"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "shared", "fixtures", "hadoop-3.3.6")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		if filepath.Dir(d) == d {
			t.Skip("shared/fixtures/hadoop-3.3.6 not found; set SPINDLE_FIXTURES")
		}
	}
}

// readTranscript reassembles the two directions of a "> hex" / "< hex" file.
func readTranscript(path string) (client, server []byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != ' ' || (line[0] != '>' && line[0] != '<') {
			return nil, nil, fmt.Errorf("%s:%d: not a transcript line", path, i+1)
		}
		b, err := hex.DecodeString(line[2:])
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		if line[0] == '>' {
			client = append(client, b...)
		} else {
			server = append(server, b...)
		}
	}
	return client, server, nil
}

// isRPCTranscript reports whether path is a Hadoop RPC transcript (it starts
// with the client's hrpc preamble).
func isRPCTranscript(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && bytes.HasPrefix(data, []byte("> 68727063"))
}

// delimited splits a varint-length-prefixed message off b.
func delimited(b []byte) (msg, rest []byte, err error) {
	n, l := protowire.ConsumeVarint(b)
	if l < 0 {
		return nil, nil, protowire.ParseError(l)
	}
	if n > uint64(len(b)-l) {
		return nil, nil, fmt.Errorf("delimited length %d exceeds %d remaining bytes", n, len(b)-l)
	}
	return b[l : l+int(n)], b[l+int(n):], nil
}

// frames splits a stream into 4-byte big-endian length-prefixed frames.
func frames(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%d trailing bytes", len(b))
		}
		n := binary.BigEndian.Uint32(b)
		if uint64(n) > uint64(len(b)-4) {
			return nil, fmt.Errorf("frame of %d bytes, %d left", n, len(b)-4)
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	return out, nil
}

const saslCallID = -33

type call struct {
	callID           int32
	method, protocol string
	body             []byte
}

type reply struct {
	header *commonpb.RpcResponseHeaderProto
	body   []byte // nil unless status is SUCCESS
}

type conversation struct {
	context     *commonpb.IpcConnectionContextProto
	calls       []call
	replies     map[int32]reply
	clientSASL  []*commonpb.RpcSaslProto
	serverSASL  []*commonpb.RpcSaslProto
	errorFrames int
}

func parseConversation(client, server []byte) (*conversation, error) {
	c := &conversation{replies: map[int32]reply{}}
	if len(client) < 7 || string(client[:4]) != "hrpc" {
		return nil, errors.New("client stream lacks the hrpc preamble")
	}
	cf, err := frames(client[7:])
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	for i, f := range cf {
		hb, rest, err := delimited(f)
		if err != nil {
			return nil, fmt.Errorf("client frame %d: %w", i, err)
		}
		var h commonpb.RpcRequestHeaderProto
		if err := proto.Unmarshal(hb, &h); err != nil {
			return nil, fmt.Errorf("client frame %d header: %w", i, err)
		}
		switch id := h.GetCallId(); {
		case id == saslCallID:
			body, tail, err := delimited(rest)
			if err != nil || len(tail) != 0 {
				return nil, fmt.Errorf("client SASL frame %d: %v, %d trailing", i, err, len(tail))
			}
			var s commonpb.RpcSaslProto
			if err := proto.Unmarshal(body, &s); err != nil {
				return nil, fmt.Errorf("client SASL frame %d: %w", i, err)
			}
			c.clientSASL = append(c.clientSASL, &s)
		case id == -3:
			body, tail, err := delimited(rest)
			if err != nil || len(tail) != 0 {
				return nil, fmt.Errorf("context frame %d: %v, %d trailing", i, err, len(tail))
			}
			c.context = &commonpb.IpcConnectionContextProto{}
			if err := proto.Unmarshal(body, c.context); err != nil {
				return nil, fmt.Errorf("context frame %d: %w", i, err)
			}
		case id == -4: // ping: header only
			if len(rest) != 0 {
				return nil, fmt.Errorf("ping frame %d has a body", i)
			}
		case id >= 0:
			rh, rest, err := delimited(rest)
			if err != nil {
				return nil, fmt.Errorf("call frame %d: %w", i, err)
			}
			var req commonpb.RequestHeaderProto
			if err := proto.Unmarshal(rh, &req); err != nil {
				return nil, fmt.Errorf("call frame %d request header: %w", i, err)
			}
			body, tail, err := delimited(rest)
			if err != nil || len(tail) != 0 {
				return nil, fmt.Errorf("call frame %d body: %v, %d trailing", i, err, len(tail))
			}
			c.calls = append(c.calls, call{id, req.GetMethodName(), req.GetDeclaringClassProtocolName(), body})
		default:
			return nil, fmt.Errorf("client frame %d: unexpected callId %d", i, id)
		}
	}

	sf, err := frames(server)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	for i, f := range sf {
		hb, rest, err := delimited(f)
		if err != nil {
			return nil, fmt.Errorf("server frame %d: %w", i, err)
		}
		h := &commonpb.RpcResponseHeaderProto{}
		if err := proto.Unmarshal(hb, h); err != nil {
			return nil, fmt.Errorf("server frame %d header: %w", i, err)
		}
		id := int32(h.GetCallId())
		ok := h.GetStatus() == commonpb.RpcResponseHeaderProto_SUCCESS
		if !ok {
			if len(rest) != 0 {
				return nil, fmt.Errorf("server frame %d: error response with a body", i)
			}
			c.errorFrames++
		}
		var body []byte
		if ok {
			var tail []byte
			body, tail, err = delimited(rest)
			if err != nil || len(tail) != 0 {
				return nil, fmt.Errorf("server frame %d body: %v, %d trailing", i, err, len(tail))
			}
		}
		switch {
		case id == saslCallID:
			if ok {
				var s commonpb.RpcSaslProto
				if err := proto.Unmarshal(body, &s); err != nil {
					return nil, fmt.Errorf("server SASL frame %d: %w", i, err)
				}
				c.serverSASL = append(c.serverSASL, &s)
			}
		case id >= 0:
			if _, dup := c.replies[id]; dup {
				return nil, fmt.Errorf("server frame %d: second reply to call %d", i, id)
			}
			c.replies[id] = reply{h, body}
		default:
			return nil, fmt.Errorf("server frame %d: unexpected callId %d (%s %s)", i, id, h.GetExceptionClassName(), h.GetErrorMsg())
		}
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// The three checks
// ---------------------------------------------------------------------------

// unknownFields lists every message in m's tree that carries unknown fields.
func unknownFields(path string, m protoreflect.Message, out *[]string) {
	if u := m.GetUnknown(); len(u) > 0 {
		*out = append(*out, fmt.Sprintf("%s (%s): unknown %s", path, m.Descriptor().FullName(), describeRaw(u)))
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := path + "." + string(fd.Name())
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
					unknownFields(fmt.Sprintf("%s[%v]", p, k.Interface()), mv.Message(), out)
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					unknownFields(fmt.Sprintf("%s[%d]", p, i), l.Get(i).Message(), out)
				}
			}
		case fd.Message() != nil:
			unknownFields(p, v.Message(), out)
		}
		return true
	})
}

// describeRaw names the fields of raw wire bytes, for failure messages.
func describeRaw(b []byte) string {
	var parts []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeField(b)
		if n < 0 {
			parts = append(parts, "unparsable")
			break
		}
		parts = append(parts, fmt.Sprintf("#%d(wiretype %d)", num, typ))
		b = b[n:]
	}
	return strings.Join(parts, " ")
}

// checkBytes runs the three checks of the file comment on raw, decoded into
// a fresh copy of proto, and returns the decoded message.
func checkBytes(t *testing.T, what string, raw []byte, prototype proto.Message) proto.Message {
	t.Helper()
	m := newOf(prototype)
	require.NoError(t, proto.Unmarshal(raw, m), "%s: unmarshal %s", what, m.ProtoReflect().Descriptor().FullName())
	var unknown []string
	unknownFields(string(m.ProtoReflect().Descriptor().Name()), m.ProtoReflect(), &unknown)
	require.Empty(t, unknown, "%s: unknown fields", what)
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err, "%s: marshal", what)
	require.Equal(t, hex.EncodeToString(raw), hex.EncodeToString(again), "%s: re-encoding differs", what)
	return m
}

// ---------------------------------------------------------------------------
// Token identifiers
// ---------------------------------------------------------------------------

// tokenStats counts identifiers decoded per token kind.
type tokenStats map[string]int

// checkToken decodes tok's identifier by its kind.
func checkToken(t *testing.T, what string, tok *commonpb.TokenProto, stats tokenStats) proto.Message {
	t.Helper()
	kind := tok.GetKind()
	if kind == "HDFS_DELEGATION_TOKEN" { // Writable identifier, not ours
		stats[kind+" (writable, skipped)"]++
		return nil
	}
	prototype, ok := identifierTypes[kind]
	require.True(t, ok, "%s: token of unexpected kind %q", what, kind)
	stats[kind]++
	return checkBytes(t, fmt.Sprintf("%s: %s identifier", what, kind), tok.GetIdentifier(), prototype)
}

// checkTokensIn finds every TokenProto in m's tree, and every credentials
// blob in a ContainerLaunchContextProto, and checks their identifiers.
func checkTokensIn(t *testing.T, what string, m protoreflect.Message, stats tokenStats) {
	t.Helper()
	switch x := m.Interface().(type) {
	case *commonpb.TokenProto:
		checkToken(t, what, x, stats)
		return
	case *yarnpb.ContainerLaunchContextProto:
		if x.Tokens != nil {
			toks, err := readCredentials(x.GetTokens())
			require.NoError(t, err, "%s: CLC tokens", what)
			for i, tok := range toks {
				checkToken(t, fmt.Sprintf("%s: CLC tokens[%d]", what, i), tok, stats)
			}
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true
		}
		p := what + "." + string(fd.Name())
		if fd.IsList() {
			for i := 0; i < v.List().Len(); i++ {
				checkTokensIn(t, fmt.Sprintf("%s[%d]", p, i), v.List().Get(i).Message(), stats)
			}
		} else {
			checkTokensIn(t, p, v.Message(), stats)
		}
		return true
	})
}

// readVLong decodes a Hadoop WritableUtils VLong (hadoop-wire.md §5.1).
func readVLong(b []byte) (int64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errors.New("short VLong")
	}
	first := int8(b[0])
	if first >= -112 {
		return int64(first), b[1:], nil
	}
	neg := first < -120
	n := int(-(int(first) + 112))
	if neg {
		n = int(-(int(first) + 120))
	}
	if len(b) < 1+n {
		return 0, nil, errors.New("short VLong")
	}
	var v int64
	for _, c := range b[1 : 1+n] {
		v = v<<8 | int64(c)
	}
	if neg {
		v = ^v
	}
	return v, b[1+n:], nil
}

func readWritableBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readVLong(b)
	if err != nil {
		return nil, nil, err
	}
	if n < 0 || n > int64(len(b)) {
		return nil, nil, fmt.Errorf("length %d out of range", n)
	}
	return b[:n], b[n:], nil
}

// readCredentials parses an HDTS credentials blob, format 0 (Writable), the
// only one Hadoop 3.x writes (hadoop-wire.md §5.3).
func readCredentials(b []byte) ([]*commonpb.TokenProto, error) {
	if len(b) < 5 || string(b[:4]) != "HDTS" {
		return nil, errors.New("no HDTS magic")
	}
	if b[4] != 0 {
		return nil, fmt.Errorf("credentials format %d, want 0", b[4])
	}
	b = b[5:]
	n, b, err := readVLong(b)
	if err != nil {
		return nil, err
	}
	var toks []*commonpb.TokenProto
	for i := int64(0); i < n; i++ {
		var alias, id, pw, kind, service []byte
		for _, dst := range []*[]byte{&alias, &id, &pw, &kind, &service} {
			if *dst, b, err = readWritableBytes(b); err != nil {
				return nil, fmt.Errorf("token %d: %w", i, err)
			}
		}
		toks = append(toks, &commonpb.TokenProto{Identifier: id, Password: pw, Kind: proto.String(string(kind)), Service: proto.String(string(service))})
	}
	nsecrets, b, err := readVLong(b)
	if err != nil {
		return nil, err
	}
	for i := int64(0); i < nsecrets; i++ {
		for j := 0; j < 2; j++ {
			if _, b, err = readWritableBytes(b); err != nil {
				return nil, fmt.Errorf("secret %d: %w", i, err)
			}
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(b))
	}
	return toks, nil
}

var digestUsername = regexp.MustCompile(`username="([^"]*)"`)

// saslTokenIdentifier returns the token identifier a DIGEST-MD5 client
// authenticated with (base64 in the username directive), if any.
func saslTokenIdentifier(t *testing.T, msgs []*commonpb.RpcSaslProto) []byte {
	t.Helper()
	for _, s := range msgs {
		if s.GetState() != commonpb.RpcSaslProto_INITIATE || len(s.GetAuths()) != 1 || s.GetAuths()[0].GetMechanism() != "DIGEST-MD5" {
			continue
		}
		m := digestUsername.FindSubmatch(s.GetToken())
		require.NotNil(t, m, "DIGEST-MD5 response without username")
		id, err := base64.StdEncoding.DecodeString(string(m[1]))
		require.NoError(t, err)
		return id
	}
	return nil
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

// transcriptDirs are the capture folders whose YARN traffic is in clear
// (SASL QOP auth or no SASL).
var transcriptDirs = []string{
	"distshell-run",
	"distshell-fail-and-kill",
	"kerberos/distshell-secure-auth",
	"kerberos/rm-list-auth",
}

func TestCaptures(t *testing.T) {
	root := fixtureDir(t)
	frameCount := map[string]int{} // "protocol method req|resp" → frames
	stats := tokenStats{}
	files := 0
	for _, dir := range transcriptDirs {
		paths, err := filepath.Glob(filepath.Join(root, dir, "*.txt"))
		require.NoError(t, err)
		for _, path := range paths {
			if !isRPCTranscript(path) {
				continue
			}
			name := filepath.ToSlash(filepath.Join(dir, filepath.Base(path)))
			t.Run(name, func(t *testing.T) {
				client, server, err := readTranscript(path)
				require.NoError(t, err)
				conv, err := parseConversation(client, server)
				require.NoError(t, err)
				require.NotNil(t, conv.context, "no connection context")
				protocol := conv.context.GetProtocol()
				methods, isYARN := yarnMethods[protocol]
				if !isYARN {
					t.Skipf("not a YARN protocol: %s", protocol)
				}
				files++

				// The DIGEST-MD5 username is the raw identifier of the
				// connection's token.
				if id := saslTokenIdentifier(t, conv.clientSASL); id != nil {
					kind := saslIdentifierTypes[protocol]
					stats[kind+" (sasl)"]++
					checkBytes(t, "SASL username", id, identifierTypes[kind])
				}

				answered := 0
				for _, c := range conv.calls {
					require.Equal(t, protocol, c.protocol, "call %d", c.callID)
					r, ok := methods[c.method]
					require.True(t, ok, "call %d: unknown method %s", c.callID, c.method)
					what := fmt.Sprintf("call %d %s request", c.callID, c.method)
					req := checkBytes(t, what, c.body, r.req)
					checkTokensIn(t, what, req.ProtoReflect(), stats)
					frameCount[protocol[strings.LastIndex(protocol, ".")+1:]+" "+c.method+" request"]++

					rep, ok := conv.replies[c.callID]
					require.True(t, ok, "call %d %s: no reply", c.callID, c.method)
					if rep.body == nil {
						t.Logf("call %d %s: %s %s", c.callID, c.method, rep.header.GetStatus(), rep.header.GetExceptionClassName())
						continue
					}
					answered++
					what = fmt.Sprintf("call %d %s response", c.callID, c.method)
					resp := checkBytes(t, what, rep.body, r.resp)
					checkTokensIn(t, what, resp.ProtoReflect(), stats)
					frameCount[protocol[strings.LastIndex(protocol, ".")+1:]+" "+c.method+" response"]++
				}
				require.Len(t, conv.replies, len(conv.calls), "replies without calls")
				require.NotZero(t, answered, "no successful call")
			})
		}
	}

	keys := make([]string, 0, len(frameCount))
	total := 0
	for k, n := range frameCount {
		keys = append(keys, k)
		total += n
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%4d  %s", frameCount[k], k)
	}
	t.Logf("%d YARN bodies decoded from %d transcripts; token identifiers: %v", total, files, map[string]int(stats))

	// What the brief promises must actually have been exercised.
	for _, m := range []string{"getNewApplication", "submitApplication", "getApplicationReport", "forceKillApplication",
		"getClusterMetrics", "getClusterNodes", "getQueueInfo", "getQueueUserAcls", "getResourceTypeInfo"} {
		require.NotZero(t, frameCount["ApplicationClientProtocolPB "+m+" response"], m)
	}
	for _, m := range []string{"registerApplicationMaster", "allocate", "finishApplicationMaster"} {
		require.NotZero(t, frameCount["ApplicationMasterProtocolPB "+m+" response"], m)
	}
	for _, m := range []string{"startContainers", "getContainerStatuses", "stopContainers"} {
		require.NotZero(t, frameCount["ContainerManagementProtocolPB "+m+" response"], m)
	}
	for _, k := range []string{"ContainerToken", "NMToken", "YARN_AM_RM_TOKEN"} {
		require.NotZero(t, stats[k], k)
	}
}

// TestAMContainerTokens decodes the AMRMToken of the AM container's
// container_tokens file and matches it with the identifier the AM sent as
// its DIGEST-MD5 username in am-rm.txt.
func TestAMContainerTokens(t *testing.T) {
	root := fixtureDir(t)
	raw, err := os.ReadFile(filepath.Join(root, "distshell-run", "am-container_tokens.bin"))
	require.NoError(t, err)
	toks, err := readCredentials(raw)
	require.NoError(t, err)
	require.Len(t, toks, 1)
	tok := toks[0]
	require.Equal(t, "YARN_AM_RM_TOKEN", tok.GetKind())
	require.Equal(t, "", tok.GetService())
	id := checkBytes(t, "AMRMToken", tok.GetIdentifier(), &yarnpb.AMRMTokenIdentifierProto{}).(*yarnpb.AMRMTokenIdentifierProto)
	require.Equal(t, int32(1), id.GetAppAttemptId().GetAttemptId())
	require.NotZero(t, id.GetAppAttemptId().GetApplicationId().GetClusterTimestamp())
	require.True(t, id.KeyId != nil, "keyId must be on the wire")

	client, server, err := readTranscript(filepath.Join(root, "distshell-run", "am-rm.txt"))
	require.NoError(t, err)
	conv, err := parseConversation(client, server)
	require.NoError(t, err)
	require.Equal(t, tok.GetIdentifier(), saslTokenIdentifier(t, conv.clientSASL))

	// The same application's container ids appear in the allocate replies.
	var sawContainer bool
	for _, c := range conv.calls {
		if c.method != "allocate" || conv.replies[c.callID].body == nil {
			continue
		}
		resp := checkBytes(t, "allocate response", conv.replies[c.callID].body, &yarnpb.AllocateResponseProto{}).(*yarnpb.AllocateResponseProto)
		for _, ctr := range resp.GetAllocatedContainers() {
			require.True(t, proto.Equal(id.GetAppAttemptId(), ctr.GetId().GetAppAttemptId()))
			sawContainer = true
		}
	}
	require.True(t, sawContainer)
}

// TestAllocateTokenIdentifiers decodes the ContainerToken and NMToken
// identifiers handed out in distshell-run/am-rm.txt, cross-checks them with
// the records around them, and finds the NMToken again as the SASL username
// of the AM's NodeManager connections.
func TestAllocateTokenIdentifiers(t *testing.T) {
	root := fixtureDir(t)
	client, server, err := readTranscript(filepath.Join(root, "distshell-run", "am-rm.txt"))
	require.NoError(t, err)
	conv, err := parseConversation(client, server)
	require.NoError(t, err)

	nmIdentifiers := map[string]bool{}
	var containers, nmTokens int
	for _, c := range conv.calls {
		if c.method != "allocate" || conv.replies[c.callID].body == nil {
			continue
		}
		resp := checkBytes(t, "allocate response", conv.replies[c.callID].body, &yarnpb.AllocateResponseProto{}).(*yarnpb.AllocateResponseProto)
		for i, ctr := range resp.GetAllocatedContainers() {
			tok := ctr.GetContainerToken()
			require.Equal(t, "ContainerToken", tok.GetKind())
			what := fmt.Sprintf("call %d container %d", c.callID, i)
			id := checkBytes(t, what, tok.GetIdentifier(), &yarnpb.ContainerTokenIdentifierProto{}).(*yarnpb.ContainerTokenIdentifierProto)
			require.True(t, proto.Equal(ctr.GetId(), id.GetContainerId()), what)
			require.True(t, proto.Equal(ctr.GetResource(), id.GetResource()), what)
			require.True(t, proto.Equal(ctr.GetPriority(), id.GetPriority()), what)
			require.Equal(t, fmt.Sprintf("%s:%d", ctr.GetNodeId().GetHost(), ctr.GetNodeId().GetPort()), id.GetNmHostAddr(), what)
			require.Equal(t, yarnpb.ContainerTypeProto_TASK, id.GetContainerType(), what)
			containers++
		}
		for i, nt := range resp.GetNmTokens() {
			tok := nt.GetToken()
			require.Equal(t, "NMToken", tok.GetKind())
			what := fmt.Sprintf("call %d nm token %d", c.callID, i)
			id := checkBytes(t, what, tok.GetIdentifier(), &yarnpb.NMTokenIdentifierProto{}).(*yarnpb.NMTokenIdentifierProto)
			require.True(t, proto.Equal(nt.GetNodeId(), id.GetNodeId()), what)
			nmIdentifiers[string(tok.GetIdentifier())] = true
			nmTokens++
		}
	}
	require.NotZero(t, containers)
	require.NotZero(t, nmTokens)
	t.Logf("%d container token and %d NM token identifiers decoded", containers, nmTokens)

	paths, err := filepath.Glob(filepath.Join(root, "distshell-run", "am-nm-*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		client, server, err := readTranscript(p)
		require.NoError(t, err)
		conv, err := parseConversation(client, server)
		require.NoError(t, err)
		id := saslTokenIdentifier(t, conv.clientSASL)
		require.True(t, nmIdentifiers[string(id)], "%s: SASL username is not an NMToken from am-rm.txt", filepath.Base(p))
	}
}

// TestServiceTable checks the method table above against the service blocks
// of our .proto files, so that both stay complete and agree.
func TestServiceTable(t *testing.T) {
	services := map[string]protoreflect.ServiceDescriptor{
		clientProtocol:    yarnpb.File_yarnpb_applicationclient_protocol_proto.Services().ByName("ApplicationClientProtocolService"),
		masterProtocol:    yarnpb.File_yarnpb_applicationmaster_protocol_proto.Services().ByName("ApplicationMasterProtocolService"),
		containerProtocol: yarnpb.File_yarnpb_containermanagement_protocol_proto.Services().ByName("ContainerManagementProtocolService"),
	}
	want := map[string]int{clientProtocol: 35, masterProtocol: 3, containerProtocol: 12}
	for protocol, sd := range services {
		require.NotNil(t, sd, protocol)
		require.Equal(t, want[protocol], sd.Methods().Len(), protocol)
		require.Len(t, yarnMethods[protocol], sd.Methods().Len(), protocol)
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			r, ok := yarnMethods[protocol][string(md.Name())]
			require.True(t, ok, "%s: %s missing from the table", protocol, md.Name())
			require.Equal(t, md.Input().FullName(), r.req.ProtoReflect().Descriptor().FullName(), md.Name())
			require.Equal(t, md.Output().FullName(), r.resp.ProtoReflect().Descriptor().FullName(), md.Name())
		}
	}
}
