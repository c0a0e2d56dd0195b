// peer_linux.go - the kernel's facts that checkPeer (peer.go) judges by.

package hmacd

import (
	"errors"
	"net"
	"os"
	"syscall"
)

// peerUID is the uid of the process that listens on nc's other end, as the kernel recorded it
// at listen(2) (SO_PEERCRED).
func peerUID(nc *net.UnixConn) (uint32, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET,
			syscall.SO_PEERCRED)
	})
	if err != nil {
		return 0, err
	}
	if credErr != nil {
		return 0, credErr
	}
	return cred.Uid, nil
}

// dirOwner is the uid that owns the directory dir (following symbolic links).
func dirOwner(dir string) (uint32, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, errors.New("stat " + dir + ": no owner")
	}
	return st.Uid, nil
}
