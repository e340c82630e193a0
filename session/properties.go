package session

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// The properties file records the session each YARN cluster's commands
// use when given no APP_ID, as Flink's .yarn-properties-<user> records
// yarn-session.sh's, but one entry per cluster, so that a session
// started on one cluster never replaces another cluster's:
//
//	#Spindle: the session each YARN cluster's commands use when given no APP_ID
//	session.1.cluster=rm1.example.com:8032,rm2.example.com:8032
//	session.1.applicationID=application_1795329802294_0001
//	session.1.time=2025-06-01T10:00:00Z
//
// A Java properties file (key=value lines, # comments), mode 0600,
// replaced atomically; writers take an flock on it so that two commands
// recording sessions on two clusters at once both land. An older
// spindle's single applicationID line names no cluster and is ignored.

// maxRecorded bounds the entries: the oldest go first (clusters of past
// `spindle local up` runs, each on new ports).
const maxRecorded = 32

// Properties is what the properties file records about a cluster's
// current session.
type Properties struct {
	// AppID is the session's application (key applicationID, Flink's name).
	AppID yarn.ApplicationID
	// Time is when it was recorded.
	Time time.Time
}

// PropertiesFileName is the file's name in the user's home directory.
func PropertiesFileName(user string) string { return ".spindle-yarn-properties-" + user }

// ClusterKey names a YARN cluster in the properties file: its
// ResourceManagers' client addresses (yarn.resourcemanager.address, per
// rm-id with HA), sorted, which no two running clusters share, after its
// yarn.resourcemanager.cluster-id if set (not alone: clusters often keep
// the documentation's value).
func ClusterKey(clusterID string, rmAddrs []string) string {
	a := append([]string(nil), rmAddrs...)
	sort.Strings(a)
	k := strings.Join(a, ",")
	if clusterID != "" {
		k = clusterID + "@" + k
	}
	return k
}

// PropertiesFile is the properties file and the cluster whose entry a
// command reads and writes. The zero value records nothing.
type PropertiesFile struct {
	// Path is the file, ~/.spindle-yarn-properties-<user>.
	Path string
	// Cluster is the cluster's ClusterKey.
	Cluster string
}

// entry is one cluster's record.
type entry struct {
	cluster string
	id      string
	time    time.Time
}

// parseEntries reads the file's entries, in file order; malformed
// entries are skipped (a bad one must not hide the others).
func parseEntries(b []byte) []entry {
	byN := map[int]*entry{}
	var order []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		rest, ok := strings.CutPrefix(k, "session.")
		if !ok {
			continue // an older spindle's applicationID=, without its cluster
		}
		ns, field, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil {
			continue
		}
		e := byN[n]
		if e == nil {
			e = &entry{}
			byN[n] = e
			order = append(order, n)
		}
		switch field {
		case "cluster":
			e.cluster = v
		case "applicationID":
			e.id = v
		case "time":
			e.time, _ = time.Parse(time.RFC3339, v)
		}
	}
	var out []entry
	for _, n := range order {
		if e := byN[n]; e.cluster != "" && e.id != "" {
			out = append(out, *e)
		}
	}
	return out
}

func formatEntries(es []entry) []byte {
	var b bytes.Buffer
	b.WriteString("#Spindle: the session each YARN cluster's commands use when given no APP_ID\n")
	b.WriteString("#Written by spindle session start; session stop and the end of an attached session remove an entry.\n")
	for i, e := range es {
		fmt.Fprintf(&b, "session.%d.cluster=%s\nsession.%d.applicationID=%s\nsession.%d.time=%s\n",
			i+1, e.cluster, i+1, e.id, i+1, e.time.UTC().Format(time.RFC3339Nano))
	}
	return b.Bytes()
}

// Read returns the session recorded for f.Cluster; the error wraps
// os.ErrNotExist when there is none.
func (f PropertiesFile) Read() (Properties, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return Properties{}, err
	}
	for _, e := range parseEntries(b) {
		if e.cluster != f.Cluster {
			continue
		}
		id, err := yarn.ParseApplicationID(e.id)
		if err != nil {
			return Properties{}, fmt.Errorf("session: %s: the session recorded for %s: %w (remove the file or start a new session)", f.Path, f.Cluster, err)
		}
		return Properties{AppID: id, Time: e.time}, nil
	}
	return Properties{}, fmt.Errorf("session: %s records no session for %s: %w", f.Path, f.Cluster, os.ErrNotExist)
}

// Record makes id the session of f.Cluster, keeping the other clusters'.
func (f PropertiesFile) Record(id yarn.ApplicationID) error {
	if f.Path == "" {
		return nil
	}
	return f.update(true, func(es []entry) []entry {
		out := []entry{{cluster: f.Cluster, id: id.String(), time: time.Now()}}
		for _, e := range es {
			if e.cluster != f.Cluster {
				out = append(out, e)
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].time.After(out[j].time) })
		if len(out) > maxRecorded {
			out = out[:maxRecorded]
		}
		return out
	})
}

// Forget removes f.Cluster's entry if it names id (a later session may
// have replaced it), and the file once it records nothing.
func (f PropertiesFile) Forget(id yarn.ApplicationID) error {
	if f.Path == "" {
		return nil
	}
	return f.update(false, func(es []entry) []entry {
		out := es[:0:0]
		for _, e := range es {
			if e.cluster != f.Cluster || e.id != id.String() {
				out = append(out, e)
			}
		}
		return out
	})
}

// update rewrites the file with change applied to its entries, holding
// an flock on it; an empty result removes the file. Writers replace the
// file by rename, so a writer that locked a replaced file locks again.
func (f PropertiesFile) update(create bool, change func([]entry) []entry) error {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	for {
		fd, err := os.OpenFile(f.Path, flags, 0o600)
		if errors.Is(err, os.ErrNotExist) && !create {
			return nil
		}
		if err != nil {
			return fmt.Errorf("session: %s: %w", f.Path, err)
		}
		if err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX); err != nil {
			fd.Close()
			return fmt.Errorf("session: lock %s: %w", f.Path, err)
		}
		cur, err1 := fd.Stat()
		now, err2 := os.Stat(f.Path)
		if err1 != nil || err2 != nil || !os.SameFile(cur, now) {
			fd.Close() // replaced or removed while we waited
			continue
		}
		err = f.rewrite(fd, change)
		fd.Close()
		return err
	}
}

func (f PropertiesFile) rewrite(fd *os.File, change func([]entry) []entry) error {
	b, err := io.ReadAll(fd)
	if err != nil {
		return fmt.Errorf("session: read %s: %w", f.Path, err)
	}
	es := change(parseEntries(b))
	if len(es) == 0 {
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".tmp*")
	if err != nil {
		return fmt.Errorf("session: write %s: %w", f.Path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(formatEntries(es)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.Path)
}
