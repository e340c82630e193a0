package amapi_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// TestLocatorBacksOff: while the RM has no running AM to name, a Locator
// asks it once per backoff (not once per call) and logs the failure once;
// ErrBackingOff answers in between. Once the AM is back it names it, and
// says so once.
func TestLocatorBacksOff(t *testing.T) {
	ctx := testutil.Context(t, 20*time.Second)
	app := yarn.ApplicationID{ClusterTimestamp: 1, ID: 7}
	var calls atomic.Int32
	var running atomic.Bool
	rm := yarntest.NewRM(t)
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		calls.Add(1)
		r := &yarnpb.ApplicationReportProto{ApplicationId: yarn.AppIDToProto(app), User: proto.String("alice"),
			YarnApplicationState: yarnpb.YarnApplicationStateProto_ACCEPTED.Enum(), FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_UNDEFINED.Enum(),
			CurrentApplicationAttemptId: yarn.AttemptIDToProto(yarn.AttemptID{App: app, Attempt: 2})}
		if running.Load() {
			r.YarnApplicationState = yarnpb.YarnApplicationStateProto_RUNNING.Enum()
			r.OriginalTrackingUrl = proto.String("http://node2:4000/")
		}
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: r}, nil
	}
	var logs testutil.Buffer
	l := &amapi.Locator{App: app, Logger: zerolog.New(&logs),
		RM: func() (*yarn.RMClient, error) {
			return yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: rm.Addr(), Key: "yarn.resourcemanager.address"}}, User: "alice"})
		}}
	defer l.Close()
	for range 20 {
		_, _, err := l.AM(ctx)
		require.ErrorIs(t, err, amapi.ErrNoAM)
	}
	require.EqualValues(t, 1, calls.Load(), "one look-up within the first backoff")
	_, _, err := l.AM(ctx)
	var be *amapi.BackoffError
	require.True(t, errors.As(err, &be))
	require.WithinDuration(t, time.Now().Add(500*time.Millisecond), be.Until, 200*time.Millisecond, "first backoff 500 ms ±20%")
	require.Equal(t, 1, strings.Count(logs.String(), "cannot locate the application's AM"))

	running.Store(true)
	require.Eventually(t, func() bool {
		u, att, err := l.AM(ctx)
		return err == nil && u == "http://node2:4000" && att.Attempt == 2
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, strings.Count(logs.String(), "cannot locate the application's AM"), "the same failure is logged once")
	require.Contains(t, logs.String(), "can be located again")
}
