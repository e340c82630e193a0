package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// Names of what every submission ships besides the payload's files.
const (
	// BinaryName is the spindle binary's resource name on both sides.
	BinaryName = "spindle"
	// HadoopConfDir is where the client's Hadoop configuration files go
	// on both sides; HADOOP_CONF_DIR points there (relative to the
	// container's working directory, which is every process's).
	HadoopConfDir = "hadoop-conf"
	// AppType is the YARN application type of Spindle applications.
	AppType = "SPINDLE"
)

// Request is what the user asks for: the flags of `session start` and
// `run`, already parsed.
type Request struct {
	Mode amapi.Mode
	// Payload plans the processes; required.
	Payload amapi.Payload
	// Name (-nm); "" means "Spindle session" or "Spindle per-job: <job>".
	Name string
	// Queue (-qu); "" means "default".
	Queue string
	// JobManagerMemoryMB is the AM container's memory (-jm).
	JobManagerMemoryMB int64
	// TaskManagerMemoryMB is each TaskManager container's (-tm).
	TaskManagerMemoryMB int64
	// VCores per TaskManager (--vcores); the AM container gets 1.
	VCores int32
	// Slots per TaskManager (-s).
	Slots int
	// TaskManagers is the fleet's size (-n).
	TaskManagers int
	// Priority of the application (--priority).
	Priority int32
	// Tags (--tags).
	Tags []string
	// NodeLabel is the node label expression of every container (--node-label).
	NodeLabel string
	// NoLocalitySpread makes the AM ask for any host instead of node-local
	// on the nodes with room (--no-locality-spread).
	NoLocalitySpread bool
	// MaxAttempts of the AM (--max-attempts); 0 means the RM's maximum.
	MaxAttempts int32
	// Properties are the -D overrides; Malformed are -D arguments that did
	// not parse (reported with the rest).
	Properties []amapi.Property
	Malformed  []string
	// Ship are the -t files and directories.
	Ship []string
	// ShipFollowLinks ships the targets of symbolic links in a -t
	// directory that point outside it (--ship-follow-links); false refuses
	// them. Links inside it are shipped as their targets either way.
	ShipFollowLinks bool
	// Job and Args are the per-job job and its arguments.
	Job  string
	Args []string
	// Restart is the TaskManager restart policy; the zero value is am's defaults.
	Restart amapi.RestartPolicy
	// Binary is the local spindle binary shipped to the cluster (a Linux
	// build for the cluster's architecture).
	Binary string
	// HadoopConf are the client's configuration files shipped as
	// HadoopConfDir/<base name> (core-site.xml, yarn-site.xml, …).
	HadoopConf []string
	// AMArgs are extra arguments of `spindle am` (e.g. heartbeat intervals).
	AMArgs []string
	// AMLogLevel is the AM's log level; "" means info.
	AMLogLevel string
	// Keytab and Principal, when Keytab is set, ship the user's keytab
	// (--ship-keytab) so that the AM logs in itself and replaces the
	// application's delegation tokens before they expire; Krb5Conf, when
	// set, ships that krb5.conf with it (else the AM reads the node's).
	Keytab, Principal, Krb5Conf string
	// MinAllocation is yarn.scheduler.minimum-allocation-mb/-vcores, to
	// check sizes after YARN's rounding; zero fields mean YARN's defaults
	// (1024 MB, 1 vcore).
	MinAllocation yarn.Resource
}

// Submission is a validated request ready to submit: the application, the
// AM's spec and the files of each side.
type Submission struct {
	// App is the application; Submit fills in ID (unless set) and AM.
	App yarn.AppSpec
	// Spec is the AM spec; Submit fills in TaskManagers.Files and Staging.
	Spec amapi.Spec
	// AMFiles go to the AM container only, TMFiles to the TaskManagers
	// only, Shared to both (the binary, the configuration, -t, the
	// payload's shared files).
	AMFiles, TMFiles, Shared []hdfs.Source
	// Private are the payload's private files (PayloadPlan.PrivateFiles),
	// for both sides.
	Private map[string][]byte
	// AMCommand is the AM container's command line.
	AMCommand string
	// AMEnv is the AM container's environment.
	AMEnv map[string]string
	// Payload is what the payload planned from (a dry run previews the
	// processes from it: amapi.Previewer).
	Payload amapi.PayloadRequest
	// MaxResource is the cluster's maximum container size, once CheckCluster
	// has asked.
	MaxResource yarn.Resource
}

// Prepare checks everything about r that needs no cluster (sizes, files,
// -D values, the payload's plan) and builds the submission. Every problem
// found is in the returned *Problems; the submission is usable only when
// it is nil.
func Prepare(r Request) (*Submission, error) {
	var p Problems
	if r.Payload == nil {
		p.add(Input, nil, "no payload: pass --payload example or --payload flink")
	}
	if r.JobManagerMemoryMB <= amapi.AMOverheadMB {
		p.add(Input, nil, "-jm %dm leaves nothing for the JobManager (the AM keeps %d MB of its container): pass at least -jm %dm", r.JobManagerMemoryMB, amapi.AMOverheadMB, 2*amapi.AMOverheadMB)
	}
	if r.TaskManagerMemoryMB <= 0 {
		p.add(Input, nil, "-tm %dm: TaskManager memory must be positive, e.g. -tm 1024m", r.TaskManagerMemoryMB)
	}
	if r.VCores < 1 {
		p.add(Input, nil, "--vcores %d: want at least 1", r.VCores)
	}
	if r.Slots < 1 {
		p.add(Input, nil, "-s %d: a TaskManager needs at least one slot: pass -s 1 or more", r.Slots)
	}
	if r.TaskManagers < 0 || (r.Mode == amapi.ModePerJob && r.TaskManagers < 1) {
		p.add(Input, nil, "-n %d: want at least 1 TaskManager", r.TaskManagers)
	}
	if r.MaxAttempts < 0 {
		p.add(Input, nil, "--max-attempts %d: want 1 or more (0 is the cluster's maximum)", r.MaxAttempts)
	}
	for _, m := range r.Malformed {
		p.add(Input, nil, "-D %q: want key=value, e.g. -D taskmanager.numberOfTaskSlots=2", m)
	}
	if r.Mode == amapi.ModePerJob && r.Job == "" {
		p.add(Input, nil, "no job: `spindle run` takes the job (and its arguments) after the flags")
	}
	if r.Binary == "" {
		p.add(Input, nil, "no spindle binary to ship: pass --binary with a Linux build of spindle")
	} else if fi, err := os.Stat(r.Binary); err != nil || !fi.Mode().IsRegular() {
		p.add(Input, err, "--binary %s: not a readable file: pass a Linux build of spindle", r.Binary)
	}
	ship := make([]hdfs.Source, 0, len(r.Ship))
	names := map[string]string{BinaryName: "the spindle binary", HadoopConfDir: "the Hadoop configuration", amapi.SpecFile: "the AM spec", amapi.StopSecretFile: "the stop secret",
		amapi.KeytabFile: "the shipped keytab", amapi.Krb5ConfFile: "the shipped krb5.conf"}
	for _, s := range r.Ship {
		fi, err := os.Stat(s)
		if err != nil {
			p.add(Input, err, "-t %s: %s: fix the path or drop the -t", s, describeStatErr(err))
			continue
		}
		src := hdfs.Source{Path: s, Name: filepath.Base(filepath.Clean(s)), ConfineLinks: !r.ShipFollowLinks}
		if fi.IsDir() {
			var le *hdfs.LinkError
			if n, err := countFiles(s, src.ConfineLinks); errors.As(err, &le) {
				p.add(Input, err, "-t %s: %v: %s", s, le, linkFix(le))
				continue
			} else if err != nil {
				p.add(Input, err, "-t %s: cannot read the directory: %v", s, err)
				continue
			} else if n == 0 {
				p.add(Input, nil, "-t %s: the directory has no files to ship", s)
				continue
			}
		}
		if other, ok := names[src.Name]; ok {
			p.add(Input, nil, "-t %s: its name %q is taken by %s: rename it or ship its parent directory", s, src.Name, other)
			continue
		}
		names[src.Name] = "-t " + s
		ship = append(ship, src)
	}
	var login []hdfs.Source
	if r.Keytab != "" {
		// The keytab's path is never printed: it says where a key is.
		if fi, err := os.Stat(r.Keytab); err != nil || !fi.Mode().IsRegular() {
			p.add(Input, nil, "--keytab: the keytab is not a readable file: fix --keytab or drop --ship-keytab")
		} else {
			login = append(login, hdfs.Source{Path: r.Keytab, Name: amapi.KeytabFile, NoCache: true})
		}
		if r.Principal == "" {
			p.add(Input, nil, "--ship-keytab needs --principal: the principal the AM logs in as")
		}
		if r.Krb5Conf != "" {
			login = append(login, hdfs.Source{Path: r.Krb5Conf, Name: amapi.Krb5ConfFile, NoCache: true})
		}
	}
	var conf []hdfs.Source
	for _, f := range r.HadoopConf {
		conf = append(conf, hdfs.Source{Path: f, Name: HadoopConfDir + "/" + filepath.Base(f)})
	}
	var plan amapi.PayloadPlan
	var payloadReq amapi.PayloadRequest
	if r.Payload != nil && !p.Has(Input) {
		var err error
		payloadReq = amapi.PayloadRequest{Mode: r.Mode, AppName: r.Name, JobManagerMemoryMB: r.JobManagerMemoryMB,
			TaskManagerMemoryMB: r.TaskManagerMemoryMB, TaskManagerVCores: r.VCores, Slots: r.Slots, TaskManagers: r.TaskManagers,
			Properties: r.Properties, Ship: ship, Job: r.Job, Args: r.Args}
		plan, err = r.Payload.Plan(payloadReq)
		if err != nil {
			for _, e := range splitJoined(err) {
				p.add(Input, e, "%s", e.Error())
			}
		}
		for _, group := range [][]hdfs.Source{plan.JobManagerFiles, plan.TaskManagerFiles, plan.SharedFiles} {
			for _, s := range group { // the payload's own files may share a directory (lib/ on both sides)
				n := resourceName(s)
				top, _, _ := strings.Cut(n, "/")
				if other, ok := names[top]; ok {
					p.add(Input, nil, "the %s payload ships %q, but %s has that name: rename the -t file", r.Payload.Name(), n, other)
				}
			}
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	name := r.Name
	if name == "" {
		name = "Spindle session"
		if r.Mode == amapi.ModePerJob {
			name = "Spindle per-job: " + filepath.Base(r.Job)
		}
	}
	level := r.AMLogLevel
	if level == "" {
		level = "info"
	}
	amArgs := append([]string{"./" + BinaryName, "--log-level", level, "am"}, r.AMArgs...)
	tmEnv := map[string]string{}
	for k, v := range plan.TaskManagerEnv {
		tmEnv[k] = v
	}
	amEnv := map[string]string{}
	if len(conf) > 0 {
		tmEnv["HADOOP_CONF_DIR"] = HadoopConfDir
		amEnv["HADOOP_CONF_DIR"] = HadoopConfDir
	}
	sub := &Submission{
		App: yarn.AppSpec{Name: name, Queue: r.Queue, Priority: r.Priority, Type: AppType, Tags: r.Tags, NodeLabelExpression: r.NodeLabel,
			AMResource: yarn.Resource{MemoryMB: r.JobManagerMemoryMB, VCores: 1}, MaxAttempts: r.MaxAttempts, KeepContainersAcrossAttempts: true},
		Spec: amapi.Spec{Mode: r.Mode, JobManager: plan.JobManager, Restart: r.Restart, Payload: payloadName(r.Payload),
			TaskManagers: amapi.TaskManagerSpec{Count: r.TaskManagers, MemoryMB: r.TaskManagerMemoryMB, VCores: r.VCores, Priority: 1,
				NodeLabel: r.NodeLabel, Command: plan.TaskManagerCommand, Env: tmEnv, NoLocalitySpread: r.NoLocalitySpread}},
		AMFiles:   append(login, plan.JobManagerFiles...),
		TMFiles:   plan.TaskManagerFiles,
		Private:   plan.PrivateFiles,
		Payload:   payloadReq,
		Shared:    append(append(append([]hdfs.Source{{Path: r.Binary, Name: BinaryName}}, conf...), ship...), plan.SharedFiles...),
		AMCommand: strings.Join(amArgs, " ") + " 1><LOG_DIR>/am.stdout 2><LOG_DIR>/am.stderr",
		AMEnv:     amEnv,
	}
	if r.Keytab != "" {
		sub.Spec.Kerberos = &amapi.KerberosSpec{Principal: r.Principal, Keytab: amapi.KeytabFile}
		if r.Krb5Conf != "" {
			sub.Spec.Kerberos.Krb5Conf = amapi.Krb5ConfFile
		}
	}
	if err := sub.Spec.Validate(); err != nil {
		p.add(Input, err, "the %s payload's plan is invalid: %v", r.Payload.Name(), err)
		return nil, &p
	}
	return sub, nil
}

// CheckCluster validates r against the cluster: it asks for a new
// application id (which carries the maximum container size), checks every
// container size after YARN's rounding to r.MinAllocation, and the queue.
// It works on the request, not the submission, so that one report holds
// the cluster's problems next to those Prepare found. Every problem is in
// the *Problems; the id and the maximum are returned when the RM answered.
func CheckCluster(ctx context.Context, rm *yarn.RMClient, r Request) (yarn.ApplicationID, yarn.Resource, error) {
	var p Problems
	id, maxRes, err := rm.GetNewApplication(ctx)
	if err != nil {
		addClusterErr(&p, err)
		return id, maxRes, &p
	}
	minAlloc := r.MinAllocation
	if minAlloc.MemoryMB <= 0 {
		minAlloc.MemoryMB = 1024
	}
	if minAlloc.VCores <= 0 {
		minAlloc.VCores = 1
	}
	check := func(what, flag string, mem int64, vcores int32) {
		if m := roundUp(mem, minAlloc.MemoryMB); maxRes.MemoryMB > 0 && m > maxRes.MemoryMB {
			extra := ""
			if m != mem {
				extra = fmt.Sprintf(" (%d MB after YARN rounds it up to a multiple of yarn.scheduler.minimum-allocation-mb=%d)", m, minAlloc.MemoryMB)
			}
			p.add(Input, nil, "%s %dm%s is above the cluster's maximum container memory of %d MB (yarn.scheduler.maximum-allocation-mb): pass at most %s %dm",
				flag, mem, extra, maxRes.MemoryMB, flag, maxRes.MemoryMB/minAlloc.MemoryMB*minAlloc.MemoryMB)
		}
		if v := int32(roundUp(int64(vcores), int64(minAlloc.VCores))); maxRes.VCores > 0 && v > maxRes.VCores {
			p.add(Input, nil, "%s: %d vcores is above the cluster's maximum of %d (yarn.scheduler.maximum-allocation-vcores): pass at most --vcores %d",
				what, v, maxRes.VCores, maxRes.VCores)
		}
	}
	if r.JobManagerMemoryMB > 0 {
		check("the AM/JobManager container", "-jm", r.JobManagerMemoryMB, 1)
	}
	if r.TaskManagers > 0 && r.TaskManagerMemoryMB > 0 {
		check("a TaskManager container", "-tm", r.TaskManagerMemoryMB, max(r.VCores, 1))
	}
	queue := r.Queue
	if queue == "" {
		queue = "default"
	}
	qi, err := rm.GetQueueInfo(ctx, queue, yarn.QueueQuery{})
	switch {
	case err != nil && (errors.Is(err, yarn.ErrUnreachable) || errors.Is(err, yarn.ErrAuthentication)):
		addClusterErr(&p, err)
	case err != nil:
		p.add(Input, err, "-qu %s: the ResourceManager knows no such queue (%v): pass an existing leaf queue (see `mapred queue -list` or the scheduler page)", queue, err)
	case strings.EqualFold(qi.State, "STOPPED"):
		p.add(Input, nil, "-qu %s: the queue is STOPPED and accepts no applications: pass another queue or ask the cluster's administrators to start it", queue)
	}
	return id, maxRes, p.Err()
}

func addClusterErr(p *Problems, err error) {
	switch {
	case errors.Is(err, yarn.ErrAuthentication):
		p.add(Auth, err, "the ResourceManager refused our credentials: %v", err)
	case errors.Is(err, yarn.ErrUnreachable):
		p.add(Unreachable, err, "cannot reach the ResourceManager: %v: check yarn.resourcemanager.address in $HADOOP_CONF_DIR/yarn-site.xml and that the ResourceManager runs", err)
	default:
		p.add(Unreachable, err, "the ResourceManager did not answer as expected: %v", err)
	}
}

func describeStatErr(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no such file or directory"
	case errors.Is(err, os.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

// countFiles counts the regular files a directory ships (hdfs.WalkTree).
func countFiles(dir string, confine bool) (int, error) {
	ents, err := hdfs.WalkTree(dir, confine)
	n := 0
	for _, e := range ents {
		if e.Info.Mode().IsRegular() {
			n++
		}
	}
	return n, err
}

// linkFix is what to do about a refused symbolic link.
func linkFix(le *hdfs.LinkError) string {
	switch {
	case le.Outside:
		return "replace the link with a copy, ship its target with its own -t, or pass --ship-follow-links to ship what it points to"
	case le.Loop:
		return "remove the link or ship a directory without it"
	}
	return "remove the link or create its target"
}

// resourceName is the name a source is staged under (hdfs.Source.Name's
// default).
func resourceName(s hdfs.Source) string {
	if s.Name != "" {
		return s.Name
	}
	return filepath.Base(s.Path)
}

// splitJoined undoes errors.Join, one error per line of the report.
func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	return []error{err}
}

// DefaultPollInterval is how often a watch asks the RM.
const DefaultPollInterval = 500 * time.Millisecond

// SingleAttemptWarning says, when a session gets one AM attempt, that it
// cannot survive an AM failure: requested is --max-attempts (0: the
// cluster's maximum), clusterMax yarn.resourcemanager.am.max-attempts as
// the client's configuration has it (the RM caps a request at it). ""
// when more than one attempt is allowed.
func SingleAttemptWarning(requested, clusterMax int32) string {
	n := clusterMax
	if requested > 0 && requested < n {
		n = requested
	}
	if n != 1 {
		return ""
	}
	if requested == 1 {
		return "--max-attempts 1: the session gets one AM attempt, so it ends FAILED if its AM container fails (a node lost, the AM killed); drop --max-attempts to get the cluster's maximum"
	}
	return "the cluster allows one AM attempt (yarn.resourcemanager.am.max-attempts=1), so the session ends FAILED if its AM container fails (a node lost, the AM killed); ask the cluster's administrators to raise it for long-running sessions"
}

// payloadName is p's name, "" without a payload.
func payloadName(p amapi.Payload) string {
	if p == nil {
		return ""
	}
	return p.Name()
}
