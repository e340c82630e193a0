package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/session"
	"github.com/spindle-yarn/spindle/yarn"
)

// environment is what the commands share: the process environment, the
// loaded Hadoop configuration and the logger.
type environment struct {
	lookup         func(string) (string, bool)
	stdout, stderr io.Writer
	log            zerolog.Logger
	confDirs       []string
	confFrom       []string // where each of confDirs came from: --conf-dir, $HADOOP_CONF_DIR, $YARN_CONF_DIR

	keytab, principal string // --keytab, --principal
	krbOnce           sync.Once
	krb               *krb.Client // the Kerberos login, destroyed by teardown
	krbErr            error

	confOnce sync.Once // the configuration is read once per command
	conf     *conf.Configuration
	confErr  error

	rmTimeout    time.Duration // --rm-timeout
	rmTimeoutSet bool
	logLevelSet  bool      // --log-level was given
	logOut       io.Writer // the console writer of log

	helpErr error    // `spindle help NAME` with an unknown NAME
	args    []string // the command line, for messages about it
}

func (e *environment) setup(c *cli.Context) error {
	lvl, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))}
	}
	// Colours only on a terminal: a log file or a pipe gets plain text.
	e.logOut = zerolog.ConsoleWriter{Out: e.stderr, TimeFormat: time.TimeOnly, NoColor: !isTerminal(e.stderr)}
	e.log = zerolog.New(e.logOut).Level(lvl).With().Timestamp().Logger()
	e.logLevelSet = c.IsSet("log-level")
	e.keytab, e.principal = c.String(keytabFlag.Name), c.String(principalFlag.Name)
	e.rmTimeout, e.rmTimeoutSet = c.Duration(rmTimeoutFlag.Name), c.IsSet(rmTimeoutFlag.Name)
	if e.rmTimeoutSet && e.rmTimeout <= 0 {
		return usageError{fmt.Errorf("--rm-timeout %s: want a positive duration, e.g. 2m", e.rmTimeout)}
	}
	if d := c.String("conf-dir"); d != "" {
		e.confDirs, e.confFrom = []string{d}, []string{"--conf-dir"}
	} else {
		for _, k := range []string{"HADOOP_CONF_DIR", "YARN_CONF_DIR"} {
			if v, ok := e.lookup(k); ok && v != "" {
				e.confDirs, e.confFrom = append(e.confDirs, v), append(e.confFrom, "$"+k)
			}
		}
	}
	return nil
}

// confFix is how to point spindle at a cluster's client configuration.
const confFix = "point HADOOP_CONF_DIR (or --conf-dir) at the cluster's Hadoop client configuration, " +
	"e.g. /etc/hadoop/conf, or at DIR/conf of a running `spindle local up --dir DIR`"

// hadoopConf loads core-site.xml, hdfs-site.xml and yarn-site.xml, once
// per command (the RM client, the stager and the token request share it).
// A configuration directory that does not exist, or none holding
// yarn-site.xml, is an error (exit 2): Hadoop's defaults would send the
// command to whatever ResourceManager listens on 0.0.0.0:8032.
func (e *environment) hadoopConf() (*conf.Configuration, error) {
	e.confOnce.Do(func() {
		if len(e.confDirs) == 0 {
			e.confErr = usageError{errors.New("no Hadoop configuration: " + confFix)}
			return
		}
		for i, d := range e.confDirs {
			fi, err := os.Stat(d)
			switch {
			case err != nil && errors.Is(err, fs.ErrNotExist):
				e.confErr = usageError{fmt.Errorf("%s=%s: no such directory: %s", e.confFrom[i], d, confFix)}
			case err != nil:
				e.confErr = usageError{fmt.Errorf("%s=%s: %w: %s", e.confFrom[i], d, err, confFix)}
			case !fi.IsDir():
				e.confErr = usageError{fmt.Errorf("%s=%s: not a directory: %s", e.confFrom[i], d, confFix)}
			}
			if e.confErr != nil {
				return
			}
		}
		if _, ok := e.confFile(conf.YARNSite); !ok {
			e.confErr = usageError{fmt.Errorf("no %s in %s: without it the ResourceManager would be Hadoop's default 0.0.0.0:8032, "+
				"whatever runs on this machine; %s", conf.YARNSite, e.describeConfDirs(), confFix)}
			return
		}
		e.conf, e.confErr = conf.LoadDirs(e.confDirs, conf.Options{Env: e.lookup})
		if e.confErr != nil {
			e.confErr = usageError{e.confErr} // unreadable or malformed: the message names the file and line
		}
	})
	return e.conf, e.confErr
}

// confFile is the path of the site file name in the first configuration
// directory that holds it.
func (e *environment) confFile(name string) (string, bool) {
	for _, d := range e.confDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, true
		}
	}
	return "", false
}

// describeConfDirs names the configuration directories and where each
// came from, e.g. "/etc/hadoop/conf ($HADOOP_CONF_DIR)".
func (e *environment) describeConfDirs() string {
	var parts []string
	for i, d := range e.confDirs {
		parts = append(parts, fmt.Sprintf("%s (%s)", d, e.confFrom[i]))
	}
	return strings.Join(parts, " or ")
}

// needCoreSite fails unless a configuration directory holds
// core-site.xml. Commands that stage files need it: without it
// fs.defaultFS is file:///, this machine's disk, which no other node of
// the cluster reads.
func (e *environment) needCoreSite() error {
	if _, ok := e.confFile(conf.CoreSite); ok {
		return nil
	}
	return usageError{fmt.Errorf("no %s in %s: without it fs.defaultFS is file:///, so the staging directory would be on this machine, "+
		"where the cluster's nodes cannot read it; %s (a single-machine cluster sets fs.defaultFS to file:/// there)", conf.CoreSite, e.describeConfDirs(), confFix)}
}

// userName is the SIMPLE-auth user: $HADOOP_USER_NAME, else the OS user,
// as Hadoop's UserGroupInformation picks it.
func (e *environment) userName() string {
	if v, ok := e.lookup("HADOOP_USER_NAME"); ok && v != "" {
		return v
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// containerRMClient is the RM client of a process inside one of the
// application's containers (a TaskManager's JobManager locator, its
// credential follower). It authenticates as a YARN container can: with
// the RM delegation token the submitter put in the application's
// credentials ($HADOOP_TOKEN_FILE_LOCATION) over SASL TOKEN on a secure
// cluster, as a container's UserGroupInformation does, never with a
// Kerberos login, which no container has; SIMPLE on an insecure cluster.
func (e *environment) containerRMClient() (*yarn.RMClient, error) {
	_, opts, err := e.rmOptions()
	if err != nil {
		return nil, err
	}
	if opts.Kerberos == nil {
		return yarn.NewRMClient(opts)
	}
	file, _ := e.lookup("HADOOP_TOKEN_FILE_LOCATION")
	if file == "" {
		return nil, errors.New("hadoop.security.authentication is kerberos and this process has no container credentials ($HADOOP_TOKEN_FILE_LOCATION is unset)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("the container's credentials: %w", err)
	}
	creds, err := yarn.ParseCredentials(b)
	if err != nil {
		return nil, fmt.Errorf("the container's credentials: %w", err)
	}
	if opts.Token, err = yarn.RMDelegationTokenFrom(creds); err != nil {
		return nil, fmt.Errorf("the container's credentials: %w (the submitter adds one on a secure cluster: the application was submitted by an older spindle; restart it)", err)
	}
	return yarn.NewRMClient(opts)
}

// rmOptions are the RM client options of the Hadoop configuration, with
// the SIMPLE user and the logger; authentication is the caller's. The
// retry policy is the configuration's (Hadoop's 15 minutes by default):
// see boundRM for the commands a person waits on.
func (e *environment) rmOptions() (*conf.Configuration, yarn.RMOptions, error) {
	c, err := e.hadoopConf()
	if err != nil {
		return nil, yarn.RMOptions{}, err
	}
	opts, err := yarn.RMOptionsFromConf(c)
	if err != nil {
		return nil, yarn.RMOptions{}, err
	}
	opts.User = e.userName()
	opts.Logger = e.log
	return c, opts, nil
}

// defaultRMTimeout is how long a command waits for an unreachable
// ResourceManager unless --rm-timeout or the configuration says otherwise.
const defaultRMTimeout = 30 * time.Second

// rmWait is the bound of a command's wait for an unreachable RM, and what
// set it: --rm-timeout when given, else an explicitly configured
// yarn.resourcemanager.connect.max-wait.ms (the configuration's policy is
// kept whole), else defaultRMTimeout. ok is false when the configuration's
// policy applies.
func (e *environment) rmWait(c *conf.Configuration) (d time.Duration, from string, ok bool) {
	if e.rmTimeoutSet {
		return e.rmTimeout, "--rm-timeout", true
	}
	if _, set := c.Raw(conf.KeyRMConnectMaxWaitMS); set {
		return 0, conf.KeyRMConnectMaxWaitMS, false
	}
	return defaultRMTimeout, "--rm-timeout's default", true
}

// boundRM makes opts give up on an unreachable RM within rmWait (retrying
// with backoff from 500 ms up to 5 s), bounds each connection attempt, and
// prints one line on stderr at the first failed attempt: "waiting for the
// ResourceManager at ADDR (KEY): REASON (giving up after …)…". The retry
// warnings it replaces show with an explicit --log-level. The last error
// (exit 4) names every address tried and its key.
func (e *environment) boundRM(c *conf.Configuration, opts *yarn.RMOptions) {
	d, from, ok := e.rmWait(c)
	if ok {
		opts.Retry = yarn.RetryPolicy{MaxWait: d, BaseDelay: min(500*time.Millisecond, d), MaxDelay: min(5*time.Second, d), Probe: opts.Retry.Probe}
	} else {
		d = opts.Retry.MaxWait
	}
	pl := &progressLine{w: e.stderr, names: map[string]string{}, wait: d, from: from, fwd: e.logOut, fwdLevel: e.log.GetLevel(), fwdRetries: e.logLevelSet}
	for _, ep := range opts.Endpoints {
		pl.names[ep.Addr] = ep.String()
	}
	// The failover logs each failed attempt at warn with the address
	// (rm_addr): the first one makes the progress line.
	opts.Logger = zerolog.New(pl).Level(min(e.log.GetLevel(), zerolog.WarnLevel)).With().Timestamp().Logger()
	opts.CallTimeout = max(d, time.Second) // an RM that accepts and never answers
	dialer := &net.Dialer{Timeout: min(10*time.Second, max(d, time.Second))}
	opts.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err != nil && ctx.Err() == nil {
			pl.print(addr, dialReason(err)) // at once, before the failover's backoff
		}
		return conn, err
	}
}

// progressLine writes the one line a person sees while the RM does not
// answer, and forwards the RM client's other log events to the console.
type progressLine struct {
	w          io.Writer
	names      map[string]string // address → "address (key)"
	wait       time.Duration
	from       string
	fwd        io.Writer     // the console writer of e.log
	fwdLevel   zerolog.Level // e.log's level
	fwdRetries bool          // --log-level given: show the retry warnings too
	once       sync.Once
}

func (p *progressLine) print(addr, reason string) {
	p.once.Do(func() {
		name := p.names[addr]
		if name == "" {
			name = addr
		}
		fmt.Fprintf(p.w, "waiting for the ResourceManager at %s: %s (giving up after %s, %s)…\n", name, reason, p.wait.Round(time.Millisecond), p.from)
	})
}

// Write takes one JSON log event of the RM client.
func (p *progressLine) Write(b []byte) (int, error) {
	var ev struct {
		Level  string `json:"level"`
		RMAddr string `json:"rm_addr"`
		Error  string `json:"error"`
	}
	lvl := zerolog.NoLevel
	if json.Unmarshal(b, &ev) == nil {
		lvl, _ = zerolog.ParseLevel(ev.Level)
	}
	retry := lvl == zerolog.WarnLevel && ev.RMAddr != ""
	if retry {
		p.print(ev.RMAddr, errorReason(ev.Error))
	}
	if p.fwd != nil && lvl >= p.fwdLevel && (!retry || p.fwdRetries) {
		return p.fwd.Write(b)
	}
	return len(b), nil
}

// errorReason is a short form of a logged error for the progress line.
func errorReason(s string) string {
	for _, k := range []string{"connection refused", "i/o timeout", "no such host", "connection reset", "network is unreachable"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// dialReason is a short form of a failed dial for the progress line.
func dialReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no answer"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "unknown host"
	}
	return err.Error()
}

// rmClient is the RM client of a command a person waits on: it gives up
// on an unreachable RM within rmWait (see boundRM).
func (e *environment) rmClient() (*yarn.RMClient, error) {
	return e.newRMClient(true)
}

// appReport is application id's report, asked of a bounded RM client
// (rmClient) that is closed again at once.
func (e *environment) appReport(ctx context.Context, id yarn.ApplicationID) (yarn.AppReport, error) {
	rm, err := e.rmClient()
	if err != nil {
		return yarn.AppReport{}, err
	}
	defer rm.Close()
	return rm.GetApplicationReport(ctx, id)
}

// submitRMClient is the RM client that submits and follows an
// application once every check passed: it keeps the configuration's
// failover budget (Hadoop's 15 minutes by default; --rm-timeout when
// given), since a ResourceManager failing over mid-run answers again.
func (e *environment) submitRMClient() (*yarn.RMClient, error) {
	return e.newRMClient(e.rmTimeoutSet)
}

func (e *environment) newRMClient(bounded bool) (*yarn.RMClient, error) {
	c, opts, err := e.rmOptions()
	if err != nil {
		return nil, err
	}
	if bounded {
		e.boundRM(c, &opts)
	}
	if opts.Kerberos != nil {
		if opts.Kerberos.Client, err = e.kerberos(c); err != nil {
			return nil, err
		}
		opts.User = opts.Kerberos.UserPrincipal()
	}
	return yarn.NewRMClient(opts)
}

// rmTimeoutFlag bounds how long commands wait for an unreachable
// ResourceManager.
var rmTimeoutFlag = &cli.DurationFlag{Name: "rm-timeout",
	Usage: "give up on an unreachable ResourceManager after this long (exit 4); without it, an explicitly set " +
		"yarn.resourcemanager.connect.max-wait.ms applies, else 30s. After a submission, run and session start keep " +
		"the configured budget (Hadoop's 15m by default) so a ResourceManager failover does not end them",
	DefaultText: "30s"}

// usageError marks a mistake in how spindle was called (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// Exit codes are an API for schedulers: keep them stable.
const (
	exitOK          = 0
	exitFailure     = 1 // anything not listed below
	exitUsage       = 2 // bad flags or arguments, missing configuration
	exitNotFound    = 3 // the application does not exist
	exitUnreachable = 4 // the ResourceManager could not be reached
	exitAuth        = 5 // authentication failed (Kerberos login, SASL, tokens)
	exitFailed      = 6 // the job or session ended FAILED
	exitKilled      = 7 // the job or session was killed
	exitTimeout     = 8 // a --timeout expired: run and session start killed their application; example wordcount gave up waiting
	exitUnconfirmed = 9 // submitted, but its acceptance could not be confirmed: the application may run
)

// exitCodesHelp is the exit code table `spindle help` prints.
const exitCodesHelp = `Exit codes (stable, for schedulers):
   0  success: the job or session ended SUCCEEDED, a detached start is running, a query answered
   1  any other failure
   2  invalid input: an unknown command or flag, bad arguments, missing files or configuration, sizes or queue the cluster refuses
   3  the application does not exist
   4  the ResourceManager could not be reached
   5  authentication failed (Kerberos login, SASL, tokens)
   6  the job or session ended FAILED
   7  the job or session was KILLED, also by Ctrl-C during run (once the application is killed)
   8  a --timeout expired (run, session start: the application was killed and its staging removed; example wordcount: gave up waiting, the session keeps running)
   9  the application was submitted but its acceptance could not be confirmed (interrupted, or the RM became unreachable): it may run; its staging is kept

Output: every command that reports takes --output text|json (-o). With json each line on stdout
is one JSON object: a waiting command prints its lifecycle events (submitted, accepted, waiting,
running, finished), a list one object per item (no line for an empty list), a query or an action one object.
Messages for people (progress, warnings, errors) go to stderr.`

// exitCode is the one place errors become exit codes.
func exitCode(err error) int {
	var ue usageError
	var ae authError
	var lp *launch.Problems
	var ec cli.ExitCoder
	var uc *launch.UnconfirmedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ec):
		return ec.ExitCode() // a payload process's own exit code (the Flink launcher)
	case errors.As(err, &uc):
		return exitUnconfirmed // before its cause's code: retrying as after exit 4 could run it twice
	case errors.As(err, &lp):
		switch {
		case lp.Has(launch.Input):
			return exitUsage
		case lp.Has(launch.Auth):
			return exitAuth
		}
		return exitUnreachable
	case errors.Is(err, launch.ErrTimeout):
		return exitTimeout
	case errors.Is(err, launch.ErrKilled):
		return exitKilled
	case errors.Is(err, launch.ErrFailed):
		return exitFailed
	case errors.Is(err, session.ErrNoSession):
		return exitUsage
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ae), errors.Is(err, yarn.ErrAuthentication), errors.Is(err, hdfs.ErrAuthentication):
		return exitAuth
	case errors.Is(err, yarn.ErrApplicationNotFound):
		return exitNotFound
	case errors.Is(err, yarn.ErrUnreachable):
		return exitUnreachable
	}
	return exitFailure
}
