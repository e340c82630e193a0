package hdfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// UsedDir, in <home>/.spindle, holds the use records of the upload cache:
// one directory per Stage call that used the cache, named
// <appID>.<random>, holding one empty file per entry it used (empty, so
// that recording costs the NameNode a few calls and the DataNodes
// nothing). Entries keep CacheModTime whatever their age (LocalResources
// name that time), and HDFS access times may be off
// (dfs.namenode.accesstime.precision), so a record's modification time is
// when its entries were last used.
const UsedDir = ".used"

// usedDir is <home>/.spindle/.used.
func (s *Stager) usedDir() string { return path.Join(s.home, SpindleDir, UsedDir) }

// recordUse writes a use record of the cache entries keys for appID.
func (s *Stager) recordUse(fs filesystem, appID string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	dir := path.Join(s.usedDir(), appID+"."+randomSuffix())
	if err := fs.mkdirAll(dir, dirPerm); err != nil {
		return err
	}
	for _, k := range keys {
		w, err := fs.create(path.Join(dir, k), filePerm)
		if errors.Is(err, os.ErrExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// StagedDir is an application's staging directory.
type StagedDir struct {
	AppID string
	// ModTime is the directory's modification time: when a file was last
	// added to it or removed from it.
	ModTime time.Time
}

// StagedDirs is StagedApps with each directory's modification time.
func (s *Stager) StagedDirs(ctx context.Context) ([]StagedDir, error) {
	apps, err := s.StagedApps(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer fs.close()
	out := make([]StagedDir, 0, len(apps))
	for _, a := range apps {
		fi, err := fs.stat(s.StagingDir(a))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since listed
		} else if err != nil {
			return nil, fmt.Errorf("hdfs: stat %s: %w", s.StagingDir(a), err)
		}
		out = append(out, StagedDir{AppID: a, ModTime: time.UnixMilli(fi.mtime)})
	}
	return out, nil
}

// CacheGCOptions configures CollectCache.
type CacheGCOptions struct {
	// OlderThan: entries last used longer ago than this are removed
	// (unless a staged application uses them). Must be positive.
	OlderThan time.Duration
	// Now is the current time; zero means time.Now().
	Now time.Time
	// DryRun removes and writes nothing; the result says what would go.
	DryRun bool
}

// CacheGC is what CollectCache did (or would do).
type CacheGC struct {
	// Removed are the entries removed (to remove, on a dry run).
	Removed []string
	// Kept counts the entries kept; Adopted those of them no use record
	// named (from an earlier Spindle, or an upload still running), which
	// got a record now so that they expire OlderThan from now.
	Kept, Adopted int
}

// CollectCache removes the entries of the user's upload cache that no
// application uses any more: an entry stays while a use record names it
// that is younger than o.OlderThan or belongs to an application that still
// has a staging directory (it may run and start containers that localize
// it). Use records of neither kind are removed with the entries.
func (s *Stager) CollectCache(ctx context.Context, o CacheGCOptions) (CacheGC, error) {
	var res CacheGC
	if o.OlderThan <= 0 {
		return res, fmt.Errorf("%w: CacheGCOptions.OlderThan %s is not positive", ErrInvalid, o.OlderThan)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	staged, err := s.StagedApps(ctx)
	if err != nil {
		return res, err
	}
	isStaged := map[string]bool{}
	for _, a := range staged {
		isStaged[a] = true
	}
	fs, err := s.connect(ctx)
	if err != nil {
		return res, err
	}
	defer fs.close()
	cache, used := s.CacheDir(), s.usedDir()
	names, err := fs.readDirNames(cache)
	if err != nil {
		return res, fmt.Errorf("hdfs: list %s: %w", cache, err)
	}
	records, err := fs.readDirNames(used)
	if err != nil {
		return res, fmt.Errorf("hdfs: list %s: %w", used, err)
	}
	live, named := map[string]bool{}, map[string]bool{}
	var dead []string
	for _, r := range records {
		p := path.Join(used, r)
		fi, err := fs.stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return res, fmt.Errorf("hdfs: stat %s: %w", p, err)
		}
		keys, err := fs.readDirNames(p)
		if err != nil {
			return res, fmt.Errorf("hdfs: list %s: %w", p, err)
		}
		app, _, _ := strings.Cut(r, ".")
		alive := isStaged[app] || o.Now.Sub(time.UnixMilli(fi.mtime)) < o.OlderThan
		if !alive {
			dead = append(dead, p)
		}
		for _, k := range keys {
			named[k] = true
			if alive {
				live[k] = true
			}
		}
	}
	var adopt []string
	sort.Strings(names)
	for _, n := range names {
		switch {
		case strings.HasPrefix(n, "."):
			continue // none today; nothing of ours to judge
		case live[n]:
			res.Kept++
		case !named[n]:
			adopt = append(adopt, n)
			res.Kept++
		default:
			p := path.Join(cache, n)
			res.Removed = append(res.Removed, p)
			if o.DryRun {
				continue
			}
			if err := fs.removeAll(p); err != nil {
				return res, fmt.Errorf("hdfs: remove %s: %w", p, err)
			}
		}
	}
	res.Adopted = len(adopt)
	if o.DryRun {
		return res, nil
	}
	if err := s.recordUse(fs, "gc", adopt); err != nil {
		return res, fmt.Errorf("hdfs: record the unrecorded cache entries: %w", err)
	}
	for _, p := range dead {
		if err := fs.removeAll(p); err != nil {
			return res, fmt.Errorf("hdfs: remove %s: %w", p, err)
		}
	}
	return res, nil
}
