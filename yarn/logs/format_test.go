package logs

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var fixtureInputs = flag.String("fixture-inputs", "", "write the container log dirs the Hadoop 3.1.3 fixture was made from into this directory, and exit")

const (
	fixtureApp = "application_1700000000000_0007"
	fixtureC1  = "container_1700000000000_0007_01_000001"
	fixtureC2  = "container_1700000000000_0007_01_000002"
	fixtureC3  = "container_e03_1700000000000_0007_01_000003"
)

// fixtureLogs are the containers' log files the fixture holds: an empty
// file, a non-ASCII name, and a 1.3 MB file that crosses the writer's
// 64 KiB reads, the 256 KiB block size and the 1 MiB chunk buffer.
func fixtureLogs() map[string]map[string][]byte {
	var big bytes.Buffer
	for i := 0; big.Len() < 1_300_000; i++ {
		fmt.Fprintf(&big, "%04d INFO taskmanager: processed record batch %d of the word count\n", i%100, i%100)
	}
	return map[string]map[string][]byte{
		fixtureC1: {
			"stdout":           []byte("JobManager started\nlistening on 127.0.0.1:6123\n"),
			"stderr":           {},
			"jobmanager-ü.log": []byte("2024-01-01 00:00:00 INFO unicode name ✓\n"),
			"prelaunch.out":    []byte("Setting up env variables\nSetting up job resources\nLaunching container\n"),
		},
		fixtureC2: {"taskmanager.log": big.Bytes(), "stdout": []byte("tm 2\n")},
		fixtureC3: {"stdout": []byte("third container, with an RM epoch in its id\n")},
	}
}

func writeFixtureInputs(t testing.TB, root string) {
	for c, files := range fixtureLogs() {
		d := filepath.Join(root, fixtureApp, c)
		require.NoError(t, os.MkdirAll(d, 0o755))
		for n, b := range files {
			require.NoError(t, os.WriteFile(filepath.Join(d, n), b, 0o644))
		}
	}
}

func TestWriteFixtureInputs(t *testing.T) {
	if *fixtureInputs == "" {
		t.Skip("only with -fixture-inputs DIR (see testdata/README.md)")
	}
	writeFixtureInputs(t, *fixtureInputs)
}

// hadoopFixture is the aggregated file Hadoop 3.1.3's own LogWriter wrote
// from fixtureLogs (testdata/README.md says how).
func hadoopFixture(t testing.TB) []byte {
	f, err := os.Open("testdata/hadoop-3.1.3-aggregated.tfile.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	b, err := io.ReadAll(zr)
	require.NoError(t, err)
	return b
}

// TestReadHadoopAggregated decodes the file Hadoop wrote: every container
// and every file, byte for byte what the container wrote.
func TestReadHadoopAggregated(t *testing.T) {
	b := hadoopFixture(t)
	a, err := ReadAggregated(bytes.NewReader(b), int64(len(b)), 64<<20)
	require.NoError(t, err)
	require.Equal(t, 1, a.Version)
	require.Equal(t, "alice", a.Owner)
	require.Equal(t, []ACL{{"VIEW_APP", "alice,bob ops"}, {"MODIFY_APP", "alice"}}, a.ACLs)
	want := fixtureLogs()
	require.Len(t, a.Containers, len(want))
	for _, c := range a.Containers {
		files := want[c.ContainerID]
		require.NotNil(t, files, c.ContainerID)
		require.Len(t, c.Files, len(files))
		for i, f := range c.Files {
			require.Equal(t, files[f.Name], f.Data, "%s %s", c.ContainerID, f.Name)
			if i > 0 {
				require.Less(t, c.Files[i-1].Name, f.Name, "files in name order")
			}
		}
	}
}

// writeOurs writes the fixture's containers with AggregatedWriter.
func writeOurs(t testing.TB, root string) []byte {
	var out bytes.Buffer
	w, err := NewAggregatedWriter(&out, "alice", []ACL{{"VIEW_APP", "alice,bob ops"}, {"MODIFY_APP", "alice"}})
	require.NoError(t, err)
	for _, c := range []string{fixtureC1, fixtureC2, fixtureC3} {
		_, err := w.AppendContainerDir(c, filepath.Join(root, fixtureApp, c))
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return out.Bytes()
}

// TestWriteMatchesHadoop writes the same containers with our writer: the
// file is byte-identical to the one Hadoop 3.1.3 wrote.
func TestWriteMatchesHadoop(t *testing.T) {
	root := t.TempDir()
	writeFixtureInputs(t, root)
	ours := writeOurs(t, root)
	theirs := hadoopFixture(t)
	require.Equal(t, len(theirs), len(ours))
	require.True(t, bytes.Equal(theirs, ours), "our aggregated file differs from Hadoop 3.1.3's")
}

func TestVLongRoundTrip(t *testing.T) {
	for _, n := range []int64{0, 1, -1, -32, -33, 127, 128, -129, 1 << 12, -(1 << 12), 20 << 8, 1 << 19, 1 << 20, -(1 << 20),
		1 << 27, 1<<31 - 1, -(1 << 31), 1 << 35, 1 << 47, 1<<63 - 1, -1 << 63} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var b bytes.Buffer
			writeVLong(&b, n)
			got, err := readVLong(bytes.NewReader(b.Bytes()))
			require.NoError(t, err)
			require.Equal(t, n, got)
		})
	}
}

func TestUTFModified(t *testing.T) {
	for _, s := range []string{"", "abc", "ü✓", "nul\x00x", "emoji 😀"} {
		b, err := appendUTF(nil, s)
		require.NoError(t, err)
		got, err := readUTF(bytes.NewReader(b))
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	b, _ := appendUTF(nil, "\x00")
	require.Equal(t, []byte{0, 2, 0xc0, 0x80}, b, "NUL as Java's modified UTF-8")
}

func TestReadRejectsCorrupt(t *testing.T) {
	b := hadoopFixture(t)
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-5] }},
		{"bad magic", func(b []byte) []byte { c := append([]byte{}, b...); c[len(c)-1] ^= 1; return c }},
		{"short", func(b []byte) []byte { return b[:20] }},
		{"meta offset", func(b []byte) []byte { c := append([]byte{}, b...); c[len(c)-28] = 0x7f; return c }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.mut(b)
			_, err := ReadAggregated(bytes.NewReader(c), int64(len(c)), 64<<20)
			require.Error(t, err)
		})
	}
}

func FuzzReadAggregated(f *testing.F) {
	root := f.TempDir()
	var small bytes.Buffer
	w, err := NewAggregatedWriter(&small, "u", nil)
	require.NoError(f, err)
	d := filepath.Join(root, "c")
	require.NoError(f, os.MkdirAll(d, 0o755))
	require.NoError(f, os.WriteFile(filepath.Join(d, "stdout"), []byte("hi\n"), 0o644))
	_, err = w.AppendContainerDir("container_1_0001_01_000001", d)
	require.NoError(f, err)
	require.NoError(f, w.Close())
	f.Add(small.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadAggregated(bytes.NewReader(b), int64(len(b)), 1<<20)
		if err == nil {
			require.NotNil(t, a)
		}
	})
}
