package minihdfs

import (
	"context"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// getAdditionalDatanode: FSNamesystem.getAdditionalDatanode and
// BlockManager.chooseTarget4AdditionalDatanode. A writer that lost
// DataNodes asks for replacements: the file must be open under its lease;
// the answer is the existing nodes followed by up to numAdditionalNodes
// live ones outside them and the excluded (fewer when there are none left,
// which the client then reports). Offset -1, as the real NameNode sends.
func (nn *nameNode) getAdditionalDatanode(_ context.Context, call *ipc.ServerCall, req *hdfspb.GetAdditionalDatanodeRequestProto) (proto.Message, error) {
	pc := nn.caller(call)
	nn.mu.Lock()
	defer nn.mu.Unlock()
	if err := nn.checkPool(req.GetBlk()); err != nil {
		return nil, err
	}
	ip, err := nn.resolveFile(pc, req.GetSrc(), req.GetFileId())
	if err != nil {
		return nil, err
	}
	if _, err := nn.checkLease(ip, req.GetClientName(), req.GetFileId()); err != nil {
		return nil, err
	}
	var chosen []*dataNode
	for _, n := range req.GetExistings() {
		dn := nn.dn.byID(n.GetId())
		if dn == nil {
			return nil, errIO("Failed to find datanode (scope=\"\" excludedScope=\"\") %s", n.GetId().GetIpAddr())
		}
		chosen = append(chosen, dn)
	}
	targets, _, _ := nn.dn.choose(int(req.GetNumAdditionalNodes()), chosen, req.GetExcludes())
	return &hdfspb.GetAdditionalDatanodeResponseProto{Block: nn.locatedOn(req.GetBlk(), ^uint64(0), targets)}, nil
}
