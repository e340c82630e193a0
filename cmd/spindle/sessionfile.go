package main

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/flink"
	"github.com/spindle-yarn/spindle/session"
	"github.com/spindle-yarn/spindle/yarn"
)

// propertiesFile is where the current session of the configured cluster
// is recorded: ~/.spindle-yarn-properties-<user>, one entry per cluster
// (session.ClusterKey of yarn.resourcemanager.cluster-id and the RM
// addresses), so that sessions on two clusters never replace each other.
func (e *environment) propertiesFile() (session.PropertiesFile, error) {
	c, opts, err := e.rmOptions()
	if err != nil {
		return session.PropertiesFile{}, err
	}
	addrs := make([]string, len(opts.Endpoints))
	for i, ep := range opts.Endpoints {
		addrs[i] = ep.Addr
	}
	id, err := c.Get("yarn.resourcemanager.cluster-id")
	if err != nil {
		return session.PropertiesFile{}, usageError{err}
	}
	home, _ := e.lookup("HOME")
	return session.PropertiesFile{Path: filepath.Join(home, session.PropertiesFileName(e.userName())), Cluster: session.ClusterKey(strings.TrimSpace(id), addrs)}, nil
}

// resolveSession is given, else the session recorded for this cluster.
func (e *environment) resolveSession(given *yarn.ApplicationID) (yarn.ApplicationID, error) {
	if given != nil {
		return *given, nil
	}
	f, err := e.propertiesFile()
	if err != nil {
		return yarn.ApplicationID{}, err
	}
	return session.Resolve(nil, f)
}

// forgetSession removes the records of an ended session: this cluster's
// entry of the properties file and Flink's .yarn-properties-<user>
// (forgetFlinkSession), each only if it names id.
func (e *environment) forgetSession(id yarn.ApplicationID, p amapi.Payload) {
	f, err := e.propertiesFile()
	if err == nil {
		err = f.Forget(id)
	}
	if err != nil {
		e.log.Warn().Err(err).Stringer("app_id", id).Msg("could not forget the ended session in the properties file")
	}
	e.forgetFlinkSession(id, p)
}

// forgetFlinkSession removes Flink's .yarn-properties-<user> if it names
// id: where p's distribution puts it, or, without p (attach, stop: the
// payload is not known), at Flink's default location and where
// $FLINK_HOME's distribution puts it.
func (e *environment) forgetFlinkSession(id yarn.ApplicationID, p amapi.Payload) {
	if p != nil {
		if err := removeFlinkYarnProperties(p, id); err != nil {
			e.log.Warn().Err(err).Msg("could not remove Flink's .yarn-properties file")
		}
		return
	}
	u, err := user.Current()
	if err != nil {
		return
	}
	paths := []string{}
	if path, _, err := flink.YarnPropertiesFile("", u.Username, id.String()); err == nil {
		paths = append(paths, path)
	}
	if home, ok := e.lookup("FLINK_HOME"); ok && home != "" {
		if fp, err := flink.New(flink.Options{Home: home}); err == nil {
			if path, _, err := fp.YarnProperties(id.String(), u.Username); err == nil {
				paths = append(paths, path)
			}
		}
	}
	for _, path := range paths {
		if err := removeIfNames(path, id); err != nil {
			e.log.Warn().Err(err).Msg("could not remove Flink's .yarn-properties file")
		}
	}
}

// removeIfNames removes a .yarn-properties file if its applicationID is id.
func removeIfNames(path string, id yarn.ApplicationID) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !strings.Contains("\n"+string(b), "\napplicationID="+id.String()+"\n") {
		return nil
	}
	return os.Remove(path)
}
