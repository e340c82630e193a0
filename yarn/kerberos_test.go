package yarn

import (
	"fmt"
	"testing"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/commonpb"
)

// Kerberos settings come from the configuration, with one GSSAPI
// mechanism per RM HA endpoint so that _HOST is each rm-id's host.
func TestKerberosFromConf(t *testing.T) {
	c := conf.New(conf.Options{})
	for k, v := range map[string]string{
		"hadoop.security.authentication":           "Kerberos",
		"hadoop.rpc.protection":                    "privacy,integrity",
		"yarn.resourcemanager.ha.enabled":          "true",
		"yarn.resourcemanager.ha.rm-ids":           "rm1,rm2",
		"yarn.resourcemanager.address.rm1":         "RM1.example.com:8032",
		"yarn.resourcemanager.address.rm2":         "rm2.example.com:8032",
		"yarn.resourcemanager.principal":           "rm/_HOST@EXAMPLE.COM",
		"yarn.resourcemanager.connect.max-wait.ms": "100",
	} {
		c.Set(k, v, conf.Source{})
	}
	o, err := RMOptionsFromConf(c)
	require.NoError(t, err)
	require.NotNil(t, o.Kerberos)
	require.Equal(t, "rm/_HOST@EXAMPLE.COM", o.Kerberos.ServerPrincipal)
	require.Equal(t, []string{ipc.QOPAuthConf, ipc.QOPAuthInt}, o.Kerberos.QOPs)

	_, err = NewRMClient(o)
	require.ErrorIs(t, err, ErrAuthentication, "no login")
	require.ErrorIs(t, err, ErrNoKerberosCredentials)
	require.ErrorContains(t, err, "no Kerberos credentials: hadoop.security.authentication is kerberos but there is no Kerberos login")
	require.NotContains(t, err.Error(), "--keytab", "flags are cmd's advice")

	o.Kerberos.Client = krb.NewWithKeytab("alice", "EXAMPLE.COM", keytab.New(), config.New())
	rm, err := NewRMClient(o)
	require.NoError(t, err)
	defer rm.Close()
	for i, host := range []string{"rm1.example.com", "rm2.example.com"} {
		m := o.Kerberos.mechanism(o.Endpoints[i].Addr).(*ipc.KerberosMechanism)
		require.Equal(t, host, m.Host)
		p, err := o.Kerberos.ServerPrincipalFor(o.Endpoints[i].Addr)
		require.NoError(t, err)
		require.Equal(t, "rm/"+host+"@EXAMPLE.COM", p)
	}
	require.Equal(t, "alice@EXAMPLE.COM", o.Kerberos.UserPrincipal())

	c.Set("yarn.resourcemanager.principal", "", conf.Source{})
	_, err = RMOptionsFromConf(c)
	require.ErrorIs(t, err, conf.ErrMissingKey)

	c.Set("hadoop.security.authentication", "simple", conf.Source{})
	o, err = RMOptionsFromConf(c)
	require.NoError(t, err)
	require.Nil(t, o.Kerberos)
}

// Authentication failures, local or remote, are never retried and match
// ErrAuthentication.
func TestAuthFailuresFailFast(t *testing.T) {
	for _, err := range []error{
		&ipc.ConnError{Addr: "a", Op: "handshake", Err: fmt.Errorf("%w: no ticket", ipc.ErrKerberos)},
		&ipc.ConnError{Addr: "a", Op: "handshake", Err: fmt.Errorf("%w: cannot authenticate", ipc.ErrSASL)},
		&ipc.ConnError{Addr: "a", Op: "sasl", Err: &ipc.RemoteError{Class: ipc.ClassSaslException, Fatal: true}},
		&ipc.ConnError{Addr: "a", Op: "read", Err: &ipc.RemoteError{Class: ipc.ClassAccessControl, Message: "SIMPLE authentication is not enabled.  Available:[TOKEN, KERBEROS]",
			Fatal: true, Code: int32(commonpb.RpcResponseHeaderProto_FATAL_UNAUTHORIZED)}},
	} {
		require.Equal(t, Fail, RetryDecision(err, mGetApplications), "%v", err)
		require.ErrorIs(t, mapError(err, "list"), ErrAuthentication, "%v", err)
	}
}
