package amapi

// Environment the AM gives the JobManager and the TaskManagers. The
// payload reads it; it is the whole contract between Spindle and a payload.
const (
	EnvAppID         = "SPINDLE_APP_ID"          // application id
	EnvAttemptID     = "SPINDLE_ATTEMPT_ID"      // the AM attempt that started the process
	EnvMode          = "SPINDLE_MODE"            // "session" or "per-job"
	EnvAMURL         = "SPINDLE_AM_URL"          // the AM's HTTP endpoint (its tracking URL) when the process started
	EnvJMHost        = "SPINDLE_JM_HOST"         // JobManager host (the AM's node)
	EnvJMRPCPort     = "SPINDLE_JM_RPC_PORT"     // JobManager RPC port, chosen by the AM
	EnvJMRESTPort    = "SPINDLE_JM_REST_PORT"    // JobManager REST port, chosen by the AM
	EnvJMAddress     = "SPINDLE_JM_ADDRESS"      // host:rpc-port
	EnvJMRESTAddress = "SPINDLE_JM_REST_ADDRESS" // host:rest-port
	EnvJMMetricsPort = "SPINDLE_JM_METRICS_PORT" // the port of the JobManager's Prometheus endpoint, chosen by the AM (ProcessSpec.Metrics)
	EnvTaskManagers  = "SPINDLE_TASKMANAGERS"    // the fleet's target size
	EnvResourceID    = "SPINDLE_RESOURCE_ID"     // a TaskManager's resource id: its container id
	EnvBinary        = "SPINDLE_BIN"             // the spindle binary running the AM (JobManager only)
	EnvLiveness      = "SPINDLE_LIVENESS"        // "off": a TaskManager holds no liveness connection (LivePath); set it in the TaskManagers' env
	// EnvMetricsPort is the port of a TaskManager's Prometheus endpoint.
	// Nobody sets it in a container's environment: a TaskManager's
	// launcher that turned the endpoint on answers it in the lookup it
	// passes to KeepContainerAlive, which tells the AM (LivePath's
	// MetricsPortParam) on every liveness connection, so that each AM
	// attempt learns it.
	EnvMetricsPort = "SPINDLE_METRICS_PORT"
	// EnvResultFile (result.go), the JobManager only: where a per-job
	// JobManager may write its Result.
	// With a shipped keytab (Spec.Kerberos), the JobManager only:
	EnvKerberosPrincipal = "SPINDLE_KERBEROS_PRINCIPAL" // the principal the keytab logs in as
	EnvKerberosKeytab    = "SPINDLE_KERBEROS_KEYTAB"    // the keytab's absolute path
)
