package yarntest

import (
	"context"
	"testing"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/ipc/ipctest"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// RM is a stub ApplicationClientProtocol server (the RM client port).
type RM struct {
	*ipctest.Server

	GetNewApplicationF    func(context.Context, *yarnpb.GetNewApplicationRequestProto) (*yarnpb.GetNewApplicationResponseProto, error)
	SubmitApplicationF    func(context.Context, *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error)
	GetApplicationReportF func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error)
	GetApplicationsF      func(context.Context, *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error)
	ForceKillApplicationF func(context.Context, *yarnpb.KillApplicationRequestProto) (*yarnpb.KillApplicationResponseProto, error)
	GetClusterMetricsF    func(context.Context, *yarnpb.GetClusterMetricsRequestProto) (*yarnpb.GetClusterMetricsResponseProto, error)
	GetClusterNodesF      func(context.Context, *yarnpb.GetClusterNodesRequestProto) (*yarnpb.GetClusterNodesResponseProto, error)
	GetQueueInfoF         func(context.Context, *yarnpb.GetQueueInfoRequestProto) (*yarnpb.GetQueueInfoResponseProto, error)
	GetQueueUserAclsF     func(context.Context, *yarnpb.GetQueueUserAclsInfoRequestProto) (*yarnpb.GetQueueUserAclsInfoResponseProto, error)
	GetDelegationTokenF   func(context.Context, *commonpb.GetDelegationTokenRequestProto) (*commonpb.GetDelegationTokenResponseProto, error)
}

// NewRM starts a stub RM client port on loopback; it closes when t ends.
// Handler fields may be set before or after it starts.
func NewRM(t testing.TB, opts ...Option) *RM {
	c := newConfig(opts)
	r := &RM{}
	m := map[string]ipc.Handler{
		"getNewApplication": bind(t, c, "getNewApplication", func() *yarnpb.GetNewApplicationRequestProto { return &yarnpb.GetNewApplicationRequestProto{} },
			func() func(context.Context, *yarnpb.GetNewApplicationRequestProto) (*yarnpb.GetNewApplicationResponseProto, error) {
				return r.GetNewApplicationF
			}),
		"submitApplication": bind(t, c, "submitApplication", func() *yarnpb.SubmitApplicationRequestProto { return &yarnpb.SubmitApplicationRequestProto{} },
			func() func(context.Context, *yarnpb.SubmitApplicationRequestProto) (*yarnpb.SubmitApplicationResponseProto, error) {
				return r.SubmitApplicationF
			}),
		"getApplicationReport": bind(t, c, "getApplicationReport", func() *yarnpb.GetApplicationReportRequestProto { return &yarnpb.GetApplicationReportRequestProto{} },
			func() func(context.Context, *yarnpb.GetApplicationReportRequestProto) (*yarnpb.GetApplicationReportResponseProto, error) {
				return r.GetApplicationReportF
			}),
		"getApplications": bind(t, c, "getApplications", func() *yarnpb.GetApplicationsRequestProto { return &yarnpb.GetApplicationsRequestProto{} },
			func() func(context.Context, *yarnpb.GetApplicationsRequestProto) (*yarnpb.GetApplicationsResponseProto, error) {
				return r.GetApplicationsF
			}),
		"forceKillApplication": bind(t, c, "forceKillApplication", func() *yarnpb.KillApplicationRequestProto { return &yarnpb.KillApplicationRequestProto{} },
			func() func(context.Context, *yarnpb.KillApplicationRequestProto) (*yarnpb.KillApplicationResponseProto, error) {
				return r.ForceKillApplicationF
			}),
		"getClusterMetrics": bind(t, c, "getClusterMetrics", func() *yarnpb.GetClusterMetricsRequestProto { return &yarnpb.GetClusterMetricsRequestProto{} },
			func() func(context.Context, *yarnpb.GetClusterMetricsRequestProto) (*yarnpb.GetClusterMetricsResponseProto, error) {
				return r.GetClusterMetricsF
			}),
		"getClusterNodes": bind(t, c, "getClusterNodes", func() *yarnpb.GetClusterNodesRequestProto { return &yarnpb.GetClusterNodesRequestProto{} },
			func() func(context.Context, *yarnpb.GetClusterNodesRequestProto) (*yarnpb.GetClusterNodesResponseProto, error) {
				return r.GetClusterNodesF
			}),
		"getQueueInfo": bind(t, c, "getQueueInfo", func() *yarnpb.GetQueueInfoRequestProto { return &yarnpb.GetQueueInfoRequestProto{} },
			func() func(context.Context, *yarnpb.GetQueueInfoRequestProto) (*yarnpb.GetQueueInfoResponseProto, error) {
				return r.GetQueueInfoF
			}),
		"getQueueUserAcls": bind(t, c, "getQueueUserAcls", func() *yarnpb.GetQueueUserAclsInfoRequestProto { return &yarnpb.GetQueueUserAclsInfoRequestProto{} },
			func() func(context.Context, *yarnpb.GetQueueUserAclsInfoRequestProto) (*yarnpb.GetQueueUserAclsInfoResponseProto, error) {
				return r.GetQueueUserAclsF
			}),
		"getDelegationToken": bind(t, c, "getDelegationToken", func() *commonpb.GetDelegationTokenRequestProto { return &commonpb.GetDelegationTokenRequestProto{} },
			func() func(context.Context, *commonpb.GetDelegationTokenRequestProto) (*commonpb.GetDelegationTokenResponseProto, error) {
				return r.GetDelegationTokenF
			}),
	}
	r.Server = start(t, c, "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB", yarnpb.File_yarnpb_applicationclient_protocol_proto.Services().Get(0), m)
	return r
}
