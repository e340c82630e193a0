package minihdfs

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Builders for the records the NameNode returns. Every optional field the
// real NameNode sets (3.3.6 captures, hdfs-put-cat/) is set here too, zero
// values included, so replies carry the same fields.

// fileStatus is FSDirStatAndListingOp.createFileStatus: name is empty except
// in directory listings; locations are included only when asked for.
func (nn *nameNode) fileStatus(n *inode, name string, withLocations bool) *hdfspb.HdfsFileStatusProto {
	st := &hdfspb.HdfsFileStatusProto{
		Path:             []byte(name),
		Permission:       &hdfspb.FsPermissionProto{Perm: proto.Uint32(uint32(n.perm))},
		Owner:            proto.String(n.owner),
		Group:            proto.String(n.group),
		ModificationTime: proto.Uint64(uint64(n.mtime)),
		FileId:           proto.Uint64(n.id),
		StoragePolicy:    proto.Uint32(0), // BLOCK_STORAGE_POLICY_ID_UNSPECIFIED
		Flags:            proto.Uint32(0),
	}
	if n.dir {
		st.FileType = hdfspb.HdfsFileStatusProto_IS_DIR.Enum()
		st.Length = proto.Uint64(0)
		st.AccessTime = proto.Uint64(0)
		st.BlockReplication = proto.Uint32(0)
		st.Blocksize = proto.Uint64(0)
		st.ChildrenNum = proto.Int32(int32(len(n.children)))
		if n.snapshottable {
			st.Flags = proto.Uint32(uint32(hdfspb.HdfsFileStatusProto_SNAPSHOT_ENABLED))
		}
		return st
	}
	st.FileType = hdfspb.HdfsFileStatusProto_IS_FILE.Enum()
	st.Length = proto.Uint64(n.size())
	st.AccessTime = proto.Uint64(uint64(n.atime))
	st.BlockReplication = proto.Uint32(n.replication)
	st.Blocksize = proto.Uint64(n.blockSize)
	st.ChildrenNum = proto.Int32(0)
	if withLocations {
		st.Locations = nn.locatedBlocks(n, 0, n.size())
	}
	return st
}

// extended returns b as an ExtendedBlockProto of this block pool.
func (nn *nameNode) extended(b *block) *hdfspb.ExtendedBlockProto {
	return &hdfspb.ExtendedBlockProto{
		PoolId:          proto.String(nn.bpid),
		BlockId:         proto.Uint64(b.id),
		GenerationStamp: proto.Uint64(b.genStamp),
		NumBytes:        proto.Uint64(b.numBytes),
	}
}

// emptyToken is the block token of a cluster without block access tokens:
// all four required fields present and empty.
func emptyToken() *commonpb.TokenProto {
	return &commonpb.TokenProto{Identifier: []byte{}, Password: []byte{}, Kind: proto.String(""), Service: proto.String("")}
}

// locatedOn is BlockManager.newLocatedBlock for a block on nodes (none
// when its replicas are gone, or when the caller is not told where).
func (nn *nameNode) locatedOn(eb *hdfspb.ExtendedBlockProto, offset uint64, nodes []*dataNode) *hdfspb.LocatedBlockProto {
	lb := &hdfspb.LocatedBlockProto{
		B:          eb,
		Offset:     proto.Uint64(offset),
		Corrupt:    proto.Bool(false),
		BlockToken: emptyToken(),
	}
	now := nn.now()
	for _, dn := range nodes {
		lb.Locs = append(lb.Locs, dn.info(now))
		lb.IsCached = append(lb.IsCached, false)
		lb.StorageTypes = append(lb.StorageTypes, hdfspb.StorageTypeProto_DISK)
		lb.StorageIDs = append(lb.StorageIDs, dn.storageID)
	}
	return lb
}

// locatedBlock is locatedOn the block's locations, or on none when
// located is false.
func (nn *nameNode) locatedBlock(eb *hdfspb.ExtendedBlockProto, offset uint64, located bool) *hdfspb.LocatedBlockProto {
	var nodes []*dataNode
	if located {
		nodes = nn.dn.locations(eb.GetBlockId(), eb.GetGenerationStamp(), false)
	}
	return nn.locatedOn(eb, offset, nodes)
}

func (nn *nameNode) locate(b *block, offset uint64) *hdfspb.LocatedBlockProto {
	return nn.locatedOn(nn.extended(b), offset, nn.dn.locations(b.id, b.genStamp, b.state == blockUC))
}

// locatedBlocks is BlockManager.createLocatedBlocks over [offset,
// offset+length) of file n.
func (nn *nameNode) locatedBlocks(n *inode, offset, length uint64) *hdfspb.LocatedBlocksProto {
	uc := n.uc != nil
	if len(n.blocks) == 0 {
		return &hdfspb.LocatedBlocksProto{
			FileLength:          proto.Uint64(0),
			UnderConstruction:   proto.Bool(uc),
			IsLastBlockComplete: proto.Bool(false),
		}
	}
	fileLen := n.completeSize()
	lbs := &hdfspb.LocatedBlocksProto{
		FileLength:        proto.Uint64(fileLen),
		UnderConstruction: proto.Bool(uc),
	}
	var pos uint64
	i := 0
	for ; i < len(n.blocks); i++ {
		if pos+n.blocks[i].numBytes > offset {
			break
		}
		pos += n.blocks[i].numBytes
	}
	if i < len(n.blocks) {
		end := offset + length
		if end < offset { // overflow: to the end
			end = ^uint64(0)
		}
		for {
			lbs.Blocks = append(lbs.Blocks, nn.locate(n.blocks[i], pos))
			pos += n.blocks[i].numBytes
			i++
			if pos >= end || i >= len(n.blocks) {
				break
			}
		}
	}
	last := n.blocks[len(n.blocks)-1]
	lastPos := fileLen
	if last.state == blockComplete {
		lastPos = fileLen - last.numBytes
	}
	lbs.LastBlock = nn.locate(last, lastPos)
	lbs.IsLastBlockComplete = proto.Bool(last.state == blockComplete)
	return lbs
}

func blockName(id, gs uint64) string { return fmt.Sprintf("blk_%d_%d", id, gs) }

func (b *block) String() string { return blockName(b.id, b.genStamp) }

// extendedString is ExtendedBlock.toString: "BP-…:blk_<id>_<gs>".
func extendedString(b *hdfspb.ExtendedBlockProto) string {
	if b == nil {
		return "null"
	}
	return b.GetPoolId() + ":" + blockName(b.GetBlockId(), b.GetGenerationStamp())
}
