package session

import (
	"context"
	"time"

	"github.com/spindle-yarn/spindle/launch"
	"github.com/spindle-yarn/spindle/yarn"
)

// Ready reports whether s is a session whose fleet is complete: running,
// its AM answering, every TaskManager of the target running.
func (s Status) Ready() bool {
	return s.State == yarn.StateRunning.String() && s.AMURL != "" && s.AMError == "" && s.TaskManagersRunning >= s.TaskManagersTarget
}

// WaitReady polls the session's status every interval (0 means
// launch.DefaultPollInterval) until its fleet is complete (Ready) or the
// application has ended, and returns the last status; or ctx's error,
// with the last status read.
func WaitReady(ctx context.Context, c Clients, id yarn.ApplicationID, interval time.Duration) (Status, error) {
	if interval <= 0 {
		interval = launch.DefaultPollInterval
	}
	t := time.NewTimer(0)
	defer t.Stop()
	var last Status
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-t.C:
		}
		s, err := GetStatus(ctx, c, id)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		last = s
		if s.Ready() || isEnded(s.State) {
			return s, nil
		}
		t.Reset(interval)
	}
}

func isEnded(state string) bool {
	st, err := yarn.ParseAppState(state)
	return err == nil && st.Terminal()
}
