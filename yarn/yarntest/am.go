package yarntest

import (
	"context"
	"testing"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/ipc/ipctest"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
)

// AM is a stub ApplicationMasterProtocol server (the RM scheduler port).
// The real port accepts TOKEN authentication only: pass RequireToken with
// a SecretManager that knows the AMRMTokens under test.
type AM struct {
	*ipctest.Server

	RegisterApplicationMasterF func(context.Context, *yarnpb.RegisterApplicationMasterRequestProto) (*yarnpb.RegisterApplicationMasterResponseProto, error)
	AllocateF                  func(context.Context, *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error)
	FinishApplicationMasterF   func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error)
}

// NewAM starts a stub scheduler port on loopback; it closes when t ends.
// Handler fields may be set before or after it starts.
func NewAM(t testing.TB, opts ...Option) *AM {
	c := newConfig(opts)
	a := &AM{}
	m := map[string]ipc.Handler{
		"registerApplicationMaster": bind(t, c, "registerApplicationMaster", newReq[yarnpb.RegisterApplicationMasterRequestProto],
			func() func(context.Context, *yarnpb.RegisterApplicationMasterRequestProto) (*yarnpb.RegisterApplicationMasterResponseProto, error) {
				return a.RegisterApplicationMasterF
			}),
		"allocate": bind(t, c, "allocate", newReq[yarnpb.AllocateRequestProto],
			func() func(context.Context, *yarnpb.AllocateRequestProto) (*yarnpb.AllocateResponseProto, error) {
				return a.AllocateF
			}),
		"finishApplicationMaster": bind(t, c, "finishApplicationMaster", newReq[yarnpb.FinishApplicationMasterRequestProto],
			func() func(context.Context, *yarnpb.FinishApplicationMasterRequestProto) (*yarnpb.FinishApplicationMasterResponseProto, error) {
				return a.FinishApplicationMasterF
			}),
	}
	a.Server = start(t, c, "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB", yarnpb.File_yarnpb_applicationmaster_protocol_proto.Services().Get(0), m)
	return a
}

// newReq allocates an empty request message for bind.
func newReq[T any]() *T { return new(T) }
