package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/spindle-yarn/spindle/amapi"
	"github.com/spindle-yarn/spindle/internal/testutil"
	"github.com/spindle-yarn/spindle/ipc"
	"github.com/spindle-yarn/spindle/minicluster"
	"github.com/spindle-yarn/spindle/yarn"
)

// jmTaskManagers lists the TaskManager ids a JobManager's REST endpoint
// knows: the example JobManager's array or the stand-in Flink's object.
func jmTaskManagers(rest string) []string {
	resp, err := http.Get("http://" + rest + "/taskmanagers")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	type tm struct{ ID string }
	var list []tm
	if json.Unmarshal(b, &list) != nil {
		var obj struct{ TaskManagers []tm }
		if json.Unmarshal(b, &obj) != nil {
			return nil
		}
		list = obj.TaskManagers
	}
	var ids []string
	for _, t := range list {
		ids = append(ids, t.ID)
	}
	return ids
}

// secretCatcher listens where a dead AM listened and keeps every byte
// anyone sends there.
type secretCatcher struct {
	ln   net.Listener
	mu   sync.Mutex
	got  bytes.Buffer
	conn int
	wg   sync.WaitGroup
}

func catchAt(t *testing.T, addr string) *secretCatcher {
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "bind the dead AM's address %s", addr)
	c := &secretCatcher{ln: ln}
	c.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conn++
			c.mu.Unlock()
			c.wg.Go(func() {
				defer conn.Close()
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, _ := io.ReadAll(io.LimitReader(conn, 1<<16))
				c.mu.Lock()
				c.got.Write(b)
				c.mu.Unlock()
			})
		}
	})
	t.Cleanup(c.close)
	return c
}

func (c *secretCatcher) close() { c.ln.Close(); c.wg.Wait() }

func (c *secretCatcher) bytes() ([]byte, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.got.Bytes()), c.conn
}

// containerEnvirons reads the environment of every process of a
// container (its process group), as the kernel holds it.
func containerEnvirons(pgid int) []string {
	var out []string
	if pgid <= 0 {
		return nil
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err != nil || g != pgid {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ")); err == nil {
			out = append(out, strings.Split(string(b), "\x00")...)
		}
	}
	return out
}

// TestKerberosAMFailure: a session on a secure mini cluster (real MIT KDC,
// each QOP, with and without --ship-keytab, the example payload and the
// stand-in Flink distribution) survives the SIGKILL of its AM: attempt 2
// adopts both TaskManagers, which find the new JobManager through the RM
// with the application's RM delegation token (their containers have no
// Kerberos login: the test checks that they see none of this process's
// ticket cache or keytab), a word count runs through the session, the
// adopted TaskManagers' credential followers take the new attempt's
// credentials, and nothing that listens on the dead AM's address gets a
// secret. The session stops gracefully and attempt 2 removes the staging
// directory, with the shipped keytab or with the HDFS delegation token.
func TestKerberosAMFailure(t *testing.T) {
	bin := spindleBinary(t)
	s := newSecureRealm(t)
	nnKT, nmKT := s.kdc.AddPrincipal(t, "nn/localhost"), s.kdc.AddPrincipal(t, "nm/localhost")
	// This process's own Kerberos environment, which no container may see.
	myCache := s.kdc.Kinit(t, "alice", s.aliceKT, "1h")
	t.Setenv("KRB5CCNAME", "FILE:"+myCache)
	t.Setenv("KRB5_CLIENT_KTNAME", s.aliceKT)
	java := fakeJavaHome(t)
	home200, _ := filepath.Abs(flinkHome200)
	var reconnect []string
	for _, protection := range []string{"authentication", "integrity", "privacy"} {
		for _, ship := range []bool{false, true} {
			for _, payload := range []string{"example", "flink"} {
				name := fmt.Sprintf("%s/%s/%s", protection, map[bool]string{true: "ship-keytab", false: "tokens-only"}[ship], payload)
				t.Run(name, func(t *testing.T) {
					took := amFailover(t, s, bin, protection, ship, payload, nnKT, nmKT, myCache, java, home200)
					reconnect = append(reconnect, fmt.Sprintf("%s %v", name, took.Round(time.Millisecond)))
				})
			}
		}
	}
	t.Logf("AM SIGKILL → adopted TaskManagers registered with the new JobManager:\n  %s", strings.Join(reconnect, "\n  "))
}

func amFailover(t *testing.T, s *secureRealm, bin, protection string, ship bool, payload, nnKT, nmKT, myCache, java, home200 string) time.Duration {
	ctx := testutil.Context(t, 2*time.Minute)
	sc := s.cluster(t, ctx, protection, nnKT, nmKT, nil)
	words, cli := s.secureCLI(t, ctx, sc, bin, "attempts come and go\n", 100, nil)
	status := func() map[string]any {
		code, out, errOut := cli("session", "status", "-o", "json")
		require.Equal(t, 0, code, errOut)
		var st map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &st))
		return st
	}
	start := []string{"session", "start", "-d", "-n", "2", "-o", "json"}
	if payload == "example" {
		start = append(start, "-jm", "256m", "-tm", "256m", "-t", words)
	} else {
		start = append(start, "-jm", "1024m", "-tm", "1024m", "--payload", "flink", "--flink-home", home200,
			"-D", "containerized.master.env.JAVA_HOME="+java, "-D", "containerized.taskmanager.env.JAVA_HOME="+java)
	}
	if ship {
		start = append(start, "--ship-keytab")
	}
	code, out, errOut := cli(start...)
	require.Equal(t, 0, code, errOut)
	evs := events(t, out)
	require.Equal(t, []string{"submitted", "accepted", "running"}, names(evs))
	id, err := yarn.ParseApplicationID(evs[0]["app_id"].(string))
	require.NoError(t, err)
	rest1, amURL1 := evs[2]["jobmanager_rest_address"].(string), evs[2]["am_url"].(string)
	var st map[string]any
	testutil.Eventually(t, func() bool { st = status(); return st["taskmanagers_running"] == float64(2) }, time.Minute, 100*time.Millisecond)
	tms := toStrings(st["taskmanagers"])
	require.Len(t, tms, 2)
	testutil.Eventually(t, func() bool { return len(jmTaskManagers(rest1)) == 2 }, time.Minute, 50*time.Millisecond, "both TaskManagers registered")

	nm := sc.c.NodeManager(0)
	var tmInfos []struct{ work, log string }
	for _, tm := range tms {
		cid, err := yarn.ParseContainerID(tm)
		require.NoError(t, err)
		info, ok := nm.Container(cid)
		require.True(t, ok)
		tmInfos = append(tmInfos, struct{ work, log string }{info.WorkDir, info.LogDir})
		tmLog := filepath.Join(info.LogDir, "taskmanager.err")
		t.Cleanup(func() {
			if t.Failed() {
				b, _ := os.ReadFile(tmLog)
				t.Logf("==== %s\n%s", tmLog, b)
			}
		})
		// The container is as on a real secure cluster: no ticket cache,
		// no keytab, no KRB5CCNAME of this process.
		var environ []string
		testutil.Eventually(t, func() bool {
			info, _ = nm.Container(cid)
			environ = containerEnvirons(info.PID)
			return strings.Contains(strings.Join(environ, "\n"), amapi.EnvResourceID+"=")
		}, 30*time.Second, 20*time.Millisecond, "the TaskManager process runs")
		for _, kv := range environ {
			require.False(t, strings.HasPrefix(kv, "KRB5CCNAME=") || strings.HasPrefix(kv, "KRB5_CLIENT_KTNAME=") || strings.HasPrefix(kv, "KRB5_KTNAME="), kv)
			require.NotContains(t, kv, myCache)
			require.NotContains(t, kv, s.aliceKT)
		}
		entries, err := os.ReadDir(info.WorkDir)
		require.NoError(t, err)
		for _, e := range entries {
			require.NotEqual(t, amapi.KeytabFile, e.Name(), "no keytab in a TaskManager container")
		}
	}
	tokens, err := os.ReadFile(filepath.Join(tmInfos[0].work, "container_tokens"))
	require.NoError(t, err)
	creds, err := ipc.ParseCredentials(tokens)
	require.NoError(t, err)
	require.NotNil(t, creds.TokenOfKind(ipc.KindRMDelegation), "the containers hold the application's RM delegation token")
	secret := creds.Secret(amapi.CredentialsSecretAlias)
	require.NotEmpty(t, secret)

	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, c := range nm.Containers() {
			if c.Attempt.App == id && c.ID == 1 || c.Attempt.Attempt == 2 {
				if info, ok := nm.Container(c); ok {
					b, _ := os.ReadFile(filepath.Join(info.LogDir, "am.stderr"))
					t.Logf("==== %s am.stderr\n%s", c, b)
				}
			}
		}
	})
	// SIGKILL the AM; listen where it listened.
	amc := yarn.ContainerID{Attempt: yarn.AttemptID{App: id, Attempt: 1}, ID: 1}
	killed := time.Now()
	require.NoError(t, nm.KillContainerProcess(amc, syscall.SIGKILL))
	u, err := url.Parse(amURL1)
	require.NoError(t, err)
	var catcher *secretCatcher
	testutil.Eventually(t, func() bool {
		ln, err := net.Listen("tcp", ":"+u.Port())
		if err != nil {
			return false // the dead AM's socket is still being torn down
		}
		ln.Close()
		catcher = catchAt(t, ":"+u.Port())
		return true
	}, 10*time.Second, 5*time.Millisecond, "bind the dead AM's port")

	// Attempt 2 registers (the RM's report; the AM registers its
	// JobManager's REST port as its RPC port) and adopts both TaskManagers.
	att2 := yarn.AttemptID{App: id, Attempt: 2}.String()
	var rest2 string
	testutil.Eventually(t, func() bool {
		code, out, _ := cli("app", "status", "-o", "json", id.String())
		var rep map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["attempt_id"] != att2 || rep["state"] != "RUNNING" {
			return false
		}
		rest2 = fmt.Sprintf("%v:%v", rep["am_host"], rep["am_rpc_port"])
		return rest2 != rest1 && rep["am_rpc_port"] != float64(-1)
	}, time.Minute, 20*time.Millisecond, "attempt 2 registered")
	registered := time.Now()
	testutil.Eventually(t, func() bool {
		got := jmTaskManagers(rest2)
		return len(got) == 2 && strings.Contains(strings.Join(got, " "), tms[0]) && strings.Contains(strings.Join(got, " "), tms[1])
	}, 5*time.Second, 20*time.Millisecond, "the adopted TaskManagers connected to the new JobManager within 5 s of attempt 2's registration")
	took := time.Since(killed)
	t.Logf("AM SIGKILL → attempt 2 registered: %v; → adopted TaskManagers registered with the new JobManager: %v",
		registered.Sub(killed).Round(time.Millisecond), took.Round(time.Millisecond))
	st = status()
	require.Equal(t, float64(2), st["taskmanagers_running"])
	require.ElementsMatch(t, tms, toStrings(st["taskmanagers"]), "the same containers, adopted")

	if payload == "example" {
		code, out, errOut = cli("example", "wordcount", "--timeout", "1m", "words.txt")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "succeeded, 400 words")
	}

	// The adopted TaskManagers' followers take the new attempt's
	// credentials.
	logName := "taskmanager.err"
	testutil.Eventually(t, func() bool {
		b, _ := os.ReadFile(filepath.Join(tmInfos[0].log, logName))
		return strings.Contains(string(b), "fresh credentials written to the container's token file") && strings.Contains(string(b), att2+".")
	}, 30*time.Second, 50*time.Millisecond, "the follower reports a generation of attempt 2")

	var am2 minicluster.ContainerInfo
	for _, c := range nm.Containers() {
		if c.Attempt.App == id && c.Attempt.Attempt == 2 { // adopted TaskManagers keep attempt 1's ids: this is the AM
			am2, _ = nm.Container(c)
		}
	}
	require.NotEmpty(t, am2.LogDir, "attempt 2's AM container")
	code, out, errOut = cli("session", "stop")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "graceful: FINISHED/SUCCEEDED, staging removed")
	// The AM removes the staging directory after it unregistered (what
	// the stop waits for): wait for its word.
	var amLog []byte
	testutil.Eventually(t, func() bool {
		amLog, _ = os.ReadFile(filepath.Join(am2.LogDir, "am.stderr"))
		return strings.Contains(string(amLog), "staging directory removed") || strings.Contains(string(amLog), "application master done")
	}, 30*time.Second, 20*time.Millisecond, "attempt 2 ends")
	require.Contains(t, string(amLog), "staging directory removed", "attempt 2 removed the staging directory")
	if !ship {
		require.Contains(t, string(amLog), "removed with the application's HDFS delegation token")
	}

	// Nothing reached the dead AM's address: no request with a bearer, no
	// secret in any form.
	catcher.close()
	got, conns := catcher.bytes()
	t.Logf("the dead AM's address got %d connections, %d bytes", conns, len(got))
	// Neither the secret in any form nor a bearer the live attempt takes.
	// (A bearer of attempt 1 could only come if the RM still named the dead
	// attempt when a follower re-verified; it opens nothing.)
	for _, form := range [][]byte{secret, []byte(hex.EncodeToString(secret)), []byte(base64.StdEncoding.EncodeToString(secret)),
		[]byte(amapi.AttemptBearer(secret, amapi.PurposeCredentials, att2)), []byte(amapi.AttemptBearer(secret, amapi.PurposeStop, att2))} {
		require.False(t, bytes.Contains(got, form), "a secret reached the dead AM's address: %q", got)
	}
	return took
}

// A dry run on a secure cluster names the delegation tokens a submission
// would obtain and obtains none: a token obtained for nothing would live
// on, uncancelled, until its renew interval ends.
func TestKerberosDryRunObtainsNoTokens(t *testing.T) {
	bin := spindleBinary(t)
	s := newSecureRealm(t)
	nnKT, nmKT := s.kdc.AddPrincipal(t, "nn/localhost"), s.kdc.AddPrincipal(t, "nm/localhost")
	ctx := testutil.Context(t, time.Minute)
	sc := s.cluster(t, ctx, "privacy", nnKT, nmKT, nil)
	_, cli := s.secureCLI(t, ctx, sc, bin, "dry\n", 1, nil)
	code, out, errOut := cli("session", "start", "--dry-run", "-o", "json", "-n", "1", "-jm", "256m", "-tm", "256m")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, `"HDFS_DELEGATION_TOKEN from hdfs://localhost:`+sc.nnPort+`"`)
	require.Contains(t, out, `"RM_DELEGATION_TOKEN from localhost:`)
	require.Zero(t, sc.nn.DelegationTokens(), "the dry run obtained an HDFS token")
}
