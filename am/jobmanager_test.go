package am

import (
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
)

// TestJobManagerHasItsOwnProcessGroup: the NodeManager stops a container
// by signalling its process group; the JobManager is outside it, so only
// the AM's own stop reaches it (no guessing whether an exit was the
// JobManager's verdict or the container's SIGTERM), and it still ends
// with the AM's stop.
func TestJobManagerHasItsOwnProcessGroup(t *testing.T) {
	dir := t.TempDir()
	jm, err := newJobManager(amapi.ProcessSpec{Command: []string{"sh", "-c", "sleep 60"}}, []string{"PATH=/usr/bin:/bin"}, nil, dir, dir,
		"127.0.0.1", zerolog.New(zerolog.NewTestWriter(t)))
	require.NoError(t, err)
	exited, err := jm.start()
	require.NoError(t, err)
	pid := jm.pid()
	pgid, err := syscall.Getpgid(pid)
	require.NoError(t, err)
	require.Equal(t, pid, pgid, "the JobManager leads a process group of its own")
	require.NotEqual(t, syscall.Getpgrp(), pgid, "not the AM's")
	jm.stop(5 * time.Second)
	e := <-exited
	require.Equal(t, 128+int(syscall.SIGTERM), e.Code, "stopped by the AM's SIGTERM to its group")
}
