package minicluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/internal/delegation"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// RMSecurity runs the ResourceManager's client port as a secure cluster's
// does (hadoop.security.authentication=kerberos): it offers
// [TOKEN, KERBEROS], in that order, and refuses SIMPLE; TOKEN accepts the
// RM delegation tokens it issues (getDelegationToken, only to
// Kerberos-authenticated callers). The scheduler port is TOKEN-only in
// either mode. The application user is the caller's short name (the
// default auth_to_local rule: alice@REALM runs as alice).
type RMSecurity struct {
	// Keytab holds the RM's key. Required.
	Keytab *keytab.Keytab
	// Principal is the RM's principal with the host substituted, e.g.
	// "rm/localhost@EXAMPLE.COM". Required.
	Principal string
	// TokenMaxLifetime is yarn.resourcemanager.delegation.token.max-lifetime;
	// 0 means 7 days.
	TokenMaxLifetime time.Duration
	// TokenRenewInterval is yarn.resourcemanager.delegation.token.renew-interval;
	// 0 means 1 day.
	TokenRenewInterval time.Duration

	// HDFSLogin is the RM's own Kerberos login (the caller makes it from
	// the RM's keytab, as yarn.resourcemanager.keytab and
	// yarn.resourcemanager.principal do; the caller owns and destroys it).
	// With it the RM renews and cancels the HDFS_DELEGATION_TOKENs of the
	// applications it runs, as YARN's DelegationTokenRenewer does: each
	// token in an AM launch context is renewed once at submission (an
	// application whose token will not renew is rejected: FAILED with
	// "Failed to renew token: Kind: HDFS_DELEGATION_TOKEN, Service: …,
	// Ident: (…)"), then again at 90% of the time left to each new expiry
	// until a renewal fails (the token's maximum lifetime), and it is
	// cancelled when the application ends unless the submission set
	// cancel_tokens_when_complete=false. Tokens are renewed at the
	// NameNode their service names, which must be host:port: an
	// application with an HA "ha-hdfs:<nameservice>" token is rejected
	// here. Tokens with an empty renewer are left alone, as in YARN. Nil
	// means the RM renews and cancels nothing: an application's HDFS token
	// dies one NameNode renew interval after its issue or last renewal,
	// which real YARN on a secure cluster never lets happen.
	HDFSLogin *krb.Client
	// NameNodePrincipal is dfs.namenode.kerberos.principal, e.g.
	// "nn/_HOST@EXAMPLE.COM": _HOST becomes the canonical name of the host
	// in the token's service (its reverse DNS name for an IP address, as
	// Java's getCanonicalHostName gives it). Required with HDFSLogin.
	NameNodePrincipal string
	// TokenRemovalDelay is how long after an application ends its tokens
	// are still renewed before they are cancelled. 0 means at once, which
	// is what YARN does with log aggregation off
	// (yarn.log-aggregation-enable=false, the default). With log
	// aggregation on, YARN waits yarn.nm.liveness-monitor.expiry-interval-ms
	// (10 min), polled every
	// yarn.resourcemanager.delayed.delegation-token.removal-interval-ms
	// (30 s); here the delay is kept exactly. Negative is an error.
	TokenRemovalDelay time.Duration
}

// validate checks the fields NewResourceManager depends on.
func (s *RMSecurity) validate() error {
	if s.HDFSLogin != nil && s.NameNodePrincipal == "" {
		return errors.New("minicluster: RMSecurity.HDFSLogin is set but NameNodePrincipal is empty (set it to dfs.namenode.kerberos.principal, e.g. nn/_HOST@REALM)")
	}
	if s.TokenRemovalDelay < 0 {
		return fmt.Errorf("minicluster: RMSecurity.TokenRemovalDelay is negative (%s)", s.TokenRemovalDelay)
	}
	return nil
}

// rmTokenCodec encodes RM delegation token identifiers as the raw
// YARNDelegationTokenIdentifierProto (RMDelegationTokenIdentifier).
var rmTokenCodec = delegation.Codec{
	Kind: ipc.KindRMDelegation,
	Marshal: func(id delegation.Identifier) []byte {
		return mustMarshal(&yarnpb.YARNDelegationTokenIdentifierProto{Owner: proto.String(id.Owner), Renewer: proto.String(id.Renewer),
			RealUser: proto.String(id.RealUser), IssueDate: proto.Int64(id.IssueDate), MaxDate: proto.Int64(id.MaxDate),
			SequenceNumber: proto.Int32(id.SequenceNumber), MasterKeyId: proto.Int32(id.MasterKeyID)})
	},
	Parse: func(b []byte) (delegation.Identifier, error) {
		var p yarnpb.YARNDelegationTokenIdentifierProto
		if err := proto.Unmarshal(b, &p); err != nil {
			return delegation.Identifier{}, err
		}
		return delegation.Identifier{Owner: p.GetOwner(), Renewer: p.GetRenewer(), RealUser: p.GetRealUser(), IssueDate: p.GetIssueDate(),
			MaxDate: p.GetMaxDate(), SequenceNumber: p.GetSequenceNumber(), MasterKeyID: p.GetMasterKeyId()}, nil
	},
	// AbstractDelegationTokenIdentifier.toString.
	String: func(id delegation.Identifier) string {
		return fmt.Sprintf("%s owner=%s, renewer=%s, realUser=%s, issueDate=%d, maxDate=%d, sequenceNumber=%d, masterKeyId=%d",
			ipc.KindRMDelegation, id.Owner, id.Renewer, id.RealUser, id.IssueDate, id.MaxDate, id.SequenceNumber, id.MasterKeyID)
	},
}

// clientMechanisms are the SASL methods of the client port: SIMPLE only
// when insecure (ClientRMService offers [TOKEN, SIMPLE], but the mini
// cluster issues no RM delegation tokens without Kerberos), else
// [TOKEN, KERBEROS].
func (r *ResourceManager) clientServerOptions() (ipc.ServerOptions, error) {
	sec := r.opts.Security
	if sec == nil {
		return ipc.ServerOptions{AllowSimple: true, Logger: r.opts.Logger}, nil
	}
	krb := &ipc.KerberosServerMechanism{Keytab: sec.Keytab, Principal: sec.Principal, QOPs: r.opts.QOPs}
	if err := krb.Validate(); err != nil {
		return ipc.ServerOptions{}, fmt.Errorf("minicluster: resourcemanager Kerberos: %w", err)
	}
	return ipc.ServerOptions{Logger: r.opts.Logger, Mechanisms: []ipc.ServerMechanism{
		&ipc.TokenServerMechanism{Secrets: r.rmTokens, QOPs: r.opts.QOPs}, krb}}, nil
}

// appUser is the YARN user of a client call: the short name of an
// authenticated principal or token owner, the SIMPLE user as sent.
func appUser(call *ipc.ServerCall) string {
	if call.AuthMethod == ipc.MethodSimple {
		return call.User
	}
	return delegation.ShortName(call.User)
}

// getDelegationToken is ClientRMService.getDelegationToken: only a
// Kerberos-authenticated caller gets an RM_DELEGATION_TOKEN, owned by its
// principal, renewable by the short name of the renewer it names.
func (r *ResourceManager) getDelegationToken(_ context.Context, call *ipc.ServerCall, req *commonpb.GetDelegationTokenRequestProto) (proto.Message, error) {
	if r.rmTokens == nil || call.AuthMethod != ipc.MethodKerberos {
		return nil, ipc.NewServerError(ipc.ClassIOException, "Delegation Token can be issued only with kerberos authentication")
	}
	tok := r.rmTokens.Create(call.User, delegation.ShortName(req.GetRenewer()), call.RealUser)
	return &commonpb.GetDelegationTokenResponseProto{Token: tok.Proto()}, nil
}

func (r *ResourceManager) renewDelegationToken(_ context.Context, call *ipc.ServerCall, req *commonpb.RenewDelegationTokenRequestProto) (proto.Message, error) {
	if r.rmTokens == nil || call.AuthMethod != ipc.MethodKerberos {
		return nil, ipc.NewServerError(ipc.ClassIOException, "Delegation Token can be renewed only with kerberos authentication")
	}
	exp, err := r.rmTokens.Renew(ipc.TokenFromProto(req.GetToken()), delegation.ShortName(call.User))
	if err != nil {
		return nil, err
	}
	return &commonpb.RenewDelegationTokenResponseProto{NewExpiryTime: proto.Uint64(uint64(exp))}, nil
}

func (r *ResourceManager) cancelDelegationToken(_ context.Context, call *ipc.ServerCall, req *commonpb.CancelDelegationTokenRequestProto) (proto.Message, error) {
	if r.rmTokens == nil || call.AuthMethod != ipc.MethodKerberos {
		return nil, ipc.NewServerError(ipc.ClassIOException, "Delegation Token can be cancelled only with kerberos authentication")
	}
	if err := r.rmTokens.Cancel(ipc.TokenFromProto(req.GetToken()), call.User, delegation.ShortName(call.User)); err != nil {
		return nil, err
	}
	return &commonpb.CancelDelegationTokenResponseProto{}, nil
}
