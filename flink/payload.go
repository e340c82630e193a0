package flink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
)

// SpecFile is the resource, in the JobManager's and every TaskManager's
// working directory, that carries the Spec from the plan to `spindle
// flink jobmanager|taskmanager`, as JSON.
//
// Why a private file: -D values may be secrets (keystore passwords, S3
// keys). They must not appear on a command line (ps, the
// ResourceManager's and NodeManagers' views of the launch context) nor in
// the environment, which every NodeManager writes into the container's
// launch script and copies into its log directory. The submitter ships
// PayloadPlan.PrivateFiles with mode 0600, APPLICATION visibility and
// never through the upload cache; a dry run names the file, not its
// contents.
const SpecFile = "spindle-flink-spec.json"

// binaryPath is the spindle binary in a TaskManager container: the
// submitter ships it as "spindle" (amapi.PayloadPlan).
const binaryPath = "./spindle"

// Spec is what the launcher needs besides the container's environment:
// the release, the configuration file, the sizes and -D overrides, and
// for per-job the job. It travels in SpecFile.
type Spec struct {
	// Version is the release ("1.17.2").
	Version string `json:"version"`
	// ConfFile is the configuration file in conf/ (LegacyConfFile or
	// StandardConfFile).
	ConfFile string `json:"conf_file"`
	// Mode is session or per-job.
	Mode amapi.Mode `json:"mode"`
	// JobManagerMB and TaskManagerMB are the processes' total memory
	// (jobmanager.memory.process.size, taskmanager.memory.process.size).
	JobManagerMB  int64 `json:"jobmanager_mb"`
	TaskManagerMB int64 `json:"taskmanager_mb"`
	// Slots is taskmanager.numberOfTaskSlots.
	Slots int `json:"slots"`
	// Properties are the -D overrides, in order.
	Properties []Property `json:"properties,omitempty"`
	// JobJar is the per-job jar in the working directory (usrlib/<name>);
	// JobClass its entry class ("" for the jar's Main-Class) and JobArgs
	// its arguments.
	JobJar   string   `json:"job_jar,omitempty"`
	JobClass string   `json:"job_class,omitempty"`
	JobArgs  []string `json:"job_args,omitempty"`
	// PrometheusReporter turns on Flink's Prometheus reporter in every
	// process, on the port its launcher gives it (LaunchOptions.MetricsPort;
	// metrics.go): set by Plan unless the user configured reporters.
	PrometheusReporter bool `json:"prometheus_reporter,omitempty"`
}

// Property is one -D key=value.
type Property struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Marshal returns s as SpecFile's contents.
func (s Spec) Marshal() ([]byte, error) { return json.Marshal(s) }

// DecodeSpec decodes SpecFile's contents.
func DecodeSpec(b []byte) (Spec, error) {
	var s Spec
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&s); err != nil {
		return s, fmt.Errorf("%s: %w", SpecFile, err)
	}
	if _, err := parseVersion(s.Version); err != nil {
		return s, fmt.Errorf("%s: %w", SpecFile, err)
	}
	if s.ConfFile != LegacyConfFile && s.ConfFile != StandardConfFile {
		return s, fmt.Errorf("%s: conf_file %q: want %s or %s", SpecFile, s.ConfFile, LegacyConfFile, StandardConfFile)
	}
	return s, nil
}

func parseVersion(s string) (Version, error) {
	v, err := versionFromDistJar("flink-dist-" + s + ".jar")
	if err != nil {
		return v, fmt.Errorf("version %q: want <major>.<minor>[.<patch>]", s)
	}
	return v, v.supported()
}

// Options configures New.
type Options struct {
	// Home is the Flink distribution (--flink-home or $FLINK_HOME).
	Home string
	// JobClass is the per-job entry class; "" lets Flink take the job
	// jar's Main-Class (StandaloneApplicationClusterEntryPoint without
	// --job-classname).
	JobClass string
}

// Payload runs Apache Flink from a distribution: it implements amapi.Payload.
// It holds no state beyond the distribution; Plan may be called from
// several goroutines.
type Payload struct {
	dist     Distribution
	jobClass string
}

var _ amapi.Payload = (*Payload)(nil)

// New recognises the distribution (Detect) and returns its payload.
func New(o Options) (*Payload, error) {
	d, err := Detect(o.Home)
	if err != nil {
		return nil, err
	}
	return &Payload{dist: d, jobClass: o.JobClass}, nil
}

// Name is "flink".
func (p *Payload) Name() string { return "flink" }

// Distribution returns the distribution New recognised.
func (p *Payload) Distribution() Distribution { return p.dist }

// ApplicationExitStates are the job states the exit codes of a per-job
// JobManager (StandaloneApplicationClusterEntryPoint) mean: the process
// exit codes of Flink's ApplicationStatus (flink-runtime
// .../clusterframework/ApplicationStatus.java: SUCCEEDED 0, FAILED
// 1443, CANCELED 0, UNKNOWN 1445) as a process sees them, modulo 256
// (System.exit(1443) is exit status 163), where a cancelled job exits 0
// as a succeeded one does. The AM words the per-job result from them
// (amapi.ProcessSpec.ExitStates).
var ApplicationExitStates = map[int]string{0: "SUCCEEDED or CANCELED", 1443 % 256: "FAILED", 1445 % 256: "UNKNOWN"}

// Keys Spindle decides, which -D may not set (with the flag that does).
var decidedKeys = map[string]string{
	jobManagerAddress: "the JobManager runs in the AM container, on the AM's node",
	jobManagerPort:    "the AM chooses the JobManager's ports",
	restAddress:       "the JobManager runs in the AM container, on the AM's node",
	restPort:          "the AM chooses the JobManager's ports",
	restBindPort:      "the AM chooses the JobManager's ports",
	taskManagerHost:   "each TaskManager is on its container's node",
	taskManagerID:     "each TaskManager's resource id is its container id",
	tmSlots.key:       "pass -s",
	tmProcess.key:     "Spindle sizes it from the TaskManager container: pass -tm",
	jmProcess.key:     "Spindle sizes it from the JobManager's (AM's) container: pass -jm",
}

// Plan checks req against the distribution and Flink's rules and returns
// how to run it: the JobManager command (`spindle flink jobmanager` in the
// AM container), the TaskManager command, the environment (the Spec and
// containerized.{master,taskmanager}.env.*) and the files: lib/, plugins/,
// conf/ and usrlib/ of the distribution, and per-job the job jar as
// usrlib/<name>. Every problem found is returned, joined.
func (p *Payload) Plan(req amapi.PayloadRequest) (amapi.PayloadPlan, error) {
	var errs []error
	d := p.dist
	spec := Spec{Version: d.Version.Raw, ConfFile: d.ConfFile, Mode: req.Mode, JobManagerMB: req.JobManagerMemoryMB - amapi.AMOverheadMB,
		TaskManagerMB: req.TaskManagerMemoryMB, Slots: req.Slots}
	for _, pr := range req.Properties {
		spec.Properties = append(spec.Properties, Property(pr))
	}
	confPath := filepath.Join(d.Home, confDir, d.ConfFile)
	user, err := readConfig(confPath, d.standard())
	if err != nil {
		errs = append(errs, err)
		user = NewConfig(d.standard())
	}
	if req.Slots < 1 {
		errs = append(errs, fmt.Errorf("-s %d: a TaskManager needs at least one slot: pass -s 1 or more", req.Slots))
		spec.Slots = 1 // go on checking the rest
	}
	for _, pr := range req.Properties {
		if why, ok := decidedKeys[pr.Key]; ok {
			errs = append(errs, fmt.Errorf("-D %s: Spindle sets this key (%s): drop the -D", pr.Key, why))
			continue
		}
		if !d.standard() {
			if err := checkLegacy(pr.Key, pr.Value); err != nil {
				errs = append(errs, fmt.Errorf("-D %s: %w (Flink %s reads conf/%s)", pr.Key, err, d.Version, LegacyConfFile))
			}
		}
	}
	var plan amapi.PayloadPlan
	if req.Mode == amapi.ModePerJob {
		jar, err := p.jobJar(req.Job)
		if err != nil {
			errs = append(errs, err)
		} else {
			name := filepath.Base(jar)
			if d.Usrlib {
				if _, err := os.Stat(filepath.Join(d.Home, usrlibDir, name)); err == nil {
					errs = append(errs, fmt.Errorf("job %s: the distribution's usrlib/ already has a %s: rename the job jar", req.Job, name))
				}
			}
			spec.JobJar = usrlibDir + "/" + name
			spec.JobClass, spec.JobArgs = p.jobClass, req.Args
			plan.SharedFiles = append(plan.SharedFiles, hdfs.Source{Path: jar, Name: spec.JobJar})
		}
	}
	errs = append(errs, p.checkMemory(user, spec, req)...)
	spec.PrometheusReporter = !userReporters(applyProperties(user, spec.Properties)) && hasPrometheusReporter(d.Home)
	if err := errors.Join(errs...); err != nil {
		return amapi.PayloadPlan{}, err
	}
	specJSON, err := spec.Marshal()
	if err != nil {
		return amapi.PayloadPlan{}, err
	}
	plan.PrivateFiles = map[string][]byte{SpecFile: specJSON}
	withProps := applyProperties(user, spec.Properties)
	plan.JobManager = amapi.ProcessSpec{
		Command: []string{"${" + amapi.EnvBinary + "}", "flink", string(RoleJobManager)},
		Env:     containerEnv(withProps, masterEnvPrefix),
		Files:   []string{libDir + "/" + d.DistJar, confDir + "/" + d.ConfFile, SpecFile},
	}
	plan.JobManager.LogFile = string(RoleJobManager) + ".log" // -Dlog.file (Prepare)
	plan.JobManager.Metrics = spec.PrometheusReporter         // on $SPINDLE_JM_METRICS_PORT
	if spec.JobJar != "" {
		plan.JobManager.Files = append(plan.JobManager.Files, spec.JobJar)
		plan.JobManager.ExitStates = ApplicationExitStates
	}
	// Info: the launcher says when it follows a moved JobManager or a new
	// attempt's credentials (once per change, not per try).
	plan.TaskManagerCommand = binaryPath + " --log-level info flink " + string(RoleTaskManager) + " --log-dir <LOG_DIR> 1><LOG_DIR>/taskmanager.out 2><LOG_DIR>/taskmanager.err"
	plan.TaskManagerEnv = containerEnv(withProps, taskManagerEnvPrefix)
	dirs := []hdfs.Source{{Path: filepath.Join(d.Home, libDir), Name: libDir}}
	for _, dir := range []string{pluginsDir, confDir, usrlibDir} {
		if n, _ := countFiles(filepath.Join(d.Home, dir)); n > 0 {
			dirs = append(dirs, hdfs.Source{Path: filepath.Join(d.Home, dir), Name: dir})
		}
	}
	plan.SharedFiles = append(dirs, plan.SharedFiles...)
	return plan, nil
}

// jobJar finds the per-job jar: job as given, else relative to the
// distribution (examples/streaming/WordCount.jar).
func (p *Payload) jobJar(job string) (string, error) {
	if job == "" {
		return "", errors.New("no job jar: `spindle run --payload flink` takes the job jar (and its arguments) after the flags")
	}
	cands := []string{job}
	if !filepath.IsAbs(job) {
		cands = append(cands, filepath.Join(p.dist.Home, job))
	}
	for _, c := range cands {
		fi, err := os.Stat(c)
		if err != nil {
			continue
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("job %s: not a file: pass the job's jar", job)
		}
		if !strings.HasSuffix(c, ".jar") {
			return "", fmt.Errorf("job %s: not a .jar: Flink loads only usrlib/*.jar, so pass the job's jar", job)
		}
		return filepath.Abs(c)
	}
	return "", fmt.Errorf("job %s: no such file (nor in --flink-home %s): pass the path of the job's jar", job, p.dist.Home)
}

// checkMemory computes both processes' memory as the launcher will, and
// for a size Flink refuses finds the smallest one it accepts.
func (p *Payload) checkMemory(user *Config, spec Spec, req amapi.PayloadRequest) []error {
	var errs []error
	v := p.dist.Version
	where := fmt.Sprintf("conf/%s and -D", p.dist.ConfFile)
	tmWith := func(mb int64) error {
		s := spec
		s.TaskManagerMB = mb
		_, err := TaskManagerMemoryFromConfig(effectiveConfig(user, s, placeholderCluster(RoleTaskManager)), v)
		return err
	}
	if err := tmWith(spec.TaskManagerMB); err != nil {
		if least := smallest(spec.TaskManagerMB, tmWith); least > 0 {
			errs = append(errs, fmt.Errorf("-tm %dm is too small for Flink's TaskManager memory model (%w): pass at least -tm %dm, or lower the taskmanager.memory.* sizes in %s", req.TaskManagerMemoryMB, err, least, where))
		} else {
			errs = append(errs, fmt.Errorf("-tm %dm: %w: fix the taskmanager.memory.* options in %s", req.TaskManagerMemoryMB, err, where))
		}
	}
	jmWith := func(mb int64) error {
		s := spec
		s.JobManagerMB = mb
		_, err := JobManagerMemoryFromConfig(effectiveConfig(user, s, placeholderCluster(RoleJobManager)), v)
		return err
	}
	if spec.JobManagerMB > 0 {
		if err := jmWith(spec.JobManagerMB); err != nil {
			if least := smallest(spec.JobManagerMB, jmWith); least > 0 {
				errs = append(errs, fmt.Errorf("-jm %dm is too small for Flink's JobManager memory model once the AM keeps its %d MB (%w): pass at least -jm %dm, or lower the jobmanager.memory.* sizes in %s",
					req.JobManagerMemoryMB, amapi.AMOverheadMB, err, least+amapi.AMOverheadMB, where))
			} else {
				errs = append(errs, fmt.Errorf("-jm %dm: %w: fix the jobmanager.memory.* options in %s", req.JobManagerMemoryMB, err, where))
			}
		}
	} else {
		errs = append(errs, fmt.Errorf("-jm %dm leaves no memory for the JobManager (the AM keeps %d MB): pass a larger -jm", req.JobManagerMemoryMB, amapi.AMOverheadMB))
	}
	return errs
}

// smallest returns the smallest size in MB above from (which fails) for
// which ok succeeds, up to 64 GB; 0 if none is found. It doubles the size
// until one succeeds, then bisects, as the sizes Flink accepts for a
// configuration start at a minimum (a configuration that also has a
// maximum, fixed fine-grained sizes with an overhead range, may get no
// hint: its fix is in the options anyway).
func smallest(from int64, ok func(int64) error) int64 {
	const limit = 64 << 10
	lo, hi := max(from, 0), int64(0)
	for s := max(2*from, from+1, 1); hi == 0; s = min(2*s, limit) {
		if ok(s) == nil {
			hi = s
		} else if s == limit {
			return 0
		} else {
			lo = s
		}
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if ok(mid) == nil {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

func readConfig(path string, standard bool) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the Flink configuration: %w", err)
	}
	c, err := ParseConfig(b, standard)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: fix the YAML", path, err)
	}
	return c, nil
}

// Prefixes of ResourceManagerOptions.CONTAINERIZED_{MASTER,TASK_MANAGER}_ENV_PREFIX.
const (
	masterEnvPrefix      = "containerized.master.env."
	taskManagerEnvPrefix = "containerized.taskmanager.env."
	javaHomeKey          = "env.java.home" // CoreOptions.FLINK_JAVA_HOME
)

// containerEnv is the environment Flink on YARN gives a container:
// the prefixed keys, then JAVA_HOME from env.java.home
// (YarnClusterDescriptor.generateApplicationMasterEnv,
// ContaineredTaskManagerParameters.create).
func containerEnv(c *Config, prefix string) map[string]string {
	env := map[string]string{}
	for _, k := range c.Keys() {
		if name, ok := strings.CutPrefix(k, prefix); ok && name != "" {
			env[name], _ = c.Get(k)
		}
	}
	if v, ok := c.Get(javaHomeKey); ok && v != "" {
		env["JAVA_HOME"] = v
	}
	return env
}

func applyProperties(user *Config, props []Property) *Config {
	c := user.Clone()
	for _, p := range props {
		c.Set(p.Key, p.Value)
	}
	return c
}

// Configuration keys the cluster decides (JobManagerOptions, RestOptions,
// BlobServerOptions, TaskManagerOptions, HighAvailabilityOptions,
// CoreOptions).
const (
	jobManagerAddress  = "jobmanager.rpc.address"
	jobManagerPort     = "jobmanager.rpc.port"
	jobManagerBindHost = "jobmanager.bind-host"
	restAddress        = "rest.address"
	restPort           = "rest.port"
	restBindPort       = "rest.bind-port"
	blobServerPort     = "blob.server.port"
	taskManagerHost    = "taskmanager.host"
	taskManagerBind    = "taskmanager.bind-host"
	taskManagerID      = "taskmanager.resource-id"
	useLocalTmpDirs    = "internal.io.tmpdirs.use-local-default" // BootstrapTools.USE_LOCAL_DEFAULT_TMP_DIRS
	loginKeytab        = "security.kerberos.login.keytab"        // SecurityOptions.KERBEROS_LOGIN_KEYTAB
	loginPrincipal     = "security.kerberos.login.principal"     // SecurityOptions.KERBEROS_LOGIN_PRINCIPAL
)

var (
	restBindAddress = option{key: "rest.bind-address", fallback: []string{"web.address", "jobmanager.web.address"}}
	haClusterID     = option{key: "high-availability.cluster-id", fallback: []string{"high-availability.zookeeper.path.namespace", "recovery.zookeeper.path.namespace"}}
	tmpDirs         = option{key: "io.tmp.dirs", fallback: []string{"taskmanager.tmp.dirs"}}
	blobPort        = option{key: blobServerPort}
)

// cluster is what the cluster decides for one process.
type cluster struct {
	role Role
	// host is the JobManager's host (JobManager) or the TaskManager's
	// node (TaskManager).
	host string
	// jmHost and jmPort are the JobManager's RPC address; jmRESTPort its
	// REST port (JobManager only). Ports are strings so that a dry run's
	// preview can show placeholders.
	jmHost             string
	jmPort, jmRESTPort string
	resourceID         string
	appID              string
	localDirs          string
	// principal and keytab are a shipped keytab's login (JobManager).
	principal, keytab string
	// metricsPort is the port of the process's Prometheus endpoint
	// (Spec.PrometheusReporter), "" for none.
	metricsPort string
}

func placeholderCluster(r Role) cluster {
	return cluster{role: r, host: "localhost", jmHost: "localhost", jmPort: "6123", jmRESTPort: "8081", resourceID: "container", appID: "application"}
}

// effectiveConfig is the configuration of one process: the user's file,
// the -D overrides, then what the cluster decides, as Flink on YARN
// decides it (YarnClusterDescriptor, YarnEntrypointUtils,
// YarnTaskExecutorRunner): the addresses and ports, the sizes, "localhost"
// bind hosts removed, the HA cluster id and the temporary directories
// unless the user set them.
func effectiveConfig(user *Config, spec Spec, cl cluster) *Config {
	c := applyProperties(user, spec.Properties)
	c.Set(jobManagerAddress, cl.jmHost)
	c.Set(jobManagerPort, cl.jmPort)
	c.Set(jmProcess.key, strconv.FormatInt(spec.JobManagerMB, 10)+"m")
	c.Set(tmProcess.key, strconv.FormatInt(spec.TaskManagerMB, 10)+"m")
	c.Set(tmSlots.key, strconv.Itoa(spec.Slots))
	for _, k := range []string{jobManagerBindHost, taskManagerBind} {
		if v, _ := c.Get(k); strings.TrimSpace(v) == "localhost" {
			c.Remove(k)
		}
	}
	if !haClusterID.set(c) && cl.appID != "" {
		c.Set(haClusterID.key, cl.appID)
	}
	if !tmpDirs.set(c) && cl.localDirs != "" {
		c.Set(tmpDirs.key, cl.localDirs)
		c.Set(useLocalTmpDirs, "true")
	}
	if spec.PrometheusReporter && cl.metricsPort != "" && !userReporters(c) {
		setPrometheusReporter(c, cl.metricsPort)
	}
	switch cl.role {
	case RoleJobManager:
		c.Set(restAddress, cl.host)
		c.Set(restPort, cl.jmRESTPort)
		c.Set(restBindPort, cl.jmRESTPort)
		if v, _ := restBindAddress.lookup(c); strings.TrimSpace(v) == "localhost" {
			for _, k := range append([]string{restBindAddress.key}, restBindAddress.fallback...) {
				c.Remove(k)
			}
		}
		if !restBindAddress.set(c) {
			c.Set(restBindAddress.key, cl.host)
		}
		if !blobPort.set(c) {
			c.Set(blobServerPort, "0")
		}
		c.Remove(taskManagerHost) // a TaskManager's own; Flink on YARN drops it too
		// The shipped keytab replaces the client's path (YarnEntrypointUtils
		// loadConfiguration does the same with Flink's own shipped keytab).
		if cl.keytab != "" && cl.principal != "" {
			c.Set(loginKeytab, cl.keytab)
			c.Set(loginPrincipal, cl.principal)
		}
	case RoleTaskManager:
		c.Set(taskManagerHost, cl.host)
		c.Set(taskManagerID, cl.resourceID)
	}
	return c
}

// countFiles counts the regular files under dir (following links).
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n, err
}
