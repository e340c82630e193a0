package minihdfs

import (
	"strings"
)

// fsAction mirrors org.apache.hadoop.fs.permission.FsAction: the rwx bits of
// one permission class.
type fsAction uint8

const (
	actNone         fsAction = 0
	actExecute      fsAction = 1
	actWrite        fsAction = 2
	actWriteExecute fsAction = 3
	actRead         fsAction = 4
	actReadExecute  fsAction = 5
	actReadWrite    fsAction = 6
	actAll          fsAction = 7
)

// String is the FsAction enum constant name, as AccessControlException
// messages print it ("access=WRITE").
func (a fsAction) String() string {
	return [...]string{"NONE", "EXECUTE", "WRITE", "WRITE_EXECUTE", "READ", "READ_EXECUTE", "READ_WRITE", "ALL"}[a&7]
}

func (a fsAction) implies(b fsAction) bool { return a&b == b }

// permString renders mode like FsPermission.toString: "rwxr-xr-x", with the
// sticky bit as t/T in the others' execute position.
func permString(mode uint16) string {
	var b strings.Builder
	for shift := 6; shift >= 0; shift -= 3 {
		a := fsAction(mode >> shift & 7)
		b.WriteByte("-r"[btoi(a.implies(actRead))])
		b.WriteByte("-w"[btoi(a.implies(actWrite))])
		x := "-x"[btoi(a.implies(actExecute))]
		if shift == 0 && mode&0o1000 != 0 {
			x = "Tt"[btoi(a.implies(actExecute))]
		}
		b.WriteByte(x)
	}
	return b.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// caller is the identity a request is checked against
// (FSPermissionChecker): the short user name, its groups, and whether it is
// a superuser (the NameNode's own user or a member of the supergroup).
type caller struct {
	user   string
	groups map[string]bool
	super  bool
}

// shortName strips the host and realm of a Kerberos principal, as
// UserGroupInformation.getShortUserName does with the default auth_to_local
// rule: "nn/host@REALM" → "nn".
func shortName(user string) string {
	if i := strings.IndexAny(user, "/@"); i >= 0 {
		return user[:i]
	}
	return user
}

// hasPermission is FSPermissionChecker.hasPermission without ACLs: the
// owner class if the caller owns the inode, else the group class if the
// caller is in its group, else other.
func (c *caller) hasPermission(n *inode, a fsAction) bool {
	if n == nil {
		return true
	}
	var cls fsAction
	switch {
	case c.user == n.owner:
		cls = fsAction(n.perm >> 6 & 7)
	case c.groups[n.group]:
		cls = fsAction(n.perm >> 3 & 7)
	default:
		cls = fsAction(n.perm & 7)
	}
	return cls.implies(a)
}

// deny is the AccessControlException FSPermissionChecker throws:
// Permission denied: user=alice, access=WRITE, inode="/user/root":root:supergroup:drwxr-xr-x
func (c *caller) deny(n *inode, path string, a fsAction) error {
	kind := byte('-')
	if n.dir {
		kind = 'd'
	}
	return remote(classAccessControl, "Permission denied: user=%s, access=%s, inode=\"%s\":%s:%s:%c%s",
		c.user, a, path, n.owner, n.group, kind, permString(n.perm))
}

// access is the set of checks one operation asks for, the arguments of
// FSPermissionChecker.checkPermission. A zero action means "not checked"
// (Java passes null; no operation asks for NONE).
type access struct {
	owner          bool     // doCheckOwner
	ancestor       fsAction // on the closest existing ancestor
	parent         fsAction // on the parent
	self           fsAction // on the inode itself
	sub            fsAction // on the inode and every directory below it
	ignoreEmptyDir bool
}

// check runs FSPermissionChecker.checkPermission for a non-superuser: the
// traverse check (EXECUTE on every existing ancestor, each a directory),
// the sticky bit, then ancestor, parent, self, subtree and owner checks.
// Superusers pass every check.
func (c *caller) check(ip *resolved, ac access) error {
	if c.super {
		return nil
	}
	if err := c.checkTraverse(ip); err != nil {
		return err
	}
	n := len(ip.nodes)
	last := ip.nodes[n-1]
	if ac.parent.implies(actWrite) && ac.parent != 0 && n > 1 && last != nil {
		if p := ip.nodes[n-2]; p != nil && p.perm&0o1000 != 0 && p.owner != c.user && last.owner != c.user {
			return c.stickyDenied(ip.path(n-1), last, ip.path(n-2), p)
		}
	}
	if ac.ancestor != 0 && n > 1 {
		i := ip.ancestorIndex()
		if i >= 0 && !c.hasPermission(ip.nodes[i], ac.ancestor) {
			return c.deny(ip.nodes[i], ip.path(i), ac.ancestor)
		}
	}
	if ac.parent != 0 && n > 1 {
		if p := ip.nodes[n-2]; p != nil && !c.hasPermission(p, ac.parent) {
			return c.deny(p, ip.path(n-2), ac.parent)
		}
	}
	if ac.self != 0 && last != nil && !c.hasPermission(last, ac.self) {
		return c.deny(last, ip.path(n-1), ac.self)
	}
	if ac.sub != 0 && last != nil && last.dir {
		if err := c.checkSub(last, ip.path(n-1), ac.sub, ac.ignoreEmptyDir); err != nil {
			return err
		}
	}
	if ac.owner && last != nil && last.owner != c.user {
		return remote(classAccessControl, "Permission denied. user=%s is not the owner of inode=%s", c.user, ip.path(n-1))
	}
	return nil
}

// checkTraverse checks EXECUTE on every existing ancestor up to the closest
// one. A file among them is a ParentNotDirectoryException, which the caller
// turns into an AccessControlException for operations that do not create
// (FSDirectory.resolvePath).
func (c *caller) checkTraverse(ip *resolved) error {
	last := ip.ancestorIndex()
	for i := 0; i <= last; i++ {
		n := ip.nodes[i]
		if n == nil {
			continue
		}
		if !n.dir {
			return remote(classParentNotDirectory, "%s (is not a directory)", ip.path(i))
		}
		if !c.super && !c.hasPermission(n, actExecute) {
			return c.deny(n, ip.path(i), actExecute)
		}
	}
	return nil
}

// checkSub is FSPermissionChecker.checkSubAccess: a on dir and every
// directory below it (empty ones skipped when ignoreEmpty), plus the sticky
// bit of each.
func (c *caller) checkSub(dir *inode, path string, a fsAction, ignoreEmpty bool) error {
	if !(len(dir.children) == 0 && ignoreEmpty) {
		if !c.hasPermission(dir, a) {
			return c.deny(dir, path, a)
		}
		if dir.perm&0o1000 != 0 && dir.owner != c.user {
			for _, ch := range dir.sortedChildren() {
				if ch.owner != c.user {
					return c.stickyDenied(joinPath(path, ch.name), ch, path, dir)
				}
			}
		}
	}
	for _, ch := range dir.sortedChildren() {
		if ch.dir {
			if err := c.checkSub(ch, joinPath(path, ch.name), a, ignoreEmpty); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *caller) stickyDenied(path string, n *inode, parentPath string, p *inode) error {
	return remote(classAccessControl, "Permission denied by sticky bit: user=%s, path=\"%s\":%s:%s:%s%s, parent=\"%s\":%s:%s:%s%s",
		c.user, path, n.owner, n.group, kindChar(n), permString(n.perm), parentPath, p.owner, p.group, kindChar(p), permString(p.perm))
}

func kindChar(n *inode) string {
	if n.dir {
		return "d"
	}
	return "-"
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
