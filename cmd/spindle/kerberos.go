package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	krb "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/urfave/cli/v2"

	"github.com/spindle-yarn/spindle/conf"
)

// Kerberos login, the way a Hadoop client logs in (UserGroupInformation):
// from --keytab and --principal when given, else from the user's ticket
// cache ($KRB5CCNAME, default /tmp/krb5cc_<uid>, as after kinit), with the
// realm configuration from $KRB5_CONFIG or /etc/krb5.conf. Nothing here
// talks to the KDC: the first connection to a server logs in (keytab) or
// uses the cached ticket, and package ipc turns a KDC failure into one
// error that names the cause; errorMessage (advice.go) adds the flags that
// fix it. The key, the ticket and the keytab's contents are never logged.

var (
	keytabFlag    = &cli.StringFlag{Name: "keytab", Usage: "log in to Kerberos from this keytab (with --principal) instead of the ticket cache"}
	principalFlag = &cli.StringFlag{Name: "principal", Usage: "Kerberos principal to log in as from --keytab, e.g. alice@EXAMPLE.COM"}
)

// errNoTicket is the message every missing login gives.
const errNoTicket = "no Kerberos ticket and no keytab (" + adviceLogin + ")"

// kerberos returns the Kerberos client when hc asks for Kerberos
// (hadoop.security.authentication=kerberos), nil otherwise. The client is
// made once per command and destroyed by teardown.
func (e *environment) kerberos(hc *conf.Configuration) (*krb.Client, error) {
	sec, err := hc.Security()
	if err != nil {
		return nil, err
	}
	if sec.Authentication != conf.AuthKerberos {
		if e.keytab != "" {
			e.log.Warn().Msg("--keytab is ignored: hadoop.security.authentication is simple")
		}
		return nil, nil
	}
	e.krbOnce.Do(func() { e.krb, e.krbErr = e.login() })
	return e.krb, e.krbErr
}

func (e *environment) login() (*krb.Client, error) {
	cfg, err := e.krb5Conf()
	if err != nil {
		return nil, err
	}
	settings := []func(*krb.Settings){krb.DisablePAFXFAST(true)}
	if e.keytab != "" {
		if e.principal == "" {
			return nil, usageError{errors.New("--keytab needs --principal: the principal to log in as, e.g. alice@EXAMPLE.COM")}
		}
		kt, err := keytab.Load(e.keytab)
		if err != nil {
			return nil, usageError{fmt.Errorf("--keytab %s: %w", e.keytab, err)}
		}
		return keytabLogin(kt, e.principal, cfg)
	}
	if e.principal != "" {
		return nil, usageError{errors.New("--principal needs --keytab (to use a ticket cache, kinit as that principal)")}
	}
	path, err := e.ccachePath()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && len(b) == 0 {
		return nil, authError{fmt.Errorf("kerberos login: %s: no ticket cache at %s", errNoTicket, path)}
	}
	if err != nil {
		return nil, authError{fmt.Errorf("kerberos login: ticket cache %s: %w", path, err)}
	}
	var cc credentials.CCache
	if err := cc.Unmarshal(b); err != nil {
		return nil, authError{fmt.Errorf("kerberos login: ticket cache %s is not a Kerberos credential cache (run kinit again): %w", path, err)}
	}
	cl, err := krb.NewFromCCache(&cc, cfg, settings...)
	if err != nil {
		return nil, authError{fmt.Errorf("kerberos login: %s: ticket cache %s holds no ticket-granting ticket: %w", errNoTicket, path, err)}
	}
	return cl, nil
}

// keytabLogin is a Kerberos client for principal (name@REALM, the realm
// defaulting to krb5.conf's) with its keys from kt.
func keytabLogin(kt *keytab.Keytab, principal string, cfg *config.Config) (*krb.Client, error) {
	name, realm, ok := strings.Cut(principal, "@")
	if !ok || realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	if name == "" || realm == "" {
		return nil, usageError{fmt.Errorf("--principal %q: want name@REALM (krb5.conf names no default_realm)", principal)}
	}
	return krb.NewWithKeytab(name, realm, kt, cfg, krb.DisablePAFXFAST(true)), nil
}

// authError marks a failed Kerberos login found before any server was
// contacted (exit code 5, like the authentication failures of yarn and
// hdfs).
type authError struct{ error }

func (a authError) Unwrap() error { return a.error }

// krb5Conf loads the first file of $KRB5_CONFIG (a colon-separated list,
// as MIT reads it) that exists, else /etc/krb5.conf.
func (e *environment) krb5Conf() (*config.Config, error) {
	paths := []string{"/etc/krb5.conf"}
	if v, ok := e.lookup("KRB5_CONFIG"); ok && v != "" {
		paths = strings.Split(v, ":")
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		cfg, err := config.Load(p)
		if err != nil {
			return nil, usageError{fmt.Errorf("krb5.conf %s: %w", p, err)}
		}
		return cfg, nil
	}
	return nil, usageError{fmt.Errorf("hadoop.security.authentication is kerberos but there is no krb5.conf at %s (set KRB5_CONFIG to the realm's krb5.conf)",
		strings.Join(paths, ", "))}
}

// ccachePath is the file of $KRB5CCNAME (FILE: caches only), else
// /tmp/krb5cc_<uid>, MIT's default.
func (e *environment) ccachePath() (string, error) {
	v, ok := e.lookup("KRB5CCNAME")
	if !ok || v == "" {
		return "/tmp/krb5cc_" + strconv.Itoa(os.Getuid()), nil
	}
	typ, rest, hasType := strings.Cut(v, ":")
	switch {
	case !hasType:
		return v, nil
	case typ == "FILE":
		return rest, nil
	case len(typ) == 1: // a Windows drive letter is not a cache type
		return v, nil
	}
	return "", usageError{fmt.Errorf("KRB5CCNAME=%s: only FILE: ticket caches are supported (kinit -c FILE:/tmp/krb5cc_%d, then set KRB5CCNAME to that)", v, os.Getuid())}
}

// teardown destroys the Kerberos client (stopping gokrb5's TGT renewal).
func (e *environment) teardown(*cli.Context) error {
	if e.krb != nil {
		e.krb.Destroy()
	}
	return nil
}
