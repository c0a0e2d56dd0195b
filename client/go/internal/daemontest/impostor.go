// impostor.go - a socket squatter for the peer-credential tests (issue 10, finding 3): a fake
// hmacd run as user nobody on a socket in a root-owned sticky world-writable directory (as
// /tmp is), which answers OK to every item it is sent. It is the test binary itself, run again
// as nobody: SO_PEERCRED reports the uid of the process that called listen(2), so the
// listening process must be nobody, not root that chowns a socket afterwards.

package daemontest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// NobodyUID is the uid (and gid) the impostor runs as: Debian's nobody and nogroup.
const NobodyUID = 65534

// impostorEnv names the socket an impostor process listens on; set only by StartImpostor.
const impostorEnv = "HMACD_TEST_IMPOSTOR_SOCKET"

// ImpostorMain turns this process into the impostor when StartImpostor started it, and never
// returns then; in any other process it returns at once. Call it first in the TestMain of a
// package that uses StartImpostor.
func ImpostorMain() {
	path := os.Getenv(impostorEnv)
	if path == "" {
		return
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "impostor:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for {
		nc, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "impostor:", err)
			os.Exit(1)
		}
		go func() {
			n := answerAll(nc, 0) // 0: OK
			nc.Close()
			fmt.Printf("read %d\n", n) // one line, one write: lines never interleave
		}()
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// answerAll answers each frame on nc as a daemon that gives every verify item the same verdict
// would (pong to ping, an error response to anything else), until the client closes the
// connection, and returns how many bytes the client sent.
func answerAll(nc net.Conn, verdict uint8) int64 {
	cr := &countingReader{r: nc}
	for {
		var hdr [4]byte
		_, err := io.ReadFull(cr, hdr[:])
		if err != nil {
			break
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		_, err = io.ReadFull(cr, payload)
		if err != nil {
			break
		}
		var req struct {
			ID    uint64               `msgpack:"id"`
			Op    string               `msgpack:"op"`
			Items []msgpack.RawMessage `msgpack:"items"`
		}
		if msgpack.Unmarshal(payload, &req) != nil {
			break
		}
		resp := map[string]interface{}{"id": req.ID}
		switch req.Op {
		case "verify":
			results := make([]int, len(req.Items)) // an array of ints ([]uint8 would be bin)
			for i := range results {
				results[i] = int(verdict)
			}
			resp["results"] = results
		case "ping":
			resp["pong"] = true
		default:
			resp["error"] = "bad_request"
		}
		out, err := msgpack.Marshal(resp)
		if err != nil {
			break
		}
		_, err = nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(out))), out...))
		if err != nil {
			break
		}
	}
	_, _ = io.Copy(io.Discard, cr) // count whatever else the client sends
	return cr.n
}

// Impostor is a running impostor.
type Impostor struct {
	Socket string // its socket, in Dir
	Dir    string // owned by root, mode 1777 (sticky, world-writable), like /tmp
	reads  chan int64
}

// StartImpostor runs the impostor as nobody; it is stopped and its files removed when the test
// ends. It needs root (to run a process as nobody): without it the test is skipped.
func StartImpostor(t testing.TB) *Impostor {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root: the impostor runs as user nobody (uid 65534)")
	}
	// top (root, 0755) holds a copy of this test binary that nobody may run (go test's own
	// build directory is private) and the sticky world-writable socket directory.
	top, err := os.MkdirTemp("", "hmacd-imp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	err = os.Chmod(top, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "impostor")
	err = copyFile(exe, bin, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	imp := &Impostor{Dir: filepath.Join(top, "tmp"), reads: make(chan int64, 16)}
	imp.Socket = filepath.Join(imp.Dir, "s")
	err = os.Mkdir(imp.Dir, 0o700)
	if err == nil { // then chmod: Mkdir's mode would be cut by the umask
		err = os.Chmod(imp.Dir, 0o777|os.ModeSticky)
	}
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(imp.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
		t.Fatalf("%s: mode %v, want drwxrwxrwt", imp.Dir, fi.Mode())
	}

	// -test.run=^$: should the package's TestMain not call ImpostorMain, no test runs as
	// nobody (and "ready" never comes).
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Dir = top
	cmd.Env = append(os.Environ(), impostorEnv+"="+imp.Socket)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: NobodyUID, Gid: NobodyUID}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	if err != nil {
		t.Fatalf("start the impostor as nobody: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready <- sc.Scan() && sc.Text() == "ready"
		for sc.Scan() {
			n, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "read "), 10, 64)
			if err != nil {
				n = -1
			}
			imp.reads <- n
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the impostor did not start (does TestMain call daemontest.ImpostorMain?)")
		}
	case <-time.After(startTimeout):
		t.Fatal("the impostor did not start in time")
	}
	return imp
}

// Read waits for the impostor's next connection to end and returns how many bytes the client
// sent on it.
func (imp *Impostor) Read(t testing.TB) int64 {
	t.Helper()
	select {
	case n := <-imp.reads:
		return n
	case <-time.After(startTimeout):
		t.Fatal("no connection to the impostor ended")
		return 0
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}
