package ipc

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"
)

// SASL GSSAPI (RFC 4752) over Kerberos V5, the way the JDK runs it for
// Hadoop (hadoop-wire.md §3.5, §10):
//
//	C → INITIATE  GSS token: AP-REQ (mutual-required, subkey, seq-number, 0x8003 flags 0x3e)
//	S ← CHALLENGE GSS token: AP-REP (seq-number, no subkey)
//	C → RESPONSE  empty
//	S ← CHALLENGE wrap(layers offered | max buffer)      4 bytes, unsealed
//	C → RESPONSE  wrap(layer chosen | max buffer)        4 bytes, unsealed, no authzid
//	S ← SUCCESS   no token
//
// Every wrap token in both directions is keyed by the initiator's
// authenticator subkey (usage 24 initiator, 22 acceptor); each direction's
// SND_SEQ starts at the seq-number its side sent in the AP exchange.

// ErrKerberos wraps every Kerberos/GSSAPI authentication failure.
var ErrKerberos = errors.New("ipc: KERBEROS")

// Conditions of a Kerberos failure that the user can fix. A failure wraps
// ErrKerberos and at most one of these (test with errors.Is); its message
// states the condition in the condition's own words, followed by any fix
// that is a configuration key or file, never a command-line flag. A caller
// that knows how the login was made (cmd) adds its own advice after them.
var (
	// ErrNoKerberosCredentials means the client has no usable Kerberos
	// login: no ticket and no keytab.
	ErrNoKerberosCredentials = errors.New("no Kerberos credentials")
	// ErrTicketExpired means the client's ticket (from the ticket cache)
	// has expired and cannot be renewed.
	ErrTicketExpired = errors.New("the Kerberos ticket has expired")
	// ErrClientPrincipalUnknown means the KDC does not know the principal
	// the client logs in as (KDC_ERR_C_PRINCIPAL_UNKNOWN).
	ErrClientPrincipalUnknown = errors.New("the KDC does not know the client principal")
	// ErrKeytabNoKey means the client's keytab holds no key the KDC accepts
	// for the principal (KDC_ERR_PREAUTH_FAILED, or no matching entry).
	ErrKeytabNoKey = errors.New("the keytab has no valid key for the principal")
	// ErrKDCUnreachable means no KDC of the realm answered (krb5.conf).
	ErrKDCUnreachable = errors.New("cannot reach the KDC")
	// ErrServicePrincipalUnknown means the KDC does not know the server's
	// principal (KDC_ERR_S_PRINCIPAL_UNKNOWN): the configured server
	// principal or the host name used for _HOST is wrong.
	ErrServicePrincipalUnknown = errors.New("the KDC does not know this service principal")
	// ErrClockSkew means two clocks differ by more than the allowed skew:
	// this host's and the KDC's, or the client's and the server's.
	ErrClockSkew = errors.New("clock skew too great")
	// ErrServerPrincipal means the server's principal is not the one
	// configured (yarn.resourcemanager.principal,
	// dfs.namenode.kerberos.principal).
	ErrServerPrincipal = errors.New("server principal mismatch")
)

// SASL GSSAPI security layers (RFC 4752 §3.3) and their QOP names.
const (
	gssLayerNone      = 0x01
	gssLayerIntegrity = 0x02
	gssLayerPrivacy   = 0x04

	// gssMaxBuf is the receive buffer Java advertises (3 bytes, 65536).
	gssMaxBuf = 65536

	defaultMaxClockSkew = 5 * time.Minute
)

func qopLayerBit(q string) byte {
	switch q {
	case QOPAuth:
		return gssLayerNone
	case QOPAuthInt:
		return gssLayerIntegrity
	case QOPAuthConf:
		return gssLayerPrivacy
	}
	return 0
}

func layerBitQOP(b byte) string {
	switch b {
	case gssLayerNone:
		return QOPAuth
	case gssLayerIntegrity:
		return QOPAuthInt
	case gssLayerPrivacy:
		return QOPAuthConf
	}
	return ""
}

// ExpandPrincipal substitutes _HOST in a Hadoop server principal pattern
// such as "rm/_HOST@EXAMPLE.COM" with host, lower-cased, the way
// SecurityUtil.getServerPrincipal does. An empty host or 0.0.0.0 means the
// local host name. Pass the host name being dialled (Java uses its
// canonical name; this function does no DNS look-up). A principal without
// _HOST as its host component is returned unchanged.
func ExpandPrincipal(pattern, host string) (string, error) {
	svc, rest, ok := strings.Cut(pattern, "/")
	if !ok {
		return pattern, nil
	}
	h, realm, hasRealm := strings.Cut(rest, "@")
	if h != "_HOST" {
		return pattern, nil
	}
	if host == "" || host == "0.0.0.0" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("%w: substitute _HOST in %s: %w", ErrKerberos, pattern, err)
		}
	}
	out := svc + "/" + strings.ToLower(host)
	if hasRealm {
		out += "@" + realm
	}
	return out, nil
}

// principalString renders a principal name and realm as name/inst@REALM.
func principalString(pn types.PrincipalName, realm string) string {
	return pn.PrincipalNameString() + "@" + realm
}
