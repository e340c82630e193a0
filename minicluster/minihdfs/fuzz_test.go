package minihdfs

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/capture"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

// Fuzz targets for every decoder of network input the mini HDFS has of its
// own (the NameNode's RPC framing is ipc's, fuzzed there): the data
// transfer op reader, the packet reader with its checksum check, the whole
// DataNode connection, and path resolution. Seeds come from the real
// DataNode conversations in shared/fixtures/hadoop-3.3.6/hdfs-put-cat.

// seeds returns client streams and packets from the captures, kept small
// so that the fuzzer mutates them quickly: the read stream whole; each
// write stream's op with its packets of at most 2 KiB (block 2 starts with
// a 512-byte one) and its last, empty packet; and those packets alone.
func seeds(f *testing.F) (streams, packets [][]byte) {
	root, err := capture.Dir()
	if err != nil {
		f.Fatal(err)
	}
	dir := filepath.Join(root, "hdfs-put-cat")
	read, err := os.ReadFile(filepath.Join(dir, "client-dn-read.client.bin"))
	if err != nil {
		f.Fatal(err)
	}
	streams = append(streams, read)
	for _, name := range []string{"client-dn-write-block1", "client-dn-write-block2"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".client.bin"))
		if err != nil {
			f.Fatal(err)
		}
		n, k := protowire.ConsumeVarint(b[3:])
		opEnd := 3 + k + int(n)
		stream := append([]byte{}, b[:opEnd]...)
		r := bytes.NewReader(b[opEnd:])
		for {
			before := r.Len()
			p, _, err := readPacket(r, nil)
			if err != nil {
				f.Fatal(err)
			}
			raw := b[len(b)-before : len(b)-r.Len()]
			if len(raw) <= 2048 {
				packets = append(packets, raw)
				stream = append(stream, raw...)
			}
			if p.hdr.GetLastPacketInBlock() {
				break
			}
		}
		streams = append(streams, stream)
	}
	return streams, packets
}

func FuzzReadOp(f *testing.F) {
	streams, _ := seeds(f)
	for _, s := range streams {
		f.Add(s[:min(len(s), 400)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		op, body, err := readOp(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			return
		}
		if len(body) > maxOpLen || len(body) > len(in) {
			t.Fatalf("body of %d bytes from %d input bytes", len(body), len(in))
		}
		var m proto.Message = &hdfspb.OpWriteBlockProto{}
		if op == opReadBlock {
			m = &hdfspb.OpReadBlockProto{}
		}
		_ = proto.Unmarshal(body, m)
	})
}

func FuzzReadPacket(f *testing.F) {
	_, packets := seeds(f)
	for _, p := range packets {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		p, buf, err := readPacket(r, nil)
		if cap(buf) > len(in)+(1<<20) {
			t.Fatalf("allocated %d bytes for %d input bytes", cap(buf), len(in))
		}
		if err != nil {
			return
		}
		sum := checksum{typ: hdfspb.ChecksumTypeProto_CHECKSUM_CRC32C, bpc: 512, tab: castagnoli}
		if sum.verify(p) != nil {
			return
		}
		// A packet that decodes and verifies re-encodes to the bytes read
		// (when its header was encoded canonically) and carries the
		// checksums we would compute.
		if !bytes.Equal(sum.appendSums(nil, p.data), p.sums) {
			t.Fatal("verified checksums differ from computed ones")
		}
		consumed := in[:len(in)-r.Len()]
		again := appendPacket(nil, p.hdr, p.sums, p.data)
		h, _ := proto.MarshalOptions{Deterministic: true}.Marshal(p.hdr)
		if bytes.Equal(consumed[6:6+len(h)], h) && !bytes.Equal(again, consumed) {
			t.Fatalf("round trip differs:\n in  %x\n out %x", consumed[:min(64, len(consumed))], again[:min(64, len(again))])
		}
	})
}

// FuzzDataNodeConn runs a DataNode connection over arbitrary client bytes:
// it must neither panic nor hang, whatever the ops, offsets and lengths.
func FuzzDataNodeConn(f *testing.F) {
	streams, _ := seeds(f)
	for _, s := range streams {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		dir := t.TempDir()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		o, _ := Options{Dir: dir, Superuser: "root"}.resolve()
		bpid := "BP-411686458-127.0.0.1-1795316416754"
		dn, err := newDataNode(zerolog.Nop(), bpid, filepath.Join(dir, bpid), ln, "127.0.0.1", "localhost", 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		dn.nn = newNameNode(o, zerolog.Nop(), bpid)
		dn.nn.dn = newDataNodes([]*dataNode{dn})
		server, client := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- dn.serveConn(server); server.Close() }()
		drained := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, client); close(drained) }()
		_, _ = client.Write(in)
		client.Close()
		<-drained
		<-done
		dn.invalidate(allReplicas(dn))
	})
}

func allReplicas(dn *dataNode) []uint64 {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	var ids []uint64
	for id := range dn.replicas {
		ids = append(ids, id)
	}
	return ids
}

func FuzzResolvePath(f *testing.F) {
	for _, s := range []string{"/", "/user/root/capdir/blob.bin._COPYING_", "//a", "/a/../b", "/a:b", "a/b", "/a/b/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		comps, ok := splitPath(src)
		if validName(src) && !ok {
			t.Fatalf("%q is valid but does not split", src)
		}
		if !ok {
			return
		}
		root := &inode{dir: true, children: map[string]*inode{}}
		root.children["a"] = &inode{name: "a", parent: root}
		r := resolve(root, comps)
		if len(r.nodes) != len(comps) || r.nodes[0] != root {
			t.Fatalf("resolve(%q) = %d nodes", src, len(r.nodes))
		}
		_ = r.path(len(comps) - 1)
		_ = r.ancestorIndex()
	})
}
