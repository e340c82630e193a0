package amapi

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// Files the submitter ships to the AM container (as LocalResources, so
// the NodeManager links them into the AM's working directory).
const (
	// SpecFile is the Spec, JSON-encoded.
	SpecFile = "spindle-am.json"
	// StopSecretFile holds the stop secret: random bytes the submitter
	// wrote into the application's 0700 staging directory. Whoever can
	// read the staging directory (the submitting user) can stop the
	// application; the AM compares in constant time.
	StopSecretFile = "stop-secret"
	// KeytabFile is the user's keytab, shipped (0600, APPLICATION
	// visibility, never cached) when the submitter asks the AM to keep
	// the application's delegation tokens fresh (Spec.Kerberos).
	KeytabFile = "krb5.keytab"
	// Krb5ConfFile is the submitter's krb5.conf, shipped with the keytab
	// when the submitter named one ($KRB5_CONFIG); without it the AM reads
	// the node's /etc/krb5.conf.
	Krb5ConfFile = "krb5.conf"
)

// Mode says what ends the application.
type Mode string

// Modes.
const (
	// ModeSession runs until stopped (HTTP stop, `yarn app -kill`); a
	// JobManager that fails is restarted under the restart policy.
	ModeSession Mode = "session"
	// ModePerJob ends the application when the JobManager exits: 0 is
	// SUCCEEDED, anything else FAILED with its last output lines.
	ModePerJob Mode = "per-job"
)

// Spec is what the submitter tells the AM, shipped as SpecFile. It is an
// API between Spindle versions: fields are only ever added.
type Spec struct {
	Mode         Mode            `json:"mode"`
	JobManager   ProcessSpec     `json:"jobmanager"`
	TaskManagers TaskManagerSpec `json:"taskmanagers"`
	// Restart governs TaskManager replacement and (session) JobManager
	// restarts, each with its own tracker.
	Restart RestartPolicy `json:"restart"`
	// Staging locates the staging directory the AM removes when the
	// application ends. Empty FS means there is none to remove.
	Staging StagingSpec `json:"staging"`
	// Kerberos, when set, makes the AM log in from a shipped keytab and
	// replace the application's delegation tokens before they expire
	// (see TokenSource); nil forwards the submitter's tokens as they are.
	Kerberos *KerberosSpec `json:"kerberos,omitempty"`
	// Payload is the payload's name (amapi.Payload.Name: "example",
	// "flink"), for the status and the metrics discovery; "" from an
	// older submitter.
	Payload string `json:"payload,omitempty"`
}

// KerberosSpec is the AM's own Kerberos login, from files the submitter
// shipped into the AM container's working directory.
type KerberosSpec struct {
	// Principal is the user's principal, e.g. alice@EXAMPLE.COM.
	Principal string `json:"principal"`
	// Keytab is the keytab's resource name (KeytabFile).
	Keytab string `json:"keytab"`
	// Krb5Conf is the krb5.conf's resource name (Krb5ConfFile); "" means
	// the node's.
	Krb5Conf string `json:"krb5_conf,omitempty"`
}

// ProcessSpec is the JobManager: a child process of the AM, in the AM
// container's working directory, whose files the submitter shipped as the
// AM container's local resources.
type ProcessSpec struct {
	// Command is the argv; ${VAR} is expanded from Env and the SPINDLE_*
	// variables above (EnvBinary is the spindle binary).
	Command []string `json:"command"`
	// Env is added to the AM container's environment.
	Env map[string]string `json:"env,omitempty"`
	// Files must be present in the working directory before the
	// JobManager starts (the AM checks, to fail with a clear message).
	Files []string `json:"files,omitempty"`
	// LogFile is the JobManager's own log, in the container's log
	// directory (Flink's "jobmanager.log"), which a per-job Result names;
	// "" means jobmanager.out, where the AM sends the process's output.
	LogFile string `json:"log_file,omitempty"`
	// ExitStates name the job's end each exit code of a per-job
	// JobManager means (Flink's ApplicationStatus: 0 "SUCCEEDED or
	// CANCELED", 1443 "FAILED", 1445 "UNKNOWN"), for the Result the AM
	// words when the JobManager wrote none (EnvResultFile).
	ExitStates map[int]string `json:"exit_states,omitempty"`
	// Metrics says that the JobManager serves Prometheus metrics (GET
	// /metrics) on $SPINDLE_JM_METRICS_PORT (EnvJMMetricsPort), which the
	// AM chooses like the JobManager's other ports: the AM then lists the
	// port in its status (JobManagerInfo.MetricsPort) for the metrics
	// discovery.
	Metrics bool `json:"metrics,omitempty"`
}

// TaskManagerSpec is the TaskManager fleet.
type TaskManagerSpec struct {
	// Count is the fleet's target size.
	Count    int   `json:"count"`
	MemoryMB int64 `json:"memory_mb"`
	// VCores 0 means 1.
	VCores int32 `json:"vcores,omitempty"`
	// Priority of the requests; 0 is fine unless the AM shares priorities
	// with something else. The AM container has priority 0 too but is
	// not requested by the AM.
	Priority int32 `json:"priority,omitempty"`
	// NodeLabel is a node label expression; it excludes Nodes and Racks.
	NodeLabel string `json:"node_label,omitempty"`
	// Nodes and Racks are preferred locations; without RelaxLocality
	// they are required.
	Nodes         []string `json:"nodes,omitempty"`
	Racks         []string `json:"racks,omitempty"`
	RelaxLocality bool     `json:"relax_locality,omitempty"`
	// Command is the YARN command line (hadoop-wire.md §8.2 markers
	// apply). Without a <LOG_DIR> redirect the AM appends
	// "1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.err".
	Command string `json:"command"`
	// Env is the TaskManagers' environment, before the SPINDLE_* variables.
	Env map[string]string `json:"env,omitempty"`
	// Files are the TaskManagers' local resources by link name.
	Files map[string]LocalFile `json:"files,omitempty"`
	// ClusterNodes are the cluster's RUNNING nodes at submit time
	// (getClusterNodes). Without Nodes, Racks and NodeLabel the AM asks
	// node-local, relaxed, on the nodes with room, in proportion to how
	// many TaskManagers fit on each: the CapacityScheduler hands out many
	// node-local containers per node heartbeat but only one for "*".
	ClusterNodes []ClusterNode `json:"cluster_nodes,omitempty"`
	// NoLocalitySpread asks for any host instead (--no-locality-spread).
	NoLocalitySpread bool `json:"no_locality_spread,omitempty"`
}

// ClusterNode is one NodeManager as the RM reported it.
type ClusterNode struct {
	Host string `json:"host"`
	Rack string `json:"rack,omitempty"`
	// CapabilityMB/VCores are the node's total, AvailableMB/VCores its
	// capability minus what is in use, when the report had them.
	CapabilityMB     int64    `json:"capability_mb,omitempty"`
	CapabilityVCores int32    `json:"capability_vcores,omitempty"`
	AvailableMB      int64    `json:"available_mb,omitempty"`
	AvailableVCores  int32    `json:"available_vcores,omitempty"`
	Labels           []string `json:"labels,omitempty"`
}

// ClusterNodeFromReport is the ClusterNode of an RM node report: what the
// submitter puts in the spec and what the AM's node view keeps current.
// Free memory and vcores are floored at 0 (an overcommitted node has no
// room, not negative room).
func ClusterNodeFromReport(r yarn.NodeReport) ClusterNode {
	return ClusterNode{Host: r.ID.Host, Rack: r.Rack, CapabilityMB: r.Capability.MemoryMB, CapabilityVCores: r.Capability.VCores,
		AvailableMB: max(r.Capability.MemoryMB-r.Used.MemoryMB, 0), AvailableVCores: max(r.Capability.VCores-r.Used.VCores, 0), Labels: r.Labels}
}

// StagingSpec locates the application's staging directory (see package
// hdfs): <Home>/.spindle/<application id> on FS, owned by User.
type StagingSpec struct {
	FS   string `json:"fs,omitempty"`
	Home string `json:"home,omitempty"`
	User string `json:"user,omitempty"`
}

// LocalFile is a YARN LocalResource in JSON form.
type LocalFile struct {
	// URL is the file's full URI (hdfs://nn:8020/p, file:///p).
	URL       string `json:"url"`
	Size      int64  `json:"size"`
	Timestamp int64  `json:"timestamp"` // modification time, ms, exact
	// Type is "FILE" (default) or "ARCHIVE".
	Type string `json:"type,omitempty"`
	// Visibility is "APPLICATION" (default), "PRIVATE" or "PUBLIC".
	Visibility string `json:"visibility,omitempty"`
}

// FileFromStaged describes a staged file as a LocalFile.
func FileFromStaged(f hdfs.StagedFile) LocalFile {
	return LocalFile{URL: f.URL, Size: f.Size, Timestamp: f.ModTime, Type: string(f.Type), Visibility: string(f.Visibility)}
}

// Resource converts f to a yarn.LocalResource.
func (f LocalFile) Resource() (yarn.LocalResource, error) {
	u, err := url.Parse(f.URL)
	if err != nil {
		return yarn.LocalResource{}, fmt.Errorf("amapi: file url %q: %w", f.URL, err)
	}
	if u.Scheme == "" || u.Path == "" {
		return yarn.LocalResource{}, fmt.Errorf("amapi: file url %q: want scheme://[host[:port]]/absolute/path", f.URL)
	}
	yu := yarn.URL{Scheme: u.Scheme, Host: u.Hostname(), File: u.Path, Port: -1}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return yarn.LocalResource{}, fmt.Errorf("amapi: file url %q: port: %w", f.URL, err)
		}
		yu.Port = int32(n)
	}
	if u.User != nil {
		yu.UserInfo = u.User.String()
	}
	r := yarn.LocalResource{URL: yu, Size: f.Size, Timestamp: f.Timestamp, Type: yarn.File, Visibility: yarn.Application}
	switch strings.ToUpper(f.Type) {
	case "", "FILE":
	case "ARCHIVE":
		r.Type = yarn.Archive
	default:
		return r, fmt.Errorf("amapi: file %q: type %q: want FILE or ARCHIVE", f.URL, f.Type)
	}
	switch strings.ToUpper(f.Visibility) {
	case "", "APPLICATION":
	case "PRIVATE":
		r.Visibility = yarn.Private
	case "PUBLIC":
		r.Visibility = yarn.Public
	default:
		return r, fmt.Errorf("amapi: file %q: visibility %q: want APPLICATION, PRIVATE or PUBLIC", f.URL, f.Visibility)
	}
	return r, nil
}

// ParseSpec decodes and validates a SpecFile.
func ParseSpec(b []byte) (Spec, error) {
	var s Spec
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return s, fmt.Errorf("amapi: %s: %w", SpecFile, err)
	}
	return s, s.Validate()
}

// Marshal encodes s for SpecFile.
func (s Spec) Marshal() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }

// Validate checks s.
func (s Spec) Validate() error {
	var errs []error
	switch s.Mode {
	case ModeSession, ModePerJob:
	default:
		errs = append(errs, fmt.Errorf("mode %q: want %q or %q", s.Mode, ModeSession, ModePerJob))
	}
	if len(s.JobManager.Command) == 0 {
		errs = append(errs, errors.New("jobmanager.command is empty"))
	}
	tm := s.TaskManagers
	if tm.Count < 0 {
		errs = append(errs, fmt.Errorf("taskmanagers.count %d is negative", tm.Count))
	}
	if tm.Count > 0 {
		if tm.MemoryMB <= 0 {
			errs = append(errs, errors.New("taskmanagers.memory_mb must be positive"))
		}
		if strings.TrimSpace(tm.Command) == "" {
			errs = append(errs, errors.New("taskmanagers.command is empty"))
		}
	}
	if tm.NodeLabel != "" && len(tm.Nodes)+len(tm.Racks) > 0 {
		errs = append(errs, errors.New("taskmanagers: node_label cannot be combined with nodes or racks"))
	}
	for name, f := range tm.Files {
		if _, err := f.Resource(); err != nil {
			errs = append(errs, fmt.Errorf("taskmanagers.files[%q]: %w", name, err))
		}
	}
	if k := s.Kerberos; k != nil && (k.Principal == "" || k.Keytab == "") {
		errs = append(errs, errors.New("kerberos needs principal and keytab"))
	}
	if s.Staging.FS != "" && s.Staging.Home == "" {
		errs = append(errs, errors.New("staging.home is required with staging.fs"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("amapi: invalid spec: %w", err)
	}
	return nil
}

// NewStopSecret returns a fresh stop secret for StopSecretFile: 32 random
// bytes, hex-encoded (so it travels in an HTTP header as is).
func NewStopSecret() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%x", b), nil
}
