package logs

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// The NodeManager's log web services
// (hadoop-yarn-server-nodemanager …/webapp/NMWebServices.java), which
// `yarn logs` (LogsCLI.getContainerLogFiles, getResponeFromNMWebService)
// uses for the containers of a running application:
//
//	GET /ws/v1/node/containers/{id}/logs          JSON: {"containerLogsInfo": …}
//	GET /ws/v1/node/containers/{id}/logs/{file}   text, ?size=N (first N bytes; -N: last N)
//
// The file's text comes framed by LogToolUtils.outputContainerLogThroughZeroCopy:
//
//	Container: <id> on <node>
//	LogAggregationType: LOCAL
//	=========================  (as long as the first line)
//	LogType:<file>
//	LogLastModifiedTime:<date>
//	LogLength:<bytes in the file>
//	LogContents:
//	<the bytes asked for>End of LogType:<file>.[This log file belongs to a running container (<id>) and so may not be complete.]
//	****…
//
// (no header at all when no bytes are sent: an empty file).
const (
	nmLogsPath = "/ws/v1/node/containers/"
	// LogAggregationLocal and LogAggregationAggregated are
	// ContainerLogAggregationType's values.
	LogAggregationLocal      = "LOCAL"
	LogAggregationAggregated = "AGGREGATED"
	runningMarker            = "This log file belongs to a running container"
)

// ErrContainerNotFound is returned when the NodeManager does not know
// the container or has no such log file (HTTP 404).
var ErrContainerNotFound = errors.New("logs: container or log file not found on the NodeManager")

// ErrUnauthorized is returned when the NodeManager's web server wants an
// authentication the client cannot give (HTTP 401/403).
var ErrUnauthorized = errors.New("logs: the NodeManager web server refused the request")

// LogFileInfo is one entry of the container logs listing
// (ContainerLogFileInfo), with the aggregation type it was listed under.
type LogFileInfo struct {
	Name             string `json:"fileName"`
	Size             string `json:"fileSize"`
	LastModifiedTime string `json:"lastModifiedTime"`
	AggregationType  string `json:"-"`
}

// ContainerLogsInfo is one element of the listing (ContainerLogsInfo).
type ContainerLogsInfo struct {
	Files           []LogFileInfo `json:"containerLogInfo"`
	AggregationType string        `json:"logAggregationType"`
	ContainerID     string        `json:"containerId"`
	NodeID          string        `json:"nodeId"`
}

// ContainerLogsListing is the JSON of GET …/containers/{id}/logs.
type ContainerLogsListing struct {
	ContainerLogsInfo []ContainerLogsInfo `json:"containerLogsInfo"`
}

// NMWebClient reads container logs from NodeManager web servers. The zero
// value uses http.DefaultClient without authentication. Safe for
// concurrent use.
type NMWebClient struct {
	// HTTP is the client; nil means http.DefaultClient.
	HTTP *http.Client
	// Kerberos, if set, authenticates with SPNEGO (the NodeManager web UI
	// of a secure cluster, hadoop.http.authentication.type=kerberos) as
	// this login; the caller owns it.
	Kerberos *krb.Client
	// SPN is the NodeManager's HTTP service principal without realm
	// ("HTTP/nm1.example.com"); "" means HTTP/<host of the address>.
	SPN string
	// Scheme is "http" or "https" (yarn.http.policy); "" means http.
	Scheme string
}

func (c *NMWebClient) do(ctx context.Context, nodeHTTP, p string, q url.Values, accept string) (*http.Response, error) {
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: nodeHTTP, Path: p, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	var resp *http.Response
	if c.Kerberos != nil {
		spn := c.SPN
		if spn == "" {
			host, _, _ := net.SplitHostPort(nodeHTTP)
			spn = "HTTP/" + host
		}
		cp := *hc // spnego.NewClient sets the client's redirect policy and cookie jar
		resp, err = spnego.NewClient(c.Kerberos, &cp, spn).Do(req)
	} else {
		resp, err = hc.Do(req)
	}
	if err != nil {
		return nil, fmt.Errorf("logs: GET %s: %w", u.String(), err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("%w: GET %s", ErrContainerNotFound, u.String())
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		how := "a Kerberos (SPNEGO) login"
		if c.Kerberos != nil {
			how = "access for this Kerberos principal"
		}
		return nil, fmt.Errorf("%w: GET %s: %s (it needs %s)", ErrUnauthorized, u.String(), resp.Status, how)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	return nil, fmt.Errorf("logs: GET %s: %s: %s", u.String(), resp.Status, strings.TrimSpace(string(b)))
}

// ListLogs lists a container's log files on the NodeManager whose web
// address (host:port) is nodeHTTP, as LogsCLI.getContainerLogFiles does:
// local files first, then aggregated ones if the node has any.
func (c *NMWebClient) ListLogs(ctx context.Context, nodeHTTP, containerID string) ([]LogFileInfo, error) {
	resp, err := c.do(ctx, nodeHTTP, nmLogsPath+containerID+"/logs", nil, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// Jersey writes a one-element list as an object (LogsCLI accepts both).
	var raw struct {
		Info json.RawMessage `json:"containerLogsInfo"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("logs: container %s logs listing from %s: %w", containerID, nodeHTTP, err)
	}
	var infos []ContainerLogsInfo
	if len(raw.Info) > 0 && raw.Info[0] == '{' {
		var one ContainerLogsInfo
		if err := json.Unmarshal(raw.Info, &one); err != nil {
			return nil, err
		}
		infos = []ContainerLogsInfo{one}
	} else if len(raw.Info) > 0 {
		if err := json.Unmarshal(raw.Info, &infos); err != nil {
			return nil, err
		}
	}
	var out []LogFileInfo
	for _, i := range infos {
		for _, f := range i.Files {
			f.AggregationType = i.AggregationType
			out = append(out, f)
		}
	}
	return out, nil
}

// Chunk is part of a log file as the NodeManager sent it.
type Chunk struct {
	// Data are the file's bytes [Start, Start+len(Data)).
	Data []byte
	// Start is the offset of Data in the file; Length is the file's
	// length when it was read.
	Start, Length int64
	// Running is true if the container was running when it was read.
	Running bool
}

// ReadLog reads part of a container's log file: size > 0 asks for its
// first size bytes, size < 0 for its last -size, 0 for all of it. The
// NodeManager's framing is taken off: Data are the file's bytes exactly.
func (c *NMWebClient) ReadLog(ctx context.Context, nodeHTTP, containerID, file string, size int64) (Chunk, error) {
	q := url.Values{}
	if size != 0 {
		q.Set("size", strconv.FormatInt(size, 10))
	}
	resp, err := c.do(ctx, nodeHTTP, nmLogsPath+containerID+"/logs/"+url.PathEscape(file), q, "text/plain")
	if err != nil {
		return Chunk{}, err
	}
	defer resp.Body.Close()
	return parseFramedLog(bufio.NewReader(resp.Body), size)
}

// parseFramedLog undoes LogToolUtils.outputContainerLogThroughZeroCopy.
func parseFramedLog(r *bufio.Reader, size int64) (Chunk, error) {
	var ch Chunk
	line, err := r.ReadString('\n')
	if err != nil && line == "" {
		return ch, fmt.Errorf("logs: empty log response: %w", err)
	}
	if strings.HasPrefix(line, "Container: ") {
		length := int64(-1)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return ch, fmt.Errorf("%w: log header cut short", ErrFormat)
			}
			if v, ok := strings.CutPrefix(l, "LogLength:"); ok {
				if length, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
					return ch, fmt.Errorf("%w: LogLength %q", ErrFormat, v)
				}
			}
			if l == "LogContents:\n" {
				break
			}
		}
		if length < 0 {
			return ch, fmt.Errorf("%w: log header without LogLength", ErrFormat)
		}
		var n int64
		ch.Start, n = logSpan(length, size)
		ch.Length = length
		ch.Data = make([]byte, n)
		if _, err := io.ReadFull(r, ch.Data); err != nil {
			return ch, fmt.Errorf("logs: log contents cut short: %w", err)
		}
		line, _ = r.ReadString('\n')
	}
	// The footer: End of LogType:<file>.[running marker]
	if !strings.HasPrefix(line, "End of LogType:") {
		return ch, fmt.Errorf("%w: no End of LogType line", ErrFormat)
	}
	ch.Running = strings.Contains(line, runningMarker)
	return ch, nil
}

// logSpan is the part of a file of length bytes that ?size=size asks
// for (NMWebServices.getLogs): size > 0 its first size bytes, size < 0 its
// last -size, 0 all of it.
func logSpan(length, size int64) (start, n int64) {
	switch {
	case size < 0 && -size < length:
		return length + size, -size
	case size > 0 && size < length:
		return 0, size
	}
	return 0, length
}

// FramedLog writes what the NodeManager sends for GET
// …/containers/{id}/logs/{file}?size=size (for a server: the mini
// cluster's NodeManagers) of a file of length bytes read from r; only the
// bytes asked for are read.
func FramedLog(w io.Writer, containerID, nodeID, file, lastModified string, r io.ReaderAt, length, size int64, running bool) error {
	start, n := logSpan(length, size)
	if n > 0 {
		head := fmt.Sprintf("Container: %s on %s", containerID, nodeID)
		if _, err := fmt.Fprintf(w, "%s\nLogAggregationType: %s\n%s\nLogType:%s\nLogLastModifiedTime:%s\nLogLength:%d\nLogContents:\n",
			head, LogAggregationLocal, strings.Repeat("=", len(head)), file, lastModified, length); err != nil {
			return err
		}
		if c, err := io.Copy(w, io.NewSectionReader(r, start, n)); err != nil {
			return err
		} else if c < n {
			return fmt.Errorf("logs: %s shrank to %d bytes while being sent", file, start+c)
		}
	}
	end := "End of LogType:" + file
	foot := end + "."
	if running {
		foot += runningMarker + " (" + containerID + ") and so may not be complete.\n"
	} else {
		foot += "\n"
	}
	foot += strings.Repeat("*", len(end)+50) + "\n\n"
	_, err := io.WriteString(w, foot)
	return err
}

// WebUILogURL is the NodeManager web UI page of a container's logs
// (NMWebApp's /node/containerlogs/<container>/<user>), the link YARN's
// own UIs give.
func WebUILogURL(scheme, nodeHTTP, containerID, user string) string {
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + nodeHTTP + "/node/containerlogs/" + containerID + "/" + user
}
