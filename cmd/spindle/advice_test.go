package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// Each library condition gets its flag advice right after its words, in
// the words the CLI has always printed.
func TestErrorMessageAdvice(t *testing.T) {
	cause := errors.New("[Root cause: KDC_Error] detail")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no credentials", fmt.Errorf("%w: RM client: %w: hadoop.security.authentication is kerberos but there is no Kerberos login", yarn.ErrAuthentication, yarn.ErrNoKerberosCredentials),
			"yarn: authentication failed: RM client: no Kerberos credentials (run kinit, or pass --keytab and --principal): hadoop.security.authentication is kerberos but there is no Kerberos login"},
		{"hdfs no credentials", fmt.Errorf("%w: %w: x", hdfs.ErrAuthentication, hdfs.ErrNoKerberosCredentials),
			"hdfs: authentication failed: no Kerberos credentials (run kinit, or pass --keytab and --principal): x"},
		{"library hint kept", fmt.Errorf("ipc: KERBEROS: %w (no ticket and no keytab): %w", yarn.ErrNoKerberosCredentials, cause),
			"no Kerberos credentials (no ticket and no keytab, run kinit, or pass --keytab and --principal): [Root cause"},
		{"expired ticket", fmt.Errorf("get a service ticket: %w: %w", yarn.ErrTicketExpired, cause),
			"the Kerberos ticket has expired (run kinit, or pass --keytab and --principal): [Root cause"},
		{"unknown client principal", fmt.Errorf("%w: %w", yarn.ErrClientPrincipalUnknown, cause),
			"the KDC does not know the client principal (check --principal): [Root cause"},
		{"keytab without the key", fmt.Errorf("%w (re-export it): %w", yarn.ErrKeytabNoKey, cause),
			"the keytab has no valid key for the principal (re-export it, check --principal and --keytab): [Root cause"},
		{"server requires Kerberos", fmt.Errorf("%w: %w (set hadoop.security.authentication=kerberos in core-site.xml): %w", yarn.ErrAuthentication, yarn.ErrServerRequiresKerberos, cause),
			"the server requires Kerberos (set hadoop.security.authentication=kerberos in core-site.xml, then kinit or pass --keytab and --principal): [Root cause"},
		{"NameNode refused", fmt.Errorf("%w: connect: %w (check dfs.namenode.kerberos.principal nn/_HOST): %w", hdfs.ErrAuthentication, hdfs.ErrKerberosRefused, cause),
			"the NameNode refused the Kerberos login (check dfs.namenode.kerberos.principal nn/_HOST, and the Kerberos login: run kinit, or pass --keytab and --principal)"},
		{"through launch problems", func() error {
			var p launch.Problems
			p.Add(launch.Input, "bad -tm")
			err := fmt.Errorf("%w: %w", yarn.ErrTicketExpired, cause)
			p.List = append(p.List, launch.Problem{Kind: launch.Auth, Msg: err.Error(), Err: err})
			return p.Err()
		}(), "the Kerberos ticket has expired (run kinit, or pass --keytab and --principal): [Root cause"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Contains(t, errorMessage(tc.err), tc.want)
			require.Equal(t, 1, strings.Count(errorMessage(tc.err), "--principal"), "advice given once")
		})
	}

	// No condition, or a condition whose words need no flags: unchanged.
	for _, err := range []error{
		errors.New("the KDC does not know the client principal"), // the words alone are not the condition
		fmt.Errorf("%w (check the kdc entries of the realm in krb5.conf): %w", yarn.ErrKDCUnreachable, cause),
		fmt.Errorf("%w: server has Kerberos principal a, expecting b", yarn.ErrServerPrincipal),
		fmt.Errorf("%w between this host and the KDC: %w", yarn.ErrClockSkew, cause),
	} {
		require.Equal(t, err.Error(), errorMessage(err))
	}
}

// A submission the RM took without confirming its acceptance exits 9, not
// its cause's code (4 invites a resubmit that could run it twice), and the
// message says what to run about the application.
func TestUnconfirmedSubmitExitAndAdvice(t *testing.T) {
	id := yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: 3}
	err := fmt.Errorf("start: %w", &launch.UnconfirmedError{ID: id, StagingDir: "hdfs://nn/user/a/.spindle/" + id.String(),
		Err: fmt.Errorf("%w: %w", yarn.ErrNotConfirmed, yarn.ErrUnreachable)})
	require.Equal(t, exitUnconfirmed, exitCode(err))
	msg := errorMessage(err)
	require.Contains(t, msg, id.String()+" was submitted but its acceptance could not be confirmed")
	require.Contains(t, msg, "check `spindle app status "+id.String()+"`; `spindle app kill "+id.String()+"` and `spindle gc` clean up")
}
