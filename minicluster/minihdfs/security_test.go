package minihdfs_test

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/spindle-yarn/spindle/internal/krbtest"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster/minihdfs"
	"github.com/spindle-yarn/spindle/proto/commonpb"
	"github.com/spindle-yarn/spindle/proto/hdfspb"
)

const nnProtocol = "org.apache.hadoop.hdfs.protocol.ClientProtocol"

// secureHDFS is a KDC with alice, rm/localhost and nn/localhost, and a
// secure mini HDFS whose NameNode is nn/localhost.
type secureHDFS struct {
	kdc                 *krbtest.KDC
	aliceKT, rmKT, nnKT string
	c                   *minihdfs.Cluster
	now                 atomic.Int64 // ms; the NameNode's clock
	logs                *testutil.Buffer
}

func startSecure(t *testing.T, qop string, mod func(*minihdfs.Security)) *secureHDFS {
	t.Helper()
	s := &secureHDFS{kdc: krbtest.Start(t), logs: &testutil.Buffer{}}
	s.aliceKT = s.kdc.AddPrincipal(t, "alice")
	s.rmKT = s.kdc.AddPrincipal(t, "rm/localhost")
	s.nnKT = s.kdc.AddPrincipal(t, "nn/localhost")
	s.now.Store(time.Now().UnixMilli())
	sec := &minihdfs.Security{Keytab: krbtest.LoadKeytab(t, s.nnKT), Principal: s.kdc.Principal("nn/localhost"), QOPs: []string{qop}}
	if mod != nil {
		mod(sec)
	}
	s.c = start(t, func(o *minihdfs.Options) {
		o.Security = sec
		o.Clock = func() time.Time { return time.UnixMilli(s.now.Load()) }
		o.Logger = zerolog.New(zerolog.MultiLevelWriter(s.logs, zerolog.NewTestWriter(t))).Level(zerolog.DebugLevel)
	})
	return s
}

func (s *secureHDFS) addr() string { return "localhost:" + portOf(s.c.NameNodeAddr()) }

func portOf(addr string) string { return addr[bytes.LastIndexByte([]byte(addr), ':')+1:] }

// dial connects as the keytab's principal over Kerberos.
func (s *secureHDFS) dial(t *testing.T, ctx context.Context, user, kt, qop string) (*ipc.Conn, error) {
	cl := s.kdc.KeytabClient(t, user, kt, s.kdc.Config(t))
	return s.dialClient(ctx, cl, qop)
}

func (s *secureHDFS) dialClient(ctx context.Context, cl *krb.Client, qop string) (*ipc.Conn, error) {
	mech := &ipc.KerberosMechanism{Client: cl, ServerPrincipal: "nn/_HOST@" + s.kdc.Realm, Host: "localhost", QOPs: []string{qop}}
	return ipc.Dial(ctx, ipc.Options{Addr: s.addr(), Protocol: nnProtocol, Mechanisms: []ipc.ClientMechanism{mech}})
}

func (s *secureHDFS) dialToken(ctx context.Context, tok *ipc.Token) (*ipc.Conn, error) {
	return ipc.Dial(ctx, ipc.Options{Addr: s.addr(), Protocol: nnProtocol, Mechanisms: []ipc.ClientMechanism{&ipc.TokenMechanism{Token: tok}}})
}

func getToken(t *testing.T, ctx context.Context, c *ipc.Conn, renewer string) *ipc.Token {
	t.Helper()
	var resp commonpb.GetDelegationTokenResponseProto
	require.NoError(t, c.Call(ctx, "getDelegationToken", &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String(renewer)}, &resp))
	require.NotNil(t, resp.Token)
	return ipc.TokenFromProto(resp.Token)
}

func fileInfo(ctx context.Context, c *ipc.Conn, p string) error {
	return c.Call(ctx, "getFileInfo", &hdfspb.GetFileInfoRequestProto{Src: proto.String(p)}, &hdfspb.GetFileInfoResponseProto{})
}

// A secure NameNode authenticates alice with Kerberos in each QOP, issues
// her an HDFS delegation token laid out as the real NameNode's (owner the
// full principal, renewer the short name), and accepts that token over
// TOKEN/DIGEST-MD5 with the same QOP. SIMPLE is refused.
func TestSecureNameNode(t *testing.T) {
	for _, qop := range []string{ipc.QOPAuth, ipc.QOPAuthInt, ipc.QOPAuthConf} {
		t.Run(qop, func(t *testing.T) {
			s := startSecure(t, qop, nil)
			ctx := testutil.Context(t, 20*time.Second)
			c, err := s.dial(t, ctx, "alice", s.aliceKT, qop)
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, ipc.MethodKerberos, c.AuthMethod())
			require.NoError(t, fileInfo(ctx, c, "/user/alice"))
			tok := getToken(t, ctx, c, "rm/localhost@"+s.kdc.Realm)
			require.Equal(t, ipc.KindHDFSDelegation, tok.Kind)
			require.Empty(t, tok.Service, "the NameNode leaves the service to the client")
			id, err := ipc.ParseDelegationTokenIdentifier(tok.Identifier)
			require.NoError(t, err)
			require.Equal(t, "alice@"+s.kdc.Realm, id.Owner)
			require.Equal(t, "rm", id.Renewer)
			require.Equal(t, int32(1), id.SequenceNumber)
			require.Equal(t, 7*24*time.Hour, time.Duration(id.MaxDate-id.IssueDate)*time.Millisecond)
			require.Equal(t, 1, s.c.DelegationTokens())

			tc, err := s.dialToken(ctx, tok)
			require.NoError(t, err)
			defer tc.Close()
			require.Equal(t, ipc.MethodToken, tc.AuthMethod())
			require.NoError(t, fileInfo(ctx, tc, "/user/alice"))
			// A token connection may not get more tokens.
			err = tc.Call(ctx, "getDelegationToken", &commonpb.GetDelegationTokenRequestProto{Renewer: proto.String("rm")}, &commonpb.GetDelegationTokenResponseProto{})
			require.ErrorContains(t, err, "Delegation Token can be issued only with kerberos or web authentication")

			sc, err := ipc.Dial(ctx, ipc.Options{Addr: s.addr(), Protocol: nnProtocol, User: "alice"})
			if err == nil {
				err = fileInfo(ctx, sc, "/")
				sc.Close()
			}
			require.ErrorContains(t, err, "SIMPLE authentication is not enabled")
		})
	}
}

// Delegation tokens expire without renewal, are renewed only by their
// renewer (over Kerberos), never past their maximum lifetime, and stop
// working once cancelled.
func TestSecureNameNodeTokenLifecycle(t *testing.T) {
	s := startSecure(t, ipc.QOPAuth, func(sec *minihdfs.Security) {
		sec.TokenRenewInterval = time.Hour
		sec.TokenMaxLifetime = 3 * time.Hour
	})
	ctx := testutil.Context(t, 20*time.Second)
	alice, err := s.dial(t, ctx, "alice", s.aliceKT, ipc.QOPAuth)
	require.NoError(t, err)
	defer alice.Close()
	rm, err := s.dial(t, ctx, "rm/localhost", s.rmKT, ipc.QOPAuth)
	require.NoError(t, err)
	defer rm.Close()
	tok := getToken(t, ctx, alice, "rm/localhost@"+s.kdc.Realm)
	renew := func(c *ipc.Conn) (int64, error) {
		var resp commonpb.RenewDelegationTokenResponseProto
		err := c.Call(ctx, "renewDelegationToken", &commonpb.RenewDelegationTokenRequestProto{Token: tok.Proto()}, &resp)
		return int64(resp.GetNewExpiryTime()), err
	}
	useToken := func() error {
		c, err := s.dialToken(ctx, tok)
		if err != nil {
			return err
		}
		defer c.Close()
		return fileInfo(ctx, c, "/")
	}
	require.NoError(t, useToken())

	_, err = renew(alice)
	require.ErrorContains(t, err, "alice tries to renew a token (HDFS_DELEGATION_TOKEN token 1 for alice with renewer rm) with non-matching renewer rm")

	s.now.Add((50 * time.Minute).Milliseconds())
	exp, err := renew(rm)
	require.NoError(t, err)
	require.Equal(t, s.now.Load()+time.Hour.Milliseconds(), exp)

	s.now.Add((50 * time.Minute).Milliseconds()) // 100 min after issue: alive only thanks to the renewal
	require.NoError(t, useToken())

	s.now.Add((61 * time.Minute).Milliseconds())
	err = useToken()
	require.ErrorContains(t, err, "token (HDFS_DELEGATION_TOKEN token 1 for alice with renewer rm) is expired")
	var re *ipc.RemoteError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ipc.ClassInvalidToken, re.Class)

	s.now.Add(time.Hour.Milliseconds()) // past the maximum lifetime
	_, err = renew(rm)
	require.ErrorContains(t, err, "rm tried to renew an expired token (HDFS_DELEGATION_TOKEN token 1 for alice with renewer rm) max expiration date")

	tok2 := getToken(t, ctx, alice, "rm")
	require.NoError(t, alice.Call(ctx, "cancelDelegationToken", &commonpb.CancelDelegationTokenRequestProto{Token: tok2.Proto()}, &commonpb.CancelDelegationTokenResponseProto{}))
	tok = tok2
	require.ErrorContains(t, useToken(), "can't be found in cache")
}

// colinmarc/hdfs, which staging uses, works against the secure NameNode
// with Kerberos (QOP authentication; it wraps no requests, so it cannot
// speak integrity or privacy to Spindle's strict ipc server).
func TestSecureNameNodeColinmarc(t *testing.T) {
	s := startSecure(t, ipc.QOPAuth, nil)
	cl := s.kdc.KeytabClient(t, "alice", s.aliceKT, s.kdc.Config(t))
	c, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: []string{s.addr()}, KerberosClient: mustLogin(t, cl),
		KerberosServicePrincipleName: "nn/_HOST"})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.MkdirAll("/user/alice/k", 0o755))
	w, err := c.Create("/user/alice/k/f")
	require.NoError(t, err)
	_, err = w.Write([]byte("hello kerberos"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	got, err := c.ReadFile("/user/alice/k/f")
	require.NoError(t, err)
	require.Equal(t, "hello kerberos", string(got))
	fi, err := c.Stat("/user/alice/k/f")
	require.NoError(t, err)
	require.Equal(t, "alice", fi.(*hdfs.FileInfo).Owner())

	// Without Kerberos colinmarc speaks SIMPLE, which is refused (the
	// FATAL reply has call id -1, which colinmarc reports as a sequence
	// number error).
	_, err = client(t, s.c, "alice").Stat("/")
	require.Error(t, err)

	krbtest.AssertNoSecrets(t, s.logs.String(), krbtest.KeytabSecrets(t, s.aliceKT, s.nnKT)...)
}

func mustLogin(t *testing.T, cl *krb.Client) *krb.Client {
	t.Helper()
	require.NoError(t, cl.Login())
	return cl
}
