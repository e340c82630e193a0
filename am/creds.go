package am

import (
	"fmt"

	"github.com/spindle-yarn/spindle/yarn"
)

// ParseCredentials decodes the container's token file (the bytes of
// $HADOOP_TOKEN_FILE_LOCATION), for Options.Credentials.
func ParseCredentials(b []byte) (*yarn.Credentials, error) {
	c, err := yarn.ParseCredentials(b)
	if err != nil {
		return nil, fmt.Errorf("am: container tokens: %w", err)
	}
	return c, nil
}

// forwardable returns a copy of the AM's credentials without the
// AMRMToken, for the TaskManagers (hadoop-wire.md §5.6: whoever holds the
// AMRMToken can act as the AM). Nil stays nil.
func forwardable(c *yarn.Credentials) *yarn.Credentials {
	if c == nil {
		return nil
	}
	out := c.Clone()
	for _, alias := range out.Aliases() {
		if t := out.Token(alias); t != nil && t.Kind == yarn.KindAMRMToken {
			out.RemoveToken(alias)
		}
	}
	return out
}
