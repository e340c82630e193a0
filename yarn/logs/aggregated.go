package logs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"unicode/utf16"
)

// The aggregated log file of one node for one application
// (hadoop-yarn-common org.apache.hadoop.yarn.logaggregation.AggregatedLogFormat,
// written through filecontroller/tfile/LogAggregationTFileController): a
// TFile whose records are, in order,
//
//	key "VERSION"            value int32 1                       (LogWriter.writeVersion)
//	key "APPLICATION_ACL"    value (UTF type, UTF acl)*           (writeApplicationACLs)
//	key "APPLICATION_OWNER"  value UTF user                       (writeApplicationOwner)
//	key <container id>       value per log file, sorted by path:  (LogWriter.append, LogValue.write)
//	                           UTF file name, UTF decimal length, the bytes
//
// Keys are LogKey.write: a Java DataOutput.writeUTF string (uint16 length,
// modified UTF-8). A container with no log files gets no record.

// Reserved keys (AggregatedLogFormat.VERSION_KEY, APPLICATION_ACL_KEY,
// APPLICATION_OWNER_KEY) and the format version (VERSION).
const (
	keyVersion = "VERSION"
	keyACL     = "APPLICATION_ACL"
	keyOwner   = "APPLICATION_OWNER"
	// FormatVersion is AggregatedLogFormat.VERSION.
	FormatVersion = 1
	// copyBufSize is LogValue.write's read buffer: the Java writer hands
	// the file to the chunk encoder 65535 bytes at a time.
	copyBufSize = 65535
)

// ACL is one application access control entry (ApplicationAccessType
// VIEW_APP or MODIFY_APP, and its ACL string).
type ACL struct {
	Type, ACL string
}

// AggregatedFile is one node's aggregated logs for one application.
type AggregatedFile struct {
	Version    int
	Owner      string
	ACLs       []ACL
	Containers []ContainerLogs
}

// ContainerLogs are the log files of one container, in file order.
type ContainerLogs struct {
	ContainerID string
	Files       []LogFile
}

// LogFile is one log file's name and contents.
type LogFile struct {
	Name string
	Data []byte
}

// Container finds the logs of container id; nil if the file has none.
func (a *AggregatedFile) Container(id string) *ContainerLogs {
	for i := range a.Containers {
		if a.Containers[i].ContainerID == id {
			return &a.Containers[i]
		}
	}
	return nil
}

// appendUTF appends s as java.io.DataOutputStream.writeUTF writes it:
// uint16 byte length, then modified UTF-8 (NUL as 0xc0 0x80, supplementary
// characters as two 3-byte surrogates).
func appendUTF(b []byte, s string) ([]byte, error) {
	var enc []byte
	for _, r := range s {
		switch {
		case r >= 1 && r <= 0x7f:
			enc = append(enc, byte(r))
		case r <= 0x7ff:
			enc = append(enc, byte(0xc0|r>>6), byte(0x80|r&0x3f))
		case r <= 0xffff:
			enc = append(enc, byte(0xe0|r>>12), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
		default:
			hi, lo := utf16.EncodeRune(r)
			for _, c := range []rune{hi, lo} {
				enc = append(enc, byte(0xe0|c>>12), byte(0x80|(c>>6)&0x3f), byte(0x80|c&0x3f))
			}
		}
	}
	if len(enc) > 65535 {
		return nil, fmt.Errorf("logs: string of %d encoded bytes is too long for writeUTF", len(enc))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
	return append(b, enc...), nil
}

// readUTF is java.io.DataInputStream.readUTF.
func readUTF(r *bytes.Reader) (string, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint16(l[:]))
	if n > r.Len() {
		return "", formatErr("string of %d bytes past the end", n)
	}
	b := make([]byte, n)
	_, _ = io.ReadFull(r, b)
	var u []uint16
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			u = append(u, uint16(c))
			i++
		case c&0xe0 == 0xc0 && i+1 < len(b):
			u = append(u, uint16(c&0x1f)<<6|uint16(b[i+1]&0x3f))
			i += 2
		case c&0xf0 == 0xe0 && i+2 < len(b):
			u = append(u, uint16(c&0x0f)<<12|uint16(b[i+1]&0x3f)<<6|uint16(b[i+2]&0x3f))
			i += 3
		default:
			return "", formatErr("malformed modified UTF-8")
		}
	}
	return string(utf16.Decode(u)), nil
}

// AggregatedWriter writes one node's aggregated log file for one
// application, as a NodeManager with yarn.log-aggregation-enable and the
// TFile controller writes it (LogAggregationTFileController.initializeWriter,
// then one LogWriter.append per container). Not safe for concurrent use.
type AggregatedWriter struct {
	t *TFileWriter
}

// NewAggregatedWriter starts the file on w with the version, the ACLs
// and the owner (the application user's short name).
func NewAggregatedWriter(w io.Writer, owner string, acls []ACL) (*AggregatedWriter, error) {
	t, err := NewTFileWriter(w)
	if err != nil {
		return nil, err
	}
	a := &AggregatedWriter{t: t}
	key := func(s string) []byte { k, _ := appendUTF(nil, s); return k }
	if err := t.Append(key(keyVersion), func(w io.Writer) error {
		_, err := w.Write(binary.BigEndian.AppendUint32(nil, FormatVersion))
		return err
	}); err != nil {
		return nil, err
	}
	if err := t.Append(key(keyACL), func(w io.Writer) error {
		for _, e := range acls {
			for _, s := range []string{e.Type, e.ACL} {
				b, err := appendUTF(nil, s)
				if err != nil {
					return err
				}
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	ob, err := appendUTF(nil, owner)
	if err != nil {
		return nil, err
	}
	if err := t.Append(key(keyOwner), func(w io.Writer) error { _, err := w.Write(ob); return err }); err != nil {
		return nil, err
	}
	return a, nil
}

// AppendContainerDir adds the container's record from its log directory
// (<log dir>/<app id>/<container id>): every regular file at its top
// level, in name order, each with the length it has when it is reached
// (LogValue.write). A directory without files adds nothing. It returns the
// names of the files written.
func (a *AggregatedWriter) AppendContainerDir(containerID, dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, nil
	}
	key, err := appendUTF(nil, containerID)
	if err != nil {
		return nil, err
	}
	var written []string
	err = a.t.Append(key, func(w io.Writer) error {
		buf := make([]byte, copyBufSize)
		for _, name := range names {
			ok, err := writeLogValue(w, filepath.Join(dir, name), name, buf)
			if err != nil {
				return err
			}
			if ok {
				written = append(written, name)
			}
		}
		return nil
	})
	return written, err
}

// writeLogValue is LogValue.write for one file: its name, its length when
// opened and that many bytes, read len(buf) at a time. A file that cannot
// be opened is skipped (false), as LogValue.write logs the failure and
// goes on.
func writeLogValue(w io.Writer, path, name string, buf []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, nil
	}
	length := st.Size()
	hdr, err := appendUTF(nil, name)
	if err != nil {
		return false, err
	}
	if _, err := w.Write(hdr); err != nil {
		return false, err
	}
	lb, _ := appendUTF(nil, strconv.FormatInt(length, 10))
	if _, err := w.Write(lb); err != nil {
		return false, err
	}
	left := length
	for left > 0 {
		n, rerr := f.Read(buf)
		if n > 0 {
			if int64(n) > left {
				n = int(left)
			}
			if _, err := w.Write(buf[:n]); err != nil {
				return false, err
			}
			left -= int64(n)
		}
		if rerr != nil {
			break
		}
	}
	if left > 0 {
		// The file shrank after its length was taken: pad so the record
		// stays readable (Java would write a short value).
		if _, err := w.Write(make([]byte, left)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Close finishes the file (it does not close the underlying writer).
func (a *AggregatedWriter) Close() error { return a.t.Close() }

// ReadAggregated decodes a whole aggregated log file. maxLog bounds the
// size of one container's logs it will hold.
func ReadAggregated(r io.ReaderAt, size, maxLog int64) (*AggregatedFile, error) {
	recs, err := ReadTFile(r, size, maxLog)
	if err != nil {
		return nil, err
	}
	a := &AggregatedFile{}
	for _, rec := range recs {
		key, err := readUTF(bytes.NewReader(rec.Key))
		if err != nil {
			return nil, formatErr("record key: %v", err)
		}
		v := bytes.NewReader(rec.Value)
		switch key {
		case keyVersion:
			if len(rec.Value) != 4 {
				return nil, formatErr("VERSION of %d bytes", len(rec.Value))
			}
			a.Version = int(int32(binary.BigEndian.Uint32(rec.Value)))
		case keyACL:
			for v.Len() > 0 {
				t, err := readUTF(v)
				if err != nil {
					return nil, formatErr("ACLs: %v", err)
				}
				acl, err := readUTF(v)
				if err != nil {
					return nil, formatErr("ACLs: %v", err)
				}
				a.ACLs = append(a.ACLs, ACL{t, acl})
			}
		case keyOwner:
			if a.Owner, err = readUTF(v); err != nil {
				return nil, formatErr("owner: %v", err)
			}
		default:
			c := ContainerLogs{ContainerID: key}
			for v.Len() > 0 {
				name, err := readUTF(v)
				if err != nil {
					return nil, formatErr("container %s: %v", key, err)
				}
				ls, err := readUTF(v)
				if err != nil {
					return nil, formatErr("container %s: %v", key, err)
				}
				n, err := strconv.ParseInt(ls, 10, 64)
				if err != nil || n < 0 || n > int64(v.Len()) {
					return nil, formatErr("container %s: log %s: length %q", key, name, ls)
				}
				off := int64(len(rec.Value)) - int64(v.Len())
				_, _ = v.Seek(n, io.SeekCurrent)
				// The record's value is this file's own: no second copy.
				c.Files = append(c.Files, LogFile{Name: name, Data: rec.Value[off : off+n : off+n]})
			}
			a.Containers = append(a.Containers, c)
		}
	}
	return a, nil
}
