// Package flink is Spindle's Apache Flink payload: it runs a Flink
// distribution's JobManager in the AM container and its TaskManagers in
// their containers, as Flink's standalone entry points, with the
// configuration, memory flags and classpath Flink's own scripts would
// give them.
//
// # What it owns
//
//   - Detect: recognising an unpacked distribution (bin/, conf/, lib/
//     with exactly one flink-dist*.jar, plugins/, opt/, optionally
//     usrlib/), its release (from the flink-dist jar's name) and the
//     configuration file that release reads (conf/flink-conf.yaml for
//     1.x, conf/config.yaml for 1.19+ and 2.x).
//   - Payload (amapi.Payload): Plan validates a request against the
//     distribution and Flink's memory model and returns the processes and
//     files: lib/, plugins/, conf/ and usrlib/ as directories staged file
//     by file (so the content-addressed upload cache dedups them across
//     submissions), and per-job the job jar as usrlib/<name>. The -D
//     overrides, sizes and job travel to the containers in SpecFile, a
//     private (0600, APPLICATION) resource, never in the environment.
//   - Prepare, the in-container launcher behind `spindle flink
//     jobmanager|taskmanager`: it writes the process's effective
//     configuration (the user's file, the -D overrides, what the cluster
//     decides) into <container>/flink-conf in the release's format, and
//     returns the java command: StandaloneSessionClusterEntrypoint,
//     StandaloneApplicationClusterEntryPoint (per-job: Flink's application
//     mode) or TaskManagerRunner.
//   - SuperviseTaskManager, the TaskManager's launcher behind `spindle
//     flink taskmanager`: java as its child, restarted against the
//     JobManager's new address when the JobManager moved (it dials the
//     JobManager's RPC address; where the JobManager is now comes from the
//     Locate function cmd passes in), and java's exit code as an
//     *ExitError.
//   - The memory model (TaskManagerMemoryFromConfig,
//     JobManagerMemoryFromConfig): Flink's rules and defaults, to the
//     byte, for the JVM flags and to refuse a container Flink would refuse.
//   - YarnProperties: Flink's .yarn-properties-<user>, through which
//     `flink run` and `flink list` find a session.
//
// # What it must never do
//
// Talk to a cluster (SuperviseTaskManager only dials the JobManager and
// asks the Locate it was given), read environment variables (package cmd passes them
// in LaunchOptions), or put -D values on a command line or in a log: they
// may be secrets. It reads only the distribution (Plan) and the
// container's working directory (Prepare), and writes only
// <container>/flink-conf.
//
// # Lifecycle
//
// New detects the distribution once; Plan and YarnProperties read its
// configuration file each time. Prepare runs once per process start in
// the container. For the JobManager, cmd then replaces itself with java
// (syscall.Exec), so the AM signals java directly and sees its exit code.
// A TaskManager's launcher (SuperviseTaskManager) keeps java as its child
// and prepares it again with the JobManager's new address when an AM
// attempt change moved the JobManager (Flink's standalone TaskManager
// never looks for one); it stops java with internal/proc (SIGTERM, then
// SIGKILL after StopGrace) and returns java's end.
//
// # Errors
//
// Detect and Plan return every problem they find, joined with
// errors.Join, each naming the problem and the fix (Plan's memory errors
// quote Flink's own message and give the smallest -tm or -jm that works).
// Prepare returns the first problem; a configuration Plan accepted
// prepares, since both compute the same effective configuration.
//
// # Flink facts relied on
//
// Each fact names where it is in apache/flink; 1.x facts were read at the
// 1.17 branch point (the "Update version to 1.18-SNAPSHOT" commit), 2.x
// facts at 2.1-SNAPSHOT, and version gates at the commits named.
//
//   - Classpath: every *.jar under lib/ (find, sorted), flink-dist*.jar
//     last, exactly one; then ":" the SQL gateway's (empty) ":"
//     $HADOOP_CLASSPATH ":" $HADOOP_CONF_DIR ":" $YARN_CONF_DIR [":"
//     $HBASE_CONF_DIR], the conf dirs falling back to env.*.conf.dir,
//     $HADOOP_HOME/{conf,etc/hadoop} and /etc/{hadoop,hbase}/conf —
//     flink-dist/src/main/flink-bin/bin/config.sh (constructFlinkClassPath,
//     INTERNAL_HADOOP_CLASSPATHS), flink-daemon.sh.
//   - Java: env.java.home, else $JAVA_HOME, $JAVA_HOME/bin/java if a
//     directory, else java on the PATH — bin/bash-java-utils.sh (2.x),
//     config.sh (1.17) setJavaHome/setJavaRun.
//   - JVM options: env.java.opts.all (deprecated env.java.opts) and
//     env.java.opts.{jobmanager,taskmanager}, one leading and trailing
//     '"' stripped, `eval echo`ed — config.sh, flink-console.sh; 1.18+
//     prepends -XX:+IgnoreUnrecognizedVMOptions (FLINK-32290); 1.19+ adds
//     env.java.default-opts.* before them (FLINK-33221) and
//     -Djava.security.manager=allow when java.specification.version > 17
//     (FLINK-33309, from java -XshowSettings:properties); taskmanager.sh
//     adds -XX:+UseG1GC when no options are set (never from 1.18 on).
//   - JVM order: java $JVM_ARGS [G1] <memory flags> <options> -Dlog.file
//     -Dlog4j.configuration(File)=file:<conf>/log4j.properties
//     -Dlogback.configurationFile=file:<conf>/logback.xml -classpath …
//     <class> <args> — flink-daemon.sh; log settings only for files that
//     exist, as flink-yarn .../yarn/Utils.java getTaskManagerShellCommand.
//   - Arguments: session: <dynamic> --configDir <conf> [--executionMode
//     cluster, 1.x only, removed by FLINK-36355] — jobmanager.sh;
//     per-job: --configDir <conf> <dynamic> [--job-classname C] [-- args]
//     — standalone-job.sh, flink-container .../StandaloneApplicationClusterConfigurationParserFactory.java,
//     flink-runtime .../entrypoint/parser/CommandLineParser.java
//     (DefaultParser, stopAtNonOption); TaskManager: --configDir <conf>
//     <dynamic> — taskmanager.sh.
//   - Memory flags and dynamic properties: -Xmx/-Xms heap,
//     -XX:MaxDirectMemorySize, -XX:MaxMetaspaceSize —
//     flink-runtime .../util/config/memory/ProcessMemoryUtils.java
//     (generateJvmParametersStr, derive with fraction and inverse fraction,
//     capToMinMax; fractions are Java floats widened to double),
//     .../taskmanager/TaskExecutorFlinkMemoryUtils.java,
//     .../jobmanager/JobManagerFlinkMemoryUtils.java,
//     .../clusterframework/TaskExecutorProcessUtils.java and
//     .../jobmanager/JobManagerProcessUtils.java (generateDynamicConfigsStr,
//     in java.util.HashMap order), MemorySize.java (parse, multiply),
//     BashJavaUtils.java; the JobManager's direct limit only with
//     jobmanager.memory.enable-jvm-direct-memory-limit.
//   - Defaults: taskmanager.memory.framework.heap.size and
//     .framework.off-heap.size 128m, .task.off-heap.size 0, .managed.fraction
//     0.4 (deprecated key taskmanager.memory.size for .managed.size),
//     .network.fraction 0.1 in [.network.min 64m, .network.max MAX]
//     (deprecated taskmanager.network.memory.*), .jvm-metaspace.size 256m,
//     .jvm-overhead fraction 0.1 in [192m, 1g], taskmanager.numberOfTaskSlots
//     1, taskmanager.cpu.cores = slots — flink-core .../configuration/TaskManagerOptions.java;
//     jobmanager.memory.off-heap.size 128m, .jvm-metaspace.size 256m,
//     .jvm-overhead 0.1 in [192m, 1g] — JobManagerOptions.java. Flink 1.x
//     also maps taskmanager.heap.size to taskmanager.memory.flink.size,
//     jobmanager.heap.size to jobmanager.memory.heap.size
//     (MemoryBackwardsCompatibilityUtils) and reads
//     taskmanager.network.numberOfBuffers × taskmanager.memory.segment-size
//     (32kb); 2.0 removed them (FLINK-33750).
//   - Configuration files: 1.x flink-conf.yaml is read line by line ('#'
//     comments, "key: value" split at ": ", trimmed, empty skipped); 1.19
//     and 1.20 read it if present, else config.yaml; 2.x reads only
//     config.yaml, standard YAML flattened with '.' —
//     flink-core .../configuration/GlobalConfiguration.java, YamlParserUtils.java.
//   - Keys the cluster decides: jobmanager.rpc.address/.port,
//     rest.address/.port, rest.bind-port (falls back to rest.port),
//     rest.bind-address (fallback web.address) — JobManagerOptions,
//     RestOptions; blob.server.port (default "0") — BlobServerOptions;
//     taskmanager.host, taskmanager.resource-id — TaskManagerOptions;
//     high-availability.cluster-id (deprecated
//     high-availability.zookeeper.path.namespace,
//     recovery.zookeeper.path.namespace) — HighAvailabilityOptions; as
//     Flink on YARN sets them: the HA cluster id to the application id and
//     io.tmp.dirs to $LOCAL_DIRS with internal.io.tmpdirs.use-local-default
//     only when unset, "localhost" jobmanager.bind-host and
//     taskmanager.bind-host removed, rest.bind-address the host when unset
//     — flink-yarn .../yarn/YarnClusterDescriptor.java
//     (setHAClusterIdIfNotSet, removeLocalhostBindHostSetting),
//     .../entrypoint/YarnEntrypointUtils.java, flink-runtime
//     .../clusterframework/BootstrapTools.java (updateTmpDirectoriesInConfiguration).
//   - Environment: containerized.master.env.* for the JobManager,
//     containerized.taskmanager.env.* for TaskManagers, then JAVA_HOME from
//     env.java.home — ResourceManagerOptions, YarnClusterDescriptor
//     (generateApplicationMasterEnv), ContaineredTaskManagerParameters;
//     FLINK_CONF_DIR, FLINK_LIB_DIR, FLINK_PLUGINS_DIR, MAX_LOG_FILE_NUMBER
//     (env.log.max, 10) and from 1.19 ROOT_LOG_LEVEL (env.log.level, INFO,
//     FLINK-33166) — config.sh, conf/log4j.properties; usrlib/ is found
//     next to $FLINK_LIB_DIR — flink-runtime .../entrypoint/ClusterEntrypointUtils.java
//     (tryFindUserLibDirectory); its *.jar files become the user classpath
//     relative to the working directory — flink-clients
//     .../program/DefaultPackagedProgramRetriever.java.
//   - Shipped keytab: the JobManager's security.kerberos.login.keytab is
//     set to the keytab in its working directory and
//     security.kerberos.login.principal to its principal, overriding the
//     client's — flink-yarn .../entrypoint/YarnEntrypointUtils.java
//     (loadConfiguration), SecurityOptions.
//   - Session discovery: <yarn.properties-file.location or
//     java.io.tmpdir>/.yarn-properties-<user.name> with applicationID=<id>,
//     a java.util.Properties file — flink-yarn .../yarn/cli/FlinkYarnSessionCli.java,
//     .../configuration/YarnConfigOptions.java; Flink's client takes the
//     REST address from the application report's host and RPC port —
//     YarnClusterDescriptor.setClusterEntrypointInfoToConfig.
//   - Entry classes: org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint,
//     org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint,
//     org.apache.flink.runtime.taskexecutor.TaskManagerRunner — flink-console.sh.
//   - Versions: the flink-dist jar is flink-dist-<version>.jar (1.15+) or
//     flink-dist_<scala>-<version>.jar — flink-dist/src/main/assemblies/bin.xml.
package flink
