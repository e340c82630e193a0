package hdfs

// Visibility is who may share a staged file once a NodeManager has
// localized it; it mirrors YARN's LocalResourceVisibility, which package
// yarn maps it to.
type Visibility string

const (
	// VisibilityPublic: cached by every NodeManager for all users. The file
	// and every directory above it must be world-readable (and the
	// directories world-executable); only entries of Options.PublicCacheDir
	// are staged with it.
	VisibilityPublic Visibility = "PUBLIC"
	// VisibilityPrivate: cached per user across applications. Entries of
	// the user's content-addressed cache get it.
	VisibilityPrivate Visibility = "PRIVATE"
	// VisibilityApplication: for one application only. Files uploaded into
	// the staging directory get it.
	VisibilityApplication Visibility = "APPLICATION"
)

// ResourceType says how a NodeManager localizes a staged file; it mirrors
// YARN's LocalResourceType.
type ResourceType string

const (
	// TypeFile is copied as is.
	TypeFile ResourceType = "FILE"
	// TypeArchive is unpacked (zip, jar, tar, tar.gz, tgz: the NodeManager
	// goes by the file name's extension, which staging keeps).
	TypeArchive ResourceType = "ARCHIVE"
)

// Source is one local file or directory to stage.
type Source struct {
	// Path is the local file or directory.
	Path string
	// Name is the resource name: the path, relative to the container's
	// working directory, under which the NodeManager links it. It may
	// contain "/" but not "." or ".." components. Empty means the base
	// name of Path.
	Name string
	// Archive ships a directory as one zip archive that the NodeManager
	// unpacks into a directory called Name; for a file, it marks the file
	// as an archive (by its .zip, .jar, .tar, .tar.gz or .tgz name) to be
	// unpacked. When false, a directory is staged as its files, each named
	// Name/<path inside the directory>.
	Archive bool
	// NoCache uploads this source into the staging directory even when the
	// content-addressed cache is on (for files that differ every time).
	NoCache bool
	// ConfineLinks refuses, for a directory, symbolic links inside it that
	// point outside it (a *LinkError, matching ErrInvalid); false follows
	// them. Links inside it are shipped as their targets either way (see
	// WalkTree).
	ConfineLinks bool
}

// StagedFile is one staged file with the facts a YARN LocalResource needs.
type StagedFile struct {
	// Name is the resource name (see Source.Name); for a directory staged
	// as its files, Source.Name plus the file's path inside it.
	Name string
	// URL is the file's full URI: hdfs://<host:port or nameservice>/<path>
	// or file:///<path>.
	URL string
	// Path is the absolute path on the filesystem.
	Path string
	// Size is the file's length in bytes.
	Size int64
	// ModTime is the modification time in milliseconds since the epoch,
	// exactly as the filesystem reports it after the upload: YARN refuses
	// to localize a resource whose timestamp differs.
	ModTime int64
	// Type is TypeArchive for archives, else TypeFile.
	Type ResourceType
	// Visibility follows from where the file is: the public cache, the
	// user's cache, or the staging directory.
	Visibility Visibility
	// SHA256 is the hex SHA-256 of the content; empty when the file was
	// staged without the cache.
	SHA256 string
	// Uploaded is the number of bytes this Stage call uploaded for the
	// file: 0 when the cache already held it.
	Uploaded int64
}

// Progress reports the upload of one file. Stage calls the callback from
// several goroutines but never concurrently, and at least once per file,
// with Finished set the last time.
type Progress struct {
	// Name is the resource name of the file.
	Name string
	// Bytes of the file uploaded so far, out of Size.
	Bytes, Size int64
	// Cached reports that a cache held the file: nothing is uploaded.
	Cached bool
	// Finished is set on the file's last report.
	Finished bool
	// TotalBytes is the number of bytes uploaded so far by the whole Stage
	// call, out of TotalSize, the size of every file it stages.
	TotalBytes, TotalSize int64
}
