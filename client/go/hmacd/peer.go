// peer.go - who may answer on the socket (issue 10, finding 3). A local user who can create
// the socket path (a world-writable directory, or a daemon that is down and has removed its
// socket) could listen there and answer OK to everything. So before the first byte of any
// frame goes out on a new connection, the client asks the kernel who is listening
// (SO_PEERCRED: the uid of the process that called listen) and refuses anyone but the expected
// server user: Options.ServerUser when set, else root or the owner of the socket's directory.

package hmacd

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"strconv"
)

// ErrPeer: the process listening on the socket is not the expected server user, or its
// credentials could not be read. The connection was closed before anything was written; the
// request was not judged. It is wrapped with the uids (test with errors.Is), and is not
// ErrUnavailable: a middleware answers 503 all the same, and should log it.
var ErrPeer = errors.New("hmacd peer check")

// lookupServerUser resolves Options.ServerUser as hmacd's --allow-uid does: a value that starts
// with a digit is a uid (taken as is: it needs no passwd entry), anything else a user name.
func lookupServerUser(name string) (uint32, error) {
	if name[0] >= '0' && name[0] <= '9' {
		n, err := strconv.ParseUint(name, 10, 32)
		if err != nil || n == 1<<32-1 { // (uid_t)-1 is no user
			return 0, fmt.Errorf("%w: ServerUser %q is not a uid", ErrInvalid, name)
		}
		return uint32(n), nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("%w: ServerUser: %v", ErrInvalid, err)
	}
	n, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: ServerUser %q has uid %q", ErrInvalid, name, u.Uid)
	}
	return uint32(n), nil
}

// checkPeer refuses nc, a new connection on which nothing was written yet, unless the process
// listening on its other end runs as the expected server user. It returns nil or an error
// wrapping ErrPeer.
func (c *Client) checkPeer(nc *net.UnixConn) error {
	uid, err := peerUID(nc)
	if err != nil {
		return fmt.Errorf("%w: reading the server's credentials on %s: %v", ErrPeer, c.path,
			err)
	}
	if c.opt.ServerUser != "" {
		if uid != c.serverUID {
			return fmt.Errorf("%w: server uid %d is not the expected uid %d (ServerUser %q)",
				ErrPeer, uid, c.serverUID, c.opt.ServerUser)
		}
		return nil
	}
	if uid == 0 {
		return nil
	}
	dir := filepath.Dir(c.path)
	owner, err := dirOwner(dir)
	if err != nil {
		return fmt.Errorf("%w: the owner of the socket's directory: %v", ErrPeer, err)
	}
	if uid == owner {
		return nil
	}
	expected := fmt.Sprintf("uid %d (owner of %s) or 0 (root)", owner, dir)
	if owner == 0 {
		expected = fmt.Sprintf("uid 0 (owner of %s or root)", dir)
	}
	return fmt.Errorf("%w: server uid %d is not the expected %s; set ServerUser to trust "+
		"another user", ErrPeer, uid, expected)
}
