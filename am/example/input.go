package example

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// notApplicationFiles are the names in a container's working directory
// that the NodeManager or Spindle put there and that are not the user's
// data: the container's tokens, its launch scripts, the AM's spec and
// stop secret, the shipped keytab. (The example payload imports no
// Spindle package; spindle-am.json, stop-secret and krb5.keytab are
// amapi's SpecFile, StopSecretFile and KeytabFile.)
var notApplicationFiles = []string{"container_tokens", "launch_container.sh", "default_container_executor.sh",
	"default_container_executor_session.sh", "spindle-am.json", "stop-secret", "krb5.keytab"}

// ValidateInput checks a job's input name before anything is read: a
// relative path that stays in the working directory (no absolute path,
// no ".."), names no hidden file or directory, and none of the files the
// NodeManager or Spindle put in a container (tokens, launch scripts,
// keytabs, the AM's spec and stop secret). The JobManager refuses a job
// that fails it (400); a TaskManager opens the input with OpenInput.
func ValidateInput(name string) error {
	if name == "" {
		return errors.New("jobmanager: input is empty: name a file shipped with the application")
	}
	if filepath.IsAbs(name) {
		return fmt.Errorf("jobmanager: input %q is an absolute path: name a file shipped with the application, relative to the working directory", name)
	}
	parts := strings.Split(name, "/")
	if slices.Contains(parts, "..") || !filepath.IsLocal(name) {
		return fmt.Errorf("jobmanager: input %q leaves the working directory: name a file shipped with the application", name)
	}
	for _, p := range parts {
		if p != "." && strings.HasPrefix(p, ".") {
			return fmt.Errorf("jobmanager: input %q names a hidden file", name)
		}
		if slices.Contains(notApplicationFiles, p) || strings.HasSuffix(strings.ToLower(p), ".keytab") {
			return fmt.Errorf("jobmanager: input %q is not an application file (%s is the NodeManager's or Spindle's, or a keytab)", name, p)
		}
	}
	return nil
}

// OpenInput opens the job input name in the working directory dir, if
// it is a shipped file: name passes ValidateInput; its first element is
// a resource the NodeManager localized (it links every LocalResource into
// the working directory: a symlink; what the NodeManager or the process
// wrote there is not); and it names a regular file (no directory, FIFO or
// device) that, inside a shipped archive, does not lead out of it
// through a symlink.
func OpenInput(dir, name string) (*os.File, error) {
	if err := ValidateInput(name); err != nil {
		return nil, err
	}
	first, rest, _ := strings.Cut(filepath.Clean(name), "/")
	top := filepath.Join(dir, first)
	fi, err := os.Lstat(top)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return nil, fmt.Errorf("input %q: %s is not a shipped file (a resource the NodeManager linked into the working directory)", name, first)
	}
	if rest == "" {
		if fi, err = os.Stat(top); err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("input %q: not a regular file (%s)", name, fi.Mode().Type())
		}
		return os.Open(top)
	}
	root, err := os.OpenRoot(top) // a shipped archive; nothing in it leads out
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", name, err)
	}
	defer root.Close()
	if fi, err = root.Stat(rest); err != nil {
		return nil, fmt.Errorf("input %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("input %q: not a regular file (%s)", name, fi.Mode().Type())
	}
	return root.Open(rest)
}
