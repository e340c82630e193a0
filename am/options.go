package am

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/yarn"
)

// Staging is the part of *hdfs.Stager the AM needs: removing the
// application's staging directory when the application ends.
type Staging interface {
	Delete(ctx context.Context, appID string) error
}

// Options configures a Runner. Spec, Container, Host and Credentials are
// required; everything the AM learns from its container environment is
// passed in here (package am reads no environment variables or files
// except the JobManager's working directory).
type Options struct {
	// Spec is what the submitter asked for (SpecFile).
	Spec amapi.Spec
	// Container is the AM's own container ($CONTAINER_ID): it names the
	// application attempt.
	Container yarn.ContainerID
	// NodeHTTP is the AM's NodeManager web address ($NM_HOST:$NM_HTTP_PORT)
	// and User the application user ($USER): with both, the status links
	// each container's log page on its NodeManager. Either "" links none.
	NodeHTTP, User string
	// Host is the AM's node as the cluster reaches it ($NM_HOST): the host
	// of the tracking URL and of the JobManager.
	Host string
	// Credentials are the container's tokens ($HADOOP_TOKEN_FILE_LOCATION,
	// ParseCredentials): the AMRMToken for the RM, the rest forwarded to
	// the TaskManagers.
	Credentials *yarn.Credentials
	// Tokens, when set, obtains fresh delegation tokens before the
	// current ones expire (a shipped keytab, Spec.Kerberos); nil forwards
	// Credentials as they are. See tokens.go.
	Tokens TokenSource
	// TokenFile is the container's token file; with Tokens, the AM
	// rewrites it with each refresh, for the JobManager. "" leaves it.
	TokenFile string
	// AMRM configures the RM client (AMRMOptionsFromConf); its Token and
	// Logger are set by New.
	AMRM yarn.AMRMOptions
	// NM configures the NodeManager client; Tokens and Logger are set by
	// New. A zero Retry.MaxWait means 30 s (not yarn's 3 minutes: a
	// container that cannot be started is released and replaced).
	NM yarn.NMOptions
	// Staging removes the staging directory when the application ends;
	// nil leaves it (spindle gc removes it later).
	Staging Staging
	// StopSecret authenticates stop requests (StopSecretFile). Empty
	// refuses every stop request.
	StopSecret []byte
	// WorkDir is where the JobManager runs (the container's $PWD); ""
	// means the current directory.
	WorkDir string
	// LogDir receives the JobManager's output (the first of $LOG_DIRS);
	// "" means WorkDir.
	LogDir string
	// Environ is the JobManager's base environment (the AM container's);
	// the SPINDLE_* variables and the spec's are added.
	Environ []string
	// Executable is the spindle binary, ${SPINDLE_BIN} in the JobManager
	// command.
	Executable string
	// HTTPAddr is the listen address of the AM's HTTP endpoint; "" means
	// Host with a free port (every interface, with a warning, if Host is
	// not one of the node's addresses).
	HTTPAddr string
	// HeartbeatFast is the allocate interval while requests are pending or
	// containers are being started; 0 means 500 ms.
	HeartbeatFast time.Duration
	// HeartbeatIdle is the interval while the fleet is complete; 0 means
	// 1 s, what Java AMs use: a completion (a TaskManager lost) is seen
	// within a second. Both stay far inside the RM's AM expiry (10
	// minutes).
	HeartbeatIdle time.Duration
	// StopTimeout bounds each step of a stop (TaskManagers, JobManager
	// grace, unregister, staging cleanup); 0 means 10 s.
	StopTimeout time.Duration
	// Now and Rand replace the clock and the jitter source in tests; nil
	// means time.Now and math/rand.
	Now  func() time.Time
	Rand func() float64
	// Logger; the zero value logs nothing.
	Logger zerolog.Logger
}

func (o *Options) validate() error {
	var errs []error
	if err := o.Spec.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Container.IsZero() {
		errs = append(errs, errors.New("am: Options.Container is unset (the AM's $CONTAINER_ID)"))
	}
	if o.Host == "" {
		errs = append(errs, errors.New("am: Options.Host is unset (the AM's $NM_HOST)"))
	}
	if o.Credentials == nil {
		errs = append(errs, errors.New("am: Options.Credentials is nil (the AM's $HADOOP_TOKEN_FILE_LOCATION)"))
	}
	return errors.Join(errs...)
}

func (o *Options) defaults() {
	if o.HeartbeatFast <= 0 {
		o.HeartbeatFast = 500 * time.Millisecond
	}
	if o.HeartbeatIdle <= 0 {
		o.HeartbeatIdle = time.Second
	}
	o.HeartbeatIdle = max(o.HeartbeatIdle, o.HeartbeatFast)
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LogDir == "" {
		o.LogDir = o.WorkDir
	}
	if o.NM.Retry.MaxWait == 0 {
		o.NM.Retry.MaxWait = 30 * time.Second
	}
}
