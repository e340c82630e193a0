package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// The libraries name what is wrong and which configuration key to fix; only
// cmd knows the flags a user passes. advice is the one table from a
// library condition to what the user can do about it on the command line.
// A condition the libraries' own words already fix fully (an unreachable
// KDC, clock skew, a mismatched server principal) needs no row.

// adviceLogin is how to get a Kerberos login: a ticket cache or a keytab.
const adviceLogin = "run kinit, or pass --keytab and --principal"

var advice = []struct {
	conds  []error // any of these (errors.Is); their text is the condition's words
	advice string
}{
	{[]error{yarn.ErrNoKerberosCredentials, hdfs.ErrNoKerberosCredentials}, adviceLogin},
	{[]error{yarn.ErrTicketExpired}, adviceLogin},
	{[]error{yarn.ErrClientPrincipalUnknown}, "check --principal"},
	{[]error{yarn.ErrKeytabNoKey}, "check --principal and --keytab"},
	{[]error{yarn.ErrServerRequiresKerberos}, "then kinit or pass --keytab and --principal"},
	{[]error{hdfs.ErrKerberosRefused}, "and the Kerberos login: " + adviceLogin},
	{[]error{yarn.ErrUnreachable}, "--rm-timeout waits longer"},
}

// errorMessage is err's message with the advice for each condition err
// wraps placed right after the condition's words: "<condition> (<advice>)",
// or "<condition> (<library's hint>, <advice>)" when the library already
// gave a hint in parentheses there. Whether advice applies is decided with
// errors.Is; the message text only says where it goes.
func errorMessage(err error) string {
	msg := err.Error()
	for _, a := range advice {
		for _, c := range a.conds {
			if errors.Is(err, c) {
				msg = insertAdvice(msg, c.Error(), a.advice)
				break
			}
		}
	}
	var uc *launch.UnconfirmedError
	if errors.As(err, &uc) {
		msg += fmt.Sprintf("; check `spindle app status %s`; `spindle app kill %s` and `spindle gc` clean up", uc.ID, uc.ID)
	}
	return msg
}

// insertAdvice adds advice after every occurrence of cond in msg.
func insertAdvice(msg, cond, advice string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, cond)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		i += len(cond)
		b.WriteString(msg[:i])
		msg = msg[i:]
		if strings.HasPrefix(msg, " (") {
			if j := strings.IndexByte(msg, ')'); j > 0 {
				b.WriteString(msg[:j] + ", " + advice)
				msg = msg[j:]
				continue
			}
		}
		b.WriteString(" (" + advice + ")")
	}
}
