package yarn

import (
	"context"
	"fmt"
	"time"

	"github.com/spindle-yarn/spindle/ipc"
)

// DelegationTokenDates returns an HDFS or RM delegation token's issue date
// and maximum date (past which no renewal helps), from its identifier.
func DelegationTokenDates(tok *Token) (issue, maxDate time.Time, err error) {
	var id *ipc.DelegationTokenIdentifier
	switch tok.Kind {
	case ipc.KindHDFSDelegation:
		id, err = ipc.ParseDelegationTokenIdentifier(tok.Identifier)
	case ipc.KindRMDelegation:
		id, err = ParseRMDelegationTokenIdentifier(tok.Identifier)
	default:
		return issue, maxDate, fmt.Errorf("%w: %s is not a delegation token", ErrBadTokenIdentifier, tok.Kind)
	}
	if err != nil {
		return issue, maxDate, err
	}
	return time.UnixMilli(id.IssueDate), time.UnixMilli(id.MaxDate), nil
}

// DelegationTokenRenewInterval measures the NameNode's renew interval
// (dfs.namenode.delegation.token.renew-interval), which a token's
// identifier does not carry: it obtains a token renewable by the caller
// itself, renews it once, cancels it, and returns the new expiry minus the
// issue date. This is how Spark's HadoopFSDelegationTokenProvider learns
// when tokens need replacing. opts.Renewer is ignored.
func DelegationTokenRenewInterval(ctx context.Context, opts DelegationTokenOptions) (time.Duration, error) {
	if err := opts.Kerberos.validate("HDFS delegation token renew interval"); err != nil {
		return 0, err
	}
	opts.Renewer = opts.Kerberos.UserPrincipal()
	creds, err := ObtainDelegationTokens(ctx, opts)
	if err != nil {
		return 0, err
	}
	tok := creds.TokenOfKind(ipc.KindHDFSDelegation)
	if tok == nil {
		return 0, ErrNoDelegationToken
	}
	defer func() {
		if err := CancelDelegationToken(context.WithoutCancel(ctx), opts, tok); err != nil {
			opts.Logger.Warn().Str("component", "yarn").Err(err).Msg("could not cancel the probe delegation token; it expires on its own")
		}
	}()
	exp, err := RenewDelegationToken(ctx, opts, tok)
	if err != nil {
		return 0, err
	}
	issue, _, err := DelegationTokenDates(tok)
	if err != nil {
		return 0, err
	}
	if d := exp.Sub(issue); d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("yarn: the NameNode renewed a token issued at %s until %s", issue.UTC().Format(time.RFC3339Nano), exp.UTC().Format(time.RFC3339Nano))
}
