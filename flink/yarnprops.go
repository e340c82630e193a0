package flink

import (
	"fmt"
	"path/filepath"
	"strings"
)

// yarnPropertiesLocation is yarn.properties-file.location
// (YarnConfigOptions.PROPERTIES_FILE_LOCATION); without it Flink uses
// java.io.tmpdir, which is /tmp on Linux whatever $TMPDIR says.
const (
	yarnPropertiesLocation = "yarn.properties-file.location"
	javaTmpDir             = "/tmp"
)

// YarnProperties returns the path and content of the file through which
// Flink's own client finds the current YARN session
// (FlinkYarnSessionCli: "<location>/.yarn-properties-<user>", a Java
// properties file whose applicationID names the session), so that
// `flink run` and `flink list` reach a Spindle session like one started
// by yarn-session.sh. location is yarn.properties-file.location of the
// distribution's configuration ("" for java.io.tmpdir); user is the OS
// user name (Java's user.name), not the Hadoop user. The session's -D
// properties are not recorded: Flink would copy them (secrets included)
// into a world-readable file.
func (p *Payload) YarnProperties(appID, user string) (path string, content []byte, err error) {
	c, err := readConfig(filepath.Join(p.dist.Home, confDir, p.dist.ConfFile), p.dist.standard())
	if err != nil {
		return "", nil, err
	}
	loc, _ := c.Get(yarnPropertiesLocation)
	return YarnPropertiesFile(loc, user, appID)
}

// YarnPropertiesFile is YarnProperties for a given location.
func YarnPropertiesFile(location, user, appID string) (string, []byte, error) {
	if user == "" || strings.ContainsAny(user, "/\x00") {
		return "", nil, fmt.Errorf("user name %q cannot name a .yarn-properties file", user)
	}
	if location == "" {
		location = javaTmpDir
	}
	var b strings.Builder
	b.WriteString("#Generated YARN properties file\n")
	b.WriteString("applicationID=" + escapeProperty(appID) + "\n")
	return filepath.Join(location, ".yarn-properties-"+user), []byte(b.String()), nil
}

// escapeProperty escapes a value as java.util.Properties.store does.
func escapeProperty(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == ' ' && i == 0:
			b.WriteString(`\ `)
		case r == '\\' || r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				for _, u := range utf16Units(string(r)) {
					fmt.Fprintf(&b, `\u%04X`, u)
				}
				continue
			}
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
