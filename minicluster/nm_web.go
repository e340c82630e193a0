package minicluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/spindle-yarn/spindle/yarn"
	"github.com/spindle-yarn/spindle/yarn/logs"
)

// NMWebSecurity makes a NodeManager's web server require SPNEGO, as
// hadoop.http.authentication.type=kerberos does with
// yarn.nodemanager.webapp.spnego-principal and -keytab-file.
type NMWebSecurity struct {
	// Keytab holds the key of Principal. Required.
	Keytab *keytab.Keytab
	// Principal is the HTTP service principal without realm, e.g.
	// "HTTP/localhost". Required.
	Principal string
}

// LogAggregationOptions turns on log aggregation
// (yarn.log-aggregation-enable=true): when an application ends, each
// NodeManager writes the logs of its containers on that node into one
// aggregated file (TFile, compression none, as
// LogAggregationTFileController writes it) under RemoteDir, then deletes
// them locally (AppLogAggregatorImpl.doAppLogAggregationPostCleanUp).
type LogAggregationOptions struct {
	// RemoteDir is yarn.nodemanager.remote-app-log-dir, a local directory
	// here (file://). Required.
	RemoteDir string
	// Suffix is the controller's directory suffix; "" means "logs-tfile",
	// Hadoop 3's default.
	Suffix string
	// OlderLayout writes <dir>/<user>/<suffix>/<app> as Hadoop up to 3.2
	// does, instead of Hadoop 3.3's <dir>/<user>/bucket-<suffix>/<nnnn>/<app>.
	OlderLayout bool
}

// Aggregation is the layout readers see.
func (o LogAggregationOptions) Aggregation() logs.Aggregation {
	s := o.Suffix
	if s == "" {
		s = "logs-tfile"
	}
	return logs.Aggregation{Enabled: true, Format: logs.FormatTFile, RemoteDir: o.RemoteDir, Suffix: s}
}

// AppDir is where a node writes the application's aggregated files.
func (o LogAggregationOptions) AppDir(user string, app yarn.ApplicationID) string {
	if o.OlderLayout {
		return o.Aggregation().OlderAppDir(user, app)
	}
	return o.Aggregation().BucketDir(user, app)
}

// timesFormat is org.apache.hadoop.yarn.util.Times.format's pattern
// ("EEE MMM dd HH:mm:ss Z yyyy").
const timesFormat = "Mon Jan 02 15:04:05 -0700 2006"

// HTTPAddress is the node's web address (host:port), as node reports
// and NM_HTTP_PORT name it.
func (n *NodeManager) HTTPAddress() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return net.JoinHostPort(n.opts.Host, strconv.Itoa(n.opts.HTTPPort))
}

// startWeb serves the node's log pages (NMWebServices' container log
// resources and the web UI's /node/containerlogs) when NMOptions.Web is
// set. Called with n.mu held.
func (n *NodeManager) startWebLocked() error {
	if !n.opts.Web {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(n.bindHost, strconv.Itoa(n.webPort)))
	if err != nil {
		return fmt.Errorf("minicluster: nodemanager web listen: %w", err)
	}
	n.webPort = l.Addr().(*net.TCPAddr).Port
	n.opts.HTTPPort = n.webPort
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/v1/node/containers/{id}/logs", n.serveLogList)
	mux.HandleFunc("GET /ws/v1/node/containers/{id}/logs/{file}", n.serveLogFile)
	mux.HandleFunc("GET /ws/v1/node/containerlogs/{id}/{file}", n.serveLogFile)
	mux.HandleFunc("GET /node/containerlogs/{id}/{user}", n.serveLogPage)
	mux.HandleFunc("GET /node/containerlogs/{id}/{user}/{file}", n.serveLogPage)
	var h http.Handler = mux
	if s := n.opts.WebSecurity; s != nil {
		h = spnego.SPNEGOKRB5Authenticate(mux, s.Keytab, service.KeytabPrincipal(s.Principal),
			service.Logger(log.New(io.Discard, "", 0)),
			// MIT KDCs issue PACs without a Windows KerbValidationInfo.
			service.DecodePAC(false))
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	n.web = srv
	n.srvWG.Add(1)
	go func() { defer n.srvWG.Done(); _ = srv.Serve(l) }()
	return nil
}

// containerLogDir is the container's log dir on this node, "" if it has
// none, and whether the container is running.
func (n *NodeManager) containerLogDir(idStr string) (id yarn.ContainerID, dir string, running bool, err error) {
	if id, err = yarn.ParseContainerID(idStr); err != nil {
		return id, "", false, err
	}
	d := filepath.Join(n.logDir, id.Attempt.App.String(), id.String())
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return id, "", false, nil
	}
	n.mu.Lock()
	c := n.containers[id]
	n.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		running = c.state == cRunning || c.state == cKilling
		c.mu.Unlock()
	}
	return id, d, running, nil
}

// serveLogList is NMWebServices.getContainerLogsInfo (local logs only).
func (n *NodeManager) serveLogList(w http.ResponseWriter, r *http.Request) {
	id, dir, _, err := n.containerLogDir(r.PathValue("id"))
	if err != nil {
		http.Error(w, "invalid container id, "+r.PathValue("id"), http.StatusBadRequest)
		return
	}
	if dir == "" {
		http.Error(w, "Unable to find the container "+id.String()+" on this node", http.StatusNotFound)
		return
	}
	ents, _ := os.ReadDir(dir)
	files := []logs.LogFileInfo{}
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files = append(files, logs.LogFileInfo{Name: e.Name(), Size: strconv.FormatInt(info.Size(), 10),
				LastModifiedTime: info.ModTime().Format(timesFormat)})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = json.NewEncoder(w).Encode(logs.ContainerLogsListing{ContainerLogsInfo: []logs.ContainerLogsInfo{{
		Files: files, AggregationType: logs.LogAggregationLocal, ContainerID: id.String(), NodeID: n.ID().String()}}})
}

// serveLogFile is NMWebServices.getLogs.
func (n *NodeManager) serveLogFile(w http.ResponseWriter, r *http.Request) {
	id, dir, running, err := n.containerLogDir(r.PathValue("id"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	file := r.PathValue("file")
	if dir == "" || file == "" || strings.ContainsAny(file, "/\\") || file == "." || file == ".." {
		http.Error(w, "Cannot find this log on the local disk.", http.StatusNotFound)
		return
	}
	size := int64(0)
	if s := r.URL.Query().Get("size"); s != "" {
		if size, err = strconv.ParseInt(s, 10, 64); err != nil {
			http.Error(w, "size: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	p := filepath.Join(dir, file)
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() {
		http.Error(w, "Cannot find this log on the local disk.", http.StatusNotFound)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	// The length is taken once, as ContainerLogsUtils does (File.length);
	// only the bytes asked for are read.
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = logs.FramedLog(w, id.String(), n.ID().String(), file, st.ModTime().Format(timesFormat), f, st.Size(), size, running)
}

// serveLogPage is the web UI's container log page (ContainerLogsPage):
// the list of files with links, or one file as text.
func (n *NodeManager) serveLogPage(w http.ResponseWriter, r *http.Request) {
	id, dir, _, err := n.containerLogDir(r.PathValue("id"))
	if err != nil || dir == "" {
		http.Error(w, "Unknown container. Container either has not started or has already completed or doesn't belong to this node at all.", http.StatusNotFound)
		return
	}
	if file := r.PathValue("file"); file != "" {
		if strings.ContainsAny(file, "/\\") || file == "." || file == ".." {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		http.ServeFile(w, r, filepath.Join(dir, file))
		return
	}
	ents, _ := os.ReadDir(dir)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><head><title>Logs of %s</title></head><body><h1>%s</h1><ul>\n", id, id)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			fmt.Fprintf(w, "<li><a href=\"%s/%s\">%s</a> : Total file length is %d bytes.</li>\n",
				html.EscapeString(r.URL.Path), html.EscapeString(e.Name()), html.EscapeString(e.Name()), info.Size())
		}
	}
	fmt.Fprint(w, "</ul></body></html>\n")
}

// aggregateApp writes the application's aggregated log file for this
// node and removes its local log dirs (AppLogAggregatorImpl: upload on
// application finish, then doAppLogAggregationPostCleanUp). The file is
// written as <node>.tmp and renamed, as LogAggregationTFileController does.
func (n *NodeManager) aggregateApp(id yarn.ApplicationID, user string) error {
	o := n.opts.LogAggregation
	appLogs := filepath.Join(n.logDir, id.String())
	ents, err := os.ReadDir(appLogs)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var cs []string
	for _, e := range ents {
		if e.IsDir() {
			cs = append(cs, e.Name())
		}
	}
	sort.Strings(cs)
	dir := o.AppDir(user, id)
	if err := os.MkdirAll(dir, 0o770); err != nil {
		return fmt.Errorf("minicluster: log aggregation dir: %w", err)
	}
	final := filepath.Join(dir, logs.NodeFileName(n.ID().String()))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("minicluster: log aggregation: %w", err)
	}
	aw, err := logs.NewAggregatedWriter(f, user, nil)
	if err == nil {
		for _, c := range cs {
			if _, err = aw.AppendContainerDir(c, filepath.Join(appLogs, c)); err != nil {
				break
			}
		}
		if err == nil {
			err = aw.Close()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("minicluster: log aggregation of %s: %w", id, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	n.lg.Info().Stringer("app_id", id).Str("file", final).Int("containers", len(cs)).Msg("logs aggregated")
	return os.RemoveAll(appLogs)
}
