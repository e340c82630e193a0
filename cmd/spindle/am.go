package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/am"
	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/hdfs"
	"github.com/spindle-yarn/spindle/yarn"
)

// amCommand is what the AM container runs (hidden: people never type it).
// It reads the container environment the NodeManager sets
// (hadoop-wire.md §8.1) and the files the submitter shipped, and runs an
// am.Runner until the application ends or YARN stops the container.
func amCommand(e *environment) *cli.Command {
	return &cli.Command{
		Name:   "am",
		Usage:  "run the ApplicationMaster (inside the AM container)",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "spec", Value: amapi.SpecFile, Usage: "the AM spec the submitter shipped"},
			&cli.StringFlag{Name: "stop-secret", Value: amapi.StopSecretFile, Usage: "file holding the stop secret"},
			&cli.DurationFlag{Name: "heartbeat-fast", Usage: "allocate interval while containers are wanted (default 500ms)"},
			&cli.DurationFlag{Name: "heartbeat-idle", Usage: "allocate interval while the fleet is complete (default 1s)"},
		},
		Action: e.runAM,
	}
}

func (e *environment) runAM(c *cli.Context) error {
	// The AM shares its container with the JobManager: keep the Go heap's
	// slack small (GOGC 50 unless the environment says otherwise), so its
	// RSS stays near what it holds (issue 16: ≤ 60 MB at 10,000
	// TaskManagers).
	if _, set := e.lookup("GOGC"); !set {
		debug.SetGCPercent(50)
	}
	need := func(k string) (string, error) {
		v, ok := e.lookup(k)
		if !ok || v == "" {
			return "", usageError{fmt.Errorf("$%s is not set: `spindle am` runs inside a YARN AM container", k)}
		}
		return v, nil
	}
	cidS, err := need("CONTAINER_ID")
	if err != nil {
		return err
	}
	cid, err := yarn.ParseContainerID(cidS)
	if err != nil {
		return usageError{fmt.Errorf("$CONTAINER_ID: %w", err)}
	}
	host, err := need("NM_HOST")
	if err != nil {
		return err
	}
	var nodeHTTP string
	if p, ok := e.lookup("NM_HTTP_PORT"); ok && p != "" {
		nodeHTTP = net.JoinHostPort(host, p)
	}
	appUser, _ := e.lookup("USER")
	tokFile, err := need("HADOOP_TOKEN_FILE_LOCATION")
	if err != nil {
		return err
	}
	tb, err := os.ReadFile(tokFile)
	if err != nil {
		return err
	}
	creds, err := am.ParseCredentials(tb)
	if err != nil {
		return err
	}
	sb, err := os.ReadFile(c.String("spec"))
	if err != nil {
		return err
	}
	spec, err := amapi.ParseSpec(sb)
	if err != nil {
		return err
	}
	var secret []byte
	if b, err := os.ReadFile(c.String("stop-secret")); err == nil {
		secret = []byte(strings.TrimSpace(string(b)))
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	hc, err := e.hadoopConf()
	if err != nil {
		return err
	}
	amrmOpts, err := yarn.AMRMOptionsFromConf(hc)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	logDir := wd
	if v, ok := e.lookup("LOG_DIRS"); ok && v != "" {
		logDir = strings.Split(v, ",")[0]
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// The AM logs to its container's stderr, which the submitter
	// redirects into the log dir: plain text with dates, and info at
	// least, as lifecycle events are what an operator reads there.
	zerolog.TimeFieldFormat = zerolog.TimeFormatUnixMs // this process is the AM: ms in its log
	lg := zerolog.New(zerolog.ConsoleWriter{Out: e.stderr, NoColor: true, TimeFormat: "2006-01-02 15:04:05.000"}).
		Level(min(e.log.GetLevel(), zerolog.InfoLevel)).With().Timestamp().Logger()
	opts := am.Options{Spec: spec, Container: cid, Host: host, NodeHTTP: nodeHTTP, User: appUser, Credentials: creds, AMRM: amrmOpts, StopSecret: secret,
		WorkDir: wd, LogDir: logDir, Environ: os.Environ(), Executable: exe, Logger: lg,
		HeartbeatFast: c.Duration("heartbeat-fast"), HeartbeatIdle: c.Duration("heartbeat-idle")}
	var login *krb.Client
	if k := spec.Kerberos; k != nil {
		// The submitter shipped a keytab: log in with it, to replace the
		// application's delegation tokens before they expire and to
		// remove the staging directory at the end.
		if login, err = e.amLogin(wd, k); err != nil {
			return err
		}
		defer login.Destroy()
		o, err := yarn.DelegationTokenOptionsFromConf(hc, "")
		switch {
		case err != nil:
			lg.Warn().Err(err).Msg("cannot refresh delegation tokens: the Hadoop configuration does not say how")
		case o.Kerberos == nil:
			lg.Warn().Msg("a keytab was shipped but hadoop.security.authentication is not kerberos: no tokens to refresh")
		default:
			o.Kerberos.Client, o.Logger = login, lg
			opts.Tokens, opts.TokenFile = &am.HDFSTokens{Options: o}, tokFile
			lg.Info().Str("principal", k.Principal).Msg("logging in from the shipped keytab to keep the delegation tokens fresh")
		}
	}
	if st := spec.Staging; st.FS != "" {
		stager, err := hdfs.New(c.Context, hdfs.Options{FS: st.FS, Conf: hc, User: st.User, Home: st.Home, KerberosClient: login, Logger: lg})
		switch {
		case err == nil:
			opts.Staging = stager
		case login == nil && creds.TokenOfKind(yarn.KindHDFSDelegation) != nil:
			// A secure cluster without a shipped keytab: the application's
			// HDFS delegation token is this AM's credential for HDFS.
			o, terr := yarn.DelegationTokenOptionsFromConf(hc, st.FS)
			if terr != nil {
				lg.Warn().Err(terr).Msg("the staging directory will be left for spindle gc: the Hadoop configuration does not name its NameNodes")
				break
			}
			o.Logger = lg
			opts.Staging = tokenStaging{opts: o, tok: creds.TokenOfKind(yarn.KindHDFSDelegation), home: st.Home}
			lg.Info().Msg("the staging directory will be removed with the application's HDFS delegation token")
		default:
			lg.Warn().Err(err).Msg("staging filesystem unreachable and no delegation token for it; the staging directory will be left for spindle gc")
		}
	}
	r, err := am.New(opts)
	if err != nil {
		return err
	}
	defer r.Close()
	start := time.Now()
	err = r.Run(c.Context)
	if f, ok := r.Final(); ok {
		lg.Info().Stringer("final_status", f.Status).Dur("duration", time.Since(start)).Msg("application master done")
		return nil
	}
	if err != nil && c.Context.Err() != nil {
		// SIGTERM from the NodeManager: the RM is ending this attempt.
		lg.Warn().Msg("stopped by signal; the application is left to the ResourceManager")
	}
	if err == nil {
		err = errors.New("am: ended without unregistering")
	}
	return err
}

// amLogin is the AM's Kerberos login from the keytab the submitter
// shipped, with the shipped krb5.conf or else the node's.
func (e *environment) amLogin(wd string, k *amapi.KerberosSpec) (*krb.Client, error) {
	var cfg *config.Config
	var err error
	if k.Krb5Conf != "" {
		if cfg, err = config.Load(filepath.Join(wd, k.Krb5Conf)); err != nil {
			return nil, fmt.Errorf("the shipped krb5.conf: %w", err)
		}
	} else if cfg, err = e.krb5Conf(); err != nil {
		return nil, err
	}
	kt, err := keytab.Load(filepath.Join(wd, k.Keytab))
	if err != nil {
		return nil, fmt.Errorf("the shipped keytab: %w", err)
	}
	return keytabLogin(kt, k.Principal, cfg)
}

// tokenStaging removes an application's staging directory
// (<home>/.spindle/<app id>) with the application's HDFS delegation token,
// for an AM on a secure cluster without a Kerberos login.
type tokenStaging struct {
	opts yarn.DelegationTokenOptions
	tok  *yarn.Token
	home string
}

func (s tokenStaging) Delete(ctx context.Context, appID string) error {
	return yarn.DeleteWithToken(ctx, s.opts, s.tok, hdfs.StagingPath(s.home, appID))
}
