// peer_test.go - the peer check (issue 10, finding 3): the client asks the kernel who listens
// on the socket before it writes anything, and refuses anyone but the expected server user
// with ErrPeer. Unprivileged: a listener of this test's own user refused through ServerUser,
// and ServerUser by name or uid against the real hmacd. As root: an impostor listening as
// nobody in a sticky world-writable directory (like /tmp) refused by the default rule (root or
// the directory's owner), and accepted once nobody owns the directory.

package hmacd_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
)

func TestMain(m *testing.M) {
	daemontest.ImpostorMain() // when run as the impostor: serve, never return
	os.Exit(m.Run())
}

// expectPeerErr checks that err is ErrPeer (and not a verdict nor ErrUnavailable) with the
// message want.
func expectPeerErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if !errors.Is(err, hmacd.ErrPeer) || errors.Is(err, hmacd.ErrUnavailable) {
		t.Fatalf("%s: %v, want ErrPeer", what, err)
	}
	if err.Error() != want {
		t.Fatalf("%s: message %q\nwant %q", what, err.Error(), want)
	}
}

// A listener of this test's own user, and a client that expects another uid: every call
// fails with ErrPeer, and the listener never gets a byte.
func TestPeerCheckServerUserUID(t *testing.T) {
	reads := make(chan int64, 8)
	path := fakeDaemon(t, func(nc net.Conn) {
		n, _ := io.Copy(io.Discard, nc) // until the client closes
		reads <- n
	})
	me := os.Getuid()
	other := 4242
	if me == other {
		other++
	}
	c := newClient(t, path, &hmacd.Options{Conns: 1, ServerUser: strconv.Itoa(other)})
	want := fmt.Sprintf("hmacd peer check: server uid %d is not the expected uid %d "+
		"(ServerUser %q)", me, other, strconv.Itoa(other))
	it := testItem()
	calls := []struct {
		what string
		call func() error
	}{
		{"ping", func() error { return c.Ping(ctx5s(t)) }},
		{"verify", func() error { _, err := c.VerifyOne(ctx5s(t), &it); return err }},
		{"verify again (no retry into success)", func() error {
			_, err := c.VerifyOne(ctx5s(t), &it)
			return err
		}},
		{"stats", func() error { _, err := c.Stats(ctx5s(t)); return err }},
	}
	for _, cl := range calls {
		expectPeerErr(t, cl.what, cl.call(), want)
		select {
		case n := <-reads:
			if n != 0 {
				t.Fatalf("%s: the listener got %d bytes", cl.what, n)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no connection reached the listener", cl.what)
		}
	}
}

// ServerUser as a name or a uid, against the real hmacd (which runs as this test's user).
func TestPeerCheckServerUserName(t *testing.T) {
	d := daemontest.Start(t)
	me, err := user.Current()
	if err != nil {
		t.Skipf("this test's user has no name to look up: %v", err)
	}
	for _, name := range []string{me.Username, me.Uid} {
		c := newClient(t, d.Socket, &hmacd.Options{ServerUser: name})
		if err := c.Ping(ctx5s(t)); err != nil {
			t.Fatalf("ServerUser %q (the daemon's user): %v", name, err)
		}
	}
	for _, bad := range []string{"no-such-user-hmacd", "4294967295", "12x", "-1"} {
		if _, err := hmacd.New(d.Socket, &hmacd.Options{ServerUser: bad}); !errors.Is(err,
			hmacd.ErrInvalid) {
			t.Errorf("ServerUser %q: %v, want ErrInvalid", bad, err)
		}
	}

	// Another user's name resolves to that user's uid, which the daemon does not run as.
	name := "root"
	if me.Uid == "0" {
		name = "nobody"
	}
	other, err := user.Lookup(name)
	if err != nil {
		t.Skipf("no user %s to name: %v", name, err)
	}
	c := newClient(t, d.Socket, &hmacd.Options{ServerUser: name})
	expectPeerErr(t, "ServerUser "+name, c.Ping(ctx5s(t)), fmt.Sprintf("hmacd peer check: "+
		"server uid %s is not the expected uid %s (ServerUser %q)", me.Uid, other.Uid, name))
}

// An impostor listening as nobody in a root-owned sticky world-writable directory, as any
// local user could on /tmp, and answering OK to everything: the default client refuses it
// before writing a byte. Trusted by name (ServerUser), it is believed: the refusal is the peer
// check's doing.
func TestPeerImpostorRefused(t *testing.T) {
	imp := daemontest.StartImpostor(t)
	c := newClient(t, imp.Socket, &hmacd.Options{Conns: 1})
	want := fmt.Sprintf("hmacd peer check: server uid %d is not the expected uid 0 (owner of "+
		"%s or root); set ServerUser to trust another user", daemontest.NobodyUID, imp.Dir)
	expectPeerErr(t, "ping", c.Ping(ctx5s(t)), want)
	if n := imp.Read(t); n != 0 {
		t.Fatalf("ping: the impostor got %d bytes", n)
	}
	it := testItem()
	v, err := c.VerifyOne(ctx5s(t), &it)
	expectPeerErr(t, "verify", err, want)
	if v == hmacd.VerdictOK {
		t.Fatal("verify: VerdictOK with an error")
	}
	if n := imp.Read(t); n != 0 {
		t.Fatalf("verify: the impostor got %d bytes", n)
	}

	trusting := newClient(t, imp.Socket, &hmacd.Options{Conns: 1,
		ServerUser: strconv.Itoa(daemontest.NobodyUID)})
	v, err = trusting.VerifyOne(ctx5s(t), &it)
	if err != nil || v != hmacd.VerdictOK {
		t.Fatalf("a client that trusts the impostor: %v %v, want its OK", v, err)
	}
	trusting.Close()
	if n := imp.Read(t); n == 0 {
		t.Fatal("the trusting client's request did not reach the impostor")
	}

	// The directory's owner is looked up at each connection: owned by another user, the
	// directory names that user; owned by nobody, it makes nobody the expected server.
	err = os.Chown(imp.Dir, 4242, 4242)
	if err != nil {
		t.Fatal(err)
	}
	c = newClient(t, imp.Socket, &hmacd.Options{Conns: 1})
	expectPeerErr(t, "directory owned by uid 4242", c.Ping(ctx5s(t)), fmt.Sprintf(
		"hmacd peer check: server uid %d is not the expected uid 4242 (owner of %s) or 0 "+
			"(root); set ServerUser to trust another user", daemontest.NobodyUID, imp.Dir))
	if n := imp.Read(t); n != 0 {
		t.Fatalf("directory owned by uid 4242: the impostor got %d bytes", n)
	}
	err = os.Chown(imp.Dir, daemontest.NobodyUID, daemontest.NobodyUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx5s(t)); err != nil {
		t.Fatalf("directory owned by nobody, the server's user: %v", err)
	}
}
