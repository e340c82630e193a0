package conf

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the site files Spindle reads.
const (
	// CoreSite is core-site.xml: fs.defaultFS, security, IPC.
	CoreSite = "core-site.xml"
	// HDFSSite is hdfs-site.xml: nameservices and NameNode addresses.
	HDFSSite = "hdfs-site.xml"
	// YARNSite is yarn-site.xml: ResourceManager addresses, HA and retry.
	YARNSite = "yarn-site.xml"
)

// SiteFiles lists the resources LoadDirs reads, in load order: later files
// override earlier ones unless a value is final.
var SiteFiles = []string{CoreSite, HDFSSite, YARNSite}

// Load reads core-site.xml, hdfs-site.xml and yarn-site.xml from dir, in
// that order, skipping any that is absent. dir itself must exist. It is
// LoadDirs with one directory.
func Load(dir string, opts Options) (*Configuration, error) {
	return LoadDirs([]string{dir}, opts)
}

// LoadDirs loads the site files (SiteFiles, in order) from a search path of
// directories, the way a Java client finds them on its classpath: each file
// is read from the first directory that contains it, and a file absent from
// every directory is skipped. Empty entries in dirs are ignored, so the
// caller may pass unset variables directly; every other entry must be an
// existing directory, else the error wraps ErrNotFound.
//
// The caller chooses the order. Hadoop 2's bin/yarn put HADOOP_CONF_DIR
// before YARN_CONF_DIR on the classpath; Hadoop 3's yarn script instead
// replaces HADOOP_CONF_DIR with YARN_CONF_DIR when the latter is set.
//
// LoadDirs reads only the files it names; it never consults the
// environment.
func LoadDirs(dirs []string, opts Options) (*Configuration, error) {
	var search []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		fi, err := os.Stat(d)
		if err != nil {
			return nil, fileError(d, err)
		}
		if !fi.IsDir() {
			return nil, &ParseError{File: d, Msg: "not a directory", Err: ErrNotFound}
		}
		search = append(search, d)
	}
	c := New(opts)
	for _, name := range SiteFiles {
		for _, d := range search {
			path := filepath.Join(d, name)
			err := c.AddFile(path)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			break
		}
	}
	return c, nil
}

// LoadFiles loads the named files in order. Each must exist; a missing file
// is an error wrapping ErrNotFound.
func LoadFiles(paths []string, opts Options) (*Configuration, error) {
	c := New(opts)
	for _, p := range paths {
		if err := c.AddFile(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// AddFile parses the file at path and loads it on top of c, as AddResource
// does, with path as the resource name. A missing file is an error wrapping
// ErrNotFound; on any error c is unchanged.
func (c *Configuration) AddFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fileError(path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return &ParseError{File: path, Msg: "is a directory", Err: ErrNotFound}
	}
	return c.AddResource(f, path)
}

func fileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &ParseError{File: path, Msg: "no such file or directory", Err: ErrNotFound}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &ParseError{File: path, Msg: err.Error(), Err: err}
}
