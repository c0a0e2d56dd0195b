// fake.go - a fake hmacd that gives every verify item one verdict, for what the real daemon
// does not do on cue: verdict 9 UNAVAILABLE, which it answers only in fleet mode when a nonce
// cannot be claimed in time. It speaks the real protocol (the impostor's frame loop) on a
// socket in a fresh directory of this process's user, which the client's default peer check
// accepts (the directory's owner).

package daemontest

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// Fake is a running fake daemon.
type Fake struct {
	Socket string
	dir    string
	ln     net.Listener
	wg     sync.WaitGroup
	once   sync.Once
	conns  int64
}

// StartFake serves verdict to every verify item on a new socket until Stop or the end of the
// test.
func StartFake(t testing.TB, verdict uint8) *Fake {
	t.Helper()
	dir, err := os.MkdirTemp("", "hmacd-fake-") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{Socket: filepath.Join(dir, "s"), dir: dir}
	f.ln, err = net.Listen("unix", f.Socket)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		var mu sync.Mutex
		var open []net.Conn
		defer func() {
			mu.Lock()
			for _, nc := range open {
				nc.Close() // Stop: the clients see the daemon go away
			}
			mu.Unlock()
		}()
		for {
			nc, err := f.ln.Accept()
			if err != nil {
				return
			}
			atomic.AddInt64(&f.conns, 1)
			mu.Lock()
			open = append(open, nc)
			mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				answerAll(nc, verdict)
				nc.Close()
			}()
		}
	}()
	return f
}

// Conns is how many connections the fake accepted.
func (f *Fake) Conns() int64 {
	return atomic.LoadInt64(&f.conns)
}

// Stop closes the socket and every connection, as a daemon that went away; idempotent.
func (f *Fake) Stop() {
	f.once.Do(func() {
		f.ln.Close()
		f.wg.Wait()
		os.RemoveAll(f.dir)
	})
}
