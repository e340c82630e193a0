// Package minicluster is Spindle's embedded YARN cluster: a
// ResourceManager and NodeManagers in this process, built on the same ipc
// server code as the clients, behaving like Hadoop 3.3 YARN wherever an
// application can observe it. It is the test bed of every end-to-end test
// and the cluster behind local mode. (The mini HDFS lives in the
// subpackage minihdfs.)
//
// # What it does
//
//   - ResourceManager (NewResourceManager): ApplicationClientProtocol on
//     one port (SIMPLE; with RMOptions.Security, Kerberos and RM
//     delegation tokens instead), ApplicationMasterProtocol on another (TOKEN only:
//     DIGEST-MD5 with a valid AMRMToken, HMAC-SHA1 passwords from the RM's
//     master key); the application and attempt life cycles with YARN's
//     states, final statuses and diagnostics; application ids from the
//     cluster timestamp and a sequence; a capacity-style scheduler
//     (queues, minimum-allocation rounding, maximum allocation with
//     InvalidResourceRequestException, locality with delay scheduling,
//     blacklists, the AM resource limit that keeps an application ACCEPTED
//     and not activated with Hadoop's diagnostics) that hands out
//     containers on NodeManager heartbeats; the
//     ask table, response ids and cached responses of allocate exactly as
//     hadoop-wire.md §6.7 describes; the AM launcher, a client of the
//     NodeManager authenticated with an NMToken; AM attempts with liveness
//     expiry and keep-containers-across-attempts; a work-preserving restart.
//   - NodeManager (NewNodeManager): ContainerManagementProtocol accepting
//     only NMTokens its RM issued and only valid container tokens;
//     containers are real processes run by bash from a generated
//     launch_container.sh, with YARN's directories, environment, marker
//     expansion, localized and symlinked resources, container_tokens file,
//     SIGTERM-then-SIGKILL stop, and YARN's exit statuses and diagnostics.
//     With NMOptions.Simulate, containers (by default all but the AMs')
//     run no process: same protocol answers and exit statuses, with
//     configurable launch delay, lifetime and exit status, so an AM can be
//     measured at thousands of containers.
//   - Secure mode: RMOptions.Security, minihdfs.Options.Security and an
//     HDFS FileSystem with a KerberosClient make a Kerberized cluster whose
//     localizers need the application's HDFS delegation token. With
//     RMSecurity.HDFSLogin the RM renews and cancels those tokens as
//     YARN's DelegationTokenRenewer does (renewed at submission, where a
//     token that will not renew rejects the application, then at 90% of
//     each remaining lifetime; cancelled when the application ends).
//   - Faults: NodeManager.KillContainerProcess, NodeManager.Stop/Start,
//     ResourceManager.Restart, NodeManager.FailNextLocalization,
//     NodeManager.SetHealthy.
//   - Local mode: StartLocal/RunLocal write core-site.xml and
//     yarn-site.xml so that any Hadoop client finds the cluster; the
//     nodes' environment is completed as Hadoop's scripts complete a
//     NodeManager's (HadoopDaemonEnv) and passed on through the
//     whitelist; Close removes what local mode wrote.
//   - Container logs (NMOptions.Web, WebSecurity, LogAggregation): each
//     NodeManager serves NMWebServices' /ws/v1/node/containers/{id}/logs
//     and …/logs/{file} and the web UI's /node/containerlogs/{id}/{user}
//     (behind SPNEGO with WebSecurity), and, when an application ends,
//     aggregates its containers' logs into one TFile per node under the
//     remote app-log dir, byte for byte as Hadoop's LogWriter writes it
//     (package yarn/logs), then removes them locally. Local mode turns
//     both on.
//   - Web proxy (Options.WebProxy, WebProxy): the ResourceManager's
//     /proxy/<app>/ on yarn.resourcemanager.webapp.address, so that
//     tracking URLs reach the AM's pages as WebAppProxyServlet makes them.
//
// The NodeManagers talk to the RM in-process (the ResourceTracker protocol
// is not on the wire); everything an application or client sees goes over
// real Hadoop IPC.
//
// # What it must never do
//
// Be lenient where YARN is strict: an AM that works here must work on a
// real cluster. Where the mini cluster knowingly differs from YARN, the
// difference is documented where it is implemented. It never logs token
// identifiers, passwords or container environment values.
//
// # Lifecycle
//
// New (or the individual constructors) starts everything and returns once
// the nodes have registered. Close stops the nodes (killing their
// containers' process groups), then the RM, joins every goroutine and
// removes the directories it created. Close is idempotent. All exported
// methods are safe for concurrent use.
//
// # Errors
//
// Protocol errors are sent to clients as the Java exceptions YARN sends,
// with YARN's class names and message texts. The Go API returns ordinary
// errors wrapped with context; ErrClosed for operations on a closed
// component.
package minicluster
