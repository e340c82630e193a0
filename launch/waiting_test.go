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

// Diagnostics as Hadoop 3.3.6's CapacityScheduler words them
// (SchedulerApplicationAttempt.updateAMContainerDiagnostics with
// FiCaSchedulerApp's details). activatedFixture is from the real capture
// in ../shared/fixtures/hadoop-3.3.6/distshell-run/client-rm.txt;
// queueAMLimit is what a real Hadoop 3.1.3 RM said (see
// minicluster.TestAMResourceLimitAsARealRM); the others follow the same
// sources with other numbers.
const (
	activatedFixture = "[Sun Nov 22 03:14:54 +0000 2026] Application is Activated, waiting for resources to be assigned for AM.  Details : " +
		"AM Partition = <DEFAULT_PARTITION> ; Partition Resource = <memory:8192, vCores:8> ; Queue's Absolute capacity = 100.0 % ; " +
		"Queue's Absolute used capacity = 0.0 % ; Queue's Absolute max capacity = 100.0 % ; Queue's capacity (absolute resource) = <memory:8192, vCores:8> ; " +
		"Queue's used capacity (absolute resource) = <memory:0, vCores:0> ; Queue's max capacity (absolute resource) = <memory:8192, vCores:8> ; "
	queueAMLimit = "[Sun Nov 22 03:20:01 +0000 2026] Application is added to the scheduler and is not yet activated. Queue's AM resource limit exceeded.  " +
		"Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = <memory:512, vCores:1>; Queue Resource Limit for AM = <memory:896, vCores:1>; " +
		"User AM Resource Limit of the queue = <memory:896, vCores:1>; Queue AM Resource Usage = <memory:512, vCores:1>; "
	userAMLimit = "[Sun Nov 22 03:20:01 +0000 2026] Application is added to the scheduler and is not yet activated. User's AM resource limit exceeded.  " +
		"Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = <memory:1024, vCores:1>; Queue Resource Limit for AM = <memory:2048, vCores:1>; " +
		"User AM Resource Limit of the queue = <memory:1024, vCores:1>; Queue AM Resource Usage = <memory:1024, vCores:1>; "
	clusterEmpty = "[Sun Nov 22 03:20:01 +0000 2026] Application is added to the scheduler and is not yet activated. Skipping AM assignment as cluster resource is empty.  " +
		"Details : AM Partition = <DEFAULT_PARTITION>; AM Resource Request = <memory:1024, vCores:1>; Queue Resource Limit for AM = <memory:0, vCores:0>; " +
		"User AM Resource Limit of the queue = <memory:0, vCores:0>; Queue AM Resource Usage = <memory:0, vCores:0>; "
	labelNoNodes = "[Sun Nov 22 03:20:01 +0000 2026] Application is Activated, waiting for resources to be assigned for AM.  Details : " +
		"AM Partition = gpu ; Partition Resource = <memory:0, vCores:0> ; Queue's Absolute capacity = 0.0 % ; " +
		"Queue's Absolute used capacity = 0.0 % ; Queue's Absolute max capacity = 100.0 % ; Queue's capacity (absolute resource) = <memory:0, vCores:0> ; " +
		"Queue's used capacity (absolute resource) = <memory:0, vCores:0> ; Queue's max capacity (absolute resource) = <memory:0, vCores:0> ; "
	queueFull = "[Sun Nov 22 03:20:01 +0000 2026] Application is Activated, waiting for resources to be assigned for AM.  Details : " +
		"AM Partition = <DEFAULT_PARTITION> ; Partition Resource = <memory:8192, vCores:8> ; Queue's Absolute capacity = 50.0 % ; " +
		"Queue's Absolute used capacity = 50.0 % ; Queue's Absolute max capacity = 50.0 % ; Queue's capacity (absolute resource) = <memory:4096, vCores:4> ; " +
		"Queue's used capacity (absolute resource) = <memory:4096, vCores:4> ; Queue's max capacity (absolute resource) = <memory:4096, vCores:4> ; "
	lastNodeFull = "[Sun Nov 22 03:20:01 +0000 2026] Application is Activated, waiting for resources to be assigned for AM. " +
		" Last Node which was processed for the application : vm:8041 ( Partition : [], Total resource : <memory:8192, vCores:8>, Available resource : <memory:256, vCores:6> )." +
		" Details : AM Partition = <DEFAULT_PARTITION> ; Partition Resource = <memory:8192, vCores:8> ; Queue's Absolute capacity = 100.0 % ; " +
		"Queue's Absolute used capacity = 50.0 % ; Queue's Absolute max capacity = 100.0 % ; Queue's capacity (absolute resource) = <memory:8192, vCores:8> ; " +
		"Queue's used capacity (absolute resource) = <memory:4096, vCores:2> ; Queue's max capacity (absolute resource) = <memory:8192, vCores:8> ; "
	attemptFailed = "AM Container for appattempt_1795317067845_0003_000001 exited with  exitCode: 1\nFailing this attempt.Diagnostics: [2026-11-22]Exception from container-launch.\n"
)

func TestClassifyWaiting(t *testing.T) {
	am := yarn.Resource{MemoryMB: 512, VCores: 1}
	for _, tc := range []struct {
		name, diag, reason string
		msg, fix           []string
	}{
		{name: "queue AM limit", diag: queueAMLimit, reason: launch.ReasonAMResourceLimit,
			msg: []string{"queue default may hold 896 MB", "they hold 512 MB", "needs 512 MB"},
			fix: []string{"yarn.scheduler.capacity.maximum-am-resource-percent", "yarn.scheduler.capacity.root.default.maximum-am-resource-percent", "-jm 384m or less", "--queue"}},
		{name: "user AM limit", diag: userAMLimit, reason: launch.ReasonUserAMResourceLimit,
			msg: []string{"your ApplicationMasters in queue default already hold the 1024 MB one user may have"},
			fix: []string{"yarn.scheduler.capacity.root.default.user-limit-factor", "maximum-am-resource-percent", "-jm", "--queue"}},
		{name: "cluster empty", diag: clusterEmpty, reason: launch.ReasonClusterEmpty, msg: []string{"no running NodeManager"}, fix: []string{"NodeManagers"}},
		{name: "label without nodes", diag: labelNoNodes, reason: launch.ReasonNodeLabelNoNodes, msg: []string{`node label "gpu"`}, fix: []string{"--node-label"}},
		{name: "queue at capacity", diag: queueFull, reason: launch.ReasonQueueAtCapacity,
			msg: []string{"4096 MB of 4096 MB"}, fix: []string{"yarn.scheduler.capacity.root.default.maximum-capacity", "--queue"}},
		{name: "no room on the last node", diag: lastNodeFull, reason: launch.ReasonNoRoom, msg: []string{"512 MB free"}, fix: []string{"-jm"}},
		{name: "attempt failed", diag: attemptFailed, reason: launch.ReasonAttemptFailed, msg: []string{"exited with  exitCode: 1"}, fix: []string{"yarn logs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := launch.ClassifyWaiting(tc.diag, "default", am)
			require.True(t, ok)
			require.Equal(t, tc.reason, w.Reason)
			for _, s := range tc.msg {
				require.Contains(t, w.Message, s)
			}
			for _, s := range tc.fix {
				require.Contains(t, w.Fix, s)
			}
			require.NotContains(t, w.Message+w.Fix, "2026", "no timestamps: a change of the words is a change of what the RM says")
		})
	}
	for name, diag := range map[string]string{
		"activated with room (the real capture)": activatedFixture,
		"assigned":                               "[Sun Nov 22 03:14:55 +0000 2026] Scheduler has assigned a container for AM, waiting for AM container to be launched",
		"launched":                               "AM container is launched, waiting for AM container to Register with RM",
		"none":                                   "",
	} {
		t.Run("routine/"+name, func(t *testing.T) {
			_, ok := launch.ClassifyWaiting(diag, "default", am)
			require.False(t, ok, "routine steps are not waiting events")
		})
	}
}

// TestWatchEmitsEachWaitingOnce: a waiting event comes with the first
// report whose diagnostics carry the reason (here the first report, with
// accepted), once per change of what they say: the RM's timestamp moving
// is no change.
func TestWatchEmitsEachWaitingOnce(t *testing.T) {
	id := yarn.ApplicationID{ClusterTimestamp: 1795317067845, ID: 9}
	rm := yarntest.NewRM(t)
	diags := []string{queueAMLimit, "[Sun Nov 22 03:20:02 +0000 2026]" + queueAMLimit[len("[Sun Nov 22 03:20:01 +0000 2026]"):],
		activatedFixture, userAMLimit, userAMLimit, "AM container is launched, waiting for AM container to Register with RM"}
	var polls atomic.Int32
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		n := int(polls.Add(1)) - 1
		r := &yarnpb.ApplicationReportProto{ApplicationId: yarn.AppIDToProto(id), User: proto.String("alice"), Queue: proto.String("default"),
			YarnApplicationState: yarnpb.YarnApplicationStateProto_ACCEPTED.Enum(), FinalApplicationStatus: yarnpb.FinalApplicationStatusProto_APP_UNDEFINED.Enum(),
			Host: proto.String("N/A"), RpcPort: proto.Int32(-1)}
		if n < len(diags) {
			r.Diagnostics = proto.String(diags[n])
		} else {
			r.YarnApplicationState = yarnpb.YarnApplicationStateProto_KILLED.Enum()
			r.FinalApplicationStatus = yarnpb.FinalApplicationStatusProto_APP_KILLED.Enum()
		}
		return &yarnpb.GetApplicationReportResponseProto{ApplicationReport: r}, nil
	}
	c, err := yarn.NewRMClient(yarn.RMOptions{Endpoints: []yarn.Endpoint{{Addr: rm.Addr(), Key: "yarn.resourcemanager.address"}}, User: "alice",
		Logger: zerolog.New(zerolog.NewTestWriter(t))})
	require.NoError(t, err)
	defer c.Close()
	ctx := testutil.Context(t, 10*time.Second)
	type seen struct {
		event, reason string
		poll          int32
	}
	var evs []seen
	_, err = launch.Watch(ctx, launch.WatchOptions{RM: c, AM: &amapi.Client{}, ID: id, Until: launch.UntilEnd, Interval: time.Millisecond,
		AMResource: yarn.Resource{MemoryMB: 1024, VCores: 1},
		Emit: func(e launch.Event) {
			evs = append(evs, seen{e.Event, e.Reason, polls.Load()})
			if e.Event == launch.EventWaiting {
				require.Equal(t, diags[polls.Load()-1], e.Diagnostics, "the raw diagnostics of that report")
			}
		}})
	require.NoError(t, err)
	require.Equal(t, []seen{
		{launch.EventAccepted, "", 1},
		{launch.EventWaiting, launch.ReasonAMResourceLimit, 1},
		{launch.EventWaiting, launch.ReasonUserAMResourceLimit, 4},
		{launch.EventFinished, "", 7},
	}, evs)
}

func TestTaskManagersWaiting(t *testing.T) {
	_, ok := launch.TaskManagersWaiting(amapi.Status{Pending: 2, PendingReason: amapi.PendingScheduling, PendingDetail: "2 TaskManager(s) pending: …"})
	require.False(t, ok, "the scheduler's routine is no waiting event")
	_, ok = launch.TaskManagersWaiting(amapi.Status{})
	require.False(t, ok, "an AM that does not say")
	w, ok := launch.TaskManagersWaiting(amapi.Status{Pending: 1, PendingReason: amapi.PendingBlacklisted, PendingDetail: "why; fix: what"})
	require.True(t, ok)
	require.Equal(t, launch.Waiting{Reason: "taskmanagers_blacklisted", Message: "why", Fix: "what"}, w)
}
