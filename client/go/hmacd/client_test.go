// client_test.go - the Client against the real hmacd (skipped unless $HMACD and $HMACCTL are
// set): every verdict code, error responses, daemon down, daemon restarted, concurrency with
// every verdict checked; and against small fake daemons: no resend once written, timeouts,
// protocol errors.

package hmacd_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
	"github.com/hmacd/hmacd/client/go/internal/daemontest"
	"github.com/vmihailenco/msgpack/v5"
)

var nonceSeq uint64

// newNonce: unique within the test process, so no test item is a replay by accident.
func newNonce() string {
	return fmt.Sprintf("n%d-%d", time.Now().UnixNano(), atomic.AddUint64(&nonceSeq, 1))
}

// signed returns an item for k's scope, signed with k, after mutate (which may change any
// field before signing).
func signed(t testing.TB, k daemontest.Key, mutate func(*hmacd.Item)) hmacd.Item {
	t.Helper()
	it := hmacd.Item{
		Tenant:    k.Tenant,
		Container: k.Container,
		Epoch:     k.Epoch,
		Method:    "POST",
		Path:      "/containers/" + k.Container + "/exec?tty=1",
		Headers:   []hmacd.Header{{Name: "content-type", Value: "application/json"}},
		Body:      []byte(`{"cmd":["ls"]}`),
		Ts:        uint64(time.Now().Unix()),
		Nonce:     newNonce(),
	}
	if mutate != nil {
		mutate(&it)
	}
	err := hmacd.Sign(k.Secret, &it)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return it
}

func newClient(t testing.TB, socket string, opts *hmacd.Options) *hmacd.Client {
	t.Helper()
	c, err := hmacd.New(socket, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx5s(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// verdictCases builds one item per verdict code on daemon d, with its expected verdict.
func verdictCases(t *testing.T, d *daemontest.Daemon) ([]hmacd.Item, []hmacd.Verdict) {
	k := d.CreateKey(t, "acme", "c1")
	// Epoch 1 revoked, epoch 2 superseded with no grace (expired), epoch 3 current.
	rk := d.CreateKey(t, "acme", "rot")
	ek := d.RotateKey(t, "acme", "rot", 0)
	cur := d.RotateKey(t, "acme", "rot", 0)
	d.RevokeKey(t, "acme", "rot", rk.Epoch)

	replayed := signed(t, k, nil)
	var items []hmacd.Item
	var want []hmacd.Verdict
	add := func(it hmacd.Item, v hmacd.Verdict) {
		items = append(items, it)
		want = append(want, v)
	}
	add(signed(t, k, nil), hmacd.VerdictOK)
	add(signed(t, cur, nil), hmacd.VerdictOK)
	bad := signed(t, k, nil)
	bad.Sig[0] ^= 1
	add(bad, hmacd.VerdictBadSignature)
	add(signed(t, k, func(it *hmacd.Item) { it.Tenant = "nobody" }), hmacd.VerdictUnknownKey)
	add(signed(t, k, func(it *hmacd.Item) { it.Epoch = 99 }), hmacd.VerdictUnknownKey)
	add(signed(t, rk, nil), hmacd.VerdictKeyRevoked)
	add(signed(t, ek, nil), hmacd.VerdictKeyExpired)
	add(signed(t, k, func(it *hmacd.Item) { it.Ts -= 3600 }), hmacd.VerdictStaleTimestamp)
	add(replayed, hmacd.VerdictOK)
	add(replayed, hmacd.VerdictReplay)
	mal := signed(t, k, nil)
	mal.Method = "PO ST" // after signing: the daemon must refuse it as malformed
	add(mal, hmacd.VerdictMalformed)
	return items, want
}

func TestVerifyEachVerdict(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	items, want := verdictCases(t, d)

	// One by one, then all at once in one frame (with fresh nonces and a fresh replay pair).
	for i := range items {
		v, err := c.VerifyOne(ctx5s(t), &items[i])
		if err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		if v != want[i] {
			t.Errorf("item %d: verdict %v, want %v", i, v, want[i])
		}
	}
}

func TestVerifyBatchAndOrder(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	items, want := verdictCases(t, d)
	got, err := c.Verify(ctx5s(t), items)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d verdicts for %d items", len(got), len(items))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d: %v, want %v", i, got[i], want[i])
		}
	}
	if v, err := c.Verify(ctx5s(t), nil); err != nil || len(v) != 0 {
		t.Errorf("empty verify: %v %v", v, err)
	}
}

func TestPingStats(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, nil)
	if err := c.Ping(ctx5s(t)); err != nil {
		t.Fatal(err)
	}
	k := d.CreateKey(t, "acme", "c1")
	it := signed(t, k, nil)
	if v, err := c.VerifyOne(ctx5s(t), &it); err != nil || v != hmacd.VerdictOK {
		t.Fatalf("verify: %v %v", v, err)
	}
	st, err := c.Stats(ctx5s(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st) == 0 {
		t.Fatal("no counters")
	}
	t.Logf("%d counters", len(st))
}

// A batch over the daemon's --max-batch gets an error response; the connection stays usable.
func TestServerErrorResponse(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, &hmacd.Options{Conns: 1, MaxBatch: 4096, MaxFrame: 4 << 20})
	k := d.CreateKey(t, "acme", "c1")
	it := signed(t, k, nil)
	items := make([]hmacd.Item, 1025)
	for i := range items {
		items[i] = it
	}
	_, err := c.Verify(ctx5s(t), items)
	var se *hmacd.ServerError
	if !errors.As(err, &se) || se.Code != "too_many_items" {
		t.Fatalf("1025 items: %v, want too_many_items", err)
	}
	if v, err := c.VerifyOne(ctx5s(t), &it); err != nil || v != hmacd.VerdictOK {
		t.Fatalf("after the error response: %v %v", v, err)
	}
	// The client's own limits.
	c2 := newClient(t, d.Socket, nil)
	if _, err := c2.Verify(ctx5s(t), items); !errors.Is(err, hmacd.ErrTooBig) {
		t.Fatalf("over MaxBatch: %v", err)
	}
	both := it
	both.BodySHA256 = make([]byte, 32)
	if _, err := c2.VerifyOne(ctx5s(t), &both); !errors.Is(err, hmacd.ErrInvalid) {
		t.Fatalf("both body forms: %v", err)
	}
}

func TestDaemonDownAndRestart(t *testing.T) {
	d := daemontest.Start(t)
	c := newClient(t, d.Socket, &hmacd.Options{Conns: 3})
	k := d.CreateKey(t, "acme", "c1")
	verifyOK := func(when string) {
		t.Helper()
		// Several calls, so that every pooled connection is exercised.
		for i := 0; i < 8; i++ {
			it := signed(t, k, nil)
			v, err := c.VerifyOne(ctx5s(t), &it)
			if err != nil || v != hmacd.VerdictOK {
				t.Fatalf("%s, call %d: %v %v", when, i, v, err)
			}
		}
	}
	verifyOK("before the restart")

	d.Stop(t)
	it := signed(t, k, nil)
	_, err := c.VerifyOne(ctx5s(t), &it)
	if !errors.Is(err, hmacd.ErrUnavailable) {
		t.Fatalf("daemon down: %v, want ErrUnavailable", err)
	}
	if err := c.Ping(ctx5s(t)); !errors.Is(err, hmacd.ErrUnavailable) {
		t.Fatalf("ping, daemon down: %v", err)
	}

	d.Run(t)
	verifyOK("after the restart")

	// Restart without a call in between: the pooled connections are all stale.
	d.Stop(t)
	d.Run(t)
	verifyOK("after a second restart")
}

// 64 goroutines x 200 verifies, a mix of verdicts, every one checked.
// Concurrent callers, valid and invalid items mixed, each caller checking its own verdicts:
// through the default pool, through one connection with one frame in flight (every caller
// but the one reading queues, and its items go out in a frame with others'), with frames of
// at most 4 items (a caller's two items may be split from their neighbours' but never from
// each other), and with small frames four deep (a caller writing its own frame often writes
// others' behind it, after the last reader left: it must read them or hand them on). Callers
// alternate VerifyOne with a two-item Verify.
func TestConcurrency(t *testing.T) {
	d := daemontest.Start(t)
	keys := []daemontest.Key{d.CreateKey(t, "acme", "c1"), d.CreateKey(t, "beta", "c2")}
	for _, o := range []*hmacd.Options{nil, {Conns: 1, MaxInFlight: 1},
		{Conns: 3, MaxInFlight: 1, MaxBatch: 4}, {Conns: 1, MaxInFlight: 4, MaxBatch: 2}} {
		before := frameStats(t, d)
		concurrentCallers(t, newClient(t, d.Socket, o), keys)
		after := frameStats(t, d)
		t.Logf("options %+v: %.2f items per frame", o,
			float64(after[1]-before[1])/float64(after[0]-before[0]))
	}
}

// frameStats returns the daemon's counts of requests (frames) and items.
func frameStats(t *testing.T, d *daemontest.Daemon) [2]uint64 {
	c := newClient(t, d.Socket, nil)
	s, err := c.Stats(ctx5s(t))
	if err != nil {
		t.Fatal(err)
	}
	return [2]uint64{s["requests"], s["items"]}
}

func concurrentCallers(t *testing.T, c *hmacd.Client, keys []daemontest.Key) {
	const workers, per = 64, 100

	type job struct {
		it   hmacd.Item
		want hmacd.Verdict
	}
	jobs := make([][]job, workers)
	for w := range jobs {
		r := rand.New(rand.NewSource(int64(w)))
		jobs[w] = make([]job, per)
		for i := range jobs[w] {
			k := keys[r.Intn(len(keys))]
			var j job
			switch r.Intn(5) {
			case 0, 1:
				j = job{signed(t, k, nil), hmacd.VerdictOK}
			case 2:
				j = job{signed(t, k, nil), hmacd.VerdictBadSignature}
				j.it.Sig[31] ^= 0x80
			case 3:
				j = job{signed(t, k, func(it *hmacd.Item) { it.Epoch = 7 }),
					hmacd.VerdictUnknownKey}
			case 4:
				j = job{signed(t, k, func(it *hmacd.Item) { it.Ts -= 1000 }),
					hmacd.VerdictStaleTimestamp}
			}
			jobs[w][i] = j
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var wrong, failed int64
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(js []job) {
			defer wg.Done()
			for i := 0; i < len(js); i++ {
				if i%3 == 2 && i+1 < len(js) {
					vs, err := c.Verify(ctx, []hmacd.Item{js[i].it, js[i+1].it})
					if err != nil {
						atomic.AddInt64(&failed, 2)
					} else if len(vs) != 2 || vs[0] != js[i].want || vs[1] != js[i+1].want {
						atomic.AddInt64(&wrong, 1)
					}
					i++
					continue
				}
				v, err := c.VerifyOne(ctx, &js[i].it)
				if err != nil {
					atomic.AddInt64(&failed, 1)
					continue
				}
				if v != js[i].want {
					atomic.AddInt64(&wrong, 1)
				}
			}
		}(jobs[w])
	}
	wg.Wait()
	el := time.Since(start)
	if failed != 0 || wrong != 0 {
		t.Fatalf("%d calls failed, %d wrong verdicts", failed, wrong)
	}
	t.Logf("%d verifies by %d goroutines in %v: %.0f verifies/s", workers*per, workers, el,
		float64(workers*per)/el.Seconds())
}

// ---- fake daemons ----

// fakeDaemon listens on a temporary socket and runs serve for each connection.
func fakeDaemon(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hmfake-")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(nc)
			}()
		}
	}()
	return path
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	_, err := io.ReadFull(r, hdr[:])
	if err != nil {
		return nil, err
	}
	p := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err = io.ReadFull(r, p)
	return p, err
}

func testItem() hmacd.Item {
	return hmacd.Item{Tenant: "t", Container: "c", Epoch: 1, Method: "GET", Path: "/",
		Sig: make([]byte, 32)}
}

// A request whose bytes were written is never sent again, even though the connection broke
// before the answer: the call fails with ErrConnLost and the daemon saw it once.
func TestNoResendOnceWritten(t *testing.T) {
	var frames int64
	path := fakeDaemon(t, func(nc net.Conn) {
		_, err := readFrame(nc)
		if err == nil {
			atomic.AddInt64(&frames, 1)
		}
		// close without answering
	})
	c := newClient(t, path, &hmacd.Options{Conns: 1})
	it := testItem()
	_, err := c.VerifyOne(ctx5s(t), &it)
	if !errors.Is(err, hmacd.ErrConnLost) {
		t.Fatalf("got %v, want ErrConnLost", err)
	}
	if n := atomic.LoadInt64(&frames); n != 1 {
		t.Fatalf("the daemon got %d frames, want 1", n)
	}
}

// The connection-level timeout and the caller's context.
func TestTimeouts(t *testing.T) {
	hold := make(chan struct{})
	path := fakeDaemon(t, func(nc net.Conn) {
		_, _ = readFrame(nc)
		select { // never answer
		case <-hold:
		case <-time.After(10 * time.Second):
		}
	})
	defer close(hold)
	c := newClient(t, path, &hmacd.Options{Conns: 1, Timeout: 200 * time.Millisecond})
	it := testItem()
	start := time.Now()
	_, err := c.VerifyOne(context.Background(), &it)
	if !errors.Is(err, hmacd.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("timeout took %v", el)
	}

	c2 := newClient(t, path, &hmacd.Options{Conns: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c2.VerifyOne(ctx, &it)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

// A call whose context ends while it waits for room on the connection is never sent.
func TestCancelledCallNeverSent(t *testing.T) {
	var mu sync.Mutex
	var ops []string
	path := fakeDaemon(t, func(nc net.Conn) {
		for {
			p, err := readFrame(nc)
			if err != nil {
				return
			}
			var req map[string]interface{}
			if msgpack.Unmarshal(p, &req) != nil {
				return
			}
			op, _ := req["op"].(string)
			mu.Lock()
			ops = append(ops, op)
			mu.Unlock()
			if op == "ping" { // answer pings only: verifies hang
				id, _ := msgpack.Marshal(req["id"])
				resp := append([]byte{0, 0, 0, byte(10 + len(id)), 0x82, 0xa2, 'i', 'd'}, id...)
				resp = append(resp, 0xa4, 'p', 'o', 'n', 'g', 0xc3)
				_, _ = nc.Write(resp)
			}
		}
	})
	c := newClient(t, path, &hmacd.Options{Conns: 1, MaxInFlight: 1,
		Timeout: 300 * time.Millisecond})
	it := testItem()
	errA := make(chan error, 1)
	go func() {
		_, err := c.VerifyOne(context.Background(), &it) // holds the only slot
		errA <- err
	}()
	for { // wait until A is on the wire
		mu.Lock()
		n := len(ops)
		mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.VerifyOne(ctx, &it); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B: %v", err)
	}
	if err := <-errA; !errors.Is(err, hmacd.ErrTimeout) {
		t.Fatalf("A: %v, want ErrTimeout", err)
	}
	// The one writer handles B before this ping: if B had been sent, it would come first.
	if err := c.Ping(ctx5s(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ops) != 2 || ops[0] != "verify" || ops[1] != "ping" {
		t.Fatalf("the daemon got %v, want [verify ping]", ops)
	}
}

// slowDaemon answers every request in order, verifies after delay with verdict 0 per item.
func slowDaemon(t *testing.T, delay time.Duration) string {
	return fakeDaemon(t, func(nc net.Conn) {
		for {
			p, err := readFrame(nc)
			if err != nil {
				return
			}
			var req struct {
				ID    uint64        `msgpack:"id"`
				Op    string        `msgpack:"op"`
				Items []interface{} `msgpack:"items"`
			}
			if msgpack.Unmarshal(p, &req) != nil {
				return
			}
			var ans []byte
			if req.Op == "ping" {
				ans, err = msgpack.Marshal(map[string]interface{}{"id": req.ID, "pong": true})
			} else {
				time.Sleep(delay)
				ans, err = msgpack.Marshal(map[string]interface{}{"id": req.ID,
					"results": make([]int, len(req.Items))})
			}
			if err != nil {
				return
			}
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(ans)))
			if _, err = nc.Write(append(hdr[:], ans...)); err != nil {
				return
			}
		}
	})
}

// The caller reading the answers gives up (its context is cancelled, with no deadline): the
// read side goes to the caller whose frame is still in flight, which gets its verdict; when
// every caller has gone, a goroutine of the client reads, and the connection stays in step.
func TestReaderGivesUp(t *testing.T) {
	path := slowDaemon(t, 150*time.Millisecond)
	c := newClient(t, path, &hmacd.Options{Conns: 1, MaxInFlight: 2})
	it := testItem()
	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := c.VerifyOne(ctxA, &it) // alone: it writes, then reads
		errA <- err
	}()
	time.Sleep(20 * time.Millisecond)
	resB := make(chan error, 1)
	go func() {
		v, err := c.VerifyOne(context.Background(), &it)
		if err == nil && v != hmacd.VerdictOK {
			err = fmt.Errorf("verdict %v", v)
		}
		resB <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("A: %v, want context.Canceled", err)
	}
	if err := <-resB; err != nil {
		t.Fatalf("B: %v", err)
	}

	// Both callers of the frames in flight give up: nobody of theirs reads any more.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.VerifyOne(ctx, &it); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v, want context.DeadlineExceeded", err)
			}
		}()
	}
	wg.Wait()
	vs, err := c.Verify(ctx5s(t), []hmacd.Item{it, it, it})
	if err != nil || len(vs) != 3 {
		t.Fatalf("after: %v %v", vs, err)
	}
	if err := c.Ping(ctx5s(t)); err != nil {
		t.Fatalf("ping after: %v", err)
	}
}

// Verdict 9 UNAVAILABLE (fleet mode: a nonce not claimed in time) is a verdict, not an error,
// and the connection stays in use. The real daemon answers it only in fleet mode: a fake does.
func TestVerdictUnavailable(t *testing.T) {
	f := daemontest.StartFake(t, 9)
	c := newClient(t, f.Socket, &hmacd.Options{Conns: 1})
	it := testItem()
	v, err := c.VerifyOne(ctx5s(t), &it)
	if err != nil || v != hmacd.VerdictUnavailable || v.String() != "UNAVAILABLE" {
		t.Fatalf("got %v (%d), %v; want UNAVAILABLE (9)", v, v, err)
	}
	vs, err := c.Verify(ctx5s(t), []hmacd.Item{testItem(), testItem()})
	if err != nil || len(vs) != 2 || vs[0] != hmacd.VerdictUnavailable ||
		vs[1] != hmacd.VerdictUnavailable {
		t.Fatalf("batch: got %v, %v", vs, err)
	}
	if n := f.Conns(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	if s := hmacd.Verdict(10).String(); s != "VERDICT_10" {
		t.Fatalf("code 10 is %q", s)
	}
}

// An answer with the wrong id is a protocol error.
func TestProtocolError(t *testing.T) {
	path := fakeDaemon(t, func(nc net.Conn) {
		if _, err := readFrame(nc); err != nil {
			return
		}
		// {"id": 99, "pong": true}
		_, _ = nc.Write([]byte{0, 0, 0, 0x0b, 0x82, 0xa2, 'i', 'd', 99, 0xa4, 'p', 'o', 'n', 'g',
			0xc3})
		_, _ = readFrame(nc)
	})
	c := newClient(t, path, &hmacd.Options{Conns: 1})
	if err := c.Ping(ctx5s(t)); !errors.Is(err, hmacd.ErrProtocol) {
		t.Fatalf("got %v, want ErrProtocol", err)
	}

	// An answer announcing more than any answer can hold.
	path = fakeDaemon(t, func(nc net.Conn) {
		if _, err := readFrame(nc); err != nil {
			return
		}
		_, _ = nc.Write([]byte{0x7f, 0xff, 0xff, 0xff})
		_, _ = readFrame(nc)
	})
	c = newClient(t, path, &hmacd.Options{Conns: 1})
	if err := c.Ping(ctx5s(t)); !errors.Is(err, hmacd.ErrProtocol) {
		t.Fatalf("huge answer: got %v, want ErrProtocol", err)
	}
}

func TestClosedClient(t *testing.T) {
	c, err := hmacd.New("/nonexistent/s", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx5s(t)); !errors.Is(err, hmacd.ErrUnavailable) {
		t.Fatalf("no daemon: %v", err)
	}
	c.Close()
	if err := c.Ping(ctx5s(t)); !errors.Is(err, hmacd.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if _, err := hmacd.New("", nil); !errors.Is(err, hmacd.ErrInvalid) {
		t.Fatalf("empty path: %v", err)
	}
}

// BenchmarkVerifyParallel: single-item VerifyOne calls from many goroutines, batched by the
// client (go test -bench . -run NONE with $HMACD set). The item has no nonce, so the same one
// verifies OK every time and signing stays out of the measurement.
func BenchmarkVerifyParallel(b *testing.B) {
	d := daemontest.Start(b)
	c := newClient(b, d.Socket, nil)
	k := d.CreateKey(b, "acme", "c1")
	it := signed(b, k, func(it *hmacd.Item) { it.Nonce = "" })
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := c.VerifyOne(context.Background(), &it)
			if err != nil || v != hmacd.VerdictOK {
				b.Errorf("%v %v", v, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifies/s")
}
