package hdfs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/rs/zerolog"

	"github.com/spindle-yarn/spindle/conf"
)

// Layout below the user's home directory.
const (
	// SpindleDir holds Spindle's per-user state: <home>/.spindle.
	SpindleDir = ".spindle"
	// CacheDir is the content-addressed cache: <home>/.spindle/cache.
	CacheDir = "cache"
	// CacheModTime is the modification time, in ms since the epoch
	// (2000-01-01T00:00:00Z), of every cache entry. Entries are immutable
	// and named by their content, so a fixed time keeps LocalResources that
	// name an entry valid even if a concurrent submission of the same
	// content replaces it.
	CacheModTime int64 = 946684800000
)

// Modes of what staging creates.
const (
	dirPerm    os.FileMode = 0o700
	filePerm   os.FileMode = 0o600
	publicDir  os.FileMode = 0o755
	publicFile os.FileMode = 0o644
)

// Errors.
var (
	// ErrInvalid wraps every rejected option, application id or source.
	ErrInvalid = errors.New("hdfs: invalid argument")
	// ErrUnsupported is returned for configurations staging cannot serve.
	ErrUnsupported = errors.New("hdfs: unsupported")
	// ErrAuthentication wraps failures to authenticate to a secure HDFS:
	// no Kerberos login, or the NameNode refusing it.
	ErrAuthentication = errors.New("hdfs: authentication failed")

	// Conditions of an ErrAuthentication, stated in their own words in the
	// message (advice about how to log in is the caller's to add).

	// ErrNoKerberosCredentials means hadoop.security.authentication is
	// kerberos but Options.KerberosClient holds no login.
	ErrNoKerberosCredentials = errors.New("no Kerberos credentials")
	// ErrKerberosRefused means the NameNode refused the SASL/Kerberos
	// handshake: the login or dfs.namenode.kerberos.principal is wrong.
	ErrKerberosRefused = errors.New("the NameNode refused the Kerberos login")
)

// Options configures a Stager.
type Options struct {
	// FS is the filesystem URI to stage into: hdfs://host[:port] (port
	// 8020 by default), hdfs://<nameservice> for HDFS HA (resolved through
	// Conf), or file:/// for local staging. Empty means Conf's fs.defaultFS.
	FS string
	// Conf is the Hadoop configuration: fs.defaultFS when FS is empty, and
	// the HA nameservices. Nil means none.
	Conf *conf.Configuration
	// User is the HDFS user to act as (SIMPLE authentication), and the
	// owner of the default Home. Required for hdfs:// without Kerberos;
	// with Kerberos, empty means the first component of the client's
	// principal (alice@EXAMPLE.COM is alice, as auth_to_local's DEFAULT
	// rule maps it).
	User string
	// KerberosClient authenticates to a secure HDFS (Conf's
	// hadoop.security.authentication is kerberos; required then): a gokrb5
	// client logged in from a keytab or a ticket cache, owned by the
	// caller. colinmarc/hdfs asks it for a service ticket for the
	// NameNode. Nil means SIMPLE.
	KerberosClient *krb.Client
	// KerberosServicePrincipal is the NameNode's principal pattern,
	// nn/_HOST@REALM, with _HOST replaced by the host of each NameNode
	// address; empty means Conf's dfs.namenode.kerberos.principal.
	KerberosServicePrincipal string
	// Home is the user's home directory on FS. Empty means /user/<User>
	// for hdfs:// (HDFS's default); required for file://.
	Home string
	// Replication of uploaded files; zero means the cluster's default.
	Replication int
	// Parallelism is the number of files uploaded at once; zero means 4.
	Parallelism int
	// NoCache turns the content-addressed cache off: every file is
	// uploaded into the staging directory, every time.
	NoCache bool
	// PublicCacheDir is an absolute path on FS that an administrator fills
	// with world-readable <sha256>[.ext] entries (see Publish). A source
	// whose content is there is staged from there with PUBLIC visibility
	// and not uploaded. Empty means none.
	PublicCacheDir string
	// TempDir is the local directory for zip archives of directories; empty
	// means os.TempDir().
	TempDir string
	// Dial opens connections to NameNodes and DataNodes; nil uses
	// net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives staging events. The zero value logs nothing.
	Logger zerolog.Logger
}

// Stager stages applications' files on one filesystem. It holds no
// connection between calls; each call connects with its own context, so
// cancelling the context interrupts the call. A Stager is safe for
// concurrent use.
type Stager struct {
	o         Options
	lg        zerolog.Logger
	scheme    string // "hdfs" or "file"
	authority string // URL authority: host:port or a nameservice
	addrs     []string
	home      string
	krb       *krb.Client // nil: SIMPLE
	spn       string      // NameNode principal pattern without realm, for colinmarc
}

// kerberos sets up Kerberos when Conf asks for it.
func (s *Stager) kerberos() error {
	if s.o.Conf == nil {
		return nil
	}
	sec, err := s.o.Conf.Security()
	if err != nil || sec.Authentication != conf.AuthKerberos {
		return err
	}
	if s.o.KerberosClient == nil || s.o.KerberosClient.Credentials == nil {
		return fmt.Errorf("%w: %w: hadoop.security.authentication is kerberos but there is no Kerberos login", ErrAuthentication, ErrNoKerberosCredentials)
	}
	spn := s.o.KerberosServicePrincipal
	if spn == "" {
		spn = sec.NameNodePrincipal
	}
	if spn == "" {
		return fmt.Errorf("%w: hadoop.security.authentication is kerberos but %s is not set", ErrInvalid, conf.KeyNameNodePrincipal)
	}
	// gokrb5 takes the realm from its client, not from the name.
	s.spn, _, _ = strings.Cut(spn, "@")
	s.krb = s.o.KerberosClient
	if s.o.User == "" {
		s.o.User = s.krb.Credentials.CName().PrincipalNameString()
		if i := strings.IndexAny(s.o.User, "/@"); i >= 0 {
			s.o.User = s.o.User[:i]
		}
	}
	return nil
}

// principal names the Kerberos user for messages.
func (s *Stager) principal() string {
	c := s.krb.Credentials
	return c.CName().PrincipalNameString() + "@" + c.Domain()
}

// New validates opts and, for HDFS, connects once to learn the cluster's
// defaults, so a wrong address fails here.
func New(ctx context.Context, opts Options) (*Stager, error) {
	s := &Stager{o: opts, lg: opts.Logger.With().Str("component", "hdfs").Logger()}
	if s.o.Parallelism <= 0 {
		s.o.Parallelism = 4
	}
	fsURI := opts.FS
	if fsURI == "" && opts.Conf != nil {
		var err error
		if fsURI, err = opts.Conf.DefaultFS(); err != nil {
			return nil, err
		}
	}
	if fsURI == "" {
		return nil, fmt.Errorf("%w: no filesystem: set Options.FS or fs.defaultFS", ErrInvalid)
	}
	u, err := url.Parse(fsURI)
	if err != nil {
		return nil, fmt.Errorf("%w: filesystem URI %q: %w", ErrInvalid, fsURI, err)
	}
	if opts.PublicCacheDir != "" && !path.IsAbs(opts.PublicCacheDir) {
		return nil, fmt.Errorf("%w: PublicCacheDir %q is not absolute", ErrInvalid, opts.PublicCacheDir)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		s.scheme = "file"
		if !path.IsAbs(opts.Home) {
			return nil, fmt.Errorf("%w: file:// staging needs an absolute Home", ErrInvalid)
		}
		s.home = path.Clean(opts.Home)
		return s, nil
	case "hdfs":
	default:
		return nil, fmt.Errorf("%w: filesystem %q is neither hdfs:// nor file://", ErrInvalid, fsURI)
	}
	s.scheme = "hdfs"
	if err := s.kerberos(); err != nil {
		return nil, err
	}
	if s.o.User == "" {
		return nil, fmt.Errorf("%w: Options.User is required for hdfs://", ErrInvalid)
	}
	if err := s.resolveNameNodes(u); err != nil {
		return nil, err
	}
	s.home = opts.Home
	if s.home == "" {
		s.home = "/user/" + s.o.User
	}
	if !path.IsAbs(s.home) {
		return nil, fmt.Errorf("%w: Home %q is not absolute", ErrInvalid, s.home)
	}
	s.home = path.Clean(s.home)
	fs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	return s, fs.close()
}

// resolveNameNodes finds the NameNode addresses and the URL authority.
func (s *Stager) resolveNameNodes(u *url.URL) error {
	if u.Host == "" {
		return fmt.Errorf("%w: %q names no NameNode", ErrInvalid, u.String())
	}
	if s.o.Conf != nil {
		nns, err := s.o.Conf.NameNodes(u.String())
		if err != nil {
			return err
		}
		for _, nn := range nns {
			s.addrs = append(s.addrs, nn.Address)
		}
		if len(nns) > 0 && nns[0].NameService != "" {
			s.authority = nns[0].NameService
			return nil
		}
		s.authority = s.addrs[0]
		return nil
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "8020")
	}
	s.addrs, s.authority = []string{host}, host
	return nil
}

// connect opens the filesystem for one call; its connections live as long
// as ctx.
func (s *Stager) connect(ctx context.Context) (filesystem, error) {
	if s.scheme == "file" {
		return localFS{}, nil
	}
	cc, err := clientFromConf(s.o.Conf)
	if err != nil {
		return nil, err
	}
	fs, err := dialHDFS(ctx, s.addrs, s.o.User, s.krb, s.spn, s.o.Dial, s.o.Replication, cc)
	if err != nil {
		if s.krb != nil && strings.Contains(err.Error(), "SASL handshake") {
			// colinmarc/hdfs flattens its SASL errors into text.
			return nil, fmt.Errorf("%w: connect to %s as %s: %w (check %s %s): %w",
				ErrAuthentication, strings.Join(s.addrs, ","), s.principal(), ErrKerberosRefused, conf.KeyNameNodePrincipal, s.spn, err)
		}
		return nil, fmt.Errorf("hdfs: connect to %s: %w", strings.Join(s.addrs, ","), err)
	}
	return fs, nil
}

// URL returns the URI of an absolute path on the staging filesystem.
func (s *Stager) URL(p string) string {
	if s.scheme == "file" {
		return "file://" + p
	}
	return "hdfs://" + s.authority + p
}

// Home is the user's home directory on the staging filesystem.
func (s *Stager) Home() string { return s.home }

// User is the user the Stager acts as (Options.User, or the Kerberos
// principal's short name): the owner of what it stages.
func (s *Stager) User() string { return s.o.User }

// StagingDir is the staging directory of an application:
// <home>/.spindle/<appID>.
func (s *Stager) StagingDir(appID string) string { return StagingPath(s.home, appID) }

// StagingPath is an application's staging directory under home:
// <home>/.spindle/<application id>.
func StagingPath(home, appID string) string { return path.Join(home, SpindleDir, appID) }

// TempDir is the local directory of the temporary zip files
// (ZipTempPattern): Options.TempDir or os.TempDir().
func (s *Stager) TempDir() string {
	if s.o.TempDir != "" {
		return s.o.TempDir
	}
	return os.TempDir()
}

// CacheDir is the user's content-addressed cache: <home>/.spindle/cache.
func (s *Stager) CacheDir() string { return path.Join(s.home, SpindleDir, CacheDir) }

func checkAppID(appID string) error {
	if appID == "" || appID == "." || appID == ".." || appID == CacheDir || strings.ContainsAny(appID, "/:") {
		return fmt.Errorf("%w: application id %q", ErrInvalid, appID)
	}
	return nil
}

// Delete removes the staging directory of an application and everything in
// it. A missing directory is not an error.
func (s *Stager) Delete(ctx context.Context, appID string) error {
	if err := checkAppID(appID); err != nil {
		return err
	}
	fs, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer fs.close()
	if err := fs.removeAll(s.StagingDir(appID)); err != nil {
		return fmt.Errorf("hdfs: delete staging directory of %s: %w", appID, err)
	}
	s.lg.Info().Str("app_id", appID).Msg("staging directory deleted")
	return nil
}

// ReadFile reads a small file (at most 1 MiB) of an application's staging
// directory, such as the stop secret a submitter left there. The error
// wraps os.ErrNotExist when the directory or the file is gone.
func (s *Stager) ReadFile(ctx context.Context, appID, name string) ([]byte, error) {
	if err := checkAppID(appID); err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	fs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer fs.close()
	p := path.Join(s.StagingDir(appID), name)
	b, err := fs.readFile(p, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("hdfs: read %s: %w", p, err)
	}
	return b, nil
}

// StagedApps lists the application ids that have a staging directory
// under <home>/.spindle (the cache directory excluded), sorted. It is what
// `spindle gc` checks against the ResourceManager.
func (s *Stager) StagedApps(ctx context.Context) ([]string, error) {
	fs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer fs.close()
	names, err := fs.readDirNames(path.Join(s.home, SpindleDir))
	if err != nil {
		return nil, fmt.Errorf("hdfs: list %s: %w", path.Join(s.home, SpindleDir), err)
	}
	var apps []string
	for _, n := range names {
		if checkAppID(n) == nil && !strings.HasPrefix(n, ".") {
			apps = append(apps, n)
		}
	}
	sort.Strings(apps)
	return apps, nil
}

// Stat returns the LocalResource facts of a file already on the staging
// filesystem (absolute path p), for resources the user names by URL. It
// leaves Visibility empty: who may share such a file is the caller's call.
func (s *Stager) Stat(ctx context.Context, p string) (StagedFile, error) {
	fs, err := s.connect(ctx)
	if err != nil {
		return StagedFile{}, err
	}
	defer fs.close()
	fi, err := fs.stat(p)
	if err != nil {
		return StagedFile{}, fmt.Errorf("hdfs: stat %s: %w", p, err)
	}
	if fi.dir {
		return StagedFile{}, fmt.Errorf("%w: %s is a directory", ErrInvalid, p)
	}
	return StagedFile{Name: path.Base(p), URL: s.URL(p), Path: p, Size: fi.size, ModTime: fi.mtime, Type: TypeFile}, nil
}

// Publish uploads a local file into Options.PublicCacheDir as
// <sha256>[.ext], world-readable with CacheModTime, creating the directory
// (mode 0755) if needed. It is the administrator's tool for filling the
// public cache; the caller needs write access there. An entry that is
// already there is not uploaded again.
func (s *Stager) Publish(ctx context.Context, local string, archive bool) (StagedFile, error) {
	if s.o.PublicCacheDir == "" {
		return StagedFile{}, fmt.Errorf("%w: no PublicCacheDir", ErrInvalid)
	}
	it := item{name: filepath.Base(local), local: local, typ: TypeFile}
	if archive {
		it.typ = TypeArchive
	}
	fi, err := os.Stat(local)
	if err != nil {
		return StagedFile{}, err
	}
	it.size = fi.Size()
	if it.sha, err = hashFile(ctx, local); err != nil {
		return StagedFile{}, err
	}
	fs, err := s.connect(ctx)
	if err != nil {
		return StagedFile{}, err
	}
	defer fs.close()
	dir := path.Clean(s.o.PublicCacheDir)
	final := path.Join(dir, it.sha+archiveExt(it))
	if fi, err := fs.stat(final); err == nil && fi.size == it.size {
		return s.staged(it, final, fi, VisibilityPublic, 0), nil
	}
	if err := fs.mkdirAll(dir, publicDir); err != nil {
		return StagedFile{}, fmt.Errorf("hdfs: publish: %w", err)
	}
	tmp := path.Join(dir, "."+it.sha+"."+randomSuffix()+".tmp")
	n, err := s.upload(ctx, fs, it, tmp, publicFile, nil)
	if err == nil {
		err = s.settle(fs, tmp, final)
	}
	if err != nil {
		_ = fs.removeAll(tmp)
		return StagedFile{}, fmt.Errorf("hdfs: publish %s: %w", local, err)
	}
	fi2, err := fs.stat(final)
	if err != nil {
		return StagedFile{}, err
	}
	return s.staged(it, final, fi2, VisibilityPublic, n), nil
}

// settle gives a finished upload its cache modification time and renames it
// into place.
func (s *Stager) settle(fs filesystem, tmp, final string) error {
	if err := fs.setMtime(tmp, CacheModTime); err != nil {
		return err
	}
	return fs.rename(tmp, final)
}

func (s *Stager) staged(it item, p string, fi fileInfo, vis Visibility, uploaded int64) StagedFile {
	return StagedFile{Name: it.name, URL: s.URL(p), Path: p, Size: fi.size, ModTime: fi.mtime, Type: it.typ,
		Visibility: vis, SHA256: it.sha, Uploaded: uploaded}
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hashFile returns the hex SHA-256 of a local file.
func hashFile(ctx context.Context, name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// upload copies a local file to a new remote file, checking ctx between
// chunks and reporting progress. It returns the bytes written.
func (s *Stager) upload(ctx context.Context, fs filesystem, it item, dst string, perm os.FileMode, report func(int64)) (int64, error) {
	in, err := os.Open(it.local)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	w, err := fs.create(dst, perm)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			w.abort()
			return n, err
		}
		k, rerr := in.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				w.abort()
				return n, ctxErr(ctx, err)
			}
			n += int64(k)
			if report != nil {
				report(int64(k))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			w.abort()
			return n, rerr
		}
	}
	if n != it.size {
		w.abort()
		return n, fmt.Errorf("%s changed while it was uploaded: %d bytes, expected %d", it.local, n, it.size)
	}
	if err := w.Close(); err != nil {
		return n, ctxErr(ctx, err)
	}
	return n, nil
}

// ctxErr prefers the context's error: a cancelled call closes connections
// under colinmarc, whose own error then says little.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// cleanupTimeout bounds removing a failed stage's directory.
const cleanupTimeout = 30 * time.Second

// ReadDirAt lists the names in the directory at absolute path p of the
// staging filesystem (not only the staging area: `spindle logs` reads the
// aggregated logs under yarn.nodemanager.remote-app-log-dir with it). The
// error wraps os.ErrNotExist when p is missing.
func (s *Stager) ReadDirAt(ctx context.Context, p string) ([]string, error) {
	fs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer fs.close()
	names, err := fs.readDirNames(p)
	if err != nil {
		return nil, fmt.Errorf("hdfs: list %s: %w", p, err)
	}
	sort.Strings(names)
	return names, nil
}

// ReadFileAt reads the file at absolute path p of the staging filesystem,
// at most limit bytes.
func (s *Stager) ReadFileAt(ctx context.Context, p string, limit int64) ([]byte, error) {
	fs, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer fs.close()
	b, err := fs.readFile(p, limit)
	if err != nil {
		return nil, fmt.Errorf("hdfs: read %s: %w", p, err)
	}
	return b, nil
}
