package minicluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/rs/zerolog"
)

// Options configures a Cluster: one ResourceManager and Nodes
// NodeManagers on loopback. The zero value is a one-node cluster in a
// temporary directory with YARN's defaults.
type Options struct {
	// Dir holds the NodeManagers' directories (Dir/nm-<i>). "" makes a
	// temporary directory. Close removes what the cluster created in it.
	Dir string
	// Nodes is the number of NodeManagers; 0 means 1.
	Nodes int
	// NodeHosts are the nodes' host names, one per node. Nil gives node i
	// the loopback address 127.0.0.<i+1> (distinct hosts, so node-local
	// requests and blacklists can tell them apart), or "localhost" where
	// such addresses cannot be bound.
	NodeHosts []string
	// RM configures the ResourceManager; its Logger defaults to Logger.
	RM RMOptions
	// NodeManager is the template for every node; RM, Dir, Host and Port
	// are set per node, and its Logger defaults to Logger.
	NodeManager NMOptions
	// WebProxy serves the ResourceManager's web proxy (see WebProxy) on
	// RM.WebAddress ("" is localhost:8088; port 0 picks a free port), so
	// that the tracking URLs the RM reports work; RM.WebAddress becomes
	// the address bound. With WebFallback, a port in use gives way to a
	// free one.
	WebProxy, WebFallback bool
	// Logger receives lifecycle logs; the zero value logs nothing.
	Logger zerolog.Logger
}

// Cluster is a ResourceManager and its NodeManagers in this process. It
// is safe for concurrent use; Close it when done.
type Cluster struct {
	dir     string
	tempDir bool
	created []string
	rm      *ResourceManager
	nms     []*NodeManager
	web     *WebProxy // nil without Options.WebProxy

	closeOnce sync.Once
	closeErr  error
}

// New starts a cluster and waits until every node has registered.
func New(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.NodeHosts != nil && len(opts.NodeHosts) != opts.Nodes {
		return nil, fmt.Errorf("minicluster: %d node hosts for %d nodes", len(opts.NodeHosts), opts.Nodes)
	}
	c := &Cluster{dir: opts.Dir}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "minicluster-")
		if err != nil {
			return nil, err
		}
		c.dir, c.tempDir = d, true
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	if isNop(opts.RM.Logger) {
		opts.RM.Logger = opts.Logger
	}
	var webLn net.Listener
	if opts.WebProxy {
		var err error
		if webLn, opts.RM.WebAddress, _, err = listenWeb(opts.RM.WebAddress, opts.WebFallback); err != nil {
			c.removeDirs()
			return nil, err
		}
	}
	rm, err := NewResourceManager(ctx, opts.RM)
	if err != nil {
		if webLn != nil {
			webLn.Close()
		}
		c.removeDirs()
		return nil, err
	}
	c.rm = rm
	if webLn != nil {
		// Cannot fail: both are set.
		c.web, _ = NewWebProxy(WebProxyOptions{Listener: webLn, Reports: rm.ApplicationReport, WebAddress: opts.RM.WebAddress, Logger: opts.Logger})
	}
	for i := 0; i < opts.Nodes; i++ {
		o := opts.NodeManager
		o.RM, o.Port = rm, 0
		if isNop(o.Logger) {
			o.Logger = opts.Logger
		}
		if opts.NodeHosts != nil {
			o.Host = opts.NodeHosts[i]
		} else {
			o.Host = defaultNodeHost(i)
		}
		o.Dir = filepath.Join(c.dir, fmt.Sprintf("nm-%d", i))
		c.created = append(c.created, o.Dir)
		nm, err := NewNodeManager(ctx, o)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nms = append(c.nms, nm)
	}
	return c, nil
}

// isNop reports whether l logs nothing (the zero value or zerolog.Nop).
func isNop(l zerolog.Logger) bool {
	e := l.Error()
	if e == nil {
		return true
	}
	e.Discard()
	return false
}

// defaultNodeHost is 127.0.0.<i+1> if it can be bound, else localhost.
func defaultNodeHost(i int) string {
	if i > 253 {
		return "localhost"
	}
	h := fmt.Sprintf("127.0.0.%d", i+1)
	l, err := net.Listen("tcp", net.JoinHostPort(h, "0"))
	if err != nil {
		return "localhost"
	}
	l.Close()
	return h
}

// RM is the cluster's ResourceManager.
func (c *Cluster) RM() *ResourceManager { return c.rm }

// NodeManagers are the cluster's nodes, in creation order.
func (c *Cluster) NodeManagers() []*NodeManager { return append([]*NodeManager(nil), c.nms...) }

// NodeManager is node i.
func (c *Cluster) NodeManager(i int) *NodeManager { return c.nms[i] }

// WebProxy is the ResourceManager's web proxy, nil unless Options.WebProxy.
func (c *Cluster) WebProxy() *WebProxy { return c.web }

// Dir is the cluster's directory.
func (c *Cluster) Dir() string { return c.dir }

// Close stops every node (killing their containers) and the RM, and
// removes the directories the cluster created. Idempotent.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		errs := make([]error, len(c.nms), len(c.nms)+2)
		var wg sync.WaitGroup
		for i, nm := range c.nms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = nm.Close()
			}()
		}
		wg.Wait()
		if c.web != nil {
			errs = append(errs, c.web.Close())
		}
		if c.rm != nil {
			errs = append(errs, c.rm.Close())
		}
		errs = append(errs, c.removeDirs())
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

func (c *Cluster) removeDirs() error {
	if c.tempDir {
		return os.RemoveAll(c.dir)
	}
	var errs []error
	for _, d := range c.created {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
}
