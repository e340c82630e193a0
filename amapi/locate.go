package amapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spindle-yarn/spindle/yarn"
)

// Locator finds the current JobManager of an application: the RM's report
// names the current attempt's AM endpoint (OriginalTrackingURL: each
// attempt registers its own), whose DiscoveryPath names the JobManager.
// This is how TaskManagers adopted by a new attempt re-find their
// JobManager. It dials the RM on first use; Close closes that connection.
// A Locator is safe for concurrent use.
type Locator struct {
	// App is the application whose JobManager is wanted.
	App yarn.ApplicationID
	// RM returns a client of the ResourceManager (from the container's
	// Hadoop configuration); called once, on first use.
	RM func() (*yarn.RMClient, error)
	// Client asks the AM; nil means the zero Client.
	Client *Client
	// Timeout bounds one Locate; 0 means 10 s.
	Timeout time.Duration

	mu sync.Mutex
	rm *yarn.RMClient
}

// Locate returns the current JobManager's RPC address.
func (l *Locator) Locate(ctx context.Context) (string, error) {
	d := l.Timeout
	if d <= 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	l.mu.Lock()
	if l.rm == nil {
		if l.RM == nil {
			l.mu.Unlock()
			return "", errors.New("amapi: Locator has no ResourceManager client")
		}
		rm, err := l.RM()
		if err != nil {
			l.mu.Unlock()
			return "", err
		}
		l.rm = rm
	}
	rm := l.rm
	l.mu.Unlock()
	rep, err := rm.GetApplicationReport(ctx, l.App)
	if err != nil {
		return "", err
	}
	if rep.State.Terminal() {
		return "", fmt.Errorf("application %s is %s", l.App, rep.State)
	}
	u, err := AMURL(rep)
	if err != nil {
		return "", err
	}
	info, err := l.Client.JobManager(ctx, u)
	if err != nil {
		return "", err
	}
	if info.Address == "" {
		return "", errors.New("the AM has no JobManager yet")
	}
	return info.Address, nil
}

// Close closes the RM connection, if one was made. Idempotent.
func (l *Locator) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rm != nil {
		l.rm.Close()
		l.rm = nil
	}
}
