//go:build !linux

// peer_other.go - hmacd runs on Linux only, and so does the peer check: elsewhere every
// connection is refused with ErrPeer (signing, which needs no daemon, works everywhere).

package hmacd

import (
	"errors"
	"net"
	"runtime"
)

var errNoPeerCred = errors.New("reading a socket peer's credentials is not supported on " +
	runtime.GOOS)

func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errNoPeerCred
}

func dirOwner(string) (uint32, error) {
	return 0, errNoPeerCred
}
