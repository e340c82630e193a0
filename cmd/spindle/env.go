package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"sync"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

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

	keytab, principal string // --keytab, --principal
	krbOnce           sync.Once
	krb               *krb.Client // the Kerberos login, destroyed by teardown
	krbErr            error

	confOnce sync.Once // the configuration is read once per command
	conf     *conf.Configuration
	confErr  error
}

func (e *environment) setup(c *cli.Context) error {
	lvl, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil {
		return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", c.String("log-level"))}
	}
	e.log = zerolog.New(zerolog.ConsoleWriter{Out: e.stderr, TimeFormat: time.TimeOnly}).Level(lvl).With().Timestamp().Logger()
	e.keytab, e.principal = c.String(keytabFlag.Name), c.String(principalFlag.Name)
	if d := c.String("conf-dir"); d != "" {
		e.confDirs = []string{d}
	} else {
		for _, k := range []string{"HADOOP_CONF_DIR", "YARN_CONF_DIR"} {
			if v, ok := e.lookup(k); ok && v != "" {
				e.confDirs = append(e.confDirs, v)
			}
		}
	}
	return nil
}

// hadoopConf loads core-site.xml, hdfs-site.xml and yarn-site.xml, once
// per command (the RM client, the stager and the token request share it).
func (e *environment) hadoopConf() (*conf.Configuration, error) {
	e.confOnce.Do(func() {
		if len(e.confDirs) == 0 {
			e.confErr = usageError{errors.New("no Hadoop configuration: set HADOOP_CONF_DIR (or pass --conf-dir) to the directory holding yarn-site.xml")}
			return
		}
		e.conf, e.confErr = conf.LoadDirs(e.confDirs, conf.Options{Env: e.lookup})
	})
	return e.conf, e.confErr
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
// the SIMPLE user and the logger; authentication is the caller's.
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

func (e *environment) rmClient() (*yarn.RMClient, error) {
	c, opts, err := e.rmOptions()
	if err != nil {
		return nil, err
	}
	if opts.Kerberos != nil {
		if opts.Kerberos.Client, err = e.kerberos(c); err != nil {
			return nil, err
		}
		opts.User = opts.Kerberos.UserPrincipal()
	}
	return yarn.NewRMClient(opts)
}

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
   2  invalid input: bad flags or arguments, missing files or configuration, sizes or queue the cluster refuses
   3  the application does not exist
   4  the ResourceManager could not be reached
   5  authentication failed (Kerberos login, SASL, tokens)
   6  the job or session ended FAILED
   7  the job or session was KILLED
   8  a --timeout expired (run, session start: the application was killed and its staging removed; example wordcount: gave up waiting, the session keeps running)
   9  the application was submitted but its acceptance could not be confirmed (interrupted, or the RM became unreachable): it may run; its staging is kept

With --output json, commands print one JSON object per line: lifecycle events while waiting
(submitted, accepted, waiting, running, finished) or the result of a query.`

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
