package am

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/yarn"
)

// The AM's metrics pass client_golang's lint (promlint: base units,
// _total on counters, help text, no reserved suffixes), every one of
// them, with the token expiry set as after a login.
func TestMetricsLint(t *testing.T) {
	m := newMetrics()
	m.info.WithLabelValues("appattempt_1_0001_000001").Set(1)
	m.heartbeat.Observe(0.01)
	m.allocation.Observe(0.5)
	problems, err := testutil.GatherAndLint(m.reg)
	require.NoError(t, err)
	require.Empty(t, problems)
	n, err := testutil.GatherAndCount(m.reg, "spindle_am_token_refreshes_total")
	require.NoError(t, err)
	require.Equal(t, 2, n, "both results exist before the first refresh")
}

// The token expiry gauge has the tokens' earliest maximum date, leaving
// out tokens whose dates cannot be read, and 0 without any.
func TestTokenExpiryMetric(t *testing.T) {
	m := newMetrics()
	creds := &yarn.Credentials{}
	early, late := time.Unix(1_800_000_000, 0), time.Unix(1_900_000_000, 0)
	for i, maxDate := range []time.Time{late, early} {
		id := &ipc.DelegationTokenIdentifier{Owner: "alice", Renewer: "rm", IssueDate: time.Unix(1_700_000_000, 0).UnixMilli(),
			MaxDate: maxDate.UnixMilli(), SequenceNumber: int32(i + 1)}
		creds.AddToken(string(rune('a'+i)), &ipc.Token{Identifier: id.Marshal(), Password: []byte("p"), Kind: ipc.KindHDFSDelegation, Service: "nn:8020"})
	}
	creds.AddToken("other", &ipc.Token{Identifier: []byte{1}, Kind: "SOMETHING_ELSE"})
	m.setTokenExpiry(creds)
	require.Equal(t, float64(early.Unix()), testutil.ToFloat64(m.tokenExpiry))
	m.setTokenExpiry(&yarn.Credentials{})
	require.Equal(t, float64(0), testutil.ToFloat64(m.tokenExpiry))
}
