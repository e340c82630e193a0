package flink

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/amapi"
)

// Role is the Flink process a launcher starts.
type Role string

// Roles.
const (
	RoleJobManager  Role = "jobmanager"
	RoleTaskManager Role = "taskmanager"
)

// Entry classes (flink-console.sh, flink-daemon.sh).
const (
	// SessionEntrypoint is a session cluster's JobManager (standalonesession).
	SessionEntrypoint = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
	// ApplicationEntrypoint is a per-job cluster's JobManager: Flink's
	// application mode (standalonejob), which runs the job's main() in the
	// JobManager and ends with the job.
	ApplicationEntrypoint = "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint"
	// TaskManagerEntrypoint is a TaskManager (taskexecutor).
	TaskManagerEntrypoint = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
)

// GeneratedConfDir is the directory, in the container's working
// directory, that Prepare fills with the process's configuration: the
// shipped conf/ files and the effective configuration file.
const GeneratedConfDir = "flink-conf"

// LaunchOptions is what `spindle flink jobmanager|taskmanager` learns from
// its container (package cmd reads the environment; package am documents
// the SPINDLE_* variables).
type LaunchOptions struct {
	Role Role
	// Spec is SpecFile, decoded.
	Spec Spec
	// WorkDir is the container's working directory (absolute): the
	// shipped lib/, plugins/, conf/ and usrlib/ are there, and the
	// process runs there.
	WorkDir string
	// LogDir is the container's log directory: jobmanager.log or
	// taskmanager.log go there (-Dlog.file), so that `yarn logs` shows them.
	LogDir string
	// AppID is the application id (high-availability.cluster-id unless set).
	AppID string
	// Host is the JobManager's host ($SPINDLE_JM_HOST) for a JobManager,
	// the container's node ($NM_HOST) for a TaskManager.
	Host string
	// RPCPort and RESTPort are the JobManager's ports, chosen by the AM.
	RPCPort, RESTPort int
	// JobManagerAddress is the JobManager's RPC address, host:port
	// ($SPINDLE_JM_ADDRESS), for a TaskManager.
	JobManagerAddress string
	// ResourceID is the TaskManager's container id.
	ResourceID string
	// MetricsPort is the port of the process's Prometheus endpoint when
	// Spec.PrometheusReporter: the JobManager's from the AM
	// ($SPINDLE_JM_METRICS_PORT), a TaskManager's from its launcher
	// (ChooseMetricsPort); 0 leaves the reporter off.
	MetricsPort int
	// KerberosPrincipal and KerberosKeytab are the login of a shipped
	// keytab ($SPINDLE_KERBEROS_PRINCIPAL, $SPINDLE_KERBEROS_KEYTAB), for a
	// JobManager: they become security.kerberos.login.principal and
	// .keytab, so that Flink logs in with the keytab and its delegation
	// token manager renews the tokens its TaskManagers use, as on Flink's
	// own YARN deployment (flink-yarn .../entrypoint/YarnEntrypointUtils.java
	// loadConfiguration).
	KerberosPrincipal, KerberosKeytab string
	// LocalDirs is $LOCAL_DIRS: io.tmp.dirs unless set.
	LocalDirs string
	// Environ is the process environment ("K=V"); the JVM gets it with
	// Flink's variables added.
	Environ []string
	// JavaSpecVersion returns the feature version of java (17, 21, …);
	// nil runs `java -XshowSettings:properties -version`, as config.sh
	// does. Only Flink 1.19 and later ask.
	JavaSpecVersion func(java string, env []string) (int, error)

	// preview makes Prepare show what it would run (Payload.Preview):
	// the JobManager's ports are placeholders and a Java that is not on
	// this machine is the NodeManager's ($JAVA_HOME).
	preview bool
}

// Process is a prepared JVM: exec Java with Args and Env in Dir.
type Process struct {
	// Java is the java executable.
	Java string
	// Args is the argv, Args[0] being Java.
	Args []string
	// Env is the JVM's environment.
	Env []string
	// Dir is the working directory.
	Dir string
	// ConfDir is the generated configuration directory (--configDir) and
	// ConfFile the configuration file in it.
	ConfDir, ConfFile string
}

// Prepare writes the process's configuration into WorkDir/flink-conf and
// returns the java command that runs it, as Flink's scripts build it
// (config.sh, jobmanager.sh, standalone-job.sh, taskmanager.sh,
// flink-daemon.sh) with the memory flags Flink's memory model gives the
// container's size and the logs in LogDir.
func Prepare(o LaunchOptions) (*Process, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	v, err := parseVersion(o.Spec.Version)
	if err != nil {
		return nil, err
	}
	user, err := readConfig(filepath.Join(o.WorkDir, confDir, o.Spec.ConfFile), o.Spec.ConfFile == StandardConfFile)
	if err != nil {
		return nil, fmt.Errorf("%w (the submitter ships the distribution's conf/ to every container)", err)
	}
	cl := cluster{role: o.Role, host: o.Host, appID: o.AppID, localDirs: o.LocalDirs, resourceID: o.ResourceID,
		principal: o.KerberosPrincipal, keytab: o.KerberosKeytab}
	if o.MetricsPort > 0 {
		cl.metricsPort = strconv.Itoa(o.MetricsPort)
	}
	if o.preview && o.Spec.PrometheusReporter {
		cl.metricsPort = PlaceholderMetricsPort
	}
	if o.Role == RoleJobManager {
		cl.jmHost, cl.jmPort, cl.jmRESTPort = o.Host, strconv.Itoa(o.RPCPort), strconv.Itoa(o.RESTPort)
		if o.preview {
			cl.jmPort, cl.jmRESTPort = PlaceholderJMRPCPort, PlaceholderJMRESTPort
		}
	} else {
		cl.jmHost, cl.jmPort, _ = net.SplitHostPort(o.JobManagerAddress)
	}
	c := effectiveConfig(user, o.Spec, cl)

	var jvmMem, dynamic []string
	if o.Role == RoleJobManager {
		m, err := JobManagerMemoryFromConfig(c, v)
		if err != nil {
			return nil, err
		}
		jvmMem, dynamic = m.JVMArgs(), m.DynamicArgs()
	} else {
		m, err := TaskManagerMemoryFromConfig(c, v)
		if err != nil {
			return nil, err
		}
		jvmMem, dynamic = m.JVMArgs(), m.DynamicArgs()
	}

	env := newEnviron(o.Environ)
	cd := filepath.Join(o.WorkDir, GeneratedConfDir)
	header := fmt.Sprintf("Written by `spindle flink %s` from conf/%s, the -D overrides and what the cluster decides.\nFlink %s reads this file; edits are lost when the process restarts.", o.Role, o.Spec.ConfFile, v)
	if err := writeConfDir(filepath.Join(o.WorkDir, confDir), cd, o.Spec.ConfFile, c, header); err != nil {
		return nil, err
	}

	var java, javaHome string
	if o.preview {
		java, javaHome = previewJava(c, env)
	} else if java, javaHome, err = findJava(c, env); err != nil {
		return nil, err
	}
	if javaHome != "" {
		env.set("JAVA_HOME", javaHome)
	}
	spec := func() int {
		f := o.JavaSpecVersion
		if f == nil {
			f = javaSpecVersion
		}
		n, err := f(java, env.list())
		if err != nil {
			return 0 // as config.sh: an unknown version adds nothing
		}
		return n
	}
	opts, g1, err := javaOpts(c, v, o.Role, env, spec)
	if err != nil {
		return nil, err
	}
	cp, err := classpath(o.WorkDir, c, env)
	if err != nil {
		return nil, err
	}

	args := []string{java}
	args = append(args, strings.Fields(env.get("JVM_ARGS"))...)
	if g1 {
		args = append(args, "-XX:+UseG1GC") // taskmanager.sh: no JVM options configured
	}
	args = append(args, jvmMem...)
	if len(opts) > 0 && spec() >= 9 {
		// env.java.opts* may carry secrets (-Djavax.net.ssl.keyStorePassword=…):
		// they go to the JVM in a 0600 argument file (JDK 9+), not on its
		// command line, which ps and /proc show every user of the node.
		f, err := writeArgFile(filepath.Join(cd, JVMOptionsFile), opts)
		if err != nil {
			return nil, err
		}
		opts = []string{"@" + f}
	}
	args = append(args, opts...)
	args = append(args, "-Dlog.file="+filepath.Join(o.LogDir, string(o.Role)+".log"))
	if fileExists(filepath.Join(cd, "log4j.properties")) {
		args = append(args, "-Dlog4j.configuration=file:"+cd+"/log4j.properties", "-Dlog4j.configurationFile=file:"+cd+"/log4j.properties")
	}
	if fileExists(filepath.Join(cd, "logback.xml")) {
		args = append(args, "-Dlogback.configurationFile=file:"+cd+"/logback.xml")
	}
	args = append(args, "-classpath", cp)
	switch {
	case o.Role == RoleTaskManager: // taskmanager.sh
		args = append(args, TaskManagerEntrypoint, "--configDir", cd)
		args = append(args, dynamic...)
	case o.Spec.JobJar != "": // standalone-job.sh
		args = append(args, ApplicationEntrypoint, "--configDir", cd)
		args = append(args, dynamic...)
		if o.Spec.JobClass != "" {
			args = append(args, "--job-classname", o.Spec.JobClass)
		}
		if len(o.Spec.JobArgs) > 0 {
			// The entry point's parser stops at "--": the job's own
			// arguments are never taken for -D or --job-classname.
			args = append(append(args, "--"), o.Spec.JobArgs...)
		}
	default: // jobmanager.sh
		args = append(args, SessionEntrypoint)
		args = append(args, dynamic...)
		args = append(args, "--configDir", cd)
		if v.executionModeArg() {
			args = append(args, "--executionMode", "cluster")
		}
	}

	// config.sh exports these; Flink finds usrlib/ next to FLINK_LIB_DIR
	// (ClusterEntrypointUtils.tryFindUserLibDirectory) and its plugins
	// in FLINK_PLUGINS_DIR (PluginConfig).
	env.set("FLINK_CONF_DIR", cd)
	env.set("FLINK_LIB_DIR", filepath.Join(o.WorkDir, libDir))
	env.set("FLINK_PLUGINS_DIR", filepath.Join(o.WorkDir, pluginsDir))
	maxLogs, ok := c.Get("env.log.max")
	if !ok {
		maxLogs = "10"
	}
	env.set("MAX_LOG_FILE_NUMBER", maxLogs)
	if v.rootLogLevel() {
		level, ok := c.Get("env.log.level")
		if !ok {
			level = "INFO"
		}
		env.set("ROOT_LOG_LEVEL", level)
	}
	return &Process{Java: java, Args: args, Env: env.list(), Dir: o.WorkDir, ConfDir: cd, ConfFile: filepath.Join(cd, o.Spec.ConfFile)}, nil
}

func (o LaunchOptions) validate() error {
	var errs []error
	switch o.Role {
	case RoleJobManager:
		if o.Host == "" || (o.RPCPort <= 0 || o.RESTPort <= 0) && !o.preview {
			errs = append(errs, errors.New("a JobManager needs its host and RPC and REST ports (the AM sets $SPINDLE_JM_HOST, $SPINDLE_JM_RPC_PORT, $SPINDLE_JM_REST_PORT)"))
		}
	case RoleTaskManager:
		if _, p, err := net.SplitHostPort(o.JobManagerAddress); err != nil || p == "" {
			errs = append(errs, fmt.Errorf("a TaskManager needs the JobManager's address host:port, not %q (the AM sets $SPINDLE_JM_ADDRESS)", o.JobManagerAddress))
		}
		if o.ResourceID == "" || o.Host == "" {
			errs = append(errs, errors.New("a TaskManager needs its resource id and host (the AM sets $SPINDLE_RESOURCE_ID, the NodeManager $NM_HOST)"))
		}
	default:
		errs = append(errs, fmt.Errorf("role %q: want %s or %s", o.Role, RoleJobManager, RoleTaskManager))
	}
	if !filepath.IsAbs(o.WorkDir) {
		errs = append(errs, fmt.Errorf("working directory %q is not absolute", o.WorkDir))
	}
	if o.LogDir == "" {
		errs = append(errs, errors.New("no log directory (the NodeManager sets $LOG_DIRS)"))
	}
	if o.Spec.Slots < 1 || o.Spec.TaskManagerMB <= 0 || o.Spec.JobManagerMB <= 0 {
		errs = append(errs, fmt.Errorf("%s: slots and memory sizes must be positive", SpecFile))
	}
	return errors.Join(errs...)
}

// writeConfDir fills dst with src's files (the log configurations, …),
// except the configuration files, and writes c as name.
func writeConfDir(src, dst, name string, c *Config, header string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == LegacyConfFile || rel == StandardConfFile {
			return nil // 1.19 and 1.20 prefer flink-conf.yaml: leave only ours
		}
		b, err := os.ReadFile(p) // follows the NodeManager's links
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("copying conf/ to %s: %w", GeneratedConfDir, err)
	}
	b, err := c.Marshal(header)
	if err != nil {
		return fmt.Errorf("writing %s/%s: %w", GeneratedConfDir, name, err)
	}
	return os.WriteFile(filepath.Join(dst, name), b, 0o600) // it may hold secrets
}

// findJava is config.sh's setJavaRun: env.java.home, else $JAVA_HOME;
// $JAVA_HOME/bin/java if that is a directory, else java on the PATH.
func findJava(c *Config, env *environ) (java, home string, err error) {
	home, _ = c.Get(javaHomeKey)
	if home == "" {
		home = env.get("JAVA_HOME")
	}
	if home != "" {
		if fi, err := os.Stat(home); err == nil && fi.IsDir() {
			return filepath.Join(home, "bin", "java"), home, nil
		}
	}
	for _, dir := range filepath.SplitList(env.get("PATH")) {
		p := filepath.Join(dir, "java")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, home, nil
		}
	}
	return "", "", errors.New("no Java: JAVA_HOME is not a directory here and java is not on the PATH: " +
		"set -D containerized.master.env.JAVA_HOME=… and -D containerized.taskmanager.env.JAVA_HOME=… (or env.java.home), " +
		"or have the NodeManagers pass JAVA_HOME (yarn.nodemanager.env-whitelist)")
}

// javaSpecVersion is config.sh's JAVA_SPEC_VERSION: the last component
// of java.specification.version (1.8 → 8, 17 → 17).
func javaSpecVersion(java string, env []string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, "-XshowSettings:properties", "-version")
	cmd.Env = env
	out, _ := cmd.CombinedOutput() // -version exits 0; the settings go to stderr
	return parseJavaSpecVersion(out)
}

var specVersionLine = regexp.MustCompile(`java\.specification\.version\s*=\s*([0-9.]+)`)

func parseJavaSpecVersion(out []byte) (int, error) {
	m := specVersionLine.FindSubmatch(out)
	if m == nil {
		return 0, errors.New("java printed no java.specification.version")
	}
	s := string(m[1])
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return strconv.Atoi(s)
}

// javaOpts are config.sh's FLINK_ENV_JAVA_OPTS for the role, after
// flink-console.sh's `eval echo`, and whether taskmanager.sh adds
// -XX:+UseG1GC (Flink 1.17 and older, when no JVM options are set).
func javaOpts(c *Config, v Version, r Role, env *environ, spec func() int) ([]string, bool, error) {
	get := func(k string) string { s, _ := c.Get(k); return s }
	all := get("env.java.opts.all")
	if all == "" {
		all = get("env.java.opts") // the deprecated key
	}
	role := get("env.java.opts." + string(r))
	if v.defaultJavaOpts() {
		all = get("env.java.default-opts.all") + " " + all
		role = get("env.java.default-opts."+string(r)) + " " + role
	}
	all, role = stripQuotes(all), stripQuotes(role)
	if v.ignoreUnrecognizedVMOptions() {
		all = "-XX:+IgnoreUnrecognizedVMOptions " + all
	}
	if v.securityManagerAllow() && spec() > 17 {
		all += " -Djava.security.manager=allow"
	}
	g1 := r == RoleTaskManager && all == "" && role == ""
	words, err := evalEchoWords(all+" "+role, env)
	if err != nil {
		return nil, false, fmt.Errorf("env.java.opts: %w", err)
	}
	return words, g1, nil
}

// stripQuotes is config.sh's sed -e 's/^"//' -e 's/"$//'.
func stripQuotes(s string) string {
	s = strings.TrimPrefix(s, `"`)
	return strings.TrimSuffix(s, `"`)
}

// evalEchoWords is what `FLINK_ENV_JAVA_OPTS=$(eval echo ${FLINK_ENV_JAVA_OPTS})`
// followed by an unquoted ${FLINK_ENV_JAVA_OPTS} makes of s: quotes and
// backslashes are removed, $VAR and ${VAR} are expanded from env (not
// inside single quotes), and the result is split at blanks. Globs and
// command substitutions are left as they are.
func evalEchoWords(s string, env *environ) ([]string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch ch := s[i]; ch {
		case '\\':
			if i+1 < len(s) {
				b.WriteByte(s[i+1])
			}
			i += 2
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case '"':
			i++
			for i < len(s) && s[i] != '"' {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0:
					b.WriteByte(s[i+1])
					i += 2
				case s[i] == '$':
					val, n := expandVar(s[i:], env)
					b.WriteString(val)
					i += n
				default:
					b.WriteByte(s[i])
					i++
				}
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated " quote`)
			}
			i++
		case '$':
			val, n := expandVar(s[i:], env)
			b.WriteString(val)
			i += n
		default:
			b.WriteByte(ch)
			i++
		}
	}
	return strings.Fields(b.String()), nil
}

var varRef = regexp.MustCompile(`^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})`)

// expandVar expands the $VAR or ${VAR} s starts with; a lone $ is itself.
func expandVar(s string, env *environ) (string, int) {
	m := varRef.FindStringSubmatch(s)
	if m == nil {
		return "$", 1
	}
	return env.get(m[1] + m[2]), len(m[0])
}

// classpath is flink-daemon.sh's -classpath:
// constructFlinkClassPath (every *.jar under lib/, sorted, flink-dist
// last) : the SQL gateway's (none here) : INTERNAL_HADOOP_CLASSPATHS
// ($HADOOP_CLASSPATH:$HADOOP_CONF_DIR:$YARN_CONF_DIR[:$HBASE_CONF_DIR]).
func classpath(workDir string, c *Config, env *environ) (string, error) {
	lib := filepath.Join(workDir, libDir)
	var jars, dist []string
	err := filepath.WalkDir(lib, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if strings.HasSuffix(e.Name(), ".jar") {
			jars = append(jars, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("listing lib/: %w (the submitter ships the distribution's lib/)", err)
	}
	sort.Strings(jars) // sort -z, in the C locale
	var cp string
	for _, j := range jars {
		switch {
		case isDistJar(filepath.Base(j)):
			dist = append(dist, j)
		case cp == "":
			cp = j
		default:
			cp += ":" + j
		}
	}
	switch len(dist) {
	case 0:
		return "", fmt.Errorf("flink distribution jar not found in %s", lib)
	case 1:
	default:
		return "", fmt.Errorf("multiple flink-dist*.jar found in %s", lib)
	}
	cp += ":" + dist[0]

	fromConf := func(envKey, confKey string) string {
		if v := env.get(envKey); v != "" {
			return v
		}
		v, _ := c.Get(confKey)
		return v
	}
	hadoopCP := env.get("HADOOP_CLASSPATH")
	hadoopConf := fromConf("HADOOP_CONF_DIR", "env.hadoop.conf.dir")
	yarnConf := fromConf("YARN_CONF_DIR", "env.yarn.conf.dir")
	hbaseConf := fromConf("HBASE_CONF_DIR", "env.hbase.conf.dir")
	if hadoopConf == "" {
		if h := env.get("HADOOP_HOME"); h != "" {
			for _, d := range []string{filepath.Join(h, "conf"), filepath.Join(h, "etc", "hadoop")} {
				if dirExists(d) {
					hadoopConf = d
				}
			}
		}
	}
	if hadoopConf == "" && hadoopCP == "" && dirExists("/etc/hadoop/conf") {
		hadoopConf = "/etc/hadoop/conf"
	}
	if hbaseConf == "" {
		if h := env.get("HBASE_HOME"); h != "" && dirExists(filepath.Join(h, "conf")) {
			hbaseConf = filepath.Join(h, "conf")
		}
	}
	if hbaseConf == "" && dirExists("/etc/hbase/conf") {
		hbaseConf = "/etc/hbase/conf"
	}
	cp += "::" + hadoopCP + ":" + hadoopConf + ":" + yarnConf
	if hbaseConf != "" {
		cp += ":" + hbaseConf
	}
	return cp, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// environ is an ordered environment.
type environ struct{ ordered[string] }

func newEnviron(list []string) *environ {
	e := &environ{newOrdered[string]()}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k != "" {
			e.set(k, v)
		}
	}
	return e
}

func (e *environ) get(k string) string { return e.vals[k] }

func (e *environ) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

// JVMOptionsFile is the argument file, in the generated configuration
// directory, that hands env.java.opts* to a JDK 9+ JVM.
const JVMOptionsFile = "jvm-options"

// writeArgFile writes args to path (mode 0600) in the JDK's argument-file
// syntax (java @file):
// one argument a line, double-quoted, backslash and quote escaped. It
// returns path.
func writeArgFile(path string, args []string) (string, error) {
	var b strings.Builder
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	for _, a := range args {
		b.WriteString(`"` + r.Replace(a) + `"` + "\n")
	}
	if err := amapi.WritePrivateFile(path, []byte(b.String())); err != nil {
		return "", err
	}
	return path, nil
}
