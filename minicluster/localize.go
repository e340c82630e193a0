package minicluster

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/yarnpb"
	"github.com/spindle-yarn/spindle/yarn"
)

// Localization follows ResourceLocalizationService and FSDownload: each
// resource is checked against the source file's modification time, copied
// into the cache of its visibility (PUBLIC: <local>/filecache,
// PRIVATE: <local>/usercache/<user>/filecache, APPLICATION:
// <local>/usercache/<user>/appcache/<app>/filecache) under a fresh
// numbered directory, unpacked if it is an ARCHIVE (or PATTERN), and
// symlinked into the container's directory under its key. A resource
// already localized for the same scope is reused.

// localFS is the built-in file:// source.
type localFS struct{}

func (localFS) Stat(_ context.Context, u yarn.URL) (FileStatus, error) {
	st, err := os.Stat(u.File)
	if err != nil {
		return FileStatus{}, err
	}
	return FileStatus{Size: st.Size(), ModTime: st.ModTime(), IsDir: st.IsDir()}, nil
}

func (localFS) Open(_ context.Context, u yarn.URL) (io.ReadCloser, error) { return os.Open(u.File) }

func urlFromProto(p *yarnpb.URLProto) yarn.URL {
	return yarn.URL{Scheme: p.GetScheme(), Host: p.GetHost(), Port: p.GetPort(), File: p.GetFile(), UserInfo: p.GetUserInfo()}
}

// javaPath is org.apache.hadoop.fs.Path.toString of the resource URL,
// as FSDownload names it in diagnostics ("file:/tmp/x", "hdfs://nn:9000/x").
func javaPath(u yarn.URL) string {
	if u.Host == "" {
		return u.Scheme + ":" + u.File
	}
	return u.String()
}

// localizationError is a failed download, worded as the NodeManager's
// ResourceFailedTransition reports it.
type localizationError struct {
	rsrc, javaClass, msg string
}

func (e *localizationError) Error() string {
	return fmt.Sprintf("Failed to download resource %s\n%s: %s", e.rsrc, e.javaClass, e.msg)
}

// localize materializes c's local resources and returns the symlinks to
// make and the LOCALIZATION_COUNTERS value
// (bytesMissed,bytesHit,numMissed,numHit,millis).
func (n *NodeManager) localize(c *container) ([]link, string, error) {
	n.locMu.Lock()
	defer n.locMu.Unlock()
	start := time.Now()
	var bytesMissed, bytesHit, numMissed, numHit int64
	var links []link
	app := n.appFor(c)
	userDir := filepath.Join(n.localDir, "usercache", c.user)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if c.clc.Tokens != nil {
		if creds, err := ipc.ParseCredentials(c.clc.GetTokens()); err == nil {
			ctx = withCredentials(ctx, creds)
		}
	}
	for _, e := range c.clc.GetLocalResources() {
		key, lr := e.GetKey(), e.GetValue()
		u := urlFromProto(lr.GetResource())
		typ := lr.GetType()
		if lr.Type == nil {
			typ = yarnpb.LocalResourceTypeProto_FILE
		}
		pattern := "null"
		if lr.Pattern != nil {
			pattern = lr.GetPattern()
		}
		rsrc := fmt.Sprintf("{ { %s, %d, %s, %s },pending,[(%s)],%d,DOWNLOADING}", javaPath(u), lr.GetTimestamp(), typ, pattern, c.id, time.Now().UnixNano())
		if filepath.IsAbs(key) || strings.Contains("/"+key+"/", "/../") || key == "" {
			return nil, "", &localizationError{rsrc, "java.lang.IllegalArgumentException", "Invalid local resource key: " + key}
		}
		var base string
		var cache map[string]string
		switch lr.GetVisibility() {
		case yarnpb.LocalResourceVisibilityProto_PUBLIC:
			base, cache = filepath.Join(n.localDir, "filecache"), n.publicCache()
		case yarnpb.LocalResourceVisibilityProto_PRIVATE:
			base, cache = filepath.Join(userDir, "filecache"), n.userCache(c.user)
		default:
			base, cache = filepath.Join(userDir, "appcache", c.id.Attempt.App.String(), "filecache"), app.cache
		}
		ck := fmt.Sprintf("%s|%d|%s|%s", u, lr.GetTimestamp(), typ, pattern)
		if p, ok := cache[ck]; ok {
			links = append(links, link{key: key, target: p})
			numHit++
			bytesHit += lr.GetSize()
			continue
		}
		if reason, ok := n.takeLocalizationFault(); ok {
			return nil, "", &localizationError{rsrc, "java.io.IOException", reason}
		}
		p, size, err := n.download(ctx, u, lr, typ, base)
		if err != nil {
			var le *localizationError
			if errors.As(err, &le) {
				le.rsrc = rsrc
				return nil, "", le
			}
			return nil, "", &localizationError{rsrc, "java.io.IOException", err.Error()}
		}
		cache[ck] = p
		links = append(links, link{key: key, target: p})
		numMissed++
		bytesMissed += size
	}
	return links, fmt.Sprintf("%d,%d,%d,%d,%d", bytesMissed, bytesHit, numMissed, numHit, time.Since(start).Milliseconds()), nil
}

func (n *NodeManager) appFor(c *container) *nmApp {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.apps[c.id.Attempt.App]
	if a == nil {
		a = &nmApp{id: c.id.Attempt.App, user: c.user, cache: map[string]string{}}
		n.apps[a.id] = a
	}
	return a
}

// publicCache and userCache are the PUBLIC and PRIVATE resource caches;
// they are emptied with the node's local dirs.
func (n *NodeManager) publicCache() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pubCache == nil {
		n.pubCache = map[string]string{}
	}
	return n.pubCache
}

func (n *NodeManager) userCache(user string) map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.userCaches == nil {
		n.userCaches = map[string]map[string]string{}
	}
	m := n.userCaches[user]
	if m == nil {
		m = map[string]string{}
		n.userCaches[user] = m
	}
	return m
}

// download is FSDownload.call: stat, the timestamp check, copy, unpack.
func (n *NodeManager) download(ctx context.Context, u yarn.URL, lr *yarnpb.LocalResourceProto, typ yarnpb.LocalResourceTypeProto, base string) (string, int64, error) {
	var src FileSystem
	switch u.Scheme {
	case "file", "":
		src = localFS{}
	default:
		src = n.opts.FileSystems[u.Scheme]
	}
	if src == nil {
		return "", 0, &localizationError{javaClass: "org.apache.hadoop.fs.UnsupportedFileSystemException", msg: fmt.Sprintf("No FileSystem for scheme %q", u.Scheme)}
	}
	st, err := src.Stat(ctx, u)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", 0, &localizationError{javaClass: "java.io.FileNotFoundException", msg: fmt.Sprintf("File %s does not exist", javaPath(u))}
		}
		return "", 0, err
	}
	if st.ModTime.UnixMilli() != lr.GetTimestamp() {
		return "", 0, &localizationError{javaClass: "java.io.IOException", msg: fmt.Sprintf("Resource %s changed on src filesystem (expected %d, was %d",
			javaPath(u), lr.GetTimestamp(), st.ModTime.UnixMilli())}
	}
	if st.IsDir {
		return "", 0, &localizationError{javaClass: "java.io.IOException", msg: fmt.Sprintf("Resource %s is a directory; the mini cluster localizes files and archives only", javaPath(u))}
	}
	dir, err := n.nextCacheDir(base)
	if err != nil {
		return "", 0, err
	}
	name := path.Base(u.File)
	tmp := filepath.Join(dir, name+".tmp")
	rc, err := src.Open(ctx, u)
	if err != nil {
		return "", 0, err
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		rc.Close()
		return "", 0, err
	}
	size, err := io.Copy(f, rc)
	rc.Close()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, err
	}
	dst := filepath.Join(dir, name)
	mode := os.FileMode(0o500) // FSDownload's PRIVATE_FILE_PERMS
	if lr.GetVisibility() == yarnpb.LocalResourceVisibilityProto_PUBLIC {
		mode = 0o555
	}
	switch typ {
	case yarnpb.LocalResourceTypeProto_ARCHIVE, yarnpb.LocalResourceTypeProto_PATTERN:
		var re *regexp.Regexp
		if typ == yarnpb.LocalResourceTypeProto_PATTERN && lr.GetPattern() != "" {
			if re, err = regexp.Compile(lr.GetPattern()); err != nil {
				return "", 0, err
			}
		}
		if err := unpack(tmp, dst, re); err != nil {
			return "", 0, &localizationError{javaClass: "java.io.IOException", msg: fmt.Sprintf("Unable to unpack %s: %v", javaPath(u), err)}
		}
		if err := os.Remove(tmp); err != nil {
			return "", 0, err
		}
	default:
		if err := os.Rename(tmp, dst); err != nil {
			return "", 0, err
		}
		if err := os.Chmod(dst, mode); err != nil {
			return "", 0, err
		}
	}
	return dst, size, nil
}

// unpack extracts a zip/jar, tar, tar.gz or tgz archive into dst
// (FileUtil.unZip, unTar, RunJar.unJar), keeping only entries matching re
// when given. Anything else is copied into dst as is, as FSDownload does
// for an ARCHIVE of unknown type.
func unpack(archive, dst string, re *regexp.Regexp) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	lower := strings.ToLower(archive)
	lower = strings.TrimSuffix(lower, ".tmp")
	safe := func(name string) (string, bool) {
		p := filepath.Join(dst, filepath.FromSlash(name))
		return p, strings.HasPrefix(p, filepath.Clean(dst)+string(filepath.Separator))
	}
	switch {
	case strings.HasSuffix(lower, ".zip") || strings.HasSuffix(lower, ".jar"):
		zr, err := zip.OpenReader(archive)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if re != nil && !re.MatchString(f.Name) {
				continue
			}
			p, ok := safe(f.Name)
			if !ok {
				return fmt.Errorf("entry %q is outside the target dir", f.Name)
			}
			if f.FileInfo().IsDir() {
				if err := os.MkdirAll(p, 0o755); err != nil {
					return err
				}
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			err = writeFile(p, rc, f.Mode().Perm()|0o600)
			rc.Close()
			if err != nil {
				return err
			}
		}
		return nil
	case strings.HasSuffix(lower, ".tar.gz") || strings.HasSuffix(lower, ".tgz") || strings.HasSuffix(lower, ".tar"):
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if !strings.HasSuffix(lower, ".tar") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				return err
			}
			defer gz.Close()
			r = gz
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if re != nil && !re.MatchString(h.Name) {
				continue
			}
			p, ok := safe(h.Name)
			if !ok {
				return fmt.Errorf("entry %q is outside the target dir", h.Name)
			}
			switch h.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(p, 0o755); err != nil {
					return err
				}
			case tar.TypeReg:
				if err := writeFile(p, tr, os.FileMode(h.Mode).Perm()|0o600); err != nil {
					return err
				}
			case tar.TypeSymlink:
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return err
				}
				if err := os.Symlink(h.Linkname, p); err != nil {
					return err
				}
			}
		}
	default:
		in, err := os.Open(archive)
		if err != nil {
			return err
		}
		defer in.Close()
		return writeFile(filepath.Join(dst, strings.TrimSuffix(filepath.Base(archive), ".tmp")), in, 0o500)
	}
}

func writeFile(p string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
