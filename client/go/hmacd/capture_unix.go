//go:build unix

// capture_unix.go - the file-system facts capture files depend on (capture.go).

package hmacd

import (
	"fmt"
	"os"
	"syscall"
)

// oNoFollow makes opening a capture file fail on a symlink.
const oNoFollow = syscall.O_NOFOLLOW

// checkCaptureDir returns the device and inode of dir when it is a directory (not a symlink)
// owned by this process's user and not writable by group or others.
func checkCaptureDir(dir string) ([2]uint64, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return [2]uint64{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return [2]uint64{}, fmt.Errorf("%w: it is not a directory", errCaptureDir)
	case !ok:
		return [2]uint64{}, errCaptureDir
	case int(st.Uid) != os.Geteuid():
		return [2]uint64{}, fmt.Errorf("%w: it belongs to uid %d", errCaptureDir, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return [2]uint64{}, fmt.Errorf("%w: its mode is %v", errCaptureDir, fi.Mode().Perm())
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, nil //nolint:unconvert // 32-bit systems
}
