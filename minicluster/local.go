package minicluster

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/minicluster/minihdfs"

	"github.com/spindle-yarn/spindle/yarn"
)

// LocalOptions configures local mode: a cluster on loopback under Dir
// that any Hadoop client finds through HADOOP_CONF_DIR=Dir/conf.
type LocalOptions struct {
	// Dir is the cluster's directory (required). Dir/conf receives
	// core-site.xml and yarn-site.xml; the nodes live in Dir/nm-<i>.
	Dir string
	// Nodes is the number of NodeManagers; 0 means 1.
	Nodes int
	// RM configures the ResourceManager (ports, allocation bounds, queues).
	RM RMOptions
	// NodeManager is the template for every node. Unless its Env is set,
	// the nodes' environment is this process's, completed as Hadoop's
	// scripts complete a NodeManager's (HadoopDaemonEnv: the HADOOP_*_HOME
	// variables from HADOOP_HOME, JAVA_HOME), with HADOOP_CONF_DIR
	// pointing at Dir/conf so that AMs find the scheduler address; its
	// whitelisted variables reach containers that do not set them. Unless
	// its EnvWhitelist is set, the whitelist is LocalEnvWhitelist.
	NodeManager NMOptions
	// WebProxy serves the ResourceManager's web proxy on RM.WebAddress
	// (default localhost:8088) so that tracking URLs work; WebFallback
	// serves it on a free port when that one is taken (see
	// Options.WebProxy). yarn-site.xml names the address served.
	WebProxy, WebFallback bool
	// ExtraConfig adds properties to the files written in Dir/conf, by
	// file name ("core-site.xml", "hdfs-site.xml"); they override the mini
	// cluster's own (e.g. fs.defaultFS once a mini HDFS runs).
	ExtraConfig map[string]map[string]string
	// HDFS also starts a mini HDFS (NameNode and DataNode under Dir/hdfs),
	// makes it fs.defaultFS, writes hdfs-site.xml, and lets the
	// NodeManagers localize hdfs:// resources from it.
	HDFS bool
	// HDFSUsers get a home directory /user/<name> in the mini HDFS.
	HDFSUsers []string
	// HDFSDataNodes is the mini HDFS's number of DataNodes (under
	// Dir/hdfs/datanode, datanode1, ...); zero means 1. dfs.replication is
	// that number, up to HDFS's default of 3.
	HDFSDataNodes int
	// Failover, with RM.HA set, kills the active ResourceManager each
	// time it receives (the CLI sends SIGUSR1 here): the election makes
	// the standby active after RM.HA.ElectionDelay, and the killed one
	// starts again as the standby once it has, as a supervisor would
	// restart it, so that the next failover goes back.
	Failover <-chan struct{}
	// Out, if set, receives one line once the cluster is ready (and a
	// note when the nodes' environment names no Hadoop installation);
	// RunLocal writes one more when it has stopped.
	Out io.Writer
	// Logger receives lifecycle logs; the zero value logs nothing.
	Logger zerolog.Logger
}

// Local is a running local-mode cluster.
type Local struct {
	// Cluster is the running cluster.
	Cluster *Cluster
	// HDFS is the mini HDFS, if LocalOptions.HDFS was set.
	HDFS *minihdfs.Cluster
	// ConfDir is Dir/conf, the HADOOP_CONF_DIR for clients.
	ConfDir string
	// Config holds every property written, across the files.
	Config map[string]string
	// DerivedEnv names the variables local mode added to the nodes'
	// environment (HadoopDaemonEnv), for the user to see.
	DerivedEnv []string

	dir      string
	written  []string // files, removed at Close
	dataDirs []string // directories, removed with their content at Close
	madeDirs []string // directories created, removed at Close if empty (deepest first)
}

// StartLocal starts a local-mode cluster and writes its client
// configuration. Close it to stop the cluster and remove what it wrote.
func StartLocal(ctx context.Context, opts LocalOptions) (*Local, error) {
	if opts.Dir == "" {
		return nil, errors.New("minicluster: LocalOptions.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	l := &Local{dir: dir, ConfDir: filepath.Join(dir, "conf")}
	confDir := l.ConfDir
	if err := l.mkdir(dir); err != nil {
		return nil, err
	}
	if err := l.mkdir(confDir); err != nil {
		l.removeDirs()
		return nil, err
	}
	nmOpts := opts.NodeManager
	extra := map[string]map[string]string{}
	var hc *minihdfs.Cluster
	if opts.HDFS {
		hdir := filepath.Join(dir, "hdfs")
		if err := l.mkdir(hdir); err != nil {
			l.removeDirs()
			return nil, err
		}
		// The DataNode's block files: the NameNode's namespace is in
		// memory, so they mean nothing once the cluster stops.
		dns := max(opts.HDFSDataNodes, 1)
		l.dataDirs = append(l.dataDirs, filepath.Join(hdir, "datanode"))
		for i := 1; i < dns; i++ {
			l.dataDirs = append(l.dataDirs, filepath.Join(hdir, fmt.Sprintf("datanode%d", i)))
		}
		replication := min(dns, 3)
		hc, err = minihdfs.Start(ctx, minihdfs.Options{Dir: hdir, Users: opts.HDFSUsers, DataNodes: dns, Replication: replication, Logger: opts.Logger})
		if err != nil {
			l.removeDirs()
			return nil, err
		}
		fss := map[string]FileSystem{"hdfs": HDFS{User: hc.Superuser()}}
		for k, v := range nmOpts.FileSystems {
			fss[k] = v
		}
		nmOpts.FileSystems = fss
		extra["core-site.xml"] = map[string]string{"fs.defaultFS": hc.URI()}
		extra["hdfs-site.xml"] = map[string]string{"dfs.replication": strconv.Itoa(replication), "dfs.permissions.superusergroup": "supergroup",
			"dfs.namenode.rpc-address": hc.NameNodeAddr(), "dfs.client.use.datanode.hostname": "false"}
	}
	if nmOpts.Env == nil {
		nmOpts.Env = processEnv()
		nmOpts.Env["HADOOP_CONF_DIR"] = confDir
		l.DerivedEnv = HadoopDaemonEnv(nmOpts.Env)
	}
	if nmOpts.EnvWhitelist == nil {
		nmOpts.EnvWhitelist = LocalEnvWhitelist
	}
	// Local mode serves the nodes' log pages and aggregates logs into
	// Dir/app-logs, so that `spindle logs` and `yarn logs` work as on a
	// cluster with yarn.log-aggregation-enable.
	nmOpts.Web = true
	if nmOpts.LogAggregation == nil {
		nmOpts.LogAggregation = &LogAggregationOptions{RemoteDir: filepath.Join(dir, "app-logs")}
		l.dataDirs = append(l.dataDirs, nmOpts.LogAggregation.RemoteDir)
	}
	c, err := New(ctx, Options{Dir: dir, Nodes: opts.Nodes, RM: opts.RM, NodeManager: nmOpts, WebProxy: opts.WebProxy,
		WebFallback: opts.WebFallback, Logger: opts.Logger})
	if err != nil {
		if hc != nil {
			hc.Close()
		}
		l.removeDirs()
		return nil, err
	}
	l.Cluster, l.HDFS = c, hc
	files := map[string]map[string]string{"core-site.xml": {"fs.defaultFS": "file:///"}, "yarn-site.xml": c.ClientConfig()}
	for _, layer := range []map[string]map[string]string{extra, opts.ExtraConfig} {
		for name, props := range layer {
			if files[name] == nil {
				files[name] = map[string]string{}
			}
			for k, v := range props {
				files[name][k] = v
			}
		}
	}
	l.Config = map[string]string{}
	for name, props := range files {
		for k, v := range props {
			l.Config[k] = v
		}
		p := filepath.Join(confDir, name)
		if err := WriteHadoopXML(p, props); err != nil {
			l.Close()
			return nil, err
		}
		l.written = append(l.written, p)
	}
	// Java clients warn without a log4j.properties in HADOOP_CONF_DIR.
	lp := filepath.Join(confDir, "log4j.properties")
	if err := os.WriteFile(lp, []byte(log4jProperties), 0o644); err != nil {
		l.Close()
		return nil, err
	}
	l.written = append(l.written, lp)
	if opts.Out != nil {
		fs := "file:///"
		if hc != nil {
			fs = hc.URI()
		}
		web := ""
		if c.WebProxy() != nil {
			web = ", web proxy http://" + c.RM().WebAddress()
			if want := opts.RM.WebAddress; want != "" && !strings.HasSuffix(want, ":0") && want != c.RM().WebAddress() {
				web += " (" + want + " is in use)"
			}
		}
		rmDesc := fmt.Sprintf("ResourceManager %s, scheduler %s", c.RM().ClientAddr(), c.RM().SchedulerAddr())
		if ids := c.RM().HAIDs(); ids != nil {
			rmDesc = "ResourceManager HA"
			active, _ := c.RM().ActiveID()
			for _, id := range ids {
				addr, sched, _ := c.RM().HAAddrs(id)
				role := "standby"
				if id == active {
					role = "active"
				}
				rmDesc += fmt.Sprintf(" %s %s/%s (%s)", id, addr, sched, role)
			}
		}
		fmt.Fprintf(opts.Out, "mini YARN cluster ready: %s%s, %d NodeManager(s), fs.defaultFS %s; export HADOOP_CONF_DIR=%s\n",
			rmDesc, web, len(c.NodeManagers()), fs, confDir)
		if nmOpts.Env["HADOOP_HOME"] == "" && nmOpts.Env["HADOOP_COMMON_HOME"] == "" {
			fmt.Fprintln(opts.Out, "note: no HADOOP_HOME and no hadoop command on PATH: containers get no HADOOP_*_HOME, so Java YARN applications "+
				"(DistributedShell, MapReduce) will not find Hadoop's jars; set HADOOP_HOME to a Hadoop installation before `local up` for them")
		}
	}
	return l, nil
}

// mkdir creates d if missing, remembering to remove it at Close if it
// is then empty.
func (l *Local) mkdir(d string) error {
	if _, err := os.Stat(d); err == nil {
		return nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	l.madeDirs = append([]string{d}, l.madeDirs...)
	return nil
}

// removeDirs removes the data directories and the directories local mode
// created, once empty.
func (l *Local) removeDirs() error {
	var err error
	for _, d := range l.dataDirs {
		err = errors.Join(err, os.RemoveAll(d))
	}
	for _, d := range l.madeDirs {
		_ = os.Remove(d) // only if empty: the user's files stay
	}
	return err
}

// log4jProperties is the console logging of Hadoop's stock log4j.properties.
const log4jProperties = `# Written by the Spindle mini cluster.
hadoop.root.logger=INFO,console
log4j.rootLogger=${hadoop.root.logger}
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %p %c{2}: %m%n
`

// Close stops the cluster and removes what it wrote: the configuration
// files, the nodes' directories, the mini HDFS's block files, and the
// directories it created (Dir among them) once empty. Files of others
// stay.
func (l *Local) Close() error {
	err := l.Cluster.Close()
	if l.HDFS != nil {
		err = errors.Join(err, l.HDFS.Close())
	}
	for _, p := range l.written {
		err = errors.Join(err, os.Remove(p))
	}
	return errors.Join(err, l.removeDirs())
}

// RunLocal runs a local-mode cluster in the foreground until ctx ends
// (the CLI cancels it on SIGINT/SIGTERM), then stops it cleanly and
// writes one line to Out saying so. This is what `spindle local up --dir
// DIR --nodes N` runs.
func RunLocal(ctx context.Context, opts LocalOptions) error {
	l, err := StartLocal(ctx, opts)
	if err != nil {
		return err
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-opts.Failover:
			l.failover(ctx, opts.Out)
		}
	}
	err = l.Close()
	if opts.Out != nil {
		left := ""
		if ents, _ := os.ReadDir(l.dir); len(ents) > 0 {
			left = "; it still holds files local mode did not write"
		}
		if err != nil {
			fmt.Fprintf(opts.Out, "mini YARN cluster stopped; removing what it wrote under %s failed: %v\n", l.dir, err)
		} else {
			what := "its configuration and node directories"
			if l.HDFS != nil {
				what = "its configuration, node directories and HDFS data"
			}
			fmt.Fprintf(opts.Out, "mini YARN cluster stopped; removed %s under %s%s\n", what, l.dir, left)
		}
	}
	return err
}

// ClientConfig is the yarn-site.xml a Hadoop client needs to reach the
// cluster, with the scheduler settings it runs with.
func (c *Cluster) ClientConfig() map[string]string {
	rm := c.rm
	host, _, _ := strings.Cut(rm.ClientAddr(), ":")
	r := rm.opts
	m := map[string]string{
		"yarn.resourcemanager.hostname":                         host,
		"yarn.resourcemanager.address":                          rm.ClientAddr(),
		"yarn.resourcemanager.scheduler.address":                rm.SchedulerAddr(),
		"yarn.resourcemanager.webapp.address":                   r.WebAddress,
		"yarn.scheduler.minimum-allocation-mb":                  strconv.FormatInt(r.MinAllocation.MemoryMB, 10),
		"yarn.scheduler.minimum-allocation-vcores":              strconv.Itoa(int(r.MinAllocation.VCores)),
		"yarn.scheduler.maximum-allocation-mb":                  strconv.FormatInt(r.MaxAllocation.MemoryMB, 10),
		"yarn.scheduler.maximum-allocation-vcores":              strconv.Itoa(int(r.MaxAllocation.VCores)),
		"yarn.resourcemanager.am.max-attempts":                  strconv.Itoa(r.MaxAttempts),
		"yarn.am.liveness-monitor.expiry-interval-ms":           strconv.FormatInt(r.AMExpiry.Milliseconds(), 10),
		"yarn.nm.liveness-monitor.expiry-interval-ms":           strconv.FormatInt(r.NMExpiry.Milliseconds(), 10),
		"yarn.resourcemanager.recovery.enabled":                 "true",
		"yarn.resourcemanager.work-preserving-recovery.enabled": "true",
	}
	var queues []string
	for _, q := range r.Queues {
		queues = append(queues, q.Name)
		m["yarn.scheduler.capacity.root."+q.Name+".capacity"] = strconv.FormatFloat(q.Capacity, 'f', -1, 64)
		m["yarn.scheduler.capacity.root."+q.Name+".maximum-capacity"] = strconv.FormatFloat(q.MaxCapacity, 'f', -1, 64)
		m["yarn.scheduler.capacity.root."+q.Name+".maximum-am-resource-percent"] = strconv.FormatFloat(q.MaxAMResourcePercent, 'f', -1, 64)
		if q.Stopped {
			m["yarn.scheduler.capacity.root."+q.Name+".state"] = "STOPPED"
		}
	}
	m["yarn.scheduler.capacity.root.queues"] = strings.Join(queues, ",")
	m["yarn.scheduler.capacity.maximum-am-resource-percent"] = strconv.FormatFloat(r.MaxAMResourcePercent, 'f', -1, 64)
	if rm.ha != nil {
		rm.haConfig(m)
	}
	var local, logs []string
	var res yarn.Resource
	for _, nm := range c.nms {
		local = append(local, nm.LocalDir())
		logs = append(logs, nm.LogDir())
		res = nm.opts.Resource
		m["yarn.nodemanager.resource.memory-mb"] = strconv.FormatInt(res.MemoryMB, 10)
		m["yarn.nodemanager.resource.cpu-vcores"] = strconv.Itoa(int(res.VCores))
		m["yarn.resourcemanager.nodemanagers.heartbeat-interval-ms"] = strconv.FormatInt(nm.opts.HeartbeatInterval.Milliseconds(), 10)
	}
	if len(c.nms) > 0 {
		m["yarn.nodemanager.env-whitelist"] = strings.Join(c.nms[0].opts.EnvWhitelist, ",")
	}
	m["yarn.nodemanager.local-dirs"] = strings.Join(local, ",")
	m["yarn.nodemanager.log-dirs"] = strings.Join(logs, ",")
	if len(c.nms) > 0 {
		if la := c.nms[0].opts.LogAggregation; la != nil {
			m["yarn.log-aggregation-enable"] = "true"
			m["yarn.nodemanager.remote-app-log-dir"] = "file://" + la.RemoteDir
			if la.Suffix != "" {
				m["yarn.log-aggregation.TFile.remote-app-log-dir-suffix"] = la.Suffix
			}
		}
		if c.nms[0].opts.Web {
			m["yarn.nodemanager.webapp.address"] = c.nms[0].HTTPAddress()
		}
	}
	return m
}

// WriteHadoopXML writes props as a Hadoop configuration file, sorted by name.
func WriteHadoopXML(path string, props map[string]string) error {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"configuration.xsl\"?>\n")
	b.WriteString("<!-- Written by the Spindle mini cluster; rewritten at every start. -->\n<configuration>\n")
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("  <property>\n    <name>")
		_ = xml.EscapeText(&b, []byte(k))
		b.WriteString("</name>\n    <value>")
		_ = xml.EscapeText(&b, []byte(props[k]))
		b.WriteString("</value>\n  </property>\n")
	}
	b.WriteString("</configuration>\n")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// failover kills the active ResourceManager (see LocalOptions.Failover)
// and, in the background, starts it again as the standby once another
// one is active.
func (l *Local) failover(ctx context.Context, out io.Writer) {
	rm := l.Cluster.RM()
	say := func(format string, args ...any) {
		if out != nil {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	killed, err := rm.KillActive()
	if err != nil {
		say("failover: %v", err)
		return
	}
	say("failover: killed the active ResourceManager %s; the standby takes over after the election (%s)", killed, rm.ha.opts.ElectionDelay)
	go func() {
		for _, id := range rm.HAIDs() {
			if id == killed {
				continue
			}
			if _, err := rm.WaitActive(ctx, id); err == nil {
				_ = rm.StartStandby(killed)
				say("failover: ResourceManager %s is active; %s runs again as the standby", id, killed)
			}
			return
		}
	}()
}
