package flink

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spindle-yarn/spindle/amapi"
)

// Placeholders a Preview shows for what only the container knows.
const (
	PlaceholderWorkDir     = "<WORK_DIR>"        // the container's working directory ($PWD)
	PlaceholderLogDir      = "<LOG_DIR>"         // the container's log directory (YARN's marker)
	PlaceholderJMHost      = "<JM_HOST>"         // the AM's node, where the JobManager runs
	PlaceholderNMHost      = "<NM_HOST>"         // a TaskManager's node
	PlaceholderJMRPCPort   = "<JM_RPC_PORT>"     // chosen by the AM
	PlaceholderJMRESTPort  = "<JM_REST_PORT>"    // chosen by the AM
	PlaceholderContainerID = "<CONTAINER_ID>"    // a TaskManager's container id, its resource id
	PlaceholderAppID       = "<APP_ID>"          // the application id
	PlaceholderLocalDirs   = "<LOCAL_DIRS>"      // the NodeManager's local directories for the container
	PlaceholderJavaHome    = "<JAVA_HOME>"       // the NodeManager's JAVA_HOME, when -D sets none
	PlaceholderHadoopConf  = "<HADOOP_CONF_DIR>" // the shipped Hadoop client configuration
)

// previewJavaVersion is the Java feature version a Preview assumes (it
// cannot run the cluster's java): 9 and later take env.java.opts* in an
// argument file.
const previewJavaVersion = 11

var _ amapi.Previewer = (*Payload)(nil)

// Preview is what `spindle flink jobmanager|taskmanager` would run for
// req in the containers (Prepare): the JVM command lines with the entry
// classes, and each process's effective configuration, with placeholders
// for what the container decides (hosts, ports, directories, ids). It
// reads the distribution's lib/ and conf/ and writes only a temporary
// directory, which it removes. Configuration values are not redacted:
// the caller redacts before printing.
func (p *Payload) Preview(req amapi.PayloadRequest) ([]amapi.ProcessPreview, error) {
	plan, err := p.Plan(req)
	if err != nil {
		return nil, err
	}
	spec, err := DecodeSpec(plan.PrivateFiles[SpecFile])
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "spindle-flink-preview-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{libDir, confDir} {
		if err := linkTree(filepath.Join(p.dist.Home, d), filepath.Join(tmp, d)); err != nil {
			return nil, err
		}
	}
	var out []amapi.ProcessPreview
	for _, role := range []Role{RoleJobManager, RoleTaskManager} {
		env := plan.JobManager.Env
		o := LaunchOptions{Role: role, Spec: spec, WorkDir: tmp, LogDir: PlaceholderLogDir, AppID: PlaceholderAppID,
			LocalDirs: PlaceholderLocalDirs, Host: PlaceholderJMHost, preview: true,
			JavaSpecVersion: func(string, []string) (int, error) { return previewJavaVersion, nil }}
		if role == RoleTaskManager {
			env = plan.TaskManagerEnv
			o.Host, o.ResourceID, o.JobManagerAddress = PlaceholderNMHost, PlaceholderContainerID, PlaceholderJMHost+":"+PlaceholderJMRPCPort
		}
		o.Environ = []string{"HADOOP_CONF_DIR=" + PlaceholderHadoopConf}
		for k, v := range env {
			o.Environ = append(o.Environ, k+"="+v)
		}
		proc, err := Prepare(o)
		if err != nil {
			return nil, fmt.Errorf("preview of the %s: %w", role, err)
		}
		b, err := os.ReadFile(proc.ConfFile)
		if err != nil {
			return nil, err
		}
		c, err := ParseConfig(b, spec.ConfFile == StandardConfFile)
		if err != nil {
			return nil, err
		}
		here := func(s string) string { return strings.ReplaceAll(s, tmp, PlaceholderWorkDir) }
		pv := amapi.ProcessPreview{Role: string(role), EntryClass: proc.MainClass(), ConfigFile: here(proc.ConfFile),
			Notes: []string{fmt.Sprintf("assumes Java %d or later (the cluster's java decides the Java-version-dependent flags)", previewJavaVersion)}}
		for _, a := range proc.Args {
			pv.Command = append(pv.Command, here(a))
		}
		for _, k := range c.Keys() {
			v, _ := c.Get(k)
			pv.Config = append(pv.Config, amapi.ConfigEntry{Key: k, Value: here(v)})
		}
		out = append(out, pv)
	}
	return out, nil
}

// previewJava is findJava without looking: this machine's files say
// nothing of the NodeManager's. env.java.home or a JAVA_HOME from -D
// (containerized.*.env.JAVA_HOME) is taken as is, else the NodeManager's.
func previewJava(c *Config, env *environ) (java, home string) {
	home, _ = c.Get(javaHomeKey)
	if home == "" {
		home = env.get("JAVA_HOME")
	}
	if home == "" {
		return filepath.Join(PlaceholderJavaHome, "bin", "java"), ""
	}
	return filepath.Join(home, "bin", "java"), home
}

// linkTree makes dst a tree of directories like src's, its files symbolic
// links to src's: the shape the NodeManager gives a shipped directory.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		return os.Symlink(p, to)
	})
}
