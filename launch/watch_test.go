package launch_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// TestWatchShortRunEmitsRunning: a per-job run that starts and ends
// between two reports still gets its running event, from the attempt's
// registration the final report keeps (host, and the JobManager's REST
// port as RPC port), before finished.
func TestWatchShortRunEmitsRunning(t *testing.T) {
	id := yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: 9}
	rm := yarntest.NewRM(t)
	var polls atomic.Int32
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		r := &yarnpb.ApplicationReportProto{ApplicationId: yarn.AppIDToProto(id), User: proto.String("alice"), Diagnostics: proto.String(""),
			YarnApplicationState: yarnpb.YarnApplicationStateProto_ACCEPTED.Enum(), FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_UNDEFINED.Enum(),
			Host: proto.String("N/A"), RpcPort: proto.Int32(-1)}
		if polls.Add(1) > 1 {
			r.YarnApplicationState = yarnpb.YarnApplicationStateProto_FINISHED.Enum()
			r.FinalApplicationStatus = yarnpb.FinalApplicationStatusProto_APP_SUCCEEDED.Enum()
			r.Host, r.RpcPort, r.OriginalTrackingUrl = proto.String("node1"), proto.Int32(34567), proto.String("http://node1:4000/")
		}
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: r}, nil
	}
	c, err := yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: rm.Addr(), Key: "yarn.resourcemanager.address"}}, User: "alice",
		Logger: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	defer c.Close()
	ctx := testutil.Context(t, 10*time.Second)
	var evs []launch.Event
	_, err = launch.Watch(ctx, launch.WatchOptions{RM: c, AM: &amapi.Client{}, ID: id, Until: launch.UntilEnd, Interval: time.Millisecond,
		Emit: func(e launch.Event) { evs = append(evs, e) }})
	require.NoError(t, err)
	var names []string
	for _, e := range evs {
		names = append(names, e.Event)
	}
	require.Equal(t, []string{launch.EventAccepted, launch.EventRunning, launch.EventFinished}, names)
	require.Equal(t, "node1:34567", evs[1].JobManagerRESTAddress)
	require.Equal(t, "http://node1:4000", evs[1].AMURL)
	require.Equal(t, "RUNNING", evs[1].State)
}
