package minihdfs

import (
	"context"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/internal/delegation"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Security runs the NameNode as a secure (Kerberized) HDFS does
// (hadoop.security.authentication=kerberos): its RPC port offers
// [TOKEN, KERBEROS], in that order, and refuses SIMPLE; it issues HDFS
// delegation tokens to Kerberos-authenticated callers and accepts them
// over TOKEN (DIGEST-MD5), as YARN's localizers and AMs use them.
//
// The DataNode still runs without SASL on the data transfer port, as the
// 3.3.6 captures' secure DataNode did (privileged-port mode); it does not
// check block access tokens.
type Security struct {
	// Keytab holds the NameNode's key. Required.
	Keytab *keytab.Keytab
	// Principal is the NameNode's principal with the host substituted,
	// e.g. "nn/localhost@EXAMPLE.COM". Required.
	Principal string
	// QOPs are the SASL QOPs offered (hadoop.rpc.protection as "auth",
	// "auth-int", "auth-conf"); nil means auth.
	QOPs []string
	// TokenMaxLifetime is dfs.namenode.delegation.token.max-lifetime; 0
	// means 7 days.
	TokenMaxLifetime time.Duration
	// TokenRenewInterval is dfs.namenode.delegation.token.renew-interval: a
	// token not renewed within it expires; 0 means 1 day.
	TokenRenewInterval time.Duration
}

// hdfsTokenCodec encodes HDFS delegation token identifiers in the Writable
// form of AbstractDelegationTokenIdentifier (ipc.DelegationTokenIdentifier).
var hdfsTokenCodec = delegation.Codec{
	Kind: ipc.KindHDFSDelegation,
	Marshal: func(id delegation.Identifier) []byte {
		return (&ipc.DelegationTokenIdentifier{Owner: id.Owner, Renewer: id.Renewer, RealUser: id.RealUser,
			IssueDate: id.IssueDate, MaxDate: id.MaxDate, SequenceNumber: id.SequenceNumber, MasterKeyID: id.MasterKeyID}).Marshal()
	},
	Parse: func(b []byte) (delegation.Identifier, error) {
		d, err := ipc.ParseDelegationTokenIdentifier(b)
		if err != nil {
			return delegation.Identifier{}, err
		}
		return delegation.Identifier{Owner: d.Owner, Renewer: d.Renewer, RealUser: d.RealUser, IssueDate: d.IssueDate,
			MaxDate: d.MaxDate, SequenceNumber: d.SequenceNumber, MasterKeyID: d.MasterKeyID}, nil
	},
	// HDFS's DelegationTokenIdentifier.toString.
	String: func(id delegation.Identifier) string {
		return fmt.Sprintf("%s token %d for %s with renewer %s", ipc.KindHDFSDelegation, id.SequenceNumber, shortName(id.Owner), id.Renewer)
	},
}

// mechanisms are the SASL methods of a secure NameNode, in Hadoop's order.
func (s *Security) mechanisms(tokens *delegation.Manager) ([]ipc.ServerMechanism, error) {
	krb := &ipc.KerberosServerMechanism{Keytab: s.Keytab, Principal: s.Principal, QOPs: s.QOPs}
	if err := krb.Validate(); err != nil {
		return nil, fmt.Errorf("minihdfs: NameNode Kerberos: %w", err)
	}
	return []ipc.ServerMechanism{
		&ipc.TokenServerMechanism{Secrets: tokens, QOPs: s.QOPs},
		&jdkLenientKerberos{KerberosServerMechanism: krb},
	}, nil
}

// --- delegation token RPCs ---------------------------------------------

func requireKerberos(call *ipc.ServerCall, what string) error {
	if call.AuthMethod != ipc.MethodKerberos {
		return remote(classIOException, "Delegation Token can be %s only with kerberos or web authentication", what)
	}
	return nil
}

// getDelegationToken is FSNamesystem.getDelegationToken: the owner is the
// caller's full principal, the renewer the short name of what it asks for.
func (nn *nameNode) getDelegationToken(_ context.Context, call *ipc.ServerCall, req *commonpb.GetDelegationTokenRequestProto) (proto.Message, error) {
	if nn.tokens == nil {
		return &commonpb.GetDelegationTokenResponseProto{}, nil // security off: no token
	}
	if err := requireKerberos(call, "issued"); err != nil {
		return nil, err
	}
	owner, real := call.User, call.RealUser
	tok := nn.tokens.Create(owner, delegation.ShortName(req.GetRenewer()), real)
	nn.lg.Info().Str("owner", owner).Str("renewer", req.GetRenewer()).Msg("delegation token issued")
	return &commonpb.GetDelegationTokenResponseProto{Token: tok.Proto()}, nil
}

func (nn *nameNode) renewDelegationToken(_ context.Context, call *ipc.ServerCall, req *commonpb.RenewDelegationTokenRequestProto) (proto.Message, error) {
	if nn.tokens == nil {
		return nil, remote(classIOException, "Delegation Token can be renewed only with kerberos or web authentication")
	}
	if err := requireKerberos(call, "renewed"); err != nil {
		return nil, err
	}
	exp, err := nn.tokens.Renew(ipc.TokenFromProto(req.GetToken()), shortName(call.User))
	if err != nil {
		return nil, err
	}
	return &commonpb.RenewDelegationTokenResponseProto{NewExpiryTime: proto.Uint64(uint64(exp))}, nil
}

func (nn *nameNode) cancelDelegationToken(_ context.Context, call *ipc.ServerCall, req *commonpb.CancelDelegationTokenRequestProto) (proto.Message, error) {
	if nn.tokens == nil {
		return nil, remote(classIOException, "Delegation Token can be cancelled only with kerberos or web authentication")
	}
	if err := nn.tokens.Cancel(ipc.TokenFromProto(req.GetToken()), call.User, shortName(call.User)); err != nil {
		return nil, err
	}
	return &commonpb.CancelDelegationTokenResponseProto{}, nil
}

// --- JDK leniency for colinmarc/hdfs -------------------------------------

// jdkLenientKerberos is the NameNode's GSSAPI acceptor with one leniency
// of the JDK's: a wrap token whose SND_SEQ is out of sequence is accepted
// (the JDK only reports it as a supplementary status, which Hadoop's SASL
// server ignores). colinmarc/hdfs, the client Spindle stages files with,
// relies on it: it asks for no mutual authentication, sends no subkey and
// signs its security-layer choice with SND_SEQ 0 instead of the
// seq-number of its authenticator. ipc.KerberosServerMechanism checks the
// sequence strictly, so for such a client (no mutual-required flag) this
// wrapper re-signs the choice token with the expected sequence number
// after checking its signature with the ticket session key; everything
// else is the strict acceptor's.
type jdkLenientKerberos struct {
	*ipc.KerberosServerMechanism
}

func (m *jdkLenientKerberos) Start() (ipc.ServerSession, []byte, error) {
	s, ch, err := m.KerberosServerMechanism.Start()
	if err != nil {
		return nil, nil, err
	}
	return &lenientSession{ServerSession: s, kt: m.Keytab}, ch, nil
}

type lenientSession struct {
	ipc.ServerSession
	kt   *keytab.Keytab
	step int
	fix  bool
	key  types.EncryptionKey
	seq  uint64
}

func (s *lenientSession) Step(tok []byte) ([]byte, bool, error) {
	switch {
	case s.step == 0:
		s.peekAPReq(tok)
	case s.fix && s.step == 1:
		tok = s.resequence(tok)
	}
	s.step++
	return s.ServerSession.Step(tok)
}

// peekAPReq notes the session key and sequence number of a non-mutual
// AP-REQ without a subkey. Anything unexpected is left to the acceptor.
func (s *lenientSession) peekAPReq(tok []byte) {
	defer func() { _ = recover() }() // hostile input: the acceptor reports it
	id, msg, err := ipc.ParseGSSInitialToken(tok)
	if err != nil || id != [2]byte{0x01, 0x00} {
		return
	}
	var req messages.APReq
	if req.Unmarshal(msg) != nil || types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
		return
	}
	if req.Ticket.DecryptEncPart(s.kt, nil) != nil {
		return
	}
	key := req.Ticket.DecryptedEncPart.Key
	if req.DecryptAuthenticator(key) != nil || len(req.Authenticator.SubKey.KeyValue) > 0 {
		return
	}
	// GSS flags: without MUTUAL the acceptor sends no AP-REP, so the next
	// token is the layer choice.
	if len(req.Authenticator.Cksum.Checksum) >= 24 && req.Authenticator.Cksum.Checksum[20]&0x02 != 0 {
		return
	}
	s.fix, s.key, s.seq = true, key, uint64(uint32(req.Authenticator.SeqNumber))
}

// resequence re-signs an unsealed initiator wrap token with SND_SEQ s.seq
// if (and only if) its checksum verifies with the session key.
func (s *lenientSession) resequence(tok []byte) []byte {
	var wt gssapi.WrapToken
	if wt.Unmarshal(tok, false) != nil || wt.SndSeqNum == s.seq {
		return tok
	}
	if ok, err := wt.Verify(s.key, keyusage.GSSAPI_INITIATOR_SEAL); !ok || err != nil {
		return tok
	}
	fixed := gssapi.WrapToken{Flags: wt.Flags, EC: wt.EC, RRC: 0, SndSeqNum: s.seq, Payload: wt.Payload}
	if fixed.SetCheckSum(s.key, keyusage.GSSAPI_INITIATOR_SEAL) != nil {
		return tok
	}
	b, err := fixed.Marshal()
	if err != nil {
		return tok
	}
	return b
}
