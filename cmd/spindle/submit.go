package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// clusterFlags are the flags of `session start` and `run`: the names a
// yarn-session.sh / flink run -t yarn-per-job user knows. They are a
// contract: keep them.
func clusterFlags(mode amapi.Mode) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "jobmanager-memory", Aliases: []string{"jm"}, Value: "1024m", Usage: "memory of the JobManager (AM) container, e.g. 1g or 1536m (a number without a unit is MB)"},
		&cli.StringFlag{Name: "taskmanager-memory", Aliases: []string{"tm"}, Value: "1024m", Usage: "memory of each TaskManager container, e.g. 2g or 1536m (a number without a unit is MB)"},
		&cli.IntFlag{Name: "slots", Aliases: []string{"s"}, Value: 1, Usage: "slots per TaskManager"},
		&cli.IntFlag{Name: "taskmanagers", Aliases: []string{"n"}, Value: 1, Usage: "number of TaskManager containers"},
		&cli.StringFlag{Name: "name", Aliases: []string{"nm"}, Usage: "application name shown by YARN"},
		&cli.StringFlag{Name: "queue", Aliases: []string{"qu"}, Usage: "YARN queue (default: default)"},
		&cli.BoolFlag{Name: "detached", Aliases: []string{"d"}, Usage: detachedUsage(mode)},
		&cli.StringSliceFlag{Name: "D", Usage: "payload property key=value (repeatable)"},
		&cli.StringSliceFlag{Name: "ship", Aliases: []string{"t"}, Usage: "file or directory shipped to the JobManager and every TaskManager (repeatable)"},
		&cli.BoolFlag{Name: "ship-follow-links", Usage: "ship the targets of symbolic links in a -t directory that point outside it (refused otherwise; links inside it are always shipped as their targets)"},
		&cli.IntFlag{Name: "vcores", Value: 1, Usage: "vcores of each TaskManager container"},
		&cli.IntFlag{Name: "priority", Usage: "application priority"},
		&cli.StringFlag{Name: "tags", Usage: "comma-separated application tags"},
		&cli.StringFlag{Name: "node-label", Usage: "node label expression for every container"},
		&cli.BoolFlag{Name: "no-locality-spread", Usage: "ask for TaskManagers on any host instead of node-local on the nodes with room (YARN hands out one any-host container per node heartbeat, many node-local ones)"},
		&cli.IntFlag{Name: "max-attempts", Usage: "AM attempts", DefaultText: "the cluster's yarn.resourcemanager.am.max-attempts"},
		&cli.StringFlag{Name: "payload", Value: "example", Usage: "what the cluster runs: example or flink"},
		&cli.StringFlag{Name: "flink-home", Usage: "Flink distribution for --payload flink (default $FLINK_HOME)"},
		&cli.BoolFlag{Name: "ship-keytab", Usage: "ship --keytab (0600, to the AM only) so the AM replaces the delegation tokens before they expire: for sessions that outlive the token lifetime"},
		&cli.BoolFlag{Name: "dry-run", Usage: "validate and print the full submission without uploading or submitting"},
		&cli.StringFlag{Name: "binary", Usage: "spindle binary shipped to the cluster (default: this one; must be a Linux build)"},
		outputFlag,
	}
}

func detachedUsage(mode amapi.Mode) string {
	if mode == amapi.ModeSession {
		return "print the application id and URLs once the JobManager runs, and return"
	}
	return "return once the job's cluster runs instead of waiting for the job to end"
}

// request turns the flags into a launch.Request.
func (e *environment) request(c *cli.Context, mode amapi.Mode, job string, args []string) (launch.Request, error) {
	var p launch.Problems
	mem := func(flag string) int64 {
		v, err := launch.ParseMemoryMB(c.String(flag))
		if err != nil {
			p.Add(launch.Input, "--%s: %v", flag, err)
			// A size Prepare accepts: the one problem above is the
			// whole story (the submission stops there anyway).
			return 2 * amapi.AMOverheadMB
		}
		return v
	}
	r := launch.Request{Mode: mode, Name: c.String("name"), Queue: c.String("queue"),
		JobManagerMemoryMB: mem("jobmanager-memory"), TaskManagerMemoryMB: mem("taskmanager-memory"),
		VCores: int32(c.Int("vcores")), Slots: c.Int("slots"), TaskManagers: c.Int("taskmanagers"),
		Priority: int32(c.Int("priority")), NodeLabel: c.String("node-label"), NoLocalitySpread: c.Bool("no-locality-spread"), MaxAttempts: int32(c.Int("max-attempts")),
		Ship: c.StringSlice("ship"), ShipFollowLinks: c.Bool("ship-follow-links"), Job: job, Args: args, AMLogLevel: "info"}
	for _, t := range strings.Split(c.String("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			r.Tags = append(r.Tags, t)
		}
	}
	for _, d := range c.StringSlice("D") {
		prop, err := amapi.ParseProperty(d)
		if err != nil {
			r.Malformed = append(r.Malformed, d)
			continue
		}
		r.Properties = append(r.Properties, prop)
	}
	r.Binary = c.String("binary")
	if r.Binary == "" {
		if v, ok := e.lookup("SPINDLE_BINARY"); ok && v != "" {
			r.Binary = v
		} else if exe, err := os.Executable(); err == nil {
			r.Binary = exe
		}
	}
	switch name := c.String("payload"); name {
	case "example":
		r.Payload = examplePayload{}
	case "flink":
		home := c.String("flink-home")
		if home == "" {
			home, _ = e.lookup("FLINK_HOME")
		}
		if home == "" {
			p.Add(launch.Input, "--payload flink needs a Flink distribution: pass --flink-home DIR or set FLINK_HOME")
			break
		}
		jobClass := ""
		if mode == amapi.ModePerJob {
			jobClass = c.String("class")
		}
		pl, err := newFlinkPayload(home, jobClass)
		if err != nil {
			p.Add(launch.Input, "%v", err)
			break
		}
		r.Payload = pl
	default:
		p.Add(launch.Input, "--payload %q: want example or flink", name)
	}
	for _, d := range e.confDirs {
		for _, f := range []string{"core-site.xml", "hdfs-site.xml", "yarn-site.xml"} {
			if _, err := os.Stat(filepath.Join(d, f)); err == nil {
				r.HadoopConf = append(r.HadoopConf, filepath.Join(d, f))
			}
		}
	}
	if c.Bool("ship-keytab") {
		if e.keytab == "" || e.principal == "" {
			p.Add(launch.Input, "--ship-keytab needs --keytab and --principal: the AM logs in from that keytab (a ticket cache cannot be shipped)")
		} else {
			r.Keytab, r.Principal = e.keytab, e.principal
			if v, ok := e.lookup("KRB5_CONFIG"); ok && v != "" {
				for _, f := range strings.Split(v, ":") {
					if _, err := os.Stat(f); err == nil {
						r.Krb5Conf = f
						break
					}
				}
			}
		}
	}
	if v, ok := e.lookup("SPINDLE_AM_ARGS"); ok && v != "" { // tests: faster heartbeats
		r.AMArgs = strings.Fields(v)
	}
	return r, p.Err()
}

// prepared is a validated submission with its clients.
type prepared struct {
	payload amapi.Payload
	sub     *launch.Submission
	rm      *yarn.RMClient
	stager  *hdfs.Stager
	tokens  *yarn.Credentials
	// planned names the tokens a submission would obtain, for a dry run
	// (which obtains none: they would outlive it, uncancelled).
	planned []string
}

func (p *prepared) close() {
	if p.rm != nil {
		p.rm.Close()
	}
}

// prepare validates everything before any upload and returns one report
// of every problem: the flags and files (launch.Prepare), then the
// cluster (credentials, reachability, sizes, queue).
func (e *environment) prepare(c *cli.Context, mode amapi.Mode, job string, args []string) (*prepared, error) {
	var problems launch.Problems
	collect := func(err error) {
		var lp *launch.Problems
		switch {
		case err == nil:
		case errors.As(err, &lp):
			problems.List = append(problems.List, lp.List...)
		default:
			kind := launch.Input
			var ae authError
			if errors.As(err, &ae) || errors.Is(err, yarn.ErrAuthentication) || errors.Is(err, hdfs.ErrAuthentication) {
				kind = launch.Auth
			}
			problems.List = append(problems.List, launch.Problem{Kind: kind, Msg: err.Error(), Err: err})
		}
	}
	req, err := e.request(c, mode, job, args)
	collect(err)
	var sub *launch.Submission
	if req.Payload != nil || err == nil {
		sub, err = launch.Prepare(req)
		collect(err)
	}
	hc, err := e.hadoopConf()
	if err != nil {
		return nil, err // no configuration at all: nothing else can be checked
	}
	p := &prepared{}
	if req.Keytab != "" {
		if sec, err := hc.Security(); err == nil && sec.Authentication != conf.AuthKerberos {
			collect(usageError{errors.New("--ship-keytab: hadoop.security.authentication is simple, so there are no delegation tokens to replace: drop --ship-keytab")})
		}
	}
	minMem, err := hc.GetInt64("yarn.scheduler.minimum-allocation-mb", 1024)
	collect(err)
	minV, err := hc.GetInt64("yarn.scheduler.minimum-allocation-vcores", 1)
	collect(err)
	req.MinAllocation = yarn.Resource{MemoryMB: minMem, VCores: int32(minV)}
	if p.rm, err = e.rmClient(); err != nil {
		collect(err)
	} else {
		id, maxRes, err := launch.CheckCluster(c.Context, p.rm, req)
		collect(err)
		if sub != nil {
			sub.App.ID, sub.MaxResource = id, maxRes
		}
	}
	if !problems.Has(launch.Auth) {
		if p.stager, err = e.stager(c); err != nil {
			collect(fmt.Errorf("staging filesystem: %w", err))
		}
	}
	if err := problems.Err(); err != nil {
		p.close()
		return nil, err
	}
	if c.Bool("dry-run") {
		if p.planned, err = plannedTokens(hc); err != nil {
			p.close()
			return nil, err
		}
	} else {
		if p.tokens, err = e.delegationTokens(c, hc, p.rm); err != nil {
			p.close()
			return nil, err
		}
		// The checks above gave up on an unreachable RM quickly; the
		// submission and the wait keep the configured failover budget.
		p.close()
		if p.rm, err = e.submitRMClient(); err != nil {
			return nil, err
		}
	}
	p.sub, p.payload = sub, req.Payload
	return p, nil
}

// printer writes events and results as text or JSON lines.
type printer struct {
	w    io.Writer
	json bool
	mu   sync.Mutex
}

// writeJSON writes v as one line of JSON, or indented, without HTML
// escapes ("<LOG_DIR>", not "\u003cLOG_DIR\u003e"): every JSON spindle
// prints goes through it.
func writeJSON(w io.Writer, v any, indent bool) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}

func (p *printer) event(ev launch.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		_ = writeJSON(p.w, ev, false)
		return
	}
	switch ev.Event {
	case launch.EventSubmitted:
		fmt.Fprintf(p.w, "submitted %s to queue %s (staging %s)\n", ev.AppID, ev.Queue, ev.StagingDir)
	case launch.EventAccepted:
		fmt.Fprintf(p.w, "accepted: %s is waiting for its AM container\n", ev.AppID)
	case launch.EventWaiting:
		fmt.Fprintf(p.w, "waiting: %s\n", ev.Message)
		if ev.Fix != "" {
			fmt.Fprintf(p.w, "  fix: %s\n", ev.Fix)
		}
	case launch.EventRunning:
		fmt.Fprintf(p.w, "running: JobManager at %s (REST %s)\n  tracking URL: %s\n  AM: %s\n", ev.JobManagerAddress, ev.JobManagerRESTAddress, ev.TrackingURL, ev.AMURL)
	case launch.EventFinished:
		fmt.Fprintf(p.w, "finished: %s %s/%s", ev.AppID, ev.State, ev.FinalStatus)
		if ev.Diagnostics != "" {
			fmt.Fprintf(p.w, ": %s", ev.Diagnostics)
		}
		fmt.Fprintln(p.w)
		if ev.Result != nil {
			fmt.Fprint(p.w, ev.Result.Text())
		}
	}
}

func (p *printer) value(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = writeJSON(p.w, v, false)
}

// progress shows the upload as bars on a terminal and nothing otherwise.
func (e *environment) progress(c *cli.Context) (func(hdfs.Progress), func()) {
	if !isTerminal(e.stderr) {
		return nil, func() {}
	}
	f := e.stderr.(*os.File)
	pr := mpb.NewWithContext(c.Context, mpb.WithOutput(f), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	var bar *mpb.Bar
	return func(p hdfs.Progress) {
			if bar == nil {
				bar = pr.AddBar(p.TotalSize, mpb.PrependDecorators(decor.Name("upload "), decor.CountersKibiByte("% .1f / % .1f")),
					mpb.AppendDecorators(decor.Percentage()))
			}
			bar.SetCurrent(p.TotalBytes)
		}, func() {
			if bar != nil {
				bar.SetTotal(-1, true)
			}
			pr.Wait()
		}
}

// reporting is how a submitting command reports: the printer, the upload
// progress (bars on a terminal only), the event sink (which ends the bars
// once submitted) and the function that ends them in any case.
func (e *environment) reporting(c *cli.Context, out string) (*printer, func(hdfs.Progress), func(launch.Event), func()) {
	pr := &printer{w: e.stdout, json: out == "json"}
	progress, done := e.progress(c)
	var once sync.Once
	end := func() { once.Do(done) }
	return pr, progress, func(ev launch.Event) {
		if ev.Event == launch.EventSubmitted {
			end()
		}
		pr.event(ev)
	}, end
}

// plannedTokens names the tokens delegationTokens would obtain, by kind
// and where from, without obtaining them.
func plannedTokens(hc *conf.Configuration) ([]string, error) {
	sec, err := hc.Security()
	if err != nil || sec.Authentication != conf.AuthKerberos {
		return nil, err
	}
	var out []string
	fs, err := hc.DefaultFS()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(fs, "hdfs:") {
		out = append(out, yarn.KindHDFSDelegation+" from "+fs)
	}
	rms, err := hc.RMAddresses(conf.RMClient)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, rm := range rms {
		addrs = append(addrs, rm.Address)
	}
	return append(out, yarn.KindRMDelegation+" from "+strings.Join(addrs, ",")), nil
}

// delegationTokens obtains the delegation tokens the AM and the
// containers use on a secure cluster (none on an insecure one): an HDFS
// token when the default filesystem is HDFS, and an RM delegation token,
// with which a container asks the RM where the application's current AM
// is (no container has a Kerberos login). Both are renewable by the RM.
func (e *environment) delegationTokens(c *cli.Context, hc *conf.Configuration, rm *yarn.RMClient) (*yarn.Credentials, error) {
	sec, err := hc.Security()
	if err != nil || sec.Authentication != conf.AuthKerberos {
		return nil, err
	}
	creds := &yarn.Credentials{}
	fs, err := hc.DefaultFS()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(fs, "hdfs:") {
		o, err := yarn.DelegationTokenOptionsFromConf(hc, "")
		if err != nil {
			return nil, err
		}
		if o.Kerberos.Client, err = e.kerberos(hc); err != nil {
			return nil, err
		}
		o.Logger = e.log
		hdfs, err := yarn.ObtainDelegationTokens(c.Context, o)
		if err != nil {
			return nil, err
		}
		for _, alias := range hdfs.Aliases() {
			creds.AddToken(alias, hdfs.Token(alias))
		}
	}
	renewer, err := yarn.TokenRenewer(hc)
	if err != nil {
		return nil, err
	}
	tok, err := rm.ObtainRMDelegationToken(c.Context, renewer)
	if err != nil {
		return nil, err
	}
	creds.AddToken(tok.Service, tok)
	return creds, nil
}
