package minicluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/yarn"
)

// Defaults, named after the yarn-default.xml keys they stand for (Hadoop 3.3).
const (
	// DefaultHeartbeatInterval is yarn.resourcemanager.nodemanagers.heartbeat-interval-ms.
	DefaultHeartbeatInterval = time.Second
	// DefaultAMExpiry is yarn.am.liveness-monitor.expiry-interval-ms (3.3; trunk has 15 min).
	DefaultAMExpiry = 10 * time.Minute
	// DefaultNMExpiry is yarn.nm.liveness-monitor.expiry-interval-ms.
	DefaultNMExpiry = 10 * time.Minute
	// DefaultContainerAllocationExpiry is yarn.resourcemanager.rm.container-allocation.expiry-interval-ms.
	DefaultContainerAllocationExpiry = 10 * time.Minute
	// DefaultMaxAttempts is yarn.resourcemanager.am.max-attempts.
	DefaultMaxAttempts = 2
	// DefaultNodeLocalityDelay is yarn.scheduler.capacity.node-locality-delay
	// (CapacitySchedulerConfiguration.DEFAULT_NODE_LOCALITY_DELAY).
	DefaultNodeLocalityDelay = 40
	// DefaultRackLocalityAdditionalDelay is
	// yarn.scheduler.capacity.rack-locality-additional-delay
	// (CapacitySchedulerConfiguration.DEFAULT_RACK_LOCALITY_ADDITIONAL_DELAY):
	// disabled.
	DefaultRackLocalityAdditionalDelay = -1
	// DefaultMaxAssignmentsPerHeartbeat is
	// yarn.scheduler.capacity.per-node-heartbeat.maximum-container-assignments
	// (CapacitySchedulerConfiguration.DEFAULT_MAX_ASSIGN_PER_HEARTBEAT).
	DefaultMaxAssignmentsPerHeartbeat = 100
	// DefaultOffSwitchPerHeartbeat is
	// yarn.scheduler.capacity.per-node-heartbeat.maximum-offswitch-assignments
	// (CapacitySchedulerConfiguration.DEFAULT_OFFSWITCH_PER_HEARTBEAT_LIMIT).
	DefaultOffSwitchPerHeartbeat = 1
	// DefaultSigkillDelay is yarn.nodemanager.sleep-delay-before-sigkill.ms.
	DefaultSigkillDelay = 250 * time.Millisecond
	// DefaultRack is the rack of every node without a topology script.
	DefaultRack = "/default-rack"
	// DefaultQueue is the queue applications go to when they name none.
	DefaultQueue = "default"
	// DefaultMaxAMResourcePercent is
	// yarn.scheduler.capacity.maximum-am-resource-percent
	// (CapacitySchedulerConfiguration.DEFAULT_MAXIMUM_APPLICATIONMASTERS_RESOURCE_PERCENT):
	// ApplicationMasters may hold at most this fraction of a queue.
	DefaultMaxAMResourcePercent = 0.1
)

var (
	// DefaultMinAllocation is yarn.scheduler.minimum-allocation-mb/-vcores.
	DefaultMinAllocation = yarn.Resource{MemoryMB: 1024, VCores: 1}
	// DefaultMaxAllocation is yarn.scheduler.maximum-allocation-mb/-vcores.
	DefaultMaxAllocation = yarn.Resource{MemoryMB: 8192, VCores: 4}
	// DefaultNodeResource is yarn.nodemanager.resource.memory-mb/cpu-vcores.
	DefaultNodeResource = yarn.Resource{MemoryMB: 8192, VCores: 8}
	// DefaultEnvWhitelist is yarn.nodemanager.env-whitelist.
	DefaultEnvWhitelist = []string{"JAVA_HOME", "HADOOP_COMMON_HOME", "HADOOP_HDFS_HOME", "HADOOP_CONF_DIR",
		"CLASSPATH_PREPEND_DISTCACHE", "HADOOP_YARN_HOME", "HADOOP_HOME", "PATH", "LANG", "TZ"}
)

// QueueOptions configures one leaf queue under root, as
// yarn.scheduler.capacity.root.<name>.capacity and .maximum-capacity do.
type QueueOptions struct {
	// Name is the leaf name ("default", "etl"); applications submit to it
	// by this name.
	Name string
	// Capacity is the guaranteed share of the cluster in percent. The
	// capacities of all queues must add up to 100.
	Capacity float64
	// MaxCapacity is the most of the cluster the queue may use, in
	// percent; 0 means 100.
	MaxCapacity float64
	// Stopped is yarn.scheduler.capacity.root.<name>.state=STOPPED: the
	// queue refuses new applications.
	Stopped bool
	// MaxAMResourcePercent is
	// yarn.scheduler.capacity.root.<name>.maximum-am-resource-percent: the
	// fraction (0.1 is 10%) of the queue its ApplicationMasters may hold;
	// an application whose AM does not fit stays ACCEPTED, not activated
	// (see RMOptions.MaxAMResourcePercent). 0 means
	// RMOptions.MaxAMResourcePercent.
	MaxAMResourcePercent float64
}

// RMOptions configures a ResourceManager. The zero value is a usable
// single-queue RM on loopback with YARN's defaults.
type RMOptions struct {
	// Host is the address the RM listens on; "" means 127.0.0.1.
	Host string
	// ClientPort is the ApplicationClientProtocol port
	// (yarn.resourcemanager.address); 0 picks a free one.
	ClientPort int
	// SchedulerPort is the ApplicationMasterProtocol port
	// (yarn.resourcemanager.scheduler.address); 0 picks a free one.
	SchedulerPort int
	// WebAddress is yarn.resourcemanager.webapp.address, used only to
	// build tracking URLs (the mini cluster serves no web UI); "" means
	// localhost:8088.
	WebAddress string
	// MinAllocation is the minimum container size; requests are rounded up
	// to multiples of it. Zero fields take DefaultMinAllocation's.
	MinAllocation yarn.Resource
	// MaxAllocation is the largest container; requests above it fail with
	// InvalidResourceRequestException. Zero fields take DefaultMaxAllocation's.
	MaxAllocation yarn.Resource
	// DominantResources makes the scheduler account vcores as well as
	// memory (DominantResourceCalculator). False is the CapacityScheduler
	// default (DefaultResourceCalculator): only memory counts, and every
	// container is normalized to 1 vcore.
	DominantResources bool
	// Queues are the leaf queues; nil means one queue "default" at 100%.
	Queues []QueueOptions
	// MaxAMResourcePercent is
	// yarn.scheduler.capacity.maximum-am-resource-percent, the default of
	// every queue's MaxAMResourcePercent: a fraction in (0, 1]; 0 means
	// DefaultMaxAMResourcePercent (0.1), as in YARN. The scheduler
	// activates an application only while its queue's AMs (and the
	// user's) fit under the queue's AM limit, except the first
	// (LeafQueue.activateApplications); until then it stays ACCEPTED with
	// the CapacityScheduler's "not yet activated" diagnostics.
	MaxAMResourcePercent float64
	// MaxAttempts is yarn.resourcemanager.am.max-attempts, the global
	// limit and the default for applications that set none; 0 means 2.
	MaxAttempts int
	// AMExpiry is how long an AM may go without a heartbeat before its
	// attempt fails; 0 means DefaultAMExpiry.
	AMExpiry time.Duration
	// NMExpiry is how long a NodeManager may go without a heartbeat before
	// it is LOST with its containers; 0 means DefaultNMExpiry.
	NMExpiry time.Duration
	// ContainerAllocationExpiry is how long an AM has to start an allocated
	// container before the RM takes it back; 0 means
	// DefaultContainerAllocationExpiry.
	ContainerAllocationExpiry time.Duration
	// The per-heartbeat limits are CapacityScheduler.canAllocateMore
	// (hadoop-yarn-server-resourcemanager/.../scheduler/capacity/
	// CapacityScheduler.java), with the defaults of
	// CapacitySchedulerConfiguration.java: after each container a node
	// heartbeat hands out, it goes on only while fewer than
	// maximum-offswitch-assignments off-switch containers went out, only
	// with multiple assignments enabled, and only while fewer than
	// maximum-container-assignments did. Node-local and rack-local
	// containers have no limit of their own.
	//
	// SingleAssignmentPerHeartbeat turns
	// yarn.scheduler.capacity.per-node-heartbeat.multiple-assignments-enabled
	// (default true) off: one container per node heartbeat.
	SingleAssignmentPerHeartbeat bool
	// MaxAssignmentsPerHeartbeat bounds the containers one node heartbeat
	// hands out (yarn.scheduler.capacity.per-node-heartbeat.maximum-container-assignments,
	// DEFAULT_MAX_ASSIGN_PER_HEARTBEAT); 0 means 100, negative means no
	// limit (YARN's -1).
	MaxAssignmentsPerHeartbeat int
	// OffSwitchPerHeartbeat bounds the off-switch containers one node
	// heartbeat hands out, and ends the heartbeat's assignments once
	// reached (yarn.scheduler.capacity.per-node-heartbeat.maximum-offswitch-assignments,
	// DEFAULT_OFFSWITCH_PER_HEARTBEAT_LIMIT); 0 means 1, as in YARN: plain
	// ("*") requests get one container per node heartbeat.
	OffSwitchPerHeartbeat int
	// QOPs are the SASL QOPs the scheduler port (and, when Security is
	// set, the client port) offers ("auth", "auth-int", "auth-conf"), as
	// hadoop.rpc.protection sets them; nil means auth.
	QOPs []string
	// Security, if set, makes the client port secure: Kerberos and RM
	// delegation tokens instead of SIMPLE (see RMSecurity). Nil is an
	// insecure cluster.
	Security *RMSecurity
	// NodeLocalityDelay is the number of missed scheduling opportunities
	// before a request may go rack-local
	// (yarn.scheduler.capacity.node-locality-delay,
	// DEFAULT_NODE_LOCALITY_DELAY; RegularContainerAllocator.canAssign
	// caps it by the number of nodes: getActualNodeLocalityDelay); 0 means
	// 40, <0 means none.
	NodeLocalityDelay int
	// RackLocalityAdditionalDelay is
	// yarn.scheduler.capacity.rack-locality-additional-delay
	// (DEFAULT_RACK_LOCALITY_ADDITIONAL_DELAY -1): when enabled, a request
	// naming locations goes off-switch after NodeLocalityDelay plus this
	// many missed opportunities (capped by the number of nodes:
	// getActualRackLocalityDelay) instead of after the locality wait
	// factor's estimate. 0 means the default, -1 (disabled); set it
	// positive to enable it (YARN's 0, enabled with no additional delay,
	// is not expressible).
	RackLocalityAdditionalDelay int
	// HA, if set, makes the RM an HA pair: several rm-ids, one active,
	// the others standby (see HAOptions). ClientPort and SchedulerPort
	// are then ignored.
	HA *HAOptions
	// Logger receives lifecycle logs; the zero value logs nothing.
	Logger zerolog.Logger
}

func (o *RMOptions) setDefaults() error {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.WebAddress == "" {
		o.WebAddress = "localhost:8088"
	}
	if o.MinAllocation.MemoryMB == 0 {
		o.MinAllocation.MemoryMB = DefaultMinAllocation.MemoryMB
	}
	if o.MinAllocation.VCores == 0 {
		o.MinAllocation.VCores = DefaultMinAllocation.VCores
	}
	if o.MaxAllocation.MemoryMB == 0 {
		o.MaxAllocation.MemoryMB = DefaultMaxAllocation.MemoryMB
	}
	if o.MaxAllocation.VCores == 0 {
		o.MaxAllocation.VCores = DefaultMaxAllocation.VCores
	}
	if o.MinAllocation.MemoryMB < 0 || o.MinAllocation.VCores < 0 || o.MaxAllocation.MemoryMB < o.MinAllocation.MemoryMB ||
		o.MaxAllocation.VCores < o.MinAllocation.VCores {
		return fmt.Errorf("minicluster: invalid allocation bounds: minimum %s, maximum %s", o.MinAllocation.String(), o.MaxAllocation.String())
	}
	if len(o.Queues) == 0 {
		o.Queues = []QueueOptions{{Name: DefaultQueue, Capacity: 100}}
	}
	if o.MaxAMResourcePercent == 0 {
		o.MaxAMResourcePercent = DefaultMaxAMResourcePercent
	}
	if o.MaxAMResourcePercent < 0 || o.MaxAMResourcePercent > 1 {
		return fmt.Errorf("minicluster: maximum AM resource percent %g: want a fraction in (0, 1], e.g. 0.1", o.MaxAMResourcePercent)
	}
	var total float64
	seen := map[string]bool{}
	for i := range o.Queues {
		q := &o.Queues[i]
		if q.Name == "" || seen[q.Name] {
			return fmt.Errorf("minicluster: queue %d: empty or duplicate name %q", i, q.Name)
		}
		seen[q.Name] = true
		if q.MaxCapacity == 0 {
			q.MaxCapacity = 100
		}
		if q.MaxAMResourcePercent == 0 {
			q.MaxAMResourcePercent = o.MaxAMResourcePercent
		}
		if q.MaxAMResourcePercent < 0 || q.MaxAMResourcePercent > 1 {
			return fmt.Errorf("minicluster: queue %s: maximum AM resource percent %g: want a fraction in (0, 1], e.g. 0.1", q.Name, q.MaxAMResourcePercent)
		}
		if q.Capacity < 0 || q.Capacity > q.MaxCapacity || q.MaxCapacity > 100 {
			return fmt.Errorf("minicluster: queue %s: capacity %.1f%% and maximum capacity %.1f%% are inconsistent", q.Name, q.Capacity, q.MaxCapacity)
		}
		total += q.Capacity
	}
	if total < 99.999 || total > 100.001 {
		return fmt.Errorf("minicluster: queue capacities add up to %.1f%%, want 100%%", total)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.AMExpiry <= 0 {
		o.AMExpiry = DefaultAMExpiry
	}
	if o.NMExpiry <= 0 {
		o.NMExpiry = DefaultNMExpiry
	}
	if o.ContainerAllocationExpiry <= 0 {
		o.ContainerAllocationExpiry = DefaultContainerAllocationExpiry
	}
	if o.MaxAssignmentsPerHeartbeat == 0 {
		o.MaxAssignmentsPerHeartbeat = DefaultMaxAssignmentsPerHeartbeat
	}
	if o.OffSwitchPerHeartbeat <= 0 {
		o.OffSwitchPerHeartbeat = DefaultOffSwitchPerHeartbeat
	}
	if o.RackLocalityAdditionalDelay == 0 {
		o.RackLocalityAdditionalDelay = DefaultRackLocalityAdditionalDelay
	}
	if o.NodeLocalityDelay == 0 {
		o.NodeLocalityDelay = DefaultNodeLocalityDelay
	}
	return nil
}

// FileStatus is what localization needs to know about a remote file.
type FileStatus struct {
	Size    int64
	ModTime time.Time // compared with LocalResource.Timestamp at ms precision
	IsDir   bool
}

// FileSystem is a source of local resources for one URL scheme. "file" is
// built in; a mini HDFS plugs in "hdfs" through NMOptions.FileSystems.
type FileSystem interface {
	// Stat describes the file at u; a missing file is an error wrapping
	// fs.ErrNotExist.
	Stat(ctx context.Context, u yarn.URL) (FileStatus, error)
	// Open reads the file at u.
	Open(ctx context.Context, u yarn.URL) (io.ReadCloser, error)
}

// NMOptions configures a NodeManager. RM and Dir are required.
type NMOptions struct {
	// RM is the ResourceManager the node registers with.
	RM *ResourceManager
	// Dir holds the node's local dirs (Dir/local, yarn.nodemanager.local-dirs)
	// and log dirs (Dir/logs, yarn.nodemanager.log-dirs). It is created if
	// missing; Close removes what the node created in it.
	Dir string
	// Host is the node's host name, part of its NodeId; "" means
	// "localhost". The RPC server binds to it (an IP, or a name that
	// resolves to one).
	Host string
	// Port is the ContainerManagementProtocol port (yarn.nodemanager.address);
	// 0 picks a free one. A restarted node keeps its port.
	Port int
	// HTTPPort is the web port reported in NM_HTTP_PORT and node reports.
	// 0 means 8042 (not served) without Web, a free port with Web.
	HTTPPort int
	// Web serves the node's container log pages on HTTPPort: the
	// NodeManager web services' /ws/v1/node/containers/{id}/logs and
	// …/logs/{file} (what `yarn logs` reads for running applications) and
	// the web UI's /node/containerlogs/{id}/{user} (nm_web.go).
	Web bool
	// WebSecurity, with Web, makes the web server require SPNEGO.
	WebSecurity *NMWebSecurity
	// LogAggregation, if set, aggregates the logs of an application's
	// containers when it ends (yarn.log-aggregation-enable); nil keeps
	// them in the node's log dir until the node is closed.
	LogAggregation *LogAggregationOptions
	// Rack is the node's rack; "" means /default-rack.
	Rack string
	// Resource is the node's capacity; zero fields take DefaultNodeResource's.
	Resource yarn.Resource
	// HeartbeatInterval is how often the node reports to the RM, which is
	// when containers are handed out; 0 means 1 s, as in YARN.
	HeartbeatInterval time.Duration
	// SigkillDelay is the pause between SIGTERM and SIGKILL when a
	// container is stopped; 0 means 250 ms.
	SigkillDelay time.Duration
	// Env is the NodeManager's own environment, from which whitelisted
	// variables (EnvWhitelist) reach containers that do not set them, and
	// MALLOC_ARENA_MAX for the admin environment. Nil means this process's
	// environment.
	Env map[string]string
	// EnvWhitelist is yarn.nodemanager.env-whitelist; nil means DefaultEnvWhitelist.
	EnvWhitelist []string
	// UserHomeDir is yarn.nodemanager.user-home-dir, the containers' HOME;
	// "" means "/home/".
	UserHomeDir string
	// QOPs are the SASL QOPs the node offers (hadoop.rpc.protection); nil
	// means auth.
	QOPs []string
	// FileSystems adds localization sources by URL scheme ("hdfs"); file://
	// is always available.
	FileSystems map[string]FileSystem
	// Simulate, if set, makes the node run (some of) its containers
	// without processes, for measuring AMs at thousands of containers
	// (see SimulateOptions). Nil runs every container as a process.
	Simulate *SimulateOptions
	// Logger receives lifecycle logs; the zero value logs nothing.
	Logger zerolog.Logger
}

func (o *NMOptions) setDefaults() error {
	if o.RM == nil {
		return errors.New("minicluster: NMOptions.RM is nil")
	}
	if o.Dir == "" {
		return errors.New("minicluster: NMOptions.Dir is empty")
	}
	if o.Host == "" {
		o.Host = "localhost"
	}
	if o.HTTPPort == 0 && !o.Web {
		o.HTTPPort = 8042
	}
	if o.WebSecurity != nil && (o.WebSecurity.Keytab == nil || o.WebSecurity.Principal == "") {
		return errors.New("minicluster: NMOptions.WebSecurity needs a Keytab and a Principal")
	}
	if o.LogAggregation != nil && o.LogAggregation.RemoteDir == "" {
		return errors.New("minicluster: NMOptions.LogAggregation.RemoteDir is empty")
	}
	if o.Rack == "" {
		o.Rack = DefaultRack
	}
	if o.Resource.MemoryMB == 0 {
		o.Resource.MemoryMB = DefaultNodeResource.MemoryMB
	}
	if o.Resource.VCores == 0 {
		o.Resource.VCores = DefaultNodeResource.VCores
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.SigkillDelay <= 0 {
		o.SigkillDelay = DefaultSigkillDelay
	}
	if o.EnvWhitelist == nil {
		o.EnvWhitelist = DefaultEnvWhitelist
	}
	if o.UserHomeDir == "" {
		o.UserHomeDir = "/home/"
	}
	return nil
}
