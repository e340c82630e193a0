package hdfs

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// item is one file to stage.
type item struct {
	name    string // resource name
	local   string // local file (a temporary zip for directory archives)
	size    int64
	typ     ResourceType
	noCache bool
	sha     string // hex SHA-256, when cached
	ext     string // archive extension kept in the remote name
}

// archiveExts are the names a NodeManager unpacks (FSDownload.unpack),
// longest first.
var archiveExts = []string{".tar.gz", ".tgz", ".tar", ".zip", ".jar"}

// archiveExt is the extension an archive keeps on the filesystem so that
// the NodeManager knows how to unpack it; plain files keep none.
func archiveExt(it item) string {
	if it.typ != TypeArchive {
		return ""
	}
	if it.ext != "" {
		return it.ext
	}
	low := strings.ToLower(it.local)
	for _, e := range archiveExts {
		if strings.HasSuffix(low, e) {
			return e
		}
	}
	return ""
}

func checkName(name string) error {
	if name == "" || path.IsAbs(name) || strings.HasSuffix(name, "/") {
		return fmt.Errorf("%w: resource name %q", ErrInvalid, name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || c == "." || c == ".." {
			return fmt.Errorf("%w: resource name %q", ErrInvalid, name)
		}
	}
	return nil
}

// expand turns sources into items, zipping directories shipped as
// archives into temporary files that cleanup removes.
func (s *Stager) expand(ctx context.Context, srcs []Source) (items []item, cleanup func(), err error) {
	var temps []string
	cleanup = func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	seen := map[string]bool{}
	add := func(it item) error {
		if err := checkName(it.name); err != nil {
			return err
		}
		if seen[it.name] {
			return fmt.Errorf("%w: two sources named %q", ErrInvalid, it.name)
		}
		seen[it.name] = true
		items = append(items, it)
		return nil
	}
	for _, src := range srcs {
		name := src.Name
		if name == "" {
			name = filepath.Base(src.Path)
		}
		fi, err := os.Stat(src.Path)
		if err != nil {
			return nil, cleanup, err
		}
		switch {
		case fi.Mode().IsRegular():
			it := item{name: name, local: src.Path, size: fi.Size(), typ: TypeFile, noCache: src.NoCache}
			if src.Archive {
				it.typ = TypeArchive
				if archiveExt(it) == "" {
					return nil, cleanup, fmt.Errorf("%w: archive %s is not .zip, .jar, .tar, .tar.gz or .tgz", ErrInvalid, src.Path)
				}
			}
			if err := add(it); err != nil {
				return nil, cleanup, err
			}
		case fi.IsDir() && src.Archive:
			zipPath, err := zipDir(ctx, src.Path, src.ConfineLinks, s.o.TempDir)
			if zipPath != "" {
				temps = append(temps, zipPath)
			}
			if err != nil {
				return nil, cleanup, fmt.Errorf("hdfs: archive %s: %w", src.Path, err)
			}
			zfi, err := os.Stat(zipPath)
			if err != nil {
				return nil, cleanup, err
			}
			if err := add(item{name: name, local: zipPath, size: zfi.Size(), typ: TypeArchive, ext: ".zip", noCache: src.NoCache}); err != nil {
				return nil, cleanup, err
			}
		case fi.IsDir():
			files, err := regularFiles(src.Path, src.ConfineLinks)
			if err != nil {
				return nil, cleanup, err
			}
			for _, f := range files {
				if err := add(item{name: name + "/" + f.rel, local: f.path, size: f.size, typ: TypeFile, noCache: src.NoCache}); err != nil {
					return nil, cleanup, err
				}
			}
		default:
			return nil, cleanup, fmt.Errorf("%w: %s is neither a regular file nor a directory", ErrInvalid, src.Path)
		}
	}
	return items, cleanup, nil
}

type localFile struct {
	path, rel string
	size      int64
}

// regularFiles lists the regular files under dir (see WalkTree), in
// lexical order, with slash-separated relative paths.
func regularFiles(dir string, confine bool) ([]localFile, error) {
	ents, err := WalkTree(dir, confine)
	if err != nil {
		return nil, err
	}
	var out []localFile
	for _, e := range ents {
		if e.Info.Mode().IsRegular() {
			out = append(out, localFile{path: e.Path, rel: e.Rel, size: e.Info.Size()})
		}
	}
	return out, nil
}

// ZipTempPattern names the temporary zip files of directories shipped as
// archives (os.CreateTemp's pattern, a filepath.Match pattern too). Stage
// removes them when it returns; a killed process leaves them behind.
const ZipTempPattern = "spindle-stage-*.zip"

// zipDir writes dir into a new temporary zip file: every directory and
// regular file, in lexical order, with its mode and modification time, so
// the same tree gives the same bytes (and the same cache entry).
func zipDir(ctx context.Context, dir string, confine bool, tmpDir string) (string, error) {
	f, err := os.CreateTemp(tmpDir, ZipTempPattern) // 0600
	if err != nil {
		return "", err
	}
	zw := zip.NewWriter(f)
	werr := func() error {
		ents, err := WalkTree(dir, confine)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := zipEntry(zw, e); err != nil {
				return err
			}
		}
		return nil
	}()
	if err := zw.Close(); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	return f.Name(), werr
}

// zipEntry adds one directory or regular file to zw.
func zipEntry(zw *zip.Writer, e TreeEntry) error {
	h, err := zip.FileInfoHeader(e.Info)
	if err != nil {
		return err
	}
	h.Name = e.Rel
	h.Modified = e.Info.ModTime().UTC().Truncate(time.Second)
	if e.Info.IsDir() {
		h.Name += "/"
		_, err = zw.CreateHeader(h)
		return err
	}
	h.Method = zip.Deflate
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	in, err := os.Open(e.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}

// Stage uploads srcs for application appID and returns one StagedFile per
// file, in source order (a directory staged as its files contributes its
// files in lexical order).
//
// With the cache on, each file is looked up by the SHA-256 of its content:
// first in Options.PublicCacheDir (PUBLIC), then in <home>/.spindle/cache
// (PRIVATE); a file in neither is uploaded to a temporary name inside the
// staging directory and renamed into the cache once complete. Without the
// cache (or for NoCache sources) files are uploaded into
// <home>/.spindle/<appID>/<name> (APPLICATION). The staging directory is
// created with mode 0700 and files with 0600.
//
// If anything fails, or ctx is cancelled, Stage removes the staging
// directory (temporary uploads included) before it returns the error, and
// no partial file ever appears in the cache. progress, if not nil, is
// called as described at Progress.
func (s *Stager) Stage(ctx context.Context, appID string, srcs []Source, progress func(Progress)) ([]StagedFile, error) {
	if err := checkAppID(appID); err != nil {
		return nil, err
	}
	start := time.Now()
	lg := s.lg.With().Str("app_id", appID).Logger()
	items, cleanupLocal, err := s.expand(ctx, srcs)
	if err != nil {
		return nil, err
	}
	defer cleanupLocal()
	out, err := s.stage(ctx, appID, items, progress)
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := s.Delete(cctx, appID); derr != nil {
			lg.Warn().Err(derr).Msg("removing the staging directory after a failed upload")
		}
		return nil, fmt.Errorf("hdfs: stage %s: %w", appID, err)
	}
	var uploaded, total int64
	for _, f := range out {
		uploaded += f.Uploaded
		total += f.Size
	}
	lg.Info().Dur("duration", time.Since(start)).Msgf("staged %d files (%d bytes), uploaded %d bytes", len(out), total, uploaded)
	return out, nil
}

// reporter serializes progress callbacks.
type reporter struct {
	mu         sync.Mutex
	fn         func(Progress)
	total, all int64
}

func (r *reporter) report(p Progress, uploaded int64) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total += uploaded
	p.TotalBytes, p.TotalSize = r.total, r.all
	r.fn(p)
}

// entry deduplicates equal content within one Stage call: the first item
// with a digest uploads it, the others wait for its result.
type entry struct {
	done chan struct{}
	path string
	vis  Visibility
	err  error
}

func (s *Stager) stage(ctx context.Context, appID string, items []item, progress func(Progress)) ([]StagedFile, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	staging := s.StagingDir(appID)
	meta, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer meta.close()
	if err := meta.mkdirAll(staging, dirPerm); err != nil {
		return nil, err
	}
	if err := meta.chmod(staging, dirPerm); err != nil {
		return nil, err
	}
	useCache := !s.o.NoCache
	if useCache {
		if err := meta.mkdirAll(s.CacheDir(), dirPerm); err != nil {
			return nil, err
		}
	}
	publicOK := useCache && s.o.PublicCacheDir != "" && s.publicReadable(meta, path.Clean(s.o.PublicCacheDir))

	rep := &reporter{fn: progress}
	for _, it := range items {
		rep.all += it.size
	}
	out := make([]StagedFile, len(items))
	var (
		mu      sync.Mutex
		entries = map[string]*entry{}
		first   error
		wg      sync.WaitGroup
		next    = make(chan int)
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	worker := func() {
		defer wg.Done()
		var fs filesystem
		defer func() {
			if fs != nil {
				fs.close()
			}
		}()
		for i := range next {
			if fs == nil {
				c, err := s.connect(ctx)
				if err != nil {
					fail(err)
					continue
				}
				fs = c
			}
			it := items[i]
			f, err := s.stageItem(ctx, fs, staging, it, useCache && !it.noCache, publicOK, rep, &mu, entries)
			if err != nil {
				fail(fmt.Errorf("%s: %w", it.name, err))
				continue
			}
			out[i] = f
		}
	}
	var err2 error
	for w := 0; w < min(s.o.Parallelism, len(items)); w++ {
		wg.Add(1)
		go worker()
	}
feed:
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			err2 = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err2 != nil {
		return nil, err2
	}
	var keys []string
	for _, f := range out {
		if f.Visibility == VisibilityPrivate && path.Dir(f.Path) == s.CacheDir() {
			keys = append(keys, path.Base(f.Path))
		}
	}
	if err := s.recordUse(meta, appID, keys); err != nil {
		// Unrecorded entries are kept by CollectCache (and recorded then).
		s.lg.Warn().Err(err).Str("app_id", appID).Msg("could not record the use of the upload cache")
	}
	return out, nil
}

// publicReadable reports whether every directory above the public cache
// entries lets everyone in, as PUBLIC localization requires.
func (s *Stager) publicReadable(fs filesystem, dir string) bool {
	for _, d := range append([]string{dir}, ancestors(dir)...) {
		fi, err := fs.stat(d)
		if err != nil || fi.mode&0o001 == 0 {
			if err == nil {
				s.lg.Warn().Msgf("public cache %s is not usable: %s is not world-executable", dir, d)
			}
			return false
		}
	}
	return true
}

func (s *Stager) stageItem(ctx context.Context, fs filesystem, staging string, it item, cached, publicOK bool, rep *reporter,
	mu *sync.Mutex, entries map[string]*entry) (StagedFile, error) {
	p := Progress{Name: it.name, Size: it.size}
	report := func(n int64) {
		p.Bytes += n
		rep.report(p, n)
	}
	if !cached {
		dst := path.Join(staging, it.name+archiveExt(it))
		if dir := path.Dir(dst); dir != staging {
			if err := fs.mkdirAll(dir, dirPerm); err != nil {
				return StagedFile{}, err
			}
		}
		n, err := s.upload(ctx, fs, it, dst, filePerm, report)
		if err != nil {
			return StagedFile{}, err
		}
		fi, err := fs.stat(dst)
		if err != nil {
			return StagedFile{}, err
		}
		p.Finished = true
		rep.report(p, 0)
		return s.staged(it, dst, fi, VisibilityApplication, n), nil
	}

	sha, err := hashFile(ctx, it.local)
	if err != nil {
		return StagedFile{}, err
	}
	it.sha = sha
	key := sha + archiveExt(it)
	mu.Lock()
	e := entries[key]
	leader := e == nil
	if leader {
		e = &entry{done: make(chan struct{})}
		entries[key] = e
	}
	mu.Unlock()
	var uploaded int64
	if leader {
		e.path, e.vis, uploaded, e.err = s.lookupOrUpload(ctx, fs, staging, it, key, publicOK, report)
		close(e.done)
	} else {
		select {
		case <-e.done:
		case <-ctx.Done():
			return StagedFile{}, ctx.Err()
		}
	}
	if e.err != nil {
		return StagedFile{}, e.err
	}
	fi, err := fs.stat(e.path)
	if err != nil {
		return StagedFile{}, err
	}
	p.Cached, p.Finished = uploaded == 0, true
	rep.report(p, 0)
	return s.staged(it, e.path, fi, e.vis, uploaded), nil
}

// lookupOrUpload finds content key in the public cache or the user's cache,
// or uploads it into the user's cache through a temporary file in the
// staging directory.
func (s *Stager) lookupOrUpload(ctx context.Context, fs filesystem, staging string, it item, key string, publicOK bool,
	report func(int64)) (string, Visibility, int64, error) {
	if publicOK {
		p := path.Join(path.Clean(s.o.PublicCacheDir), key)
		if fi, err := fs.stat(p); err == nil && !fi.dir && fi.size == it.size && fi.mode&0o004 != 0 {
			return p, VisibilityPublic, 0, nil
		}
	}
	final := path.Join(s.CacheDir(), key)
	if fi, err := fs.stat(final); err == nil && !fi.dir && fi.size == it.size {
		return final, VisibilityPrivate, 0, nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", "", 0, err
	}
	tmp := path.Join(staging, ".upload-"+key+"-"+randomSuffix())
	n, err := s.upload(ctx, fs, it, tmp, filePerm, report)
	if err != nil {
		return "", "", n, err
	}
	if err := s.settle(fs, tmp, final); err != nil {
		return "", "", n, err
	}
	return final, VisibilityPrivate, n, nil
}
