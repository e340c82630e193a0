package amapi

import (
	"fmt"
	"strings"

	"github.com/spindle-yarn/spindle/hdfs"
)

// AMOverheadMB is the part of the AM container's memory the AM process
// itself keeps (a Go process: its heap, stacks and the HTTP endpoint);
// a payload sizes its JobManager from the rest.
const AMOverheadMB = 64

// Payload is what a Spindle cluster runs (the example word count,
// Apache Flink, …): it turns the user's request into the JobManager and
// TaskManager processes and the files they need. Implementations are pure:
// they read the local files they ship (a distribution's layout) but talk
// to no cluster.
type Payload interface {
	// Name is the payload's name as --payload takes it.
	Name() string
	// Plan returns the processes and files for req, or every problem it
	// finds joined with errors.Join, each naming the problem and the fix.
	Plan(req PayloadRequest) (PayloadPlan, error)
}

// Property is one -D key=value, in the order given.
type Property struct {
	Key, Value string
}

// ParseProperty parses "key=value"; the value may be empty, the key may not.
func ParseProperty(s string) (Property, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Property{}, fmt.Errorf("-D %q: want key=value, e.g. -D taskmanager.numberOfTaskSlots=2", s)
	}
	return Property{Key: k, Value: v}, nil
}

// PayloadRequest is what the user asked for, after validation of the
// sizes against the cluster.
type PayloadRequest struct {
	Mode Mode
	// AppName is the application's name (-nm).
	AppName string
	// JobManagerMemoryMB is the AM container's memory (-jm): the
	// JobManager runs in it next to the AM, which keeps AMOverheadMB.
	JobManagerMemoryMB int64
	// TaskManagerMemoryMB and TaskManagerVCores are each TaskManager
	// container's size (-tm, --vcores).
	TaskManagerMemoryMB int64
	TaskManagerVCores   int32
	// Slots per TaskManager (-s); at least 1.
	Slots int
	// TaskManagers is the fleet's target size (-n).
	TaskManagers int
	// Properties are the -D overrides, in order.
	Properties []Property
	// Ship are the -t files and directories, already checked to exist; the
	// submitter ships them to the JobManager and every TaskManager, so a
	// payload only reads them if it must (e.g. to find a job jar).
	Ship []hdfs.Source
	// Job and Args are the per-job job (a jar, a name the payload knows)
	// and its arguments; empty for a session.
	Job  string
	Args []string
}

// PayloadPlan is how a payload runs: the JobManager process (in the AM
// container), the TaskManager command, and the files each side needs.
// The submitter adds the spindle binary (as "spindle", for both sides),
// the Hadoop client configuration (as "hadoop-conf/", with
// HADOOP_CONF_DIR pointing there) and the -t files.
type PayloadPlan struct {
	// JobManager is the JobManager's command line, environment and
	// required files (ProcessSpec).
	JobManager ProcessSpec
	// TaskManagerCommand is the TaskManager's YARN command line
	// (TaskManagerSpec.Command).
	TaskManagerCommand string
	// TaskManagerEnv is added to the TaskManagers' environment.
	TaskManagerEnv map[string]string
	// JobManagerFiles go to the AM container only, TaskManagerFiles to the
	// TaskManagers only, SharedFiles to both.
	JobManagerFiles, TaskManagerFiles, SharedFiles []hdfs.Source
	// PrivateFiles are contents, by resource name, that may hold secrets
	// (the user's -D values): the submitter ships them to both sides as
	// files of mode 0600 in the 0700 staging directory, with APPLICATION
	// visibility and never through the upload cache, so that no secret
	// rides in an environment (the NodeManager copies every container's
	// launch script, environment included, into its log directory) or a
	// command line. A dry run names them, never their contents.
	PrivateFiles map[string][]byte
}

// Previewer is a Payload that can show how its processes will run, for a
// dry run: the command lines, entry points and configuration each
// container's launcher would compute, with placeholders (<JM_HOST>,
// <WORK_DIR>, …) for what only the container knows.
type Previewer interface {
	// Preview returns the JobManager's and a TaskManager's process for
	// req (which Plan accepted). The configuration values are as the
	// process gets them: the caller redacts secrets before printing.
	Preview(req PayloadRequest) ([]ProcessPreview, error)
}

// ProcessPreview is one process as a payload's launcher will run it.
type ProcessPreview struct {
	// Role is "jobmanager" or "taskmanager".
	Role string `json:"role"`
	// EntryClass is the Java class run (Flink's entry point), if any.
	EntryClass string `json:"entry_class,omitempty"`
	// Command is the process's argv.
	Command []string `json:"command"`
	// ConfigFile is the generated configuration file and Config its
	// entries, in the file's order.
	ConfigFile string        `json:"config_file,omitempty"`
	Config     []ConfigEntry `json:"config,omitempty"`
	// Notes say what the preview assumed.
	Notes []string `json:"notes,omitempty"`
}

// ConfigEntry is one key and value of a generated configuration.
type ConfigEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
