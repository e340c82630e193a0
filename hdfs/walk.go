package hdfs

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// TreeEntry is one directory or regular file of a shipped directory, as
// WalkTree finds it.
type TreeEntry struct {
	// Path is the local path to read: inside the walked directory, through
	// the symbolic links on the way.
	Path string
	// Rel is the slash-separated path inside the walked directory.
	Rel string
	// Info describes the entry itself, symbolic links followed.
	Info fs.FileInfo
}

// LinkError is a symbolic link WalkTree refuses. It matches ErrInvalid.
type LinkError struct {
	// Link is the link's local path, Target what it resolves to (what it
	// names, for a dangling link).
	Link, Target string
	// Outside: the target is outside the walked directory. Loop: the
	// target is a directory containing the link. Otherwise the target does
	// not exist.
	Outside, Loop bool
}

func (e *LinkError) Error() string {
	switch {
	case e.Outside:
		return fmt.Sprintf("symbolic link %s points outside the shipped directory, to %s", e.Link, e.Target)
	case e.Loop:
		return fmt.Sprintf("symbolic link %s loops back to %s, a directory containing it", e.Link, e.Target)
	}
	return fmt.Sprintf("symbolic link %s is dangling: its target %s does not exist", e.Link, e.Target)
}

// Unwrap makes a LinkError match ErrInvalid.
func (e *LinkError) Unwrap() error { return ErrInvalid }

// WalkTree lists the directories and regular files under dir (dir itself
// excluded) in lexical order, the one walk behind staging a directory as
// its files, zipping it as an archive and describing either. A symbolic
// link is shipped as its target: a linked file as a file, a linked
// directory as a directory with its contents. With confine, a link whose
// target is outside dir is refused; without, it is followed too. A dangling
// link, and a link to a directory that contains it, are always refused.
// Refused links are *LinkError. Other kinds of files (sockets, devices,
// pipes) are skipped.
func WalkTree(dir string, confine bool) ([]TreeEntry, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	var out []TreeEntry
	// parents are the resolved paths of p and the directories above it.
	var walk func(p, rel string, parents []string) error
	walk = func(p, rel string, parents []string) error {
		des, err := os.ReadDir(p)
		if err != nil {
			return err
		}
		for _, de := range des {
			cp, crel := filepath.Join(p, de.Name()), path.Join(rel, de.Name())
			// real is where cp resolves to: below p's for a plain entry.
			real := filepath.Join(parents[len(parents)-1], de.Name())
			if de.Type()&fs.ModeSymlink != 0 {
				target, err := filepath.EvalSymlinks(cp)
				if err != nil {
					named, _ := os.Readlink(cp)
					return &LinkError{Link: cp, Target: named}
				}
				if real, err = filepath.Abs(target); err != nil {
					return err
				}
				if confine && !within(root, real) {
					return &LinkError{Link: cp, Target: real, Outside: true}
				}
			}
			fi, err := os.Stat(cp)
			if err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				for _, a := range parents {
					if a == real {
						return &LinkError{Link: cp, Target: real, Loop: true}
					}
				}
				out = append(out, TreeEntry{Path: cp, Rel: crel, Info: fi})
				if err := walk(cp, crel, append(parents[:len(parents):len(parents)], real)); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				out = append(out, TreeEntry{Path: cp, Rel: crel, Info: fi})
			}
		}
		return nil
	}
	if err := walk(dir, "", []string{root}); err != nil {
		return nil, err
	}
	return out, nil
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}
