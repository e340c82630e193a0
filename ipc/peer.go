package ipc

// Peer kinds for Options.Peer. Each names the server a connection goes to
// and, through AddrField, the log field that carries its address.
const (
	// PeerRM is the ResourceManager's client port (ApplicationClientProtocol).
	PeerRM = "rm"
	// PeerScheduler is the ResourceManager's scheduler port
	// (ApplicationMasterProtocol, the AMRM client).
	PeerScheduler = "scheduler"
	// PeerNodeManager is a NodeManager (ContainerManagementProtocol).
	PeerNodeManager = "nm"
	// PeerNameNode is an HDFS NameNode (ClientNamenodeProtocol).
	PeerNameNode = "nn"
)

// AddrField is the log field name for the address of a peer of kind
// peer: "<peer>_addr" (rm_addr, scheduler_addr, nm_addr, nn_addr), or
// "addr" when peer is empty.
func AddrField(peer string) string {
	if peer == "" {
		return "addr"
	}
	return peer + "_addr"
}
