package ipc_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/ipc"
)

// allocBytes returns the bytes fn allocates (the lower of two runs, so that
// a background allocation does not count).
func allocBytes(fn func()) uint64 {
	var least uint64 = 1<<64 - 1
	for range 2 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// splitAllocLimit bounds what SplitDelimited may allocate for any input: its
// parts point into the input, so only the slice of at most
// MaxDelimitedParts headers is new.
const splitAllocLimit = 1 << 10

// Every zero byte is an empty delimited part: a frame of zeros used to
// become as many parts (a 16 MiB frame allocated 2.2 GiB). Hadoop's frames
// have at most three parts; more is refused with ErrTooManyParts without
// allocating in proportion to the frame.
func TestSplitDelimitedBoundsParts(t *testing.T) {
	for _, n := range []int{256 << 10, 4 << 10, ipc.MaxDelimitedParts + 1} {
		b := make([]byte, n)
		var err error
		got := allocBytes(func() { _, err = ipc.SplitDelimited(b) })
		require.LessOrEqual(t, got, uint64(splitAllocLimit), "SplitDelimited allocated %d bytes for %d zero bytes", got, n)
		require.ErrorIs(t, err, ipc.ErrTooManyParts, "%d zero bytes", n)
		require.ErrorIs(t, err, ipc.ErrMalformed)

		// The decoders above it refuse the frame the same way.
		_, err = ipc.ParseResponse(b)
		require.ErrorIs(t, err, ipc.ErrTooManyParts)
		_, err = ipc.ParseRequest(b)
		require.ErrorIs(t, err, ipc.ErrTooManyParts)
	}
	parts, err := ipc.SplitDelimited(make([]byte, ipc.MaxDelimitedParts))
	require.NoError(t, err)
	require.Len(t, parts, ipc.MaxDelimitedParts)
}

// FuzzSplitDelimited: any frame payload splits into parts that survive a
// round trip, or is refused; either
// way SplitDelimited allocates at most splitAllocLimit bytes.
func FuzzSplitDelimited(f *testing.F) {
	seedFrames(f, true)
	seedFrames(f, false)
	f.Add(make([]byte, 4096))
	f.Add(bytes.Repeat([]byte{1, 0xff}, 2048))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var parts [][]byte
		var err error
		if got := allocBytes(func() { parts, err = ipc.SplitDelimited(b) }); got > splitAllocLimit {
			t.Fatalf("SplitDelimited allocated %d bytes for %d input bytes (limit %d)", got, len(b), splitAllocLimit)
		}
		if err != nil {
			return
		}
		if len(parts) > ipc.MaxDelimitedParts {
			t.Fatalf("%d parts, limit %d", len(parts), ipc.MaxDelimitedParts)
		}
		var enc []byte
		for _, p := range parts {
			enc = appendDelim(enc, p)
		}
		// Overlong varints (80 00 for 0) are accepted, as Java's
		// CodedInputStream does, so compare parts, not bytes.
		again, err := ipc.SplitDelimited(enc)
		if err != nil || len(again) != len(parts) {
			t.Fatalf("re-encoded parts do not split the same: %v", err)
		}
		for i := range parts {
			if !bytes.Equal(again[i], parts[i]) {
				t.Fatalf("part %d changed in a round trip", i)
			}
		}
	})
}
