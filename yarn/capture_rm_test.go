package yarn

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn/yarntest"
)

// capturedCall returns the decoded request body of the first call of method
// in a transcript.
func capturedCall(t *testing.T, file, method string, into proto.Message) {
	t.Helper()
	dir, err := capture.Dir()
	require.NoError(t, err)
	tr, err := capture.Load(filepath.Join(dir, file))
	require.NoError(t, err)
	conv, err := capture.Decode(tr, nil)
	require.NoError(t, err)
	for _, c := range conv.Calls() {
		if c.Method() == method {
			require.NoError(t, proto.Unmarshal(c.Request.Req.Body, into))
			return
		}
	}
	t.Fatalf("%s has no %s call", file, method)
}

// sortEnv orders the environment entries: Java writes them in HashMap
// order, Spindle in key order; the set is what matters to the RM.
func sortEnv(ctx *yarnpb.ApplicationSubmissionContextProto) {
	env := ctx.GetAmContainerSpec().GetEnvironment()
	sort.Slice(env, func(i, j int) bool { return env[i].GetKey() < env[j].GetKey() })
}

// TestSubmitMatchesDistributedShell builds, through the typed API, the
// submission DistributedShell's Java client made in client-rm.txt and
// compares what our client sends with the captured request, field by field
// and then byte for byte.
func TestSubmitMatchesDistributedShell(t *testing.T) {
	var want yarnpb.SubmitApplicationRequestProto
	capturedCall(t, "distshell-run/client-rm.txt", mSubmitApplication, &want)

	id := ApplicationID{ClusterTimestamp: 1795317067845, ID: 2}
	const staging = "/user/root/DistributedShell/application_1795317067845_0002"
	spec := AppSpec{
		ID:       id,
		Name:     "DistributedShell",
		Queue:    "default",
		Priority: 0,
		AM: ContainerLaunchContext{
			Commands: []string{`"{{JAVA_HOME}}/bin/java" -Xmx512m org.apache.hadoop.yarn.applications.distributedshell.ApplicationMaster --container_type GUARANTEED --container_memory 256 --container_vcores 1 --num_containers 2 --priority 0 --appname DistributedShell --homedir hdfs://127.0.0.1:9000/user/root 1><LOG_DIR>/AppMaster.stdout 2><LOG_DIR>/AppMaster.stderr `},
			Environment: map[string]string{
				"DISTRIBUTEDSHELLSCRIPTTIMESTAMP": "1795317294545",
				"DISTRIBUTEDSHELLSCRIPTLOCATION":  "hdfs://127.0.0.1:9000" + staging + "/ExecScript",
				"DISTRIBUTEDSHELLSCRIPTLEN":       "401",
				"CLASSPATH":                       "{{CLASSPATH}}<CPS>./*<CPS>{{HADOOP_CONF_DIR}}<CPS>{{HADOOP_COMMON_HOME}}/share/hadoop/common/*<CPS>{{HADOOP_COMMON_HOME}}/share/hadoop/common/lib/*<CPS>{{HADOOP_HDFS_HOME}}/share/hadoop/hdfs/*<CPS>{{HADOOP_HDFS_HOME}}/share/hadoop/hdfs/lib/*<CPS>{{HADOOP_YARN_HOME}}/share/hadoop/yarn/*<CPS>{{HADOOP_YARN_HOME}}/share/hadoop/yarn/lib/*<CPS>./log4j.properties",
			},
			LocalResources: map[string]LocalResource{
				"AppMaster.jar": {
					URL:  URL{Scheme: "hdfs", Host: "127.0.0.1", Port: 9000, File: staging + "/AppMaster.jar"},
					Size: 81085, Timestamp: 1795317294376, Type: File, Visibility: Application,
				},
			},
		},
		AMResource: Resource{MemoryMB: 512, VCores: 1},
	}

	rm := yarntest.NewRM(t)
	var got *yarnpb.SubmitApplicationRequestProto
	rm.SubmitApplicationF = func(_ context.Context, req *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
		got = req
		return &yarnpb.SubmitApplicationResponseProto{}, nil
	}
	rm.GetApplicationReportF = func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
		return report(id, StateAccepted), nil
	}
	c := newRM(t, ep(rm.Addr()))
	require.NoError(t, c.SubmitApplication(testutil.Context(t, 20*time.Second), spec))
	require.NotNil(t, got)

	sortEnv(want.ApplicationSubmissionContext)
	sortEnv(got.ApplicationSubmissionContext)
	require.True(t, proto.Equal(&want, got), "want:\n%s\ngot:\n%s", prototext.Format(&want), prototext.Format(got))
	wb, err := proto.MarshalOptions{Deterministic: true}.Marshal(&want)
	require.NoError(t, err)
	gb, err := proto.MarshalOptions{Deterministic: true}.Marshal(got)
	require.NoError(t, err)
	require.Equal(t, wb, gb)

	// And the typed view of the captured request reads back the same spec.
	back, err := clcFromProto(want.GetApplicationSubmissionContext().GetAmContainerSpec())
	require.NoError(t, err)
	require.Equal(t, spec.AM.Environment, back.Environment)
	require.Equal(t, spec.AM.LocalResources, back.LocalResources)
}

// The real RM's getQueueInfo answer in client-rm.txt reads as the queue
// "default", RUNNING: the state string launch's stopped-queue check
// compares with (QueueStateProto Q_RUNNING/Q_STOPPED without "Q_").
func TestQueueInfoFromCapture(t *testing.T) {
	dir, err := capture.Dir()
	require.NoError(t, err)
	tr, err := capture.Load(filepath.Join(dir, "distshell-run", "client-rm.txt"))
	require.NoError(t, err)
	conv, err := capture.Decode(tr, nil)
	require.NoError(t, err)
	for _, c := range conv.Calls() {
		if c.Method() != "getQueueInfo" {
			continue
		}
		var resp yarnpb.GetQueueInfoResponseProto
		require.NoError(t, proto.Unmarshal(c.Reply.Resp.Body, &resp))
		q := queueInfoFromProto(resp.GetQueueInfo())
		require.Equal(t, "default", q.Name)
		require.Equal(t, "RUNNING", q.State)
		stopped := queueInfoFromProto(&yarnpb.QueueInfoProto{State: yarnpb.QueueStateProto_Q_STOPPED.Enum()})
		require.Equal(t, "STOPPED", stopped.State)
		return
	}
	t.Fatal("client-rm.txt has no getQueueInfo call")
}
