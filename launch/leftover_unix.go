//go:build unix

package launch

import (
	"os"
	"syscall"
)

// ownedByMe reports whether this process's user owns fi.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == uint32(os.Getuid())
}
