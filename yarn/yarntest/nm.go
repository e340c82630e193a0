package yarntest

import (
	"context"
	"testing"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/ipc/ipctest"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// NM is a stub ContainerManagementProtocol server (a NodeManager). Real
// NodeManagers accept TOKEN authentication only: pass RequireToken with a
// SecretManager that knows the NMTokens under test. Methods other than the
// three below fail the test.
type NM struct {
	*ipctest.Server

	StartContainersF      func(context.Context, *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error)
	StopContainersF       func(context.Context, *yarnpb.StopContainersRequestProto) (*yarnpb.StopContainersResponseProto, error)
	GetContainerStatusesF func(context.Context, *yarnpb.GetContainerStatusesRequestProto) (*yarnpb.GetContainerStatusesResponseProto, error)
}

// NewNM starts a stub NodeManager on loopback; it closes when t ends.
// Handler fields may be set before or after it starts.
func NewNM(t testing.TB, opts ...Option) *NM {
	c := newConfig(opts)
	n := &NM{}
	m := map[string]ipc.Handler{
		"startContainers": bind(t, c, "startContainers", newReq[yarnpb.StartContainersRequestProto],
			func() func(context.Context, *yarnpb.StartContainersRequestProto) (*yarnpb.StartContainersResponseProto, error) {
				return n.StartContainersF
			}),
		"stopContainers": bind(t, c, "stopContainers", newReq[yarnpb.StopContainersRequestProto],
			func() func(context.Context, *yarnpb.StopContainersRequestProto) (*yarnpb.StopContainersResponseProto, error) {
				return n.StopContainersF
			}),
		"getContainerStatuses": bind(t, c, "getContainerStatuses", newReq[yarnpb.GetContainerStatusesRequestProto],
			func() func(context.Context, *yarnpb.GetContainerStatusesRequestProto) (*yarnpb.GetContainerStatusesResponseProto, error) {
				return n.GetContainerStatusesF
			}),
	}
	n.Server = start(t, c, "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB", yarnpb.File_yarnpb_containermanagement_protocol_proto.Services().Get(0), m)
	return n
}
