// Package daemontest starts the real hmacd for the Go tests: a temporary directory holding the
// socket and the key store, keys made or imported and coverage policies set with the real
// hmacctl, stop and restart on the same socket. The binaries come from $HMACD and $HMACCTL
// (make check sets both); a test that needs the daemon is skipped when they are unset.
package daemontest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Daemon is one hmacd under test. Its methods fail the test on error.
type Daemon struct {
	Socket string
	DB     string
	dir    string
	hmacd  string
	ctl    string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit status, once exited is closed
}

// Key is a secret printed by hmacctl, or imported with it.
type Key struct {
	Tenant, Container string
	Epoch             uint64
	KeyID             string
	Secret            []byte
}

// startTimeout bounds how long the daemon may take to accept connections.
const startTimeout = 10 * time.Second

// Start runs hmacd on a fresh temporary directory and waits until its socket accepts a
// connection; the daemon is stopped and the directory removed when the test ends.
func Start(t testing.TB) *Daemon {
	t.Helper()
	hmacd, ctl := os.Getenv("HMACD"), os.Getenv("HMACCTL")
	if hmacd == "" || ctl == "" {
		t.Skip("HMACD and HMACCTL are not set: no daemon to test against")
	}
	// A short path: sun_path holds 108 bytes, and t.TempDir() names can be long.
	dir, err := os.MkdirTemp("", "hmacd-go-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Daemon{
		Socket: filepath.Join(dir, "s"),
		DB:     filepath.Join(dir, "db"),
		dir:    dir,
		hmacd:  hmacd,
		ctl:    ctl,
	}
	t.Cleanup(func() {
		d.kill()
		os.RemoveAll(dir)
	})
	d.Run(t)
	return d
}

// Run starts the daemon (again) on the same socket and store and waits until it accepts.
func (d *Daemon) Run(t testing.TB) {
	t.Helper()
	if d.cmd != nil {
		t.Fatal("daemontest: already running")
	}
	cmd := exec.Command(d.hmacd, "--socket", d.Socket, "--db", d.DB, "--threads", "2",
		"--log-level", "warn")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	err := cmd.Start()
	if err != nil {
		t.Fatalf("start %s: %v", d.hmacd, err)
	}
	d.cmd = cmd
	d.exited = make(chan struct{})
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		c, err := net.DialTimeout("unix", d.Socket, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.exited:
			d.cmd = nil
			t.Fatalf("hmacd exited during start-up: %v", d.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("hmacd did not accept connections within %v: %v", startTimeout, err)
		}
	}
}

// Stop sends SIGTERM and waits for exit status 0.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	err := d.cmd.Process.Signal(syscall.SIGTERM)
	if err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-d.exited:
	case <-time.After(startTimeout):
		d.kill()
		t.Fatal("hmacd did not exit after SIGTERM")
	}
	d.cmd = nil
	if d.err != nil {
		t.Fatalf("hmacd exit: %v", d.err)
	}
}

func (d *Daemon) kill() {
	if d.cmd == nil {
		return
	}
	_ = d.cmd.Process.Kill()
	<-d.exited
	d.cmd = nil
}

// Ctl runs hmacctl on the store and returns its standard output.
func (d *Daemon) Ctl(t testing.TB, args ...string) []byte {
	t.Helper()
	return d.CtlInput(t, nil, args...)
}

// CtlInput runs hmacctl with stdin as its standard input.
func (d *Daemon) CtlInput(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(d.ctl, append([]string{"--db", d.DB}, args...)...)
	cmd.Stderr = os.Stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("hmacctl %v: exit %d", args, ee.ExitCode())
		}
		t.Fatalf("hmacctl %v: %v", args, err)
	}
	return out
}

// printedKey is what hmacctl prints for a key with --json (no secret for an imported one).
type printedKey struct {
	Tenant    string `json:"tenant"`
	Container string `json:"container"`
	Epoch     uint64 `json:"epoch"`
	KeyID     string `json:"keyid"`
	Secret    string `json:"secret"`
}

// parseKey decodes out, the output of the hmacctl command cmd.
func parseKey(t testing.TB, cmd string, out []byte) printedKey {
	t.Helper()
	var j printedKey
	err := json.Unmarshal(out, &j)
	if err != nil {
		t.Fatalf("%s output: %v", cmd, err)
	}
	return j
}

func (d *Daemon) keyJSON(t testing.TB, out []byte) Key {
	t.Helper()
	j := parseKey(t, "hmacctl", out)
	secret, err := base64.StdEncoding.DecodeString(j.Secret)
	if err != nil || len(secret) != 32 {
		t.Fatalf("hmacctl secret: %d bytes, %v", len(secret), err)
	}
	return Key{Tenant: j.Tenant, Container: j.Container, Epoch: j.Epoch, KeyID: j.KeyID,
		Secret: secret}
}

// ImportKey adds secret (raw bytes, given on hmacctl's standard input) to the scope under
// the key id keyid: epoch 1 of a new scope, or the next epoch of an existing one.
func (d *Daemon) ImportKey(t testing.TB, tenant, container, keyid string, secret []byte) Key {
	t.Helper()
	out := d.CtlInput(t, secret, "key", "import", "--tenant", tenant, "--container",
		container, "--secret-file", "-", "--keyid", keyid, "--json")
	j := parseKey(t, "hmacctl key import", out)
	if j.Tenant != tenant || j.Container != container || j.KeyID != keyid || j.Epoch < 1 {
		t.Fatalf("hmacctl key import printed %s", out)
	}
	if j.Secret != "" {
		t.Fatal("hmacctl key import printed the secret")
	}
	return Key{Tenant: tenant, Container: container, Epoch: j.Epoch, KeyID: keyid,
		Secret: append([]byte(nil), secret...)}
}

// SetPolicy sets the coverage policy of a scope (of the whole tenant when container is
// ""): the RFC 9421 components it requires, then flags such as "--no-nonce", "--no-query" or,
// for hmacd-v1 items, "--v1-nonce" and "--v1-require", "host" (the header names up to the
// next flag).
func (d *Daemon) SetPolicy(t testing.TB, tenant, container string, require []string,
	flags ...string) {
	t.Helper()
	args := []string{"policy", "set", "--tenant", tenant}
	if container != "" {
		args = append(args, "--container", container)
	}
	args = append(args, "--require")
	args = append(args, require...)
	d.Ctl(t, append(args, flags...)...)
}

// Policy is what `hmacctl policy show --json` prints: the policy in force for a scope and
// where it comes from ("scope", "tenant" or "default").
type Policy struct {
	Tenant           string   `json:"tenant"`
	Container        *string  `json:"container"`
	Source           string   `json:"source"`
	Require          []string `json:"require"`
	Created          bool     `json:"created"`
	Nonce            bool     `json:"nonce"`
	AgeCheck         bool     `json:"age_check"`
	BodyDigest       bool     `json:"body_digest"`
	Query            bool     `json:"query"`
	ReplayProtection string   `json:"replay_protection"` // "all", "with_nonce" or "weak"
	V1Nonce          bool     `json:"v1_nonce"`
	V1Require        []string `json:"v1_require"`
}

// ShowPolicy returns the policy in force for a scope (for the tenant when container is "").
func (d *Daemon) ShowPolicy(t testing.TB, tenant, container string) Policy {
	t.Helper()
	args := []string{"policy", "show", "--tenant", tenant}
	if container != "" {
		args = append(args, "--container", container)
	}
	out := d.Ctl(t, append(args, "--json")...)
	var p Policy
	err := json.Unmarshal(out, &p)
	if err != nil {
		t.Fatalf("hmacctl policy show --json printed %s: %v", out, err)
	}
	return p
}

// CreateKey creates the scope (epoch 1) and returns its secret.
func (d *Daemon) CreateKey(t testing.TB, tenant, container string) Key {
	t.Helper()
	return d.keyJSON(t, d.Ctl(t, "key", "create", "--tenant", tenant, "--container", container,
		"--json"))
}

// RotateKey adds the next epoch; the replaced one stays valid for grace.
func (d *Daemon) RotateKey(t testing.TB, tenant, container string, grace time.Duration) Key {
	t.Helper()
	return d.keyJSON(t, d.Ctl(t, "key", "rotate", "--tenant", tenant, "--container", container,
		"--grace", strconv.Itoa(int(grace/time.Second)), "--json"))
}

// RevokeKey revokes one epoch.
func (d *Daemon) RevokeKey(t testing.TB, tenant, container string, epoch uint64) {
	t.Helper()
	d.Ctl(t, "key", "revoke", "--tenant", tenant, "--container", container, "--epoch",
		strconv.FormatUint(epoch, 10))
}
