package logs

import (
	"fmt"
	"path"
	"strings"

	"github.com/spindle-yarn/spindle/conf"
	"github.com/spindle-yarn/spindle/yarn"
)

// yarn-site keys of log aggregation (YarnConfiguration), with Hadoop 3's
// defaults.
const (
	KeyAggregationEnable = "yarn.log-aggregation-enable"                // LOG_AGGREGATION_ENABLED, false
	KeyRemoteAppLogDir   = "yarn.nodemanager.remote-app-log-dir"        // NM_REMOTE_APP_LOG_DIR, /tmp/logs
	KeyRemoteDirSuffix   = "yarn.nodemanager.remote-app-log-dir-suffix" // NM_REMOTE_APP_LOG_DIR_SUFFIX, logs
	KeyFileFormats       = "yarn.log-aggregation.file-formats"          // LOG_AGGREGATION_FILE_FORMATS, TFile
	KeyCompression       = "yarn.nodemanager.log-aggregation.compression-type"
	// keyFormatDir and keyFormatSuffix are LOG_AGGREGATION_REMOTE_APP_LOG_DIR_FMT
	// and …_SUFFIX_FMT, per file controller name.
	keyFormatDir    = "yarn.log-aggregation.%s.remote-app-log-dir"
	keyFormatSuffix = "yarn.log-aggregation.%s.remote-app-log-dir-suffix"

	DefaultRemoteAppLogDir = "/tmp/logs"
	defaultSuffix          = "logs"
	// FormatTFile and FormatIndexed are the controller names of
	// LogAggregationTFileController and LogAggregationIndexedFileController.
	FormatTFile   = "TFile"
	FormatIndexed = "IndexedFormat"
	// bucketPrefix is LogAggregationUtils.BUCKET_SUFFIX (Hadoop 3.3+).
	bucketPrefix = "bucket-"
)

// Aggregation is where a cluster aggregates container logs.
type Aggregation struct {
	// Enabled is yarn.log-aggregation-enable.
	Enabled bool
	// Format is the first of yarn.log-aggregation.file-formats: the
	// controller NodeManagers write with (FormatTFile or FormatIndexed).
	Format string
	// RemoteDir is the remote root log dir (a path or URI), Suffix the
	// controller's directory suffix: "logs-tfile" by default
	// (LogAggregationFileController.extractRemoteRootLogDirSuffix:
	// remote-app-log-dir-suffix + "-" + the controller name in lower case).
	RemoteDir, Suffix string
}

// AggregationFromConf reads the log aggregation settings of yarn-site.xml
// as LogAggregationFileControllerFactory and the file controllers read
// them.
func AggregationFromConf(c *conf.Configuration) (Aggregation, error) {
	var a Aggregation
	var err error
	if a.Enabled, err = c.GetBool(KeyAggregationEnable, false); err != nil {
		return a, err
	}
	formats, err := c.GetString(KeyFileFormats, FormatTFile)
	if err != nil {
		return a, err
	}
	a.Format = strings.TrimSpace(strings.Split(formats, ",")[0])
	if a.Format == "" {
		a.Format = FormatTFile
	}
	if a.RemoteDir, err = c.GetString(fmt.Sprintf(keyFormatDir, a.Format), ""); err != nil {
		return a, err
	}
	if a.RemoteDir == "" {
		if a.RemoteDir, err = c.GetString(KeyRemoteAppLogDir, DefaultRemoteAppLogDir); err != nil {
			return a, err
		}
	}
	if a.Suffix, err = c.GetString(fmt.Sprintf(keyFormatSuffix, a.Format), ""); err != nil {
		return a, err
	}
	if a.Suffix == "" {
		s, err := c.GetString(KeyRemoteDirSuffix, defaultSuffix)
		if err != nil {
			return a, err
		}
		a.Suffix = s + "-" + strings.ToLower(a.Format)
	}
	return a, nil
}

// AppDirs are the directories that may hold an application's aggregated
// files, newest layout first: Hadoop 3.3's bucketed
// <root>/<user>/bucket-<suffix>/<app seq % 10000, %04d>/<app id>
// (LogAggregationUtils.getRemoteAppLogDir) and the older
// <root>/<user>/<suffix>/<app id> (getOlderRemoteAppLogDir, what Hadoop
// up to 3.2 writes and 3.3 still reads).
func (a Aggregation) AppDirs(user string, app yarn.ApplicationID) []string {
	return []string{a.BucketDir(user, app), a.OlderAppDir(user, app)}
}

// BucketDir is Hadoop 3.3's application log dir.
func (a Aggregation) BucketDir(user string, app yarn.ApplicationID) string {
	return joinRemote(a.RemoteDir, user, bucketPrefix+a.Suffix, fmt.Sprintf("%04d", app.ID%10000), app.String())
}

// OlderAppDir is the application log dir of Hadoop up to 3.2.
func (a Aggregation) OlderAppDir(user string, app yarn.ApplicationID) string {
	return joinRemote(a.RemoteDir, user, a.Suffix, app.String())
}

// NodeFileName is the name of a node's file in the application log dir
// (LogAggregationUtils.getNodeString: the NodeId with ':' as '_').
func NodeFileName(node string) string { return strings.ReplaceAll(node, ":", "_") }

// NodeFromFileName is the NodeId a node file stands for ("host_port"
// back to "host:port"); rolled files ("host_port_<timestamp>") keep their
// timestamp out.
func NodeFromFileName(name string) string {
	parts := strings.Split(name, "_")
	if len(parts) < 2 {
		return name
	}
	host := strings.Join(parts[:len(parts)-1], "_")
	port := parts[len(parts)-1]
	if len(parts) >= 3 && len(port) >= 13 { // host_port_<ms timestamp>
		host, port = strings.Join(parts[:len(parts)-2], "_"), parts[len(parts)-2]
	}
	return host + ":" + port
}

// joinRemote joins path elements onto a remote root that may be a URI
// (hdfs://nn:8020/tmp/logs, file:///var/logs).
func joinRemote(root string, elem ...string) string {
	if i := strings.Index(root, "://"); i >= 0 {
		rest := root[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return root + path.Join(append([]string{"/"}, elem...)...)
		}
		return root[:i+3] + rest[:j] + path.Join(append([]string{rest[j:]}, elem...)...)
	}
	return path.Join(append([]string{root}, elem...)...)
}
