package yarnpb_test

// These tests replay the real Hadoop 3.3.6 wire captures in
// shared/fixtures/hadoop-3.3.6 (located, loaded and framed by
// internal/capture) through our YARN definitions. Every request and response
// body of every YARN call, and every token identifier found in them, must
//
//  1. unmarshal (including proto2 required-field checks),
//  2. leave no unknown field anywhere in the decoded tree (a wrong field
//     number or enum value shows up here), and
//  3. re-encode, deterministically, to exactly the captured bytes (a wrong
//     wire type, label or packing shows up here).
//
// That holds for the traffic in clear (SIMPLE, or SASL QOP auth) and for the
// traffic inside DIGEST-MD5 auth-int and auth-conf SASL WRAP messages, which
// internal/capture unwraps with the token passwords of the fixtures'
// credentials files and the NMTokens of the allocate responses. Only GSSAPI
// protected traffic stays opaque; its integrity-only wrap tokens still carry
// the plaintext, which is decoded too (without verifying the Kerberos
// checksums).

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/ipc"
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
// HDFS_DELEGATION_TOKEN identifiers are Writable records, not protobuf
// (ipc.ParseDelegationTokenIdentifier).
var identifierTypes = map[string]proto.Message{
	ipc.KindAMRMToken:        &yarnpb.AMRMTokenIdentifierProto{},
	ipc.KindNMToken:          &yarnpb.NMTokenIdentifierProto{},
	ipc.KindContainerToken:   &yarnpb.ContainerTokenIdentifierProto{},
	ipc.KindClientToAMToken:  &yarnpb.ClientToAMTokenIdentifierProto{},
	ipc.KindRMDelegation:     &yarnpb.YARNDelegationTokenIdentifierProto{},
	ipc.KindTimelineDelegate: &yarnpb.YARNDelegationTokenIdentifierProto{},
}

// saslIdentifierTypes: the token kind a SASL TOKEN (DIGEST-MD5) client uses
// on each protocol; its identifier is the base64 username.
var saslIdentifierTypes = map[string]string{
	masterProtocol:    ipc.KindAMRMToken,
	containerProtocol: ipc.KindNMToken,
	clientProtocol:    ipc.KindRMDelegation,
}

// serverProtocols: the protocols each YARN server role of a transcript name
// (who-whom[-what].txt) speaks.
var serverProtocols = map[string][]string{
	"rm": {clientProtocol, masterProtocol},
	"nm": {containerProtocol},
}

// distshellDirs are the DistributedShell runs: each has an am-rm.txt whose
// allocate responses carry the NMTokens of its am-nm-*.txt and rm-nm-*.txt.
var distshellDirs = []string{
	"distshell-run",
	"kerberos/distshell-secure-auth",
	"kerberos/distshell-secure-integrity",
	"kerberos/distshell-secure-privacy",
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

// fixtureDir is capture.Dir; missing fixtures fail the test (CI has them).
func fixtureDir(t *testing.T) string {
	t.Helper()
	d, err := capture.Dir()
	require.NoError(t, err)
	return d
}

// serverRole is the server of a transcript, from its name: "am-rm.txt" → "rm".
func serverRole(path string) string {
	parts := strings.Split(strings.TrimSuffix(filepath.Base(path), ".txt"), "-")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// folderQOP is the DIGEST-MD5 QOP the folder's rpc.protection implies.
func folderQOP(rel string) string {
	switch {
	case strings.Contains(rel, "-integrity/"):
		return ipc.QOPAuthInt
	case strings.Contains(rel, "-privacy/"):
		return ipc.QOPAuthConf
	}
	return ipc.QOPAuth
}

// transcript is one decoded YARN conversation.
type transcript struct {
	rel  string // path below the fixtures directory, with slashes
	conv *capture.Conversation
}

// corpus is every YARN transcript of the fixtures, decoded with every token
// password they hold.
type corpus struct {
	dir   string
	keys  capture.Keyring
	creds map[string]*ipc.Credentials // by path relative to dir
	// nmTokens are the NMToken identifiers handed out in each folder's
	// allocate responses.
	nmTokens map[string]map[string]bool
	yarn     []transcript
}

func rel(t *testing.T, dir, p string) string {
	t.Helper()
	r, err := filepath.Rel(dir, p)
	require.NoError(t, err)
	return filepath.ToSlash(r)
}

// decodeFile decodes a transcript, opening DIGEST-MD5 traffic with pw and
// GSSAPI traffic with the fixtures' service keytabs (every wrap token is
// verified), so no conversation stays opaque.
func decodeFile(t *testing.T, path string, pw capture.Passwords) *capture.Conversation {
	t.Helper()
	tr, err := capture.Load(path)
	require.NoError(t, err)
	kt, err := capture.KerberosKeytabs()
	require.NoError(t, err)
	c, err := capture.DecodeWithKeys(tr, pw, kt)
	require.NoError(t, err, path)
	return c
}

// loadCorpus reads the credentials files, decodes every AM→RM conversation
// first and collects the NMToken passwords of its allocate responses, then
// decodes every YARN transcript.
func loadCorpus(t *testing.T) *corpus {
	t.Helper()
	c := &corpus{dir: fixtureDir(t), keys: capture.Keyring{}, creds: map[string]*ipc.Credentials{}, nmTokens: map[string]map[string]bool{}}
	creds, err := capture.CredentialFiles(c.dir)
	require.NoError(t, err)
	for p, cr := range creds {
		c.creds[rel(t, c.dir, p)] = cr
		for _, tok := range cr.Tokens() {
			c.keys.Add(tok)
		}
	}
	paths, err := capture.All(c.dir)
	require.NoError(t, err)
	for _, p := range paths {
		if !strings.HasPrefix(filepath.Base(p), "am-rm") {
			continue
		}
		conv := decodeFile(t, p, c.keys.Password)
		require.False(t, conv.Opaque, "%s: AMRMToken password unknown", p)
		folder := filepath.ToSlash(filepath.Dir(rel(t, c.dir, p)))
		if c.nmTokens[folder] == nil {
			c.nmTokens[folder] = map[string]bool{}
		}
		for _, call := range conv.Calls() {
			if call.Method() != "allocate" || call.Reply == nil || call.Reply.Resp.Body == nil {
				continue
			}
			resp := &yarnpb.AllocateResponseProto{}
			require.NoError(t, proto.Unmarshal(call.Reply.Resp.Body, resp), p)
			for _, nt := range resp.GetNmTokens() {
				tok := ipc.TokenFromProto(nt.GetToken())
				c.keys.Add(tok)
				c.nmTokens[folder][string(tok.Identifier)] = true
			}
		}
	}
	for _, p := range paths {
		if serverProtocols[serverRole(p)] == nil {
			continue
		}
		c.yarn = append(c.yarn, transcript{rel(t, c.dir, p), decodeFile(t, p, c.keys.Password)})
	}
	sort.Slice(c.yarn, func(i, j int) bool { return c.yarn[i].rel < c.yarn[j].rel })
	require.NotEmpty(t, c.yarn)
	return c
}

// conversation returns the decoded transcript at rel.
func (c *corpus) conversation(t *testing.T, rel string) *capture.Conversation {
	t.Helper()
	for _, tr := range c.yarn {
		if tr.rel == rel {
			return tr.conv
		}
	}
	t.Fatalf("no transcript %s", rel)
	return nil
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

// checkBytes runs the three checks of the file comment on raw, decoded into
// a fresh copy of prototype, and returns the decoded message.
func checkBytes(t *testing.T, what string, raw []byte, prototype proto.Message) proto.Message {
	t.Helper()
	m := newOf(prototype)
	require.NoError(t, capture.RoundTrip(raw, m), what)
	return m
}

// tokenStats counts identifiers decoded per token kind.
type tokenStats map[string]int

// checkToken decodes tok's identifier by its kind.
func checkToken(t *testing.T, what string, tok *commonpb.TokenProto, stats tokenStats) proto.Message {
	t.Helper()
	kind := tok.GetKind()
	stats[kind]++
	if kind == ipc.KindHDFSDelegation { // Writable identifier
		id, err := ipc.ParseDelegationTokenIdentifier(tok.GetIdentifier())
		require.NoError(t, err, "%s: %s identifier", what, kind)
		require.Equal(t, tok.GetIdentifier(), id.Marshal(), "%s: %s identifier re-encoding", what, kind)
		return nil
	}
	prototype, ok := identifierTypes[kind]
	require.True(t, ok, "%s: token of unexpected kind %q", what, kind)
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
			creds, err := ipc.ParseCredentials(x.GetTokens())
			require.NoError(t, err, "%s: CLC tokens", what)
			require.Equal(t, x.GetTokens(), creds.Marshal(), "%s: CLC tokens re-encoding", what)
			for i, tok := range creds.Tokens() {
				checkToken(t, fmt.Sprintf("%s: CLC tokens[%d]", what, i), tok.Proto(), stats)
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

// saslTokenIdentifier returns the token identifier a DIGEST-MD5 client
// authenticated with (base64 in the username directive), or nil.
func saslTokenIdentifier(t *testing.T, c *capture.Conversation) []byte {
	t.Helper()
	if c.Mechanism != ipc.MechDigestMD5 {
		return nil
	}
	d, err := ipc.ParseDirectives(c.Response)
	require.NoError(t, err)
	require.NotEmpty(t, d["username"], "DIGEST-MD5 response without username")
	id, err := base64.StdEncoding.DecodeString(d["username"])
	require.NoError(t, err)
	return id
}

// digestQOP is the QOP a DIGEST-MD5 client chose ("auth" when unsaid).
func digestQOP(t *testing.T, c *capture.Conversation) string {
	t.Helper()
	require.Equal(t, ipc.MechDigestMD5, c.Mechanism)
	d, err := ipc.ParseDirectives(c.Response)
	require.NoError(t, err)
	if d["qop"] == "" {
		return ipc.QOPAuth
	}
	return d["qop"]
}

// allocateResponses returns the successful allocate responses of an AM→RM
// conversation, checked.
func allocateResponses(t *testing.T, c *capture.Conversation) []*yarnpb.AllocateResponseProto {
	t.Helper()
	calls, err := c.CheckedCalls()
	require.NoError(t, err)
	var out []*yarnpb.AllocateResponseProto
	for _, call := range calls {
		if call.Method() != "allocate" || call.Reply.Resp.Body == nil {
			continue
		}
		what := fmt.Sprintf("call %d allocate response", call.Request.Req.Header.GetCallId())
		out = append(out, checkBytes(t, what, call.Reply.Resp.Body, &yarnpb.AllocateResponseProto{}).(*yarnpb.AllocateResponseProto))
	}
	return out
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

// How a body reached us.
const (
	viaPlain = "plain"
	viaWrap  = "inside DIGEST-MD5 WRAP"
	viaGSS   = "inside GSSAPI WRAP (verified with the keytabs)"
)

func TestCaptures(t *testing.T) {
	c := loadCorpus(t)
	frameCount := map[string]int{} // "protocol method req|resp" → frames
	bodies := map[string]int{}     // "protocol, via" → bodies
	stats := tokenStats{}
	var opaque, sealed []string
	files := 0
	for _, tr := range c.yarn {
		t.Run(tr.rel, func(t *testing.T) {
			conv, via := tr.conv, viaPlain
			switch {
			case conv.Opaque:
				opaque = append(opaque, tr.rel)
				return
			case conv.Wrapped && conv.Mechanism == ipc.MechGSSAPI:
				via = viaGSS
				if conv.QOP == ipc.QOPAuthConf {
					sealed = append(sealed, tr.rel)
				}
				require.NotEmpty(t, conv.InnerClient)
				require.NotEmpty(t, conv.InnerServer)
			case conv.Wrapped:
				via = viaWrap
				require.NotEmpty(t, conv.InnerClient)
				require.NotEmpty(t, conv.InnerServer)
			}
			if conv.Mechanism == ipc.MechDigestMD5 {
				qop := digestQOP(t, conv)
				require.Equal(t, folderQOP(tr.rel), qop, "DIGEST-MD5 QOP")
				require.Equal(t, qop != ipc.QOPAuth, conv.Wrapped)
				if conv.Wrapped {
					require.Equal(t, qop, conv.QOP)
				}
			}
			ctx, err := conv.Context()
			require.NoError(t, err)
			require.NotNil(t, ctx, "no connection context")
			protocol := ctx.GetProtocol()
			require.Contains(t, serverProtocols[serverRole(tr.rel)], protocol)
			methods := yarnMethods[protocol]
			short := protocol[strings.LastIndex(protocol, ".")+1:]
			files++

			// The DIGEST-MD5 username is the raw identifier of the
			// connection's token.
			if id := saslTokenIdentifier(t, conv); id != nil {
				kind := saslIdentifierTypes[protocol]
				stats[kind+" (sasl)"]++
				checkBytes(t, "SASL username", id, identifierTypes[kind])
			}

			calls, err := conv.CheckedCalls()
			require.NoError(t, err)
			answered := 0
			for _, call := range calls {
				id := call.Request.Req.Header.GetCallId()
				require.Equal(t, protocol, call.Request.Req.Call.GetDeclaringClassProtocolName(), "call %d", id)
				r, ok := methods[call.Method()]
				require.True(t, ok, "call %d: unknown method %s", id, call.Method())
				what := fmt.Sprintf("call %d %s request", id, call.Method())
				req := checkBytes(t, what, call.Request.Req.Body, r.req)
				checkTokensIn(t, what, req.ProtoReflect(), stats)
				frameCount[short+" "+call.Method()+" request"]++
				bodies[short+", "+via]++

				rep := call.Reply.Resp
				if rep.Body == nil {
					t.Logf("call %d %s: %s %s", id, call.Method(), rep.Header.GetStatus(), rep.Header.GetExceptionClassName())
					continue
				}
				answered++
				what = fmt.Sprintf("call %d %s response", id, call.Method())
				resp := checkBytes(t, what, rep.Body, r.resp)
				checkTokensIn(t, what, resp.ProtoReflect(), stats)
				frameCount[short+" "+call.Method()+" response"]++
				bodies[short+", "+via]++
			}
			require.NotZero(t, answered, "no successful call")
		})
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
	keys = keys[:0]
	for k := range bodies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%4d bodies  %s", bodies[k], k)
	}
	t.Logf("%d YARN bodies decoded from %d of %d transcripts; opaque: %d (%d sealed); token identifiers: %v",
		total, files, len(c.yarn), len(opaque), len(sealed), map[string]int(stats))

	require.Empty(t, opaque, "conversations left opaque")
	require.Equal(t, []string{
		"kerberos/distshell-secure-privacy/client-rm.txt",
		"kerberos/rm-list-privacy/client-rm-application-list.txt",
		"kerberos/rm-list-privacy/client-rm-node-list.txt",
	}, sealed, "sealed (auth-conf) GSSAPI conversations, decoded")

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
	for _, k := range []string{ipc.KindContainerToken, ipc.KindNMToken, ipc.KindAMRMToken, ipc.KindHDFSDelegation, ipc.KindClientToAMToken} {
		require.NotZero(t, stats[k], k)
	}
	for _, p := range []string{"ApplicationMasterProtocolPB", "ContainerManagementProtocolPB"} {
		require.NotZero(t, bodies[p+", "+viaWrap], "%s bodies inside DIGEST-MD5 WRAP", p)
	}
	require.NotZero(t, bodies["ApplicationClientProtocolPB, "+viaGSS])
}

// TestAMContainerTokens decodes the AMRMToken of each AM container's
// container_tokens file and matches it with the identifier the AM sent as
// its DIGEST-MD5 username in am-rm.txt.
func TestAMContainerTokens(t *testing.T) {
	c := loadCorpus(t)
	for _, dir := range distshellDirs {
		t.Run(dir, func(t *testing.T) {
			creds := c.creds[dir+"/am-container_tokens.bin"]
			require.NotNil(t, creds)
			raw, err := os.ReadFile(filepath.Join(c.dir, dir, "am-container_tokens.bin"))
			require.NoError(t, err)
			require.Equal(t, raw, creds.Marshal(), "credentials re-encode to the same bytes")
			if dir == "distshell-run" {
				require.Equal(t, 1, creds.Len())
			} else { // secure: the HDFS delegation token too
				require.Equal(t, 2, creds.Len())
				hdt := creds.TokenOfKind(ipc.KindHDFSDelegation)
				require.NotNil(t, hdt)
				checkToken(t, "HDFS delegation token", hdt.Proto(), tokenStats{})
			}
			tok := creds.Token("")
			require.NotNil(t, tok)
			require.Equal(t, ipc.KindAMRMToken, tok.Kind)
			require.Equal(t, "", tok.Service)
			id := checkBytes(t, "AMRMToken", tok.Identifier, &yarnpb.AMRMTokenIdentifierProto{}).(*yarnpb.AMRMTokenIdentifierProto)
			require.Equal(t, int32(1), id.GetAppAttemptId().GetAttemptId())
			require.NotZero(t, id.GetAppAttemptId().GetApplicationId().GetClusterTimestamp())
			require.True(t, id.KeyId != nil, "keyId must be on the wire")

			conv := c.conversation(t, dir+"/am-rm.txt")
			require.Equal(t, tok.Identifier, saslTokenIdentifier(t, conv))
			require.Equal(t, folderQOP(dir+"/"), digestQOP(t, conv))

			// The same application's container ids appear in the allocate replies.
			var sawContainer bool
			for _, resp := range allocateResponses(t, conv) {
				for _, ctr := range resp.GetAllocatedContainers() {
					require.True(t, proto.Equal(id.GetAppAttemptId(), ctr.GetId().GetAppAttemptId()))
					sawContainer = true
				}
			}
			require.True(t, sawContainer)
		})
	}
}

// TestAllocateTokenIdentifiers decodes the ContainerToken and NMToken
// identifiers handed out in each run's am-rm.txt (inside WRAP for the
// integrity and privacy runs), cross-checks them with the records around
// them, and finds the NMToken again as the SASL username of the AM's and
// the RM's NodeManager connections.
func TestAllocateTokenIdentifiers(t *testing.T) {
	c := loadCorpus(t)
	for _, dir := range distshellDirs {
		t.Run(dir, func(t *testing.T) {
			nmIdentifiers := map[string]bool{}
			var containers, nmTokens int
			for i, resp := range allocateResponses(t, c.conversation(t, dir+"/am-rm.txt")) {
				for j, ctr := range resp.GetAllocatedContainers() {
					tok := ctr.GetContainerToken()
					require.Equal(t, ipc.KindContainerToken, tok.GetKind())
					what := fmt.Sprintf("response %d container %d", i, j)
					id := checkBytes(t, what, tok.GetIdentifier(), &yarnpb.ContainerTokenIdentifierProto{}).(*yarnpb.ContainerTokenIdentifierProto)
					require.True(t, proto.Equal(ctr.GetId(), id.GetContainerId()), what)
					require.True(t, proto.Equal(ctr.GetResource(), id.GetResource()), what)
					require.True(t, proto.Equal(ctr.GetPriority(), id.GetPriority()), what)
					require.Equal(t, fmt.Sprintf("%s:%d", ctr.GetNodeId().GetHost(), ctr.GetNodeId().GetPort()), id.GetNmHostAddr(), what)
					require.Equal(t, yarnpb.ContainerTypeProto_TASK, id.GetContainerType(), what)
					containers++
				}
				for j, nt := range resp.GetNmTokens() {
					tok := nt.GetToken()
					require.Equal(t, ipc.KindNMToken, tok.GetKind())
					what := fmt.Sprintf("response %d nm token %d", i, j)
					id := checkBytes(t, what, tok.GetIdentifier(), &yarnpb.NMTokenIdentifierProto{}).(*yarnpb.NMTokenIdentifierProto)
					require.True(t, proto.Equal(nt.GetNodeId(), id.GetNodeId()), what)
					nmIdentifiers[string(tok.GetIdentifier())] = true
					nmTokens++
				}
			}
			require.NotZero(t, containers)
			require.NotZero(t, nmTokens)
			require.Equal(t, c.nmTokens[dir], nmIdentifiers)
			t.Logf("%d container token and %d NM token identifiers decoded", containers, nmTokens)

			var nm int
			for _, tr := range c.yarn {
				if filepath.ToSlash(filepath.Dir(tr.rel)) != dir || serverRole(tr.rel) != "nm" {
					continue
				}
				nm++
				id := saslTokenIdentifier(t, tr.conv)
				require.NotNil(t, id, tr.rel)
				require.True(t, nmIdentifiers[string(id)], "%s: SASL username is not an NMToken from am-rm.txt", tr.rel)
				require.False(t, tr.conv.Opaque, tr.rel)
			}
			require.GreaterOrEqual(t, nm, 2)
		})
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
		types, err := capture.Methods(sd)
		require.NoError(t, err, protocol)
		for i := 0; i < sd.Methods().Len(); i++ {
			md := sd.Methods().Get(i)
			r, ok := yarnMethods[protocol][string(md.Name())]
			require.True(t, ok, "%s: %s missing from the table", protocol, md.Name())
			require.Equal(t, md.Input().FullName(), r.req.ProtoReflect().Descriptor().FullName(), md.Name())
			require.Equal(t, md.Output().FullName(), r.resp.ProtoReflect().Descriptor().FullName(), md.Name())
			require.Equal(t, r.req.ProtoReflect().Type(), types[string(md.Name())].Request, md.Name())
			require.Equal(t, r.resp.ProtoReflect().Type(), types[string(md.Name())].Response, md.Name())
		}
	}
}

// TestCheckBytesFindsNestedUnknown makes sure the unknown-field walk looks
// inside repeated messages nested in YARN records.
func TestCheckBytesFindsNestedUnknown(t *testing.T) {
	extra := protowire.AppendTag(nil, 99, protowire.VarintType)
	extra = protowire.AppendVarint(extra, 1)
	res := &yarnpb.ResourceProto{Memory: proto.Int64(256)}
	res.ProtoReflect().SetUnknown(extra)
	req := &yarnpb.AllocateRequestProto{Ask: []*yarnpb.ResourceRequestProto{{}, {Capability: res}}}
	err := capture.NoUnknown(req.ProtoReflect())
	require.ErrorContains(t, err, "AllocateRequestProto.ask[1].capability")
	require.ErrorContains(t, err, "#99(wiretype 0)")
	raw, err := proto.Marshal(req)
	require.NoError(t, err)
	require.Error(t, capture.RoundTrip(raw, &yarnpb.AllocateRequestProto{}))
}
