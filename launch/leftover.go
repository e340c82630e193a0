package launch

import (
	"os"
	"path/filepath"
	"time"
)

// SubmitTempPattern names Submit's temporary directory (mode 0700) that
// holds the spec and the stop secret (0600) while they are uploaded.
const SubmitTempPattern = "spindle-submit-*"

// StaleTempAge is how old a temporary file or directory of an earlier
// submit must be before a later one removes it as the leftover of a killed
// process: a day, far longer than any submit uses them.
const StaleTempAge = 24 * time.Hour

// sweepTemp removes the entries of dir matching pattern that this user
// owns and that were last modified more than StaleTempAge before now,
// and returns their paths. It is best effort: what it cannot read or
// remove stays.
func sweepTemp(dir, pattern string, now time.Time) []string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, de := range des {
		if ok, _ := filepath.Match(pattern, de.Name()); !ok {
			continue
		}
		fi, err := de.Info() // the entry itself, not a link's target
		if err != nil || !ownedByMe(fi) || now.Sub(fi.ModTime()) <= StaleTempAge {
			continue
		}
		p := filepath.Join(dir, de.Name())
		if os.RemoveAll(p) == nil {
			out = append(out, p)
		}
	}
	return out
}
