package minicluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	colinmarc "github.com/colinmarc/hdfs/v2"
	krb "github.com/jcmturner/gokrb5/v8/client"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
	"github.com/spindle-yarn/spindle/yarn"
)

// HDFS localizes hdfs:// resources for the NodeManagers (plug it into
// NMOptions.FileSystems["hdfs"]). A real NodeManager's localizer reads as
// the application's user with the application's delegation tokens; the
// mini cluster reads as an HDFS superuser, so that PRIVATE and APPLICATION
// files (0600) localize too, colinmarc/hdfs being unable to authenticate
// with a token:
//
//   - insecure HDFS: as User over SIMPLE;
//   - secure HDFS (KerberosClient set): it first does what the real
//     localizer does with the container's credentials (see
//     ContainerCredentials): it picks the HDFS_DELEGATION_TOKEN whose
//     service names the NameNode (ip:port, or ha-hdfs:<nameservice>),
//     authenticates with it over TOKEN/DIGEST-MD5 and stats the file, so an
//     application without a valid token fails to localize as on a real
//     cluster; then it reads with KerberosClient, the NodeManager's login.
type HDFS struct {
	// User is the HDFS user to read as over SIMPLE; it should be the mini
	// HDFS's superuser.
	User string
	// KerberosClient is the NodeManager's Kerberos login to a secure HDFS;
	// its principal's short name must be an HDFS superuser (a member of
	// the supergroup). Nil means an insecure HDFS.
	KerberosClient *krb.Client
	// KerberosServicePrincipal is the NameNode's principal pattern without
	// realm, e.g. "nn/_HOST" (dfs.namenode.kerberos.principal).
	KerberosServicePrincipal string
}

var _ FileSystem = HDFS{}

type credsKey struct{}

// withCredentials gives a localization the container's credentials.
func withCredentials(ctx context.Context, c *ipc.Credentials) context.Context {
	return context.WithValue(ctx, credsKey{}, c)
}

// ContainerCredentials returns the credentials (the launch context's
// tokens) of the container a FileSystem call localizes for, or nil.
func ContainerCredentials(ctx context.Context) *ipc.Credentials {
	c, _ := ctx.Value(credsKey{}).(*ipc.Credentials)
	return c
}

func nameNodeAddr(u yarn.URL) (string, error) {
	if u.Host == "" {
		return "", fmt.Errorf("minicluster: %s has no NameNode host", u)
	}
	port := int(u.Port)
	if port < 0 {
		port = 8020
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(port)), nil
}

func (h HDFS) client(ctx context.Context, u yarn.URL) (*colinmarc.Client, error) {
	addr, err := nameNodeAddr(u)
	if err != nil {
		return nil, err
	}
	if h.KerberosClient == nil {
		return colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{addr}, User: h.User})
	}
	if err := checkDelegationToken(ctx, addr, u); err != nil {
		return nil, err
	}
	return colinmarc.NewClient(colinmarc.ClientOptions{Addresses: []string{addr}, KerberosClient: h.KerberosClient,
		KerberosServicePrincipleName: h.KerberosServicePrincipal})
}

// checkDelegationToken authenticates to the NameNode at addr with the
// container's HDFS delegation token for it and stats u's file, as the
// ContainerLocalizer does first.
func checkDelegationToken(ctx context.Context, addr string, u yarn.URL) error {
	var tok *ipc.Token
	if creds := ContainerCredentials(ctx); creds != nil {
		want := map[string]bool{"ha-hdfs:" + u.Host: u.Port < 0, addr: true}
		if id, err := yarn.ParseNodeID(addr); err == nil {
			want[tokenService(id)] = true
		}
		for _, t := range creds.Tokens() {
			if t.Kind == ipc.KindHDFSDelegation && want[t.Service] {
				tok = t
				break
			}
		}
	}
	if tok == nil {
		return &localizationError{javaClass: ipc.ClassAccessControl, msg: "Client cannot authenticate via:[TOKEN, KERBEROS]"}
	}
	err := StatWithToken(ctx, addr, tok, u.File)
	var re *ipc.RemoteError
	if errors.As(err, &re) {
		return &localizationError{javaClass: re.Class, msg: re.Message}
	}
	return err
}

// StatWithToken authenticates to the NameNode at addr with the HDFS
// delegation token tok over TOKEN (DIGEST-MD5) and stats path, as a
// localizer or a task using the token does: nil while the token lives.
func StatWithToken(ctx context.Context, addr string, tok *ipc.Token, path string) error {
	c, err := ipc.Dial(ctx, ipc.Options{Addr: addr, Peer: ipc.PeerNameNode, Protocol: yarn.ProtocolNameNode, Mechanisms: []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok}}})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Call(ctx, "getFileInfo", &hdfspb.GetFileInfoRequestProto{Src: proto.String(path)}, &hdfspb.GetFileInfoResponseProto{})
}

// Stat returns the file's size and the modification time the NameNode reports.
func (h HDFS) Stat(ctx context.Context, u yarn.URL) (FileStatus, error) {
	c, err := h.client(ctx, u)
	if err != nil {
		return FileStatus{}, err
	}
	defer c.Close()
	fi, err := c.Stat(u.File)
	if err != nil {
		return FileStatus{}, err // wraps fs.ErrNotExist for a missing file
	}
	return FileStatus{Size: fi.Size(), ModTime: fi.ModTime(), IsDir: fi.IsDir()}, nil
}

// Open reads the file; closing the reader closes the client.
func (h HDFS) Open(ctx context.Context, u yarn.URL) (io.ReadCloser, error) {
	c, err := h.client(ctx, u)
	if err != nil {
		return nil, err
	}
	r, err := c.Open(u.File)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &hdfsReader{r: r, c: c}, nil
}

type hdfsReader struct {
	r *colinmarc.FileReader
	c *colinmarc.Client
}

func (h *hdfsReader) Read(p []byte) (int, error) { return h.r.Read(p) }

func (h *hdfsReader) Close() error { return errors.Join(h.r.Close(), h.c.Close()) }
