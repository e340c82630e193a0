package minihdfs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/internal/delegation"
)

// Options configures a mini HDFS. The zero value of every field but Dir is
// usable.
type Options struct {
	// Dir is where the DataNodes keep block files, under
	// Dir/datanode/<block pool id>/{rbw,finalized} for the first and
	// Dir/datanode<i>/... for the i-th after it (counting from 1).
	// Required. The caller owns it: Close leaves it in place.
	Dir string

	// DataNodes is how many DataNodes to run, each with its own storage
	// directory, DatanodeUuid and port. Zero means 1. Blocks are placed on
	// min(replication, live DataNodes) distinct nodes and written through
	// a pipeline of them.
	DataNodes int

	// BlockSize is the default block size getServerDefaults announces
	// (dfs.blocksize). Zero means 128 MiB. Clients may ask for any size
	// down to MinBlockSize per file.
	BlockSize int64
	// MinBlockSize is the smallest block size create accepts
	// (dfs.namenode.fs-limits.min-block-size). Zero means 1 MiB, or
	// BlockSize if that is smaller.
	MinBlockSize int64
	// Replication is the default replication getServerDefaults announces
	// (dfs.replication). Zero means 1. A file may ask for more, up to 512;
	// its blocks get as many replicas as there are live DataNodes, up to
	// that.
	Replication int

	// Superuser is the user the NameNode runs as, who passes every
	// permission check (the HDFS superuser). Empty means the user running
	// this process.
	Superuser string
	// Supergroup is dfs.permissions.superusergroup: its members are
	// superusers too, and it is the root directory's group. Empty means
	// "supergroup".
	Supergroup string
	// Groups is the NameNode's group mapping: the groups of each user.
	// Users not listed belong to no group. Nil means none.
	Groups map[string][]string
	// Users get a home directory /user/<name> at start, owned by them with
	// the supergroup as group and mode 0755, as an administrator would
	// create it.
	Users []string

	// Host is the address the daemons listen on and the DataNodes
	// advertise. Empty means 127.0.0.1.
	Host string
	// DataNodeHostname is the host name the NameNode reports for the
	// DataNodes (DatanodeIDProto.hostName), which clients dial instead of
	// its IP address with dfs.client.use.datanode.hostname. Empty means
	// Host, or localhost when Host is a loopback address.
	DataNodeHostname string
	// NameNodePort and DataNodePort are the ports to listen on; zero picks
	// free ones. With several DataNodes, DataNodePort is the first one's
	// and the others take the ports after it.
	NameNodePort, DataNodePort int
	// BlockPoolID names the block pool; empty generates one of the form
	// BP-<random>-<host>-<ms>, as a NameNode format does.
	BlockPoolID string
	// Capacity is each DataNode's reported capacity in bytes; zero means 64 GiB.
	Capacity int64

	// Clock returns the current time. The NameNode stamps modification and
	// access times (to the millisecond) and judges leases with it. Nil
	// means time.Now.
	Clock func() time.Time
	// LeaseSoftLimit is how long a writer may go without renewing its lease
	// before another client may take its file over; zero means 1 minute.
	LeaseSoftLimit time.Duration
	// LeaseHardLimit is how long before the NameNode itself closes the
	// writer's files; zero means 20 minutes.
	LeaseHardLimit time.Duration
	// LeaseCheckInterval is how often the hard limit is checked; zero means
	// 2 seconds.
	LeaseCheckInterval time.Duration
	// AccessTimePrecision is dfs.namenode.accesstime.precision: reads move
	// a file's access time at most this often. Zero means 1 hour.
	AccessTimePrecision time.Duration

	// Security, if set, makes the NameNode secure: Kerberos and delegation
	// tokens instead of SIMPLE (see Security). Nil is an insecure HDFS.
	Security *Security

	// Logger receives the daemons' logs (each call at debug level). The
	// zero value logs nothing.
	Logger zerolog.Logger
}

// options is Options with defaults applied.
type options struct {
	blockSize, minBlockSize        int64
	replication                    int
	superuser, supergroup          string
	groups                         map[string][]string
	host                           string
	capacity                       int64
	clock                          func() time.Time
	leaseSoftLimit, leaseHardLimit time.Duration
	leaseCheckInterval             time.Duration
	accessTimePrecision            time.Duration
}

func (o Options) resolve() (*options, error) {
	if o.Dir == "" {
		return nil, errors.New("minihdfs: Options.Dir is required")
	}
	if o.DataNodes < 0 || o.DataNodes > maxDataNodes {
		return nil, fmt.Errorf("minihdfs: Options.DataNodes is %d; use 1 to %d (0 means 1)", o.DataNodes, maxDataNodes)
	}
	r := &options{
		blockSize: o.BlockSize, minBlockSize: o.MinBlockSize, replication: o.Replication,
		superuser: o.Superuser, supergroup: o.Supergroup, groups: o.Groups, host: o.Host,
		capacity: o.Capacity, clock: o.Clock, leaseSoftLimit: o.LeaseSoftLimit, leaseHardLimit: o.LeaseHardLimit,
		leaseCheckInterval: o.LeaseCheckInterval, accessTimePrecision: o.AccessTimePrecision,
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if r.blockSize <= 0 {
		r.blockSize = 128 << 20
	}
	if r.minBlockSize <= 0 {
		r.minBlockSize = min(defaultMinBlockSize, r.blockSize)
	}
	if r.replication <= 0 {
		r.replication = 1
	}
	if r.replication > maxReplication {
		return nil, fmt.Errorf("minihdfs: Replication %d exceeds %d", r.replication, maxReplication)
	}
	if r.superuser == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("minihdfs: no Superuser given and the current user is unknown: %w", err)
		}
		r.superuser = u.Username
	}
	if r.supergroup == "" {
		r.supergroup = "supergroup"
	}
	if r.host == "" {
		r.host = "127.0.0.1"
	}
	if r.capacity <= 0 {
		r.capacity = 64 << 30
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	def(&r.leaseSoftLimit, time.Minute)
	def(&r.leaseHardLimit, 20*time.Minute)
	def(&r.leaseCheckInterval, 2*time.Second)
	def(&r.accessTimePrecision, time.Hour)
	return r, nil
}

// maxDataNodes bounds Options.DataNodes: a mini cluster, not a rack.
const maxDataNodes = 64

// Cluster is a running mini HDFS: one NameNode serving
// ClientNamenodeProtocol over Hadoop IPC (SIMPLE authentication) and one
// or more DataNodes serving the data transfer protocol. Its methods are
// safe for concurrent use.
type Cluster struct {
	nn     *nameNode
	dns    *dataNodes
	srv    *ipc.Server
	nnLn   net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start starts a NameNode and Options.DataNodes DataNodes. ctx bounds only the start-up.
// Close stops both.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	bpid := opts.BlockPoolID
	if bpid == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		bpid = fmt.Sprintf("BP-%d-%s-%d", binary.BigEndian.Uint32(b[:])&0x7fffffff, o.host, o.clock().UnixMilli())
	}
	var lc net.ListenConfig
	nnLn, err := lc.Listen(ctx, "tcp", net.JoinHostPort(o.host, strconv.Itoa(opts.NameNodePort)))
	if err != nil {
		return nil, fmt.Errorf("minihdfs: NameNode listen: %w", err)
	}
	hostName := opts.DataNodeHostname
	if hostName == "" {
		hostName = o.host
		if ip := net.ParseIP(o.host); ip != nil && ip.IsLoopback() {
			hostName = "localhost"
		}
	}
	n := max(opts.DataNodes, 1)
	var list []*dataNode
	stopAll := func() {
		nnLn.Close()
		for _, dn := range list {
			dn.stop()
		}
	}
	for i := range n {
		port := 0
		if opts.DataNodePort != 0 {
			port = opts.DataNodePort + i
		}
		dnLn, err := lc.Listen(ctx, "tcp", net.JoinHostPort(o.host, strconv.Itoa(port)))
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("minihdfs: DataNode %d listen: %w", i, err)
		}
		sub := "datanode"
		if i > 0 {
			sub = fmt.Sprintf("datanode%d", i)
		}
		dn, err := newDataNode(opts.Logger.With().Str("component", "minihdfs-datanode").Logger(),
			bpid, filepath.Join(opts.Dir, sub, bpid), dnLn, o.host, hostName, uint64(o.capacity))
		if err != nil {
			dnLn.Close()
			stopAll()
			return nil, fmt.Errorf("minihdfs: DataNode %d: %w", i, err)
		}
		list = append(list, dn)
	}
	dns := newDataNodes(list)
	nn := newNameNode(o, opts.Logger.With().Str("component", "minihdfs-namenode").Logger(), bpid)
	nn.dn = dns
	for _, dn := range list {
		dn.nn = nn
	}
	now := nn.nowMS()
	if len(opts.Users) > 0 {
		home := nn.root.children["user"]
		if home == nil {
			home = nn.newDir(nn.root, "user", 0o755, o.superuser, now)
		}
		for _, u := range opts.Users {
			if home.children[u] == nil {
				d := nn.newDir(home, u, 0o755, u, now)
				d.group = o.supergroup
			}
		}
	}
	srvOpts := ipc.ServerOptions{AllowSimple: true, Logger: opts.Logger}
	if sec := opts.Security; sec != nil {
		nn.tokens = delegation.New(delegation.Options{Codec: hdfsTokenCodec, MaxLifetime: sec.TokenMaxLifetime,
			RenewInterval: sec.TokenRenewInterval, Clock: o.clock})
		mechs, err := sec.mechanisms(nn.tokens)
		if err != nil {
			stopAll()
			return nil, err
		}
		srvOpts = ipc.ServerOptions{Mechanisms: mechs, Logger: opts.Logger}
	}
	srv := ipc.NewServer(srvOpts)
	srv.Register(clientProtocol, nn.service())
	c := &Cluster{nn: nn, dns: dns, srv: srv, nnLn: nnLn}
	lctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		if err := srv.Serve(nnLn); err != nil {
			nn.lg.Warn().Err(err).Msg("NameNode stopped serving")
		}
	}()
	go func() {
		defer c.wg.Done()
		nn.leaseMonitor(lctx, o.leaseCheckInterval)
	}()
	for _, dn := range list {
		dn.wg.Add(1)
		go dn.serve()
	}
	nn.lg.Info().Str("node", list[0].addr()).Msgf("mini HDFS up: NameNode %s, %d DataNode(s), block pool %s", nnLn.Addr(), n, bpid)
	return c, nil
}

// DelegationTokens is the number of live HDFS delegation tokens (issued,
// not cancelled); 0 on an insecure cluster.
func (c *Cluster) DelegationTokens() int {
	if c.nn.tokens == nil {
		return 0
	}
	return c.nn.tokens.Live()
}

// NameNodeAddr is the NameNode's host:port.
func (c *Cluster) NameNodeAddr() string { return c.nnLn.Addr().String() }

// DataNodeAddr is the first DataNode's data transfer host:port.
func (c *Cluster) DataNodeAddr() string { return c.dns.list[0].addr() }

// URI is the cluster's fs.defaultFS: hdfs://<NameNodeAddr>.
func (c *Cluster) URI() string { return "hdfs://" + c.NameNodeAddr() }

// BlockPoolID is the block pool id the NameNode hands out in blocks.
func (c *Cluster) BlockPoolID() string { return c.nn.bpid }

// Superuser is the NameNode's user.
func (c *Cluster) Superuser() string { return c.nn.o.superuser }

// StopDataNode is a fault hook: the first DataNode dies at once (see
// DataNode.Stop).
func (c *Cluster) StopDataNode() { c.DataNode(0).Stop() }

// StopDataNodeAfter is the first DataNode's DataNode.StopAfter.
func (c *Cluster) StopDataNodeAfter(n int64) { c.DataNode(0).StopAfter(n) }

// DataNodeAlive reports whether the first DataNode is running.
func (c *Cluster) DataNodeAlive() bool { return c.DataNode(0).Alive() }

// DataNodeBytesReceived is the first DataNode's DataNode.BytesReceived.
func (c *Cluster) DataNodeBytesReceived() int64 { return c.DataNode(0).BytesReceived() }

// DataNodes is the number of DataNodes, running or stopped.
func (c *Cluster) DataNodes() int { return len(c.dns.list) }

// DataNode returns the i-th DataNode (from 0, in start order); it panics
// if i is out of range.
func (c *Cluster) DataNode(i int) *DataNode { return &DataNode{dn: c.dns.list[i]} }

// DataNode is a handle on one DataNode of a Cluster, for addresses and
// fault hooks. Its methods are safe for concurrent use.
type DataNode struct{ dn *dataNode }

// Addr is the DataNode's data transfer host:port.
func (d *DataNode) Addr() string { return d.dn.addr() }

// UUID is the DataNode's DatanodeUuid, as block locations name it.
func (d *DataNode) UUID() string { return d.dn.uuid }

// Stop is a fault hook: the DataNode dies at once, cutting every transfer
// in progress mid-stream (to clients and to other DataNodes), and stays
// down. The NameNode stops placing blocks on it at once; when no
// DataNode is left it refuses to allocate blocks ("could only be written
// to 0 of the 1 minReplication nodes"), as a real one does once nodes are
// dead. Block locations keep naming it, as a real NameNode's do until it
// declares the node dead, so readers must fall over to another replica.
func (d *DataNode) Stop() { d.dn.stop() }

// StopAfter is a fault hook: the DataNode dies (as Stop) as soon as it has
// received n bytes of block data in total, counting what it already
// received. n <= 0 disarms it.
func (d *DataNode) StopAfter(n int64) {
	d.dn.stopAfter.Store(max(n, 0))
	if n > 0 && d.dn.received.Load() >= n {
		d.dn.kill()
	}
}

// Alive reports whether the DataNode is running.
func (d *DataNode) Alive() bool { return d.dn.alive() }

// BytesReceived is the number of block data bytes the DataNode has
// accepted in WRITE_BLOCK packets since it started, from clients and
// upstream DataNodes (checksums and headers not counted).
func (d *DataNode) BytesReceived() int64 { return d.dn.received.Load() }

// Replicas lists the ids of the blocks the DataNode holds a replica of
// (being written or finalized), in no particular order.
func (d *DataNode) Replicas() []uint64 {
	d.dn.mu.Lock()
	defer d.dn.mu.Unlock()
	ids := make([]uint64, 0, len(d.dn.replicas))
	for id := range d.dn.replicas {
		ids = append(ids, id)
	}
	return ids
}

// Close stops both daemons and waits for every goroutine they started;
// every listener, connection and file they opened is closed. Block files
// stay in Options.Dir. Close is idempotent.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		c.srv.Close()
		for _, dn := range c.dns.list {
			dn.stop()
		}
		c.cancel()
		c.wg.Wait()
	})
	return nil
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
