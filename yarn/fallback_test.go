package yarn

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
)

// ipc.client.fallback-to-simple-auth-allowed reaches the RM and AMRM
// clients; without it a secure client refuses a SIMPLE-only RM with
// ErrAuthentication, at once.
func TestFallbackToSimpleFromConf(t *testing.T) {
	c := conf.New(conf.Options{})
	c.Set("yarn.resourcemanager.address", "rm:8032", conf.Source{})
	o, err := RMOptionsFromConf(c)
	require.NoError(t, err)
	require.False(t, o.FallbackToSimpleAllowed)
	a, err := AMRMOptionsFromConf(c)
	require.NoError(t, err)
	require.False(t, a.FallbackToSimpleAllowed)
	c.Set("ipc.client.fallback-to-simple-auth-allowed", "TRUE", conf.Source{})
	o, err = RMOptionsFromConf(c)
	require.NoError(t, err)
	require.True(t, o.FallbackToSimpleAllowed)
	a, err = AMRMOptionsFromConf(c)
	require.NoError(t, err)
	require.True(t, a.FallbackToSimpleAllowed)

	srv := ipc.NewServer(ipc.ServerOptions{AllowSimple: true}) // answers NEGOTIATE with SUCCESS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	tok := &ipc.Token{Identifier: []byte("id"), Password: []byte("pw"), Kind: ipc.KindRMDelegation}
	rm, err := NewRMClient(RMOptions{Endpoints: []Endpoint{{Addr: l.Addr().String()}}, User: "alice",
		Mechanisms: []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok}}, Retry: RetryPolicy{MaxWait: 10 * time.Second}})
	require.NoError(t, err)
	defer rm.Close()
	start := time.Now()
	_, err = rm.GetClusterMetrics(testutil.Context(t, 20*time.Second))
	require.ErrorIs(t, err, ErrAuthentication)
	require.ErrorIs(t, err, ipc.ErrFallbackToSimple)
	require.Less(t, time.Since(start), 5*time.Second, "not retried")
}
