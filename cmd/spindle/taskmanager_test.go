package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/flink"
)

// The TaskManager launchers' wiring (flink.SuperviseTaskManager's and
// example.RunTaskManager's Locate; their supervision is tested in their
// packages): the locator looks for the container's own application
// ($SPINDLE_APP_ID), and java's end is the command's exit code.
func TestTaskManagerWiring(t *testing.T) {
	e := &environment{}
	l, err := e.jobManagerLocator("application_1700000000000_0009")
	require.NoError(t, err)
	require.Equal(t, "application_1700000000000_0009", l.App.String())
	l, err = e.jobManagerLocator("")
	require.NoError(t, err)
	require.Nil(t, l)
	_, err = e.jobManagerLocator("app_9")
	require.Equal(t, exitUsage, exitCode(err))
	require.ErrorContains(t, err, "$SPINDLE_APP_ID: ")

	require.Equal(t, 7, exitCode(&flink.ExitError{Code: 7}))
	require.Equal(t, 143, exitCode(fmt.Errorf("taskmanager: %w", &flink.ExitError{Code: 143})))
}
