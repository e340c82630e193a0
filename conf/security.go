package conf

import "strings"

// AuthMethod is a value of hadoop.security.authentication.
type AuthMethod string

// The authentication methods Hadoop accepts for hadoop.security.authentication.
const (
	// AuthSimple trusts the user name the client sends (the default).
	AuthSimple AuthMethod = "simple"
	// AuthKerberos requires Kerberos (SASL GSSAPI) to the RM and NameNode.
	AuthKerberos AuthMethod = "kerberos"
)

// QOP is one element of hadoop.rpc.protection (Hadoop's
// SaslRpcServer.QualityOfProtection).
type QOP string

// The protection levels, from weakest to strongest.
const (
	// QOPAuthentication authenticates only (SASL "auth").
	QOPAuthentication QOP = "authentication"
	// QOPIntegrity adds integrity protection (SASL "auth-int").
	QOPIntegrity QOP = "integrity"
	// QOPPrivacy adds encryption (SASL "auth-conf").
	QOPPrivacy QOP = "privacy"
)

// SASL returns the SASL qop token for q: "auth", "auth-int" or "auth-conf",
// or "" if q is not one of the constants.
func (q QOP) SASL() string {
	switch q {
	case QOPAuthentication:
		return "auth"
	case QOPIntegrity:
		return "auth-int"
	case QOPPrivacy:
		return "auth-conf"
	}
	return ""
}

// Security is the security configuration of a client.
type Security struct {
	// Authentication is hadoop.security.authentication (default simple).
	Authentication AuthMethod
	// Protection is hadoop.rpc.protection in configured order (default
	// [authentication]). The SASL client offers these, in this order.
	Protection []QOP
	// RMPrincipal is yarn.resourcemanager.principal, possibly with a _HOST
	// component, or "" if unset.
	RMPrincipal string
	// NameNodePrincipal is dfs.namenode.kerberos.principal, or "" if unset.
	NameNodePrincipal string
	// FallbackToSimpleAuthAllowed is
	// ipc.client.fallback-to-simple-auth-allowed (default false): a client
	// with Kerberos or a token accepts a server that skips authentication.
	FallbackToSimpleAuthAllowed bool
}

// Security reads and validates the security keys. Like Hadoop's
// SecurityUtil.getAuthenticationMethod and SaslPropertiesResolver, the
// authentication method and protection levels are matched without regard
// to case; anything else is a *ValueError wrapping ErrInvalidValue.
// Principals are returned trimmed and otherwise unvalidated; _HOST
// substitution needs the server's host name and happens at connect time.
func (c *Configuration) Security() (Security, error) {
	var s Security
	v, src, ok, err := c.lookupTrimmed(KeySecurityAuthentication)
	if err != nil {
		return s, err
	}
	switch {
	case !ok || strings.EqualFold(v, string(AuthSimple)):
		s.Authentication = AuthSimple
	case strings.EqualFold(v, string(AuthKerberos)):
		s.Authentication = AuthKerberos
	default:
		return s, invalid(KeySecurityAuthentication, src, "invalid authentication method %s (want simple or kerberos)", quote(v))
	}

	qops, err := c.GetStrings(KeyRPCProtection, []string{string(QOPAuthentication)})
	if err != nil {
		return s, err
	}
	if len(qops) == 0 {
		src, _ := c.SourceOf(KeyRPCProtection)
		return s, invalid(KeyRPCProtection, src, "empty (want a list of authentication, integrity, privacy)")
	}
	for _, q := range qops {
		qop := QOP(strings.ToLower(q))
		if qop.SASL() == "" {
			src, _ := c.SourceOf(KeyRPCProtection)
			return s, invalid(KeyRPCProtection, src, "invalid protection %s (want authentication, integrity or privacy)", quote(q))
		}
		s.Protection = append(s.Protection, qop)
	}

	if s.RMPrincipal, _, _, err = c.lookupTrimmed(KeyRMPrincipal); err != nil {
		return s, err
	}
	if s.NameNodePrincipal, _, _, err = c.lookupTrimmed(KeyNameNodePrincipal); err != nil {
		return s, err
	}
	if s.FallbackToSimpleAuthAllowed, err = c.GetBool(KeyFallbackToSimpleAuthAllowed, false); err != nil {
		return s, err
	}
	return s, nil
}
