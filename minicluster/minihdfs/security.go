package minihdfs

import (
	"context"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
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
		krb,
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
