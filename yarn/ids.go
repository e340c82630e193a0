package yarn

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ApplicationID identifies an application: the RM's start time (the cluster
// timestamp) and a sequence number. It prints as application_<ts>_<id %04d>.
type ApplicationID struct {
	ClusterTimestamp int64
	ID               int32
}

func (a ApplicationID) String() string {
	return fmt.Sprintf("application_%d_%04d", a.ClusterTimestamp, a.ID)
}

// IsZero reports whether a is unset.
func (a ApplicationID) IsZero() bool { return a == ApplicationID{} }

// AttemptID identifies one attempt of an application's AM.
// It prints as appattempt_<ts>_<app %04d>_<attempt %06d>.
type AttemptID struct {
	App     ApplicationID
	Attempt int32
}

func (a AttemptID) String() string {
	return fmt.Sprintf("appattempt_%d_%04d_%06d", a.App.ClusterTimestamp, a.App.ID, a.Attempt)
}

// containerSeqMask keeps the low 40 bits of a container id; the bits above
// hold the RM epoch (ContainerId.CONTAINER_ID_BITMASK).
const containerSeqMask = 1<<40 - 1

// ContainerID identifies a container. ID holds the sequence number in its low
// 40 bits and the RM epoch above them, as on the wire. It prints as
// container_[e<epoch %02d>_]<ts>_<app %04d>_<attempt %02d>_<seq %06d>.
type ContainerID struct {
	Attempt AttemptID
	ID      int64
}

// Seq is the container's sequence number within its attempt.
func (c ContainerID) Seq() int64 { return c.ID & containerSeqMask }

// Epoch is the RM epoch the container was allocated in (0 before any RM restart with recovery).
func (c ContainerID) Epoch() int64 { return c.ID >> 40 }

func (c ContainerID) String() string {
	var b strings.Builder
	b.WriteString("container_")
	if e := c.Epoch(); e > 0 {
		fmt.Fprintf(&b, "e%02d_", e)
	}
	fmt.Fprintf(&b, "%d_%04d_%02d_%06d", c.Attempt.App.ClusterTimestamp, c.Attempt.App.ID, c.Attempt.Attempt, c.Seq())
	return b.String()
}

// IsZero reports whether c is unset.
func (c ContainerID) IsZero() bool { return c == ContainerID{} }

// NodeID is a NodeManager's host and RPC port; it prints as host:port.
type NodeID struct {
	Host string
	Port int32
}

func (n NodeID) String() string { return net.JoinHostPort(n.Host, strconv.Itoa(int(n.Port))) }

// ErrBadID is wrapped by every ID parse error.
var ErrBadID = fmt.Errorf("yarn: malformed id")

func parseParts(s, prefix string, n int) ([]string, error) {
	if !strings.HasPrefix(s, prefix+"_") {
		return nil, fmt.Errorf("%w %q: want %s_…", ErrBadID, s, prefix)
	}
	parts := strings.Split(s[len(prefix)+1:], "_")
	if len(parts) != n {
		return nil, fmt.Errorf("%w %q: want %d fields after %s_", ErrBadID, s, n, prefix)
	}
	return parts, nil
}

func parseNum(s, whole string, bits int) (int64, error) {
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, fmt.Errorf("%w %q: bad number %q", ErrBadID, whole, s)
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%w %q: bad number %q", ErrBadID, whole, s)
	}
	return v, nil
}

// ParseApplicationID parses application_<ts>_<id>.
func ParseApplicationID(s string) (ApplicationID, error) {
	p, err := parseParts(s, "application", 2)
	if err != nil {
		return ApplicationID{}, err
	}
	return appFromParts(p[0], p[1], s)
}

func appFromParts(ts, id, whole string) (ApplicationID, error) {
	t, err := parseNum(ts, whole, 64)
	if err != nil {
		return ApplicationID{}, err
	}
	i, err := parseNum(id, whole, 32)
	if err != nil {
		return ApplicationID{}, err
	}
	return ApplicationID{ClusterTimestamp: t, ID: int32(i)}, nil
}

// ParseAttemptID parses appattempt_<ts>_<app>_<attempt>.
func ParseAttemptID(s string) (AttemptID, error) {
	p, err := parseParts(s, "appattempt", 3)
	if err != nil {
		return AttemptID{}, err
	}
	app, err := appFromParts(p[0], p[1], s)
	if err != nil {
		return AttemptID{}, err
	}
	a, err := parseNum(p[2], s, 32)
	if err != nil {
		return AttemptID{}, err
	}
	return AttemptID{App: app, Attempt: int32(a)}, nil
}

// ParseContainerID parses both container_e<epoch>_<ts>_<app>_<attempt>_<seq>
// and the form without epoch, as ContainerId.fromString does.
func ParseContainerID(s string) (ContainerID, error) {
	if !strings.HasPrefix(s, "container_") {
		return ContainerID{}, fmt.Errorf("%w %q: want container_…", ErrBadID, s)
	}
	parts := strings.Split(s[len("container_"):], "_")
	var epoch int64
	if len(parts) == 5 && strings.HasPrefix(parts[0], "e") {
		e, err := parseNum(parts[0][1:], s, 64)
		if err != nil {
			return ContainerID{}, err
		}
		epoch = e
		parts = parts[1:]
	}
	if len(parts) != 4 {
		return ContainerID{}, fmt.Errorf("%w %q: want container_[e<epoch>_]<ts>_<app>_<attempt>_<seq>", ErrBadID, s)
	}
	app, err := appFromParts(parts[0], parts[1], s)
	if err != nil {
		return ContainerID{}, err
	}
	att, err := parseNum(parts[2], s, 32)
	if err != nil {
		return ContainerID{}, err
	}
	seq, err := parseNum(parts[3], s, 64)
	if err != nil || seq > containerSeqMask || epoch > (1<<23-1) {
		return ContainerID{}, fmt.Errorf("%w %q: sequence or epoch out of range", ErrBadID, s)
	}
	return ContainerID{Attempt: AttemptID{App: app, Attempt: int32(att)}, ID: epoch<<40 | seq}, nil
}

// ParseNodeID parses host:port.
func ParseNodeID(s string) (NodeID, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return NodeID{}, fmt.Errorf("%w %q: %w", ErrBadID, s, err)
	}
	port, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return NodeID{}, fmt.Errorf("%w %q: bad port", ErrBadID, s)
	}
	return NodeID{Host: h, Port: int32(port)}, nil
}
