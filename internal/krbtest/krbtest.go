// Package krbtest runs a real MIT Kerberos KDC for tests: Debian's
// krb5-kdc (krb5kdc), krb5-admin-server (kdb5_util, kadmin.local) and
// krb5-user (kinit), which .ci/run installs. Start creates a realm in a
// temporary directory, listens on a free loopback port and stops the KDC
// when the test ends; principals get random keys exported to keytabs in
// that directory. StartWith can run the KDC with its clock offset from
// this host's (libfaketime, Debian's faketime package) to test clock skew.
//
// It is test support only: it imports testing and testify, and nothing of
// Spindle. Tests that need a KDC are skipped when krb5kdc is not installed,
// and fail instead with SPINDLE_REQUIRE_KDC=1 in the environment.
package krbtest

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/stretchr/testify/require"
)

// DefaultRealm is the realm Start creates.
const DefaultRealm = "SPINDLE.TEST"

// KDC is a running MIT krb5kdc with its database in Dir.
type KDC struct {
	// Dir holds the database, the configuration and every keytab and
	// ticket cache the helpers make. It is the test's temporary directory.
	Dir string
	// Realm is the realm, DefaultRealm.
	Realm string
	// Krb5Conf is a client krb5.conf for the realm (KRB5_CONFIG).
	Krb5Conf string
	// Port is the KDC's TCP and UDP port on 127.0.0.1.
	Port int
	// Env is the environment the MIT tools run with: this process's plus
	// KRB5_CONFIG, KRB5_KDC_PROFILE and a KRB5CCNAME inside Dir.
	Env []string
}

// Tool finds an MIT binary on PATH or in /usr/sbin (where Debian puts the
// KDC tools, often outside a non-root PATH); "" if it is not installed.
func Tool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// FreeLoopbackPort returns a port free for both TCP and UDP on 127.0.0.1.
func FreeLoopbackPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("krbtest: no free loopback port")
	return 0
}

// Options changes the KDC StartWith runs.
type Options struct {
	// ClockOffset runs krb5kdc with its clock this far ahead of this
	// host's (behind when negative), through libfaketime, so that the KDC
	// sees every client here as skewed. Only krb5kdc is offset: the other
	// MIT tools (kdb5_util, kadmin.local, kinit) run on this host's clock,
	// and keytabs are exported locally by kadmin.local. Go programs do not
	// read the clock through libc, so the offset can only be the KDC's.
	ClockOffset time.Duration
	// MaxSkew, when set, is the skew the KDC tolerates ([libdefaults]
	// clockskew of its kdc.conf; MIT's default is 5 minutes), e.g. more
	// than ClockOffset so that the KDC answers and the client must notice.
	MaxSkew time.Duration
}

// Start creates realm DefaultRealm and runs krb5kdc in the foreground
// until the test ends. It skips the test only when krb5kdc is not
// installed (fails it with SPINDLE_REQUIRE_KDC=1); any other failure
// fails it.
func Start(t testing.TB) *KDC {
	t.Helper()
	return StartWith(t, Options{})
}

// LibFaketime finds libfaketime.so.1 (Debian's faketime package installs
// it under /usr/lib/<multiarch>/faketime); "" if it is not installed.
func LibFaketime() string {
	for _, pat := range []string{"/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1", "/usr/local/lib/faketime/libfaketime.so.1", "/usr/lib64/faketime/libfaketime.so.1"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}

// faketimeEnv is the environment that offsets a C program's clock by d
// through libfaketime at lib: whole seconds, file timestamps and the
// monotonic clock left alone (the KDC's database files and event-loop
// timers need neither).
func faketimeEnv(lib string, d time.Duration) []string {
	return []string{"LD_PRELOAD=" + lib, fmt.Sprintf("FAKETIME=%+d", int64(d/time.Second)), "NO_FAKE_STAT=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"}
}

// RequireEnv, set to 1, turns the skips of Start and StartWith into
// failures: CI (.ci/run) has the KDC and must not skip silently.
const RequireEnv = "SPINDLE_REQUIRE_KDC"

// SkipsEnv names a file to which Start and StartWith append one line per
// skipped test, "<why> (<fix>)<TAB><test>"; make test sums them up.
const SkipsEnv = "SPINDLE_KDC_SKIPS"

// skip skips t because the KDC cannot run here, saying why and how to
// install what is missing, and records it in $SPINDLE_KDC_SKIPS; with
// SPINDLE_REQUIRE_KDC=1 it fails t instead.
func skip(t testing.TB, why, fix string) {
	t.Helper()
	msg := why + " (" + fix + ")"
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + "; " + RequireEnv + "=1 makes this a failure")
		return
	}
	if p := os.Getenv(SkipsEnv); p != "" {
		// One short O_APPEND write per line: the test binaries of
		// several packages append to the file at once.
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			_, _ = f.WriteString(msg + "\t" + t.Name() + "\n")
			_ = f.Close()
		}
	}
	t.Skip(msg)
}

// StartWith is Start with opts. With a ClockOffset it also skips the test
// when libfaketime is not installed (fails it with SPINDLE_REQUIRE_KDC=1),
// and fails it when libfaketime does not move the clock of a C program
// (date) by the offset.
func StartWith(t testing.TB, opts Options) *KDC {
	t.Helper()
	kdcBin := Tool("krb5kdc")
	if kdcBin == "" {
		skip(t, "krb5kdc not installed", "apt-get install krb5-kdc krb5-admin-server krb5-user")
	}
	var kdcEnv []string
	if opts.ClockOffset != 0 {
		lib := LibFaketime()
		if lib == "" {
			skip(t, "libfaketime not installed, cannot offset the KDC's clock", "apt-get install faketime")
		}
		kdcEnv = faketimeEnv(lib, opts.ClockOffset)
		checkFaketime(t, kdcEnv, opts.ClockOffset)
	}
	for _, tool := range []string{"kdb5_util", "kadmin.local"} {
		require.NotEmpty(t, Tool(tool), "%s missing: install krb5-kdc and krb5-admin-server", tool)
	}
	dir := t.TempDir()
	k := &KDC{Dir: dir, Realm: DefaultRealm, Port: FreeLoopbackPort(t)}
	kdcConf := filepath.Join(dir, "kdc.conf")
	k.Krb5Conf = filepath.Join(dir, "krb5.conf")
	libdefaults := ""
	if opts.MaxSkew != 0 {
		libdefaults = fmt.Sprintf("[libdefaults]\n    clockskew = %d\n", int64(opts.MaxSkew/time.Second))
	}
	require.NoError(t, os.WriteFile(kdcConf, []byte(libdefaults+fmt.Sprintf(`[kdcdefaults]
    kdc_listen = 127.0.0.1:%[2]d
    kdc_tcp_listen = 127.0.0.1:%[2]d
[realms]
    %[3]s = {
        database_name = %[1]s/principal
        key_stash_file = %[1]s/stash
        acl_file = %[1]s/kadm5.acl
        kdc_listen = 127.0.0.1:%[2]d
        kdc_tcp_listen = 127.0.0.1:%[2]d
        max_life = 10h
        max_renewable_life = 1d
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        default_principal_flags = +preauth
    }
[logging]
    kdc = FILE:%[1]s/kdc.log
`, dir, k.Port, k.Realm)), 0o600))
	require.NoError(t, os.WriteFile(k.Krb5Conf, []byte(k.ClientConf(k.Port)), 0o600))
	k.Env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5_KDC_PROFILE="+kdcConf, "KRB5CCNAME=FILE:"+filepath.Join(dir, "default.ccache"))
	k.Run(t, "kdb5_util", "-r", k.Realm, "create", "-s", "-P", "master-"+k.Realm)

	cmd := exec.Command(kdcBin, "-n", "-r", k.Realm)
	cmd.Env = append(append([]string(nil), k.Env...), kdcEnv...)
	out, err := os.Create(filepath.Join(dir, "krb5kdc.out"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", k.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "krb5kdc.out"))
			t.Fatalf("krbtest: krb5kdc did not listen on %d: %v\n%s", k.Port, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return k
}

// checkFaketime fails the test unless date(1) run with env (LD_PRELOAD of
// libfaketime) reports this host's time plus offset, give or take 5 s.
func checkFaketime(t testing.TB, env []string, offset time.Duration) {
	t.Helper()
	date, err := exec.LookPath("date")
	require.NoError(t, err, "krbtest: date(1) is needed to check libfaketime")
	cmd := exec.Command(date, "+%s")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "krbtest: date under libfaketime (%s): %s", strings.Join(env, " "), stderr.String())
	var faked int64
	_, err = fmt.Sscan(string(out), &faked)
	require.NoError(t, err, "krbtest: date under libfaketime printed %q", out)
	got := time.Until(time.Unix(faked, 0))
	require.InDelta(t, offset.Seconds(), got.Seconds(), 5, "krbtest: libfaketime (%s) offset the clock by %s, want %s; output %q", strings.Join(env, " "), got, offset, out)
}

// ClientConf is a krb5.conf for the realm with its KDC at 127.0.0.1:port
// (pass another port for a KDC that does not answer).
func (k *KDC) ClientConf(port int) string {
	return fmt.Sprintf(`[libdefaults]
    default_realm = %[1]s
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    udp_preference_limit = 1
    default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
    default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
[realms]
    %[1]s = {
        kdc = 127.0.0.1:%[2]d
    }
[domain_realm]
    localhost = %[1]s
`, k.Realm, port)
}

// DeadKDCConf writes a krb5.conf naming a loopback port where no KDC
// listens and returns its path.
func (k *KDC) DeadKDCConf(t testing.TB) string {
	t.Helper()
	p := filepath.Join(k.Dir, fmt.Sprintf("dead-%d-krb5.conf", time.Now().UnixNano()))
	require.NoError(t, os.WriteFile(p, []byte(k.ClientConf(FreeLoopbackPort(t))), 0o600))
	return p
}

// Run runs an MIT tool with Env and fails the test if it fails.
func (k *KDC) Run(t testing.TB, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(Tool(tool), args...)
	cmd.Env = k.Env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s: %s", tool, strings.Join(args, " "), out)
}

// AddPrincipal adds name (e.g. "alice", "rm/localhost") with a random key
// and exports its keys to a new keytab, whose path it returns.
func (k *KDC) AddPrincipal(t testing.TB, name string) string {
	t.Helper()
	kt := filepath.Join(k.Dir, strings.ReplaceAll(name, "/", "_")+".keytab")
	k.Run(t, "kadmin.local", "-r", k.Realm, "-q", "addprinc -randkey "+name)
	k.Run(t, "kadmin.local", "-r", k.Realm, "-q", "ktadd -k "+kt+" "+name)
	return kt
}

// Principal is name@Realm.
func (k *KDC) Principal(name string) string { return name + "@" + k.Realm }

// Config loads Krb5Conf.
func (k *KDC) Config(t testing.TB) *config.Config {
	t.Helper()
	return LoadConfig(t, k.Krb5Conf)
}

// LoadConfig loads a krb5.conf.
func LoadConfig(t testing.TB, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	require.NoError(t, err)
	return cfg
}

// LoadKeytab loads a keytab file.
func LoadKeytab(t testing.TB, path string) *keytab.Keytab {
	t.Helper()
	kt, err := keytab.Load(path)
	require.NoError(t, err)
	return kt
}

// KeytabClient is a gokrb5 client for user with the keytab at path, not
// yet logged in (the first service-ticket request logs in). The test's
// cleanup destroys it.
func (k *KDC) KeytabClient(t testing.TB, user, path string, cfg *config.Config) *client.Client {
	t.Helper()
	cl := client.NewWithKeytab(user, k.Realm, LoadKeytab(t, path), cfg, client.DisablePAFXFAST(true))
	t.Cleanup(cl.Destroy)
	return cl
}

// Kinit makes a ticket cache the way a user would (kinit -k -t ktPath -l
// lifetime user@Realm) and returns its path.
func (k *KDC) Kinit(t testing.TB, user, ktPath, lifetime string) string {
	t.Helper()
	require.NotEmpty(t, Tool("kinit"), "kinit missing: install krb5-user")
	cc := filepath.Join(k.Dir, fmt.Sprintf("%s-%s-%d.ccache", strings.ReplaceAll(user, "/", "_"), lifetime, time.Now().UnixNano()))
	k.Run(t, "kinit", "-k", "-t", ktPath, "-l", lifetime, "-c", "FILE:"+cc, user+"@"+k.Realm)
	return cc
}

// CCacheClient is a gokrb5 client from the ticket cache at path. The
// test's cleanup destroys it.
func (k *KDC) CCacheClient(t testing.TB, path string) *client.Client {
	t.Helper()
	ccache, err := credentials.LoadCCache(path)
	require.NoError(t, err)
	cl, err := client.NewFromCCache(ccache, k.Config(t), client.DisablePAFXFAST(true))
	require.NoError(t, err)
	t.Cleanup(cl.Destroy)
	return cl
}

// KinitClient is Kinit followed by CCacheClient.
func (k *KDC) KinitClient(t testing.TB, user, ktPath, lifetime string) *client.Client {
	t.Helper()
	return k.CCacheClient(t, k.Kinit(t, user, ktPath, lifetime))
}

// KeytabSecrets returns the key bytes of every entry of the keytabs at
// paths, for AssertNoSecrets.
func KeytabSecrets(t testing.TB, paths ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range paths {
		for _, e := range LoadKeytab(t, p).Entries {
			out = append(out, e.Key.KeyValue)
		}
	}
	return out
}

// CCacheSecrets returns the session keys and the encrypted parts of the
// tickets of every entry of the ticket caches at paths, for
// AssertNoSecrets. (A ticket's clear part, realm and service name, is
// public.)
func CCacheSecrets(t testing.TB, paths ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, p := range paths {
		cc, err := credentials.LoadCCache(p)
		require.NoError(t, err)
		for _, c := range cc.GetEntries() {
			var tkt messages.Ticket
			require.NoError(t, tkt.Unmarshal(c.Ticket))
			out = append(out, c.Key.KeyValue, tkt.EncPart.Cipher)
		}
	}
	return out
}

// AssertNoSecrets fails the test if text contains any 12-byte window of
// any secret (at 4-byte steps) raw, in hex (either case) or in base64
// (standard or URL-safe, as the first 12 characters of the window's
// encoding at each of the three byte alignments base64 can have). Use it
// for keys, passwords and ciphertext.
func AssertNoSecrets(t testing.TB, text string, secrets ...[]byte) {
	t.Helper()
	assertNot(t, text, true, secrets)
}

// AssertNotEncoded is AssertNoSecrets without the raw check, for blobs
// such as token identifiers whose clear text (an owner's name) may be
// logged but whose bytes, in hex or base64, may not.
func AssertNotEncoded(t testing.TB, text string, blobs ...[]byte) {
	t.Helper()
	assertNot(t, text, false, blobs)
}

func assertNot(t testing.TB, text string, raw bool, secrets [][]byte) {
	t.Helper()
	for _, sec := range secrets {
		for i := 0; i+12 <= len(sec); i += 4 {
			w := sec[i : i+12]
			encs := []string{hex.EncodeToString(w), strings.ToUpper(hex.EncodeToString(w))}
			if raw {
				encs = append(encs, string(w))
			}
			for shift := 0; shift < 3 && i+shift+12 <= len(sec); shift++ {
				ws := sec[i+shift : i+shift+12]
				encs = append(encs, base64.StdEncoding.EncodeToString(ws)[:12], base64.RawURLEncoding.EncodeToString(ws)[:12])
			}
			for _, enc := range encs {
				if strings.Contains(text, enc) {
					t.Fatalf("krbtest: a secret (bytes %d..%d of a %d-byte secret) appears in the text as %q", i, i+12, len(sec), enc)
				}
			}
		}
	}
}
