package yarn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// ProtocolNameNode is the protocol name of ClientNamenodeProtocolPB
// (org.apache.hadoop.hdfs.protocol.ClientProtocol, version 1), which a
// submitter uses only to obtain HDFS delegation tokens (hadoop-wire.md §10).
const ProtocolNameNode = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// ErrNoDelegationToken is returned when a secure NameNode issues no token.
var ErrNoDelegationToken = errors.New("yarn: the NameNode issued no delegation token")

// DelegationTokenOptions says where and how to obtain the HDFS delegation
// token an application's containers use on a secure cluster.
type DelegationTokenOptions struct {
	// NameNodes are the NameNode RPC addresses (host:port) of the
	// filesystem, tried in order (HDFS HA: the standby refuses).
	NameNodes []string
	// Service is the token's service, which the RM's renewer and the
	// NodeManagers' localizers use to find the NameNode (hadoop-wire.md
	// §5.5): "ha-hdfs:<nameservice>" for an HA URI. Empty means
	// "<ip>:<port>" of the NameNode that issued it, its host resolved to an
	// IPv4 address where it has one (hadoop.security.token.service.use_ip).
	Service string
	// Renewer is the principal that may renew the token: the RM's
	// (yarn.resourcemanager.principal with _HOST replaced by the RM's host),
	// because YARN renews the application's tokens while it runs. The
	// NameNode stores its short name.
	Renewer string
	// Kerberos authenticates to the NameNode; its ServerPrincipal is
	// dfs.namenode.kerberos.principal. Nil means security is off: there is
	// no token to obtain.
	Kerberos *Kerberos
	// Dial opens connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger; the zero value logs nothing. Only the token's kind and
	// service are ever logged.
	Logger zerolog.Logger
}

// DelegationTokenOptionsFromConf fills DelegationTokenOptions for the HDFS
// filesystem fsURI ("" means fs.defaultFS): its NameNodes, the
// ha-hdfs:<ns> service of an HA nameservice, the renewer from
// yarn.resourcemanager.principal and the first RM address (as
// YarnClientUtils.getRmPrincipal), and, when
// hadoop.security.authentication is kerberos, Kerberos with
// dfs.namenode.kerberos.principal (Client left for the caller). It is
// pure: it reads no files or environment and resolves no names.
func DelegationTokenOptionsFromConf(c *conf.Configuration, fsURI string) (DelegationTokenOptions, error) {
	var o DelegationTokenOptions
	sec, err := c.Security()
	if err != nil {
		return o, err
	}
	nns, err := c.NameNodes(fsURI)
	if err != nil {
		return o, err
	}
	for _, nn := range nns {
		o.NameNodes = append(o.NameNodes, nn.Address)
	}
	if len(nns) > 0 && nns[0].NameService != "" {
		o.Service = "ha-hdfs:" + nns[0].NameService
	}
	if o.Kerberos, err = kerberosFromConf(sec, sec.NameNodePrincipal, conf.KeyNameNodePrincipal); err != nil || o.Kerberos == nil {
		return o, err
	}
	o.Renewer, err = TokenRenewer(c)
	return o, err
}

// TokenRenewer is the renewer of an application's delegation tokens: the
// RM's principal (yarn.resourcemanager.principal, _HOST replaced by the
// first RM address's host, as YarnClientUtils.getRmPrincipal), because
// YARN renews the application's tokens while it runs.
func TokenRenewer(c *conf.Configuration) (string, error) {
	sec, err := c.Security()
	if err != nil {
		return "", err
	}
	if sec.RMPrincipal == "" {
		return "", &conf.ValueError{Key: conf.KeyRMPrincipal, Err: conf.ErrMissingKey,
			Msg: "needed as the renewer of the application's delegation tokens (set it to the RM's principal, e.g. rm/_HOST@REALM)"}
	}
	rms, err := c.RMAddresses(conf.RMClient)
	if err != nil {
		return "", err
	}
	host := ""
	if len(rms) > 0 {
		host, _, _ = net.SplitHostPort(rms[0].Address)
	}
	return ipc.ExpandPrincipal(sec.RMPrincipal, host)
}

// ObtainDelegationTokens gets an HDFS delegation token from the NameNode
// over Kerberos, renewable by opts.Renewer, sets its service and returns
// it in credentials under alias = service, ready for the AM's
// ContainerLaunchContext.Tokens. With opts.Kerberos nil (security off) it
// returns empty credentials: an insecure cluster needs no token.
func ObtainDelegationTokens(ctx context.Context, opts DelegationTokenOptions) (*ipc.Credentials, error) {
	creds := &ipc.Credentials{}
	if opts.Kerberos == nil {
		return creds, nil
	}
	if err := opts.Kerberos.validate("HDFS delegation token"); err != nil {
		return nil, err
	}
	if len(opts.NameNodes) == 0 {
		return nil, errors.New("yarn: HDFS delegation token: no NameNode address (set fs.defaultFS)")
	}
	if opts.Renewer == "" {
		return nil, errors.New("yarn: HDFS delegation token: no renewer (set yarn.resourcemanager.principal)")
	}
	var resp commonpb.GetDelegationTokenResponseProto
	addr, err := callNameNodes(ctx, opts, "getDelegationToken", &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String(opts.Renewer)}, &resp)
	if err != nil {
		return nil, err
	}
	if resp.Token == nil {
		return nil, fmt.Errorf("%w (NameNode %s; is security on there?)", ErrNoDelegationToken, addr)
	}
	tok := ipc.TokenFromProto(resp.GetToken())
	if tok.Service = opts.Service; tok.Service == "" {
		if tok.Service, err = tokenServiceOf(ctx, addr); err != nil {
			return nil, err
		}
	}
	creds.AddToken(tok.Service, tok)
	opts.Logger.Info().Str("component", "yarn").Object("token", tok).Str("renewer", opts.Renewer).Msg("HDFS delegation token obtained")
	return creds, nil
}

// RenewDelegationToken asks the NameNode to extend tok's life and returns
// its new expiry. Only the token's renewer may (the RM, for the tokens of
// its applications), authenticated with Kerberos.
func RenewDelegationToken(ctx context.Context, opts DelegationTokenOptions, tok *ipc.Token) (time.Time, error) {
	if err := opts.Kerberos.validate("renew HDFS delegation token"); err != nil {
		return time.Time{}, err
	}
	var resp commonpb.RenewDelegationTokenResponseProto
	if _, err := callNameNodes(ctx, opts, "renewDelegationToken", &commonpb.RenewDelegationTokenRequestProto{Token: tok.Proto()}, &resp); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(resp.GetNewExpiryTime())), nil
}

// CancelDelegationToken revokes tok (its owner or renewer may).
func CancelDelegationToken(ctx context.Context, opts DelegationTokenOptions, tok *ipc.Token) error {
	if err := opts.Kerberos.validate("cancel HDFS delegation token"); err != nil {
		return err
	}
	_, err := callNameNodes(ctx, opts, "cancelDelegationToken", &commonpb.CancelDelegationTokenRequestProto{Token: tok.Proto()}, &commonpb.CancelDelegationTokenResponseProto{})
	return err
}

// DeleteWithToken removes path (recursively) on the NameNodes of opts,
// authenticating with tok, an HDFS delegation token (SASL TOKEN, in the
// QOPs of opts.Kerberos when set), as a process in a YARN container can:
// an AM without a Kerberos login removes its staging directory this way.
// A path that does not exist is not an error.
func DeleteWithToken(ctx context.Context, opts DelegationTokenOptions, tok *Token, path string) error {
	if tok == nil || tok.Kind != KindHDFSDelegation {
		return errors.New("yarn: DeleteWithToken needs an HDFS_DELEGATION_TOKEN")
	}
	var qops []string
	if opts.Kerberos != nil {
		qops = opts.Kerberos.QOPs
	}
	mech := func(string) []ipc.ClientMechanism {
		return []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok, QOPs: qops}}
	}
	_, err := callNameNodesWith(ctx, opts, "", mech, "delete", &hdfspb.DeleteRequestProto{Src: proto.String(path), Recursive: proto.Bool(true)},
		&hdfspb.DeleteResponseProto{})
	return err
}

// callNameNodes sends one call to the first NameNode that answers as
// active, authenticating with Kerberos, and returns its address.
func callNameNodes(ctx context.Context, opts DelegationTokenOptions, method string, req, resp proto.Message) (string, error) {
	mech := func(addr string) []ipc.ClientMechanism { return withKerberos(nil, opts.Kerberos, addr) }
	return callNameNodesWith(ctx, opts, opts.Kerberos.UserPrincipal(), mech, method, req, resp)
}

// callNameNodesWith is callNameNodes with the user and mechanisms given.
func callNameNodesWith(ctx context.Context, opts DelegationTokenOptions, user string, mech func(addr string) []ipc.ClientMechanism,
	method string, req, resp proto.Message) (string, error) {
	var errs []error
	for _, addr := range opts.NameNodes {
		c, err := ipc.NewClient(ipc.Options{Addr: addr, Peer: ipc.PeerNameNode, Protocol: ProtocolNameNode, User: user,
			Mechanisms: mech(addr), Dial: opts.Dial, Logger: opts.Logger})
		if err != nil {
			return "", err
		}
		err = c.Call(ctx, method, req, resp)
		_ = c.Close()
		if err == nil {
			return addr, nil
		}
		err = mapError(err, "yarn: %s from NameNode %s", method, addr)
		if isAuthFailure(err) || ctx.Err() != nil {
			return "", err
		}
		errs = append(errs, err)
		var ce *ipc.ConnError
		if !ipc.IsRemoteClass(err, ipc.ClassStandbyException) && !(errors.As(err, &ce) && ce.Op == "dial") {
			return "", err
		}
	}
	return "", errors.Join(errs...)
}

// tokenServiceOf is SecurityUtil.buildTokenService with use_ip: the
// server's IP (IPv4 preferred, as Hadoop runs with preferIPv4Stack) and
// port.
func tokenServiceOf(ctx context.Context, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("yarn: server address %q: %w", addr, err)
	}
	if net.ParseIP(host) != nil {
		return net.JoinHostPort(host, port), nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return "", fmt.Errorf("yarn: resolve host %s for the token service: %w", host, err)
	}
	ip := ips[0].IP
	for _, a := range ips {
		if a.IP.To4() != nil {
			ip = a.IP
			break
		}
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// ParseRMDelegationTokenIdentifier decodes the identifier of an
// RM_DELEGATION_TOKEN (the raw YARNDelegationTokenIdentifierProto) into
// the fields HDFS's Writable identifier has too.
func ParseRMDelegationTokenIdentifier(b []byte) (*ipc.DelegationTokenIdentifier, error) {
	var p yarnpb.YARNDelegationTokenIdentifierProto
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: RM_DELEGATION_TOKEN: %w", ErrBadTokenIdentifier, err)
	}
	return &ipc.DelegationTokenIdentifier{Owner: p.GetOwner(), Renewer: p.GetRenewer(), RealUser: p.GetRealUser(),
		IssueDate: p.GetIssueDate(), MaxDate: p.GetMaxDate(), SequenceNumber: p.GetSequenceNumber(), MasterKeyID: p.GetMasterKeyId()}, nil
}
