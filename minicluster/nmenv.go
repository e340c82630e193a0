package minicluster

import (
	"os"
	"path/filepath"
	"strings"
)

// LocalEnvWhitelist is yarn.nodemanager.env-whitelist in local mode:
// DefaultEnvWhitelist plus HADOOP_MAPRED_HOME, the value Hadoop's
// single-node guide (hadoop-project-dist/hadoop-common/SingleCluster.md,
// "YARN on a Single Node") puts in yarn-site.xml so that MapReduce jobs
// find their jars.
var LocalEnvWhitelist = append(DefaultEnvWhitelist[:len(DefaultEnvWhitelist):len(DefaultEnvWhitelist)], "HADOOP_MAPRED_HOME")

// hadoopHomeDirs are the *_HOME variables Hadoop's launch scripts derive
// from HADOOP_HOME, each with the directory under it that must exist
// (hadoop-functions.sh: hadoop_bootstrap sets HADOOP_COMMON_DIR, HDFS_DIR,
// YARN_DIR and MAPRED_DIR; hadoop_basic_init exports each home as
// HADOOP_HOME when it is empty and that directory exists).
var hadoopHomeDirs = [][2]string{
	{"HADOOP_COMMON_HOME", "share/hadoop/common"},
	{"HADOOP_HDFS_HOME", "share/hadoop/hdfs"},
	{"HADOOP_YARN_HOME", "share/hadoop/yarn"},
	{"HADOOP_MAPRED_HOME", "share/hadoop/mapreduce"},
}

// HadoopDaemonEnv completes env, a NodeManager's environment, the way
// Hadoop's scripts prepare a daemon's before it starts (`yarn --daemon
// start nodemanager` runs hadoop-config.sh and hadoop-functions.sh):
//
//   - HADOOP_HOME, when empty, is the installation the `hadoop` command on
//     env's PATH belongs to (hadoop-config.sh finds it from the script's
//     own location: <HADOOP_HOME>/bin/hadoop);
//   - HADOOP_COMMON_HOME, HADOOP_HDFS_HOME, HADOOP_YARN_HOME and
//     HADOOP_MAPRED_HOME, when empty, are HADOOP_HOME if its share/hadoop/
//     common, hdfs, yarn, mapreduce directory exists (hadoop_basic_init);
//   - JAVA_HOME, when empty, is the JDK of the `java` command on env's
//     PATH, symbolic links resolved (Hadoop's scripts refuse to start
//     without it; Bigtop's bigtop-detect-javahome looks it up so).
//
// Whitelisted variables (yarn.nodemanager.env-whitelist) reach containers
// from this environment. HadoopDaemonEnv returns the names it set.
func HadoopDaemonEnv(env map[string]string) []string {
	var set []string
	if env["HADOOP_HOME"] == "" {
		if bin := lookPath("hadoop", env["PATH"]); bin != "" {
			home := filepath.Dir(filepath.Dir(bin))
			if isDir(filepath.Join(home, "share/hadoop/common")) {
				env["HADOOP_HOME"] = home
				set = append(set, "HADOOP_HOME")
			}
		}
	}
	if home := env["HADOOP_HOME"]; home != "" {
		for _, hd := range hadoopHomeDirs {
			if env[hd[0]] == "" && isDir(filepath.Join(home, hd[1])) {
				env[hd[0]] = home
				set = append(set, hd[0])
			}
		}
	}
	if env["JAVA_HOME"] == "" {
		if bin := lookPath("java", env["PATH"]); bin != "" && filepath.Base(filepath.Dir(bin)) == "bin" {
			env["JAVA_HOME"] = filepath.Dir(filepath.Dir(bin))
			set = append(set, "JAVA_HOME")
		}
	}
	return set
}

// lookPath finds an executable named name on path, as the shell does,
// with symbolic links resolved; "" if there is none.
func lookPath(name, path string) string {
	for _, d := range filepath.SplitList(path) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
	}
	return ""
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// processEnv is this process's environment as a map.
func processEnv() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
