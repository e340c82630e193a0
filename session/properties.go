package session

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// Properties is what the properties file records about the current
// session, as Flink's .yarn-properties-<user> does: a Java properties
// file (key=value lines, # comments).
type Properties struct {
	// AppID is the session's application (key applicationID, Flink's name).
	AppID yarn.ApplicationID
}

// PropertiesFileName is the file's name in the user's home directory.
func PropertiesFileName(user string) string { return ".spindle-yarn-properties-" + user }

// WriteProperties writes p to path with mode 0600, atomically.
func WriteProperties(path string, p Properties) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#Spindle session properties\n#%s\napplicationID=%s\n", time.Now().UTC().Format(time.RFC3339), p.AppID)
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("session: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadProperties reads the properties file; the error wraps
// os.ErrNotExist when there is none.
func ReadProperties(path string) (Properties, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Properties{}, err
	}
	var p Properties
	sc := bufio.NewScanner(bytes.NewReader(b))
	found := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if strings.TrimSpace(k) == "applicationID" {
			id, err := yarn.ParseApplicationID(strings.TrimSpace(v))
			if err != nil {
				return p, fmt.Errorf("session: %s: applicationID: %w (remove the file or start a new session)", path, err)
			}
			p.AppID, found = id, true
		}
	}
	if !found {
		return p, fmt.Errorf("session: %s names no applicationID (remove the file or start a new session)", path)
	}
	return p, nil
}
