package conf

// Keys Spindle reads, with the defaults Hadoop 3.3 applies (from
// core-default.xml, hdfs-default.xml, yarn-default.xml and the *_DEFAULT
// constants of CommonConfigurationKeys, DFSConfigKeys and
// YarnConfiguration). The Java constant each key mirrors is named in its
// comment.

// ResourceManager addresses (YarnConfiguration.RM_*).
const (
	// KeyRMHostname is yarn.resourcemanager.hostname (RM_HOSTNAME). In HA
	// mode it is suffixed with ".<rm-id>".
	KeyRMHostname = "yarn.resourcemanager.hostname"
	// KeyRMAddress is yarn.resourcemanager.address (RM_ADDRESS), the
	// ApplicationClientProtocol endpoint.
	KeyRMAddress = "yarn.resourcemanager.address"
	// KeyRMSchedulerAddress is yarn.resourcemanager.scheduler.address
	// (RM_SCHEDULER_ADDRESS), the ApplicationMasterProtocol endpoint.
	KeyRMSchedulerAddress = "yarn.resourcemanager.scheduler.address"
	// KeyRMResourceTrackerAddress is
	// yarn.resourcemanager.resource-tracker.address
	// (RM_RESOURCE_TRACKER_ADDRESS), used by NodeManagers.
	KeyRMResourceTrackerAddress = "yarn.resourcemanager.resource-tracker.address"
	// KeyRMAdminAddress is yarn.resourcemanager.admin.address
	// (RM_ADMIN_ADDRESS).
	KeyRMAdminAddress = "yarn.resourcemanager.admin.address"
	// KeyRMWebAppAddress is yarn.resourcemanager.webapp.address
	// (RM_WEBAPP_ADDRESS).
	KeyRMWebAppAddress = "yarn.resourcemanager.webapp.address"
	// KeyRMWebAppHTTPSAddress is yarn.resourcemanager.webapp.https.address
	// (RM_WEBAPP_HTTPS_ADDRESS).
	KeyRMWebAppHTTPSAddress = "yarn.resourcemanager.webapp.https.address"

	// DefaultRMHostname is the default of KeyRMHostname.
	DefaultRMHostname = "0.0.0.0"
	// DefaultRMPort is DEFAULT_RM_PORT.
	DefaultRMPort = 8032
	// DefaultRMSchedulerPort is DEFAULT_RM_SCHEDULER_PORT.
	DefaultRMSchedulerPort = 8030
	// DefaultRMResourceTrackerPort is DEFAULT_RM_RESOURCE_TRACKER_PORT.
	DefaultRMResourceTrackerPort = 8031
	// DefaultRMAdminPort is DEFAULT_RM_ADMIN_PORT.
	DefaultRMAdminPort = 8033
	// DefaultRMWebAppPort is DEFAULT_RM_WEBAPP_PORT.
	DefaultRMWebAppPort = 8088
	// DefaultRMWebAppHTTPSPort is DEFAULT_RM_WEBAPP_HTTPS_PORT.
	DefaultRMWebAppHTTPSPort = 8090
)

// ResourceManager HA and client retry (YarnConfiguration).
const (
	// KeyRMHAEnabled is yarn.resourcemanager.ha.enabled (RM_HA_ENABLED),
	// default false.
	KeyRMHAEnabled = "yarn.resourcemanager.ha.enabled"
	// KeyRMHAIDs is yarn.resourcemanager.ha.rm-ids (RM_HA_IDS), a comma list.
	KeyRMHAIDs = "yarn.resourcemanager.ha.rm-ids"

	// KeyRMConnectMaxWaitMS is yarn.resourcemanager.connect.max-wait.ms
	// (RESOURCEMANAGER_CONNECT_MAX_WAIT_MS); -1 means wait forever.
	KeyRMConnectMaxWaitMS = "yarn.resourcemanager.connect.max-wait.ms"
	// DefaultRMConnectMaxWaitMS is its default: 15 minutes.
	DefaultRMConnectMaxWaitMS = 900000
	// KeyRMConnectRetryIntervalMS is
	// yarn.resourcemanager.connect.retry-interval.ms
	// (RESOURCEMANAGER_CONNECT_RETRY_INTERVAL_MS).
	KeyRMConnectRetryIntervalMS = "yarn.resourcemanager.connect.retry-interval.ms"
	// DefaultRMConnectRetryIntervalMS is its default: 30 seconds.
	DefaultRMConnectRetryIntervalMS = 30000
	// KeyClientFailoverSleepBaseMS is yarn.client.failover-sleep-base-ms
	// (CLIENT_FAILOVER_SLEEPTIME_BASE_MS); it defaults to the value of
	// KeyRMConnectRetryIntervalMS.
	KeyClientFailoverSleepBaseMS = "yarn.client.failover-sleep-base-ms"
	// KeyClientFailoverSleepMaxMS is yarn.client.failover-sleep-max-ms
	// (CLIENT_FAILOVER_SLEEPTIME_MAX_MS); it defaults to the value of
	// KeyRMConnectRetryIntervalMS.
	KeyClientFailoverSleepMaxMS = "yarn.client.failover-sleep-max-ms"
	// KeyClientFailoverMaxAttempts is yarn.client.failover-max-attempts
	// (CLIENT_FAILOVER_MAX_ATTEMPTS); unset or -1 means derived from the
	// maximum wait.
	KeyClientFailoverMaxAttempts = "yarn.client.failover-max-attempts"
)

// HDFS (CommonConfigurationKeysPublic, DFSConfigKeys, HdfsClientConfigKeys).
const (
	// KeyDefaultFS is fs.defaultFS (FS_DEFAULT_NAME_KEY). The deprecated
	// name fs.default.name is read as this key.
	KeyDefaultFS = "fs.defaultFS"
	// DefaultFS is its default.
	DefaultFS = "file:///"
	// KeyDFSNameservices is dfs.nameservices (DFS_NAMESERVICES), a comma
	// list of logical names. The deprecated name dfs.federation.nameservices
	// is read as this key.
	KeyDFSNameservices = "dfs.nameservices"
	// KeyDFSHANameNodesPrefix is dfs.ha.namenodes (DFS_HA_NAMENODES_KEY_PREFIX);
	// the key is suffixed with ".<nameservice>" and lists namenode ids.
	KeyDFSHANameNodesPrefix = "dfs.ha.namenodes"
	// KeyNameNodeRPCAddress is dfs.namenode.rpc-address
	// (DFS_NAMENODE_RPC_ADDRESS_KEY), suffixed with ".<nameservice>" or
	// ".<nameservice>.<namenode-id>" for federation and HA.
	KeyNameNodeRPCAddress = "dfs.namenode.rpc-address"
	// DefaultNameNodeRPCPort is DFS_NAMENODE_RPC_PORT_DEFAULT, the port of an
	// hdfs:// URI that names none.
	DefaultNameNodeRPCPort = 8020
)

// Security (CommonConfigurationKeysPublic, YarnConfiguration, DFSConfigKeys).
const (
	// KeySecurityAuthentication is hadoop.security.authentication
	// (HADOOP_SECURITY_AUTHENTICATION): simple or kerberos.
	KeySecurityAuthentication = "hadoop.security.authentication"
	// KeyRPCProtection is hadoop.rpc.protection (HADOOP_RPC_PROTECTION): a
	// comma list of authentication, integrity and privacy.
	KeyRPCProtection = "hadoop.rpc.protection"
	// KeyFallbackToSimpleAuthAllowed is
	// ipc.client.fallback-to-simple-auth-allowed
	// (IPC_CLIENT_FALLBACK_TO_SIMPLE_AUTH_ALLOWED_KEY, default false):
	// whether a secure client may carry on without authentication when a
	// server skips it.
	KeyFallbackToSimpleAuthAllowed = "ipc.client.fallback-to-simple-auth-allowed"
	// KeyRMPrincipal is yarn.resourcemanager.principal (RM_PRINCIPAL), e.g.
	// rm/_HOST@EXAMPLE.COM.
	KeyRMPrincipal = "yarn.resourcemanager.principal"
	// KeyNameNodePrincipal is dfs.namenode.kerberos.principal
	// (DFS_NAMENODE_KERBEROS_PRINCIPAL_KEY), e.g. nn/_HOST@EXAMPLE.COM.
	KeyNameNodePrincipal = "dfs.namenode.kerberos.principal"
)

// Hadoop IPC client (CommonConfigurationKeys, CommonConfigurationKeysPublic).
const (
	// KeyIPCConnectionMaxIdleTime is ipc.client.connection.maxidletime in
	// milliseconds (IPC_CLIENT_CONNECTION_MAXIDLETIME_KEY).
	KeyIPCConnectionMaxIdleTime = "ipc.client.connection.maxidletime"
	// DefaultIPCConnectionMaxIdleTimeMS is its default: 10 seconds.
	DefaultIPCConnectionMaxIdleTimeMS = 10000
	// KeyIPCConnectTimeout is ipc.client.connect.timeout in milliseconds
	// (IPC_CLIENT_CONNECT_TIMEOUT_KEY).
	KeyIPCConnectTimeout = "ipc.client.connect.timeout"
	// DefaultIPCConnectTimeoutMS is its default: 20 seconds.
	DefaultIPCConnectTimeoutMS = 20000
	// KeyIPCPing is ipc.client.ping (IPC_CLIENT_PING_KEY), default true.
	KeyIPCPing = "ipc.client.ping"
	// KeyIPCPingInterval is ipc.ping.interval in milliseconds
	// (IPC_PING_INTERVAL_KEY).
	KeyIPCPingInterval = "ipc.ping.interval"
	// DefaultIPCPingIntervalMS is its default: 1 minute.
	DefaultIPCPingIntervalMS = 60000
	// KeyIPCRPCTimeout is ipc.client.rpc-timeout.ms
	// (IPC_CLIENT_RPC_TIMEOUT_KEY); 0 or negative means no timeout.
	KeyIPCRPCTimeout = "ipc.client.rpc-timeout.ms"
	// DefaultIPCRPCTimeoutMS is its Hadoop 3.3 default: 2 minutes.
	DefaultIPCRPCTimeoutMS = 120000
	// KeyIPCMaxDataLength is ipc.maximum.data.length
	// (IPC_MAXIMUM_DATA_LENGTH), the largest request frame a server accepts.
	KeyIPCMaxDataLength = "ipc.maximum.data.length"
	// DefaultIPCMaxDataLength is its default: 128 MiB.
	DefaultIPCMaxDataLength = 134217728
	// KeyIPCMaxResponseLength is ipc.maximum.response.length
	// (IPC_MAXIMUM_RESPONSE_LENGTH), the largest response a client accepts.
	KeyIPCMaxResponseLength = "ipc.maximum.response.length"
	// DefaultIPCMaxResponseLength is its default: 128 MiB.
	DefaultIPCMaxResponseLength = 134217728
)
