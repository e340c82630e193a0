package yarn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Kerberos configures SASL KERBEROS (GSSAPI) authentication to a Hadoop
// service: the ResourceManager's client port (RMOptions.Kerberos) or a
// NameNode (DelegationTokenOptions.Kerberos). Logging in is the caller's
// job (cmd makes the client from a keytab or a ticket cache); the client
// asks it for a service ticket each time a connection authenticates. The
// caller owns Client and destroys it when done.
type Kerberos struct {
	// Client is the gokrb5 client, logged in or able to log in (keytab).
	// Required.
	Client *krb.Client
	// ServerPrincipal is the configured principal pattern of the server,
	// e.g. "rm/_HOST@EXAMPLE.COM" (yarn.resourcemanager.principal) or
	// "nn/_HOST@EXAMPLE.COM" (dfs.namenode.kerberos.principal). _HOST is
	// replaced with the host name of each address dialled (per rm-id with
	// RM HA). Required: like Hadoop, the client refuses a server whose
	// advertised principal differs.
	ServerPrincipal string
	// QOPs is the SASL QOP preference from hadoop.rpc.protection ("auth",
	// "auth-int", "auth-conf"); empty takes the strongest the server offers.
	QOPs []string
	// CanonicalHost, if set, maps the host of an address to the name that
	// replaces _HOST. Nil uses the host as configured, lower-cased, and
	// for an IP address its reverse DNS name, as Java's
	// InetAddress.getCanonicalHostName does.
	CanonicalHost func(host string) string
}

// Conditions of a Kerberos failure, for errors.Is on the errors of the
// clients here (which also match ErrAuthentication). Each is stated in its
// own words in the message, followed by any configuration key to fix;
// advice about how to log in is the caller's (cmd's) to add. The first
// seven are package ipc's sentinels, re-exported.
var (
	ErrNoKerberosCredentials   = ipc.ErrNoKerberosCredentials   // no ticket and no keytab
	ErrTicketExpired           = ipc.ErrTicketExpired           // the ticket cache's ticket expired
	ErrClientPrincipalUnknown  = ipc.ErrClientPrincipalUnknown  // the KDC does not know the user's principal
	ErrKeytabNoKey             = ipc.ErrKeytabNoKey             // the keytab has no valid key for the principal
	ErrKDCUnreachable          = ipc.ErrKDCUnreachable          // no KDC of the realm answered
	ErrClockSkew               = ipc.ErrClockSkew               // this host's clock is off
	ErrServerPrincipal         = ipc.ErrServerPrincipal         // the server is not yarn.resourcemanager.principal (or the NameNode's)
	ErrServicePrincipalUnknown = ipc.ErrServicePrincipalUnknown // the KDC does not know the server's principal
	// ErrServerRequiresKerberos means the server refused SIMPLE
	// authentication: hadoop.security.authentication must be kerberos.
	ErrServerRequiresKerberos = errors.New("the server requires Kerberos")
)

// kerberosFromConf returns the Kerberos settings for a server whose
// principal pattern is principal (the value of principalKey) when
// hadoop.security.authentication is kerberos, and nil otherwise. Client is
// left for the caller to fill. It is pure.
func kerberosFromConf(sec conf.Security, principal, principalKey string) (*Kerberos, error) {
	if sec.Authentication != conf.AuthKerberos {
		return nil, nil
	}
	if principal == "" {
		return nil, &conf.ValueError{Key: principalKey, Err: conf.ErrMissingKey,
			Msg: fmt.Sprintf("%s=kerberos, but %s is not set (set it to the server's principal, e.g. rm/_HOST@REALM)", conf.KeySecurityAuthentication, principalKey)}
	}
	k := &Kerberos{ServerPrincipal: principal}
	for _, q := range sec.Protection {
		k.QOPs = append(k.QOPs, q.SASL())
	}
	return k, nil
}

func (k *Kerberos) validate(what string) error {
	if k == nil || k.Client == nil || k.Client.Credentials == nil {
		return fmt.Errorf("%w: %s: %w: hadoop.security.authentication is kerberos but there is no Kerberos login",
			ErrAuthentication, what, ErrNoKerberosCredentials)
	}
	if k.ServerPrincipal == "" {
		return fmt.Errorf("yarn: %s: Kerberos.ServerPrincipal is empty", what)
	}
	return nil
}

// UserPrincipal is the client's principal, user@REALM: the effective user a
// Kerberos client sends in its connection context (as Java does).
func (k *Kerberos) UserPrincipal() string {
	if k == nil || k.Client == nil || k.Client.Credentials == nil {
		return ""
	}
	c := k.Client.Credentials
	return c.CName().PrincipalNameString() + "@" + c.Domain()
}

// mechanism is the GSSAPI client mechanism for one server address.
func (k *Kerberos) mechanism(addr string) ipc.ClientMechanism {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	canon := k.CanonicalHost
	if canon == nil {
		canon = canonicalHost
	}
	return &ipc.KerberosMechanism{Client: k.Client, ServerPrincipal: k.ServerPrincipal, Host: canon(host), QOPs: k.QOPs}
}

// ServerPrincipalFor is the server principal for the server at addr
// (host:port) with _HOST substituted, e.g. "rm/rm1.example.com@EXAMPLE.COM".
// A pattern without a realm is returned without one.
func (k *Kerberos) ServerPrincipalFor(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	canon := k.CanonicalHost
	if canon == nil {
		canon = canonicalHost
	}
	return ipc.ExpandPrincipal(k.ServerPrincipal, canon(host))
}

// canonicalHost lower-cases a host name; an IP address becomes its reverse
// DNS name when there is one (Java's getCanonicalHostName).
func canonicalHost(host string) string {
	if net.ParseIP(host) == nil {
		return strings.ToLower(host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, host)
	if err != nil || len(names) == 0 {
		return host
	}
	return strings.ToLower(strings.TrimSuffix(names[0], "."))
}

// withKerberos appends the GSSAPI mechanism for addr to mechs.
func withKerberos(mechs []ipc.ClientMechanism, k *Kerberos, addr string) []ipc.ClientMechanism {
	if k == nil {
		return mechs
	}
	return append(append([]ipc.ClientMechanism(nil), mechs...), k.mechanism(addr))
}

// isAuthFailure reports whether err is a failure to authenticate: a local
// Kerberos or SASL failure, or the server refusing the exchange. Such
// errors are never retried: another attempt fails the same way.
func isAuthFailure(err error) bool {
	if errors.Is(err, ipc.ErrKerberos) || errors.Is(err, ipc.ErrSASL) || errors.Is(err, ipc.ErrDigest) {
		return true
	}
	var ce *ipc.ConnError
	if errors.As(err, &ce) && ce.Op == "sasl" {
		return true
	}
	var re *ipc.RemoteError
	return errors.As(err, &re) && re.Fatal && re.Code == int32(commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED)
}

// authError wraps an authentication failure so that it matches
// ErrAuthentication, naming the condition and the configuration key of the
// usual server-side refusals.
func authError(err error) error {
	var re *ipc.RemoteError
	if errors.As(err, &re) && re.Class == ipc.ClassAccessControl && strings.Contains(re.Message, "SIMPLE authentication is not enabled") {
		return fmt.Errorf("%w: %w (set hadoop.security.authentication=kerberos in core-site.xml): %w", ErrAuthentication, ErrServerRequiresKerberos, err)
	}
	return fmt.Errorf("%w: %w", ErrAuthentication, err)
}
