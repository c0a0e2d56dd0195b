//go:build !unix

// capture_other.go - capture files need a Unix file system (owners, modes, O_NOFOLLOW):
// elsewhere a CaptureDir is refused at start-up.

package hmacd

import "errors"

const oNoFollow = 0

func checkCaptureDir(string) ([2]uint64, error) {
	return [2]uint64{}, errors.New("capture files are supported on Unix systems only")
}
