// client.go - the connection pool: batching, pipelining, deadlines and reconnection.
//
// Design. A Client runs one writer goroutine per pooled connection; callers hand their
// already-encoded items to whichever writer is free through one unbuffered channel. A writer
// takes a call, makes sure its connection is up (dialling if not), waits for an in-flight slot
// (at most MaxInFlight frames awaiting answers per connection), then drains every other call
// that is waiting at that moment into the same verify frame, up to MaxBatch items and MaxFrame
// bytes. That wait is what builds batches under load, and costs nothing when idle. Each
// connection has a reader goroutine that matches answers to frames in order (PROTOCOL.md
// section 2) and hands each caller its slice of the verdicts.
//
// Ownership of a frame in flight is membership of the connection's queue, under its mutex:
// whoever removes a frame from the queue delivers its result, exactly once. The reader removes
// a frame when its answer arrives, or every written frame when the connection dies; the writer
// removes its frame if the write failed.
//
// Resending. A frame is sent again, once, on a fresh connection only if none of its bytes was
// written (the same rule as client/c/include/hmacd/client.h): after a daemon restart the old
// socket refuses the write at once with nothing written. A frame with any byte written is
// never resent, since its nonces may have been recorded: its callers get ErrConnLost.
//
// Deadlines. Each call's context bounds how long the caller waits; a call whose context ends
// before a writer took it is never sent. Independently, a connection with frames in flight that
// sees no answer for Options.Timeout is closed (ErrTimeout), so a stuck daemon cannot pin
// callers whose contexts have no deadline.

package hmacd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Errors returned by Client methods (wrapped with detail: test with errors.Is). Every one of
// them means the request was not judged; an HTTP middleware answers 503.
var (
	// ErrUnavailable: no connection to the daemon could be made, or it refused the request
	// before reading any of it. Nothing was sent.
	ErrUnavailable = errors.New("hmacd: daemon unavailable")
	// ErrConnLost: the connection broke after (part of) the request was written. It is not
	// resent, because the daemon may have judged it and recorded its nonces.
	ErrConnLost = errors.New("hmacd: connection lost with the request in flight")
	// ErrTimeout: the daemon made no progress answering for Options.Timeout.
	ErrTimeout = errors.New("hmacd: daemon did not answer in time")
	// ErrProtocol: the daemon's answer does not follow the protocol.
	ErrProtocol = errors.New("hmacd: answer does not follow the protocol")
	// ErrTooBig: more than Options.MaxBatch items, or more than Options.MaxFrame bytes.
	ErrTooBig = errors.New("hmacd: request too large")
	// ErrInvalid: an argument the wire cannot carry (an item with both body forms).
	ErrInvalid = errors.New("hmacd: invalid argument")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("hmacd: client closed")
)

// ServerError is the daemon's error response to a whole request (PROTOCOL.md section 6), e.g.
// Code "too_many_items" or "internal". Message is for logs only.
type ServerError struct {
	Code    string
	Message string
}

func (e *ServerError) Error() string {
	return "hmacd: daemon refused the request: " + e.Code + ": " + e.Message
}

// Options tune a Client; the zero value gives the defaults.
type Options struct {
	// Conns is the number of pooled connections (default 2). Each has a writer goroutine.
	Conns int
	// MaxBatch bounds the items in one verify frame (default 1024, the daemon's default
	// --max-batch). A Verify call with more items fails with ErrTooBig.
	MaxBatch int
	// MaxFrame bounds a request payload in bytes (default 1048576, the daemon's default
	// --max-frame; 1024..67108864). Keep it at or under the daemon's --max-frame.
	MaxFrame int
	// MaxInFlight bounds the frames awaiting answers per connection (default 2). While a
	// connection is full, calls queue up and go out together in the next frame.
	MaxInFlight int
	// Timeout is how long a connection with frames in flight may go without an answer before
	// it is closed and those frames fail with ErrTimeout (default 5s).
	Timeout time.Duration
	// DialTimeout bounds a connection attempt (default 1s).
	DialTimeout time.Duration
	// ServerUser is the user hmacd runs as, a name or a numeric uid: every new connection is
	// refused with ErrPeer, before anything is written, unless the process listening on the
	// socket runs as that user (the kernel's word, SO_PEERCRED). "" (default): root, or the
	// owner of the socket's directory (looked up at each connection). New resolves a name,
	// and fails for an unknown one.
	ServerUser string
}

func (o *Options) withDefaults() (Options, error) {
	r := Options{}
	if o != nil {
		r = *o
	}
	if r.Conns == 0 {
		r.Conns = 2
	}
	if r.MaxBatch == 0 {
		r.MaxBatch = 1024
	}
	if r.MaxFrame == 0 {
		r.MaxFrame = 1 << 20
	}
	if r.MaxInFlight == 0 {
		r.MaxInFlight = 2
	}
	if r.Timeout == 0 {
		r.Timeout = 5 * time.Second
	}
	if r.DialTimeout == 0 {
		r.DialTimeout = time.Second
	}
	if r.Conns < 1 || r.Conns > 1024 || r.MaxBatch < 1 || r.MaxFrame < 1024 ||
		r.MaxFrame > 64<<20 || r.MaxInFlight < 1 || r.Timeout < 0 || r.DialTimeout < 0 {
		return r, fmt.Errorf("%w: option out of range", ErrInvalid)
	}
	return r, nil
}

// headMax bounds the bytes of a request map before its items: {"id": uint64, "op": "verify",
// "items": array32 header}.
const headMax = 48

// Client is a pool of connections to one hmacd socket. It is safe for concurrent use; share
// one per process. It connects lazily, so New succeeds while the daemon is down (calls then
// fail with ErrUnavailable until it is up).
type Client struct {
	path      string
	opt       Options
	calls     chan *call
	quit      chan struct{}
	once      sync.Once
	wg        sync.WaitGroup
	nextID    uint64 // atomic
	serverUID uint32 // opt.ServerUser's uid, when it is set
}

const (
	callPending int32 = iota
	callTaken
	callCancelled
)

// call is one Verify, Ping or Stats call on its way.
type call struct {
	op    string
	enc   []byte // verify: the encoded items
	n     int    // verify: how many
	state int32  // atomic: callPending -> callTaken (by a writer) or callCancelled (by the caller)
	done  chan result
}

type result struct {
	verdicts []Verdict
	stats    map[string]uint64
	err      error
}

// frame is one request frame in flight.
type frame struct {
	id      uint64
	op      string
	calls   []*call
	nitems  int
	written bool // its write returned without error (set by the writer under conn.mu)
}

func (f *frame) fail(err error) {
	for _, cl := range f.calls {
		cl.done <- result{err: err}
	}
}

// conn is one connection and its reader goroutine.
type conn struct {
	nc      net.Conn
	timeout time.Duration
	slots   chan struct{} // one token per frame in flight
	deadCh  chan struct{} // closed when the connection is dead

	mu    sync.Mutex
	queue []*frame // frames written or being written, oldest first
	dead  bool
}

// New returns a Client for the daemon at socketPath. opts may be nil. It does not connect:
// use Ping to check that the daemon answers. Close it when done. It fails with ErrInvalid for
// an option out of range or a ServerUser that names no user.
func New(socketPath string, opts *Options) (*Client, error) {
	if socketPath == "" {
		return nil, fmt.Errorf("%w: empty socket path", ErrInvalid)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		path:  socketPath,
		opt:   o,
		calls: make(chan *call),
		quit:  make(chan struct{}),
	}
	if o.ServerUser != "" {
		c.serverUID, err = lookupServerUser(o.ServerUser)
		if err != nil {
			return nil, err
		}
	}
	c.wg.Add(o.Conns)
	for i := 0; i < o.Conns; i++ {
		go c.writer()
	}
	return c, nil
}

// Close stops the writers and closes the connections. Calls in flight fail with ErrClosed
// (their requests may still have been judged). Close waits for the writers to stop.
func (c *Client) Close() error {
	c.once.Do(func() { close(c.quit) })
	c.wg.Wait()
	return nil
}

// Verify asks the daemon for one verdict per item: verdicts[i] is the verdict of items[i].
// The items go in one frame, possibly together with other callers' items. An item is sent as
// given: one that breaks the content rules gets VerdictMalformed.
//
// Errors (the items were not judged, or the answer was lost): ErrUnavailable, ErrPeer,
// ErrConnLost, ErrTimeout, ErrProtocol, *ServerError, ErrTooBig, ErrInvalid, ErrClosed, or the
// context's error (errors.Is(err, context.DeadlineExceeded)).
func (c *Client) Verify(ctx context.Context, items []Item) ([]Verdict, error) {
	if len(items) == 0 {
		return []Verdict{}, nil
	}
	if len(items) > c.opt.MaxBatch {
		return nil, fmt.Errorf("%w: %d items, MaxBatch is %d", ErrTooBig, len(items),
			c.opt.MaxBatch)
	}
	var buf bytes.Buffer
	buf.Grow(256 * len(items))
	enc := msgpack.GetEncoder()
	enc.Reset(&buf)
	var err error
	for i := range items {
		err = encodeItem(enc, &items[i])
		if err != nil {
			break
		}
	}
	msgpack.PutEncoder(enc)
	if err != nil {
		return nil, err
	}
	if buf.Len()+headMax > c.opt.MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes, MaxFrame is %d", ErrTooBig, buf.Len(),
			c.opt.MaxFrame)
	}
	r := c.do(ctx, &call{op: opVerify, enc: buf.Bytes(), n: len(items)})
	return r.verdicts, r.err
}

// VerifyOne verifies one item; see Verify.
func (c *Client) VerifyOne(ctx context.Context, it *Item) (Verdict, error) {
	v, err := c.Verify(ctx, []Item{*it})
	if err != nil {
		return VerdictMalformed, err
	}
	return v[0], nil
}

// Ping checks that the daemon answers. Errors as for Verify.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, &call{op: opPing}).err
}

// Stats returns the daemon's counters (PROTOCOL.md section 12; names vary between releases).
// Errors as for Verify.
func (c *Client) Stats(ctx context.Context) (map[string]uint64, error) {
	r := c.do(ctx, &call{op: opStats})
	return r.stats, r.err
}

func (c *Client) do(ctx context.Context, cl *call) result {
	cl.done = make(chan result, 1)
	err := ctx.Err()
	if err != nil {
		return result{err: fmt.Errorf("hmacd: %w", err)}
	}
	select {
	case c.calls <- cl:
	case <-ctx.Done():
		return result{err: fmt.Errorf("hmacd: %w", ctx.Err())}
	case <-c.quit:
		return result{err: ErrClosed}
	}
	select {
	case r := <-cl.done:
		return r
	case <-ctx.Done():
		// If a writer took it first, it is on its way and its answer will be dropped (done
		// is buffered); if not, no writer will send it.
		atomic.CompareAndSwapInt32(&cl.state, callPending, callCancelled)
		return result{err: fmt.Errorf("hmacd: %w", ctx.Err())}
	}
}

// take claims a call for sending; false if its caller gave up first.
func (cl *call) take() bool {
	return atomic.CompareAndSwapInt32(&cl.state, callPending, callTaken)
}

// dial connects to the socket and checks who listens there (peer.go) before anything is
// written: a refused peer fails the call with ErrPeer, and is never retried into success.
func (c *Client) dial() (*conn, error) {
	d := net.Dialer{Timeout: c.opt.DialTimeout}
	nc, err := d.Dial("unix", c.path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	err = c.checkPeer(nc.(*net.UnixConn))
	if err != nil {
		nc.Close()
		return nil, err
	}
	cn := &conn{
		nc:      nc,
		timeout: c.opt.Timeout,
		slots:   make(chan struct{}, c.opt.MaxInFlight),
		deadCh:  make(chan struct{}),
	}
	go cn.reader()
	return cn, nil
}

// killLocked marks the connection dead and closes it; it returns the written frames, which
// the caller must fail. Frames still being written stay queued for their writer. cn.mu held.
func (cn *conn) killLocked() []*frame {
	if cn.dead {
		return nil
	}
	cn.dead = true
	close(cn.deadCh)
	cn.nc.Close()
	var victims, keep []*frame
	for _, f := range cn.queue {
		if f.written {
			victims = append(victims, f)
		} else {
			keep = append(keep, f)
		}
	}
	cn.queue = keep
	return victims
}

func (cn *conn) kill(err error) {
	cn.mu.Lock()
	victims := cn.killLocked()
	cn.mu.Unlock()
	for _, f := range victims {
		f.fail(err)
	}
}

func (cn *conn) isDead() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.dead
}

// removeLocked takes f out of the queue; false if it was not there (someone else owns it).
func (cn *conn) removeLocked(f *frame) bool {
	for i, g := range cn.queue {
		if g == f {
			cn.queue = append(cn.queue[:i], cn.queue[i+1:]...)
			return true
		}
	}
	return false
}

// writer serves calls on one pooled connection until the client is closed.
func (c *Client) writer() {
	defer c.wg.Done()
	var cn *conn
	var held *call // taken from the channel but left for the next frame
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	defer func() {
		if held != nil && held.take() {
			held.done <- result{err: ErrClosed}
		}
		if cn != nil {
			cn.kill(ErrClosed)
		}
	}()
	for {
		first := held
		held = nil
		if first == nil {
			select {
			case first = <-c.calls:
			case <-c.quit:
				return
			}
		}
		frameCalls, ok := c.gather(&cn, first, &held)
		if !ok {
			return
		}
		if len(frameCalls) == 0 {
			continue
		}
		c.send(&cn, &buf, enc, frameCalls)
	}
}

// gather makes sure *cnp is up, waits for an in-flight slot on it, and collects the calls of
// the next frame, starting with first. On return with calls, one slot is held. ok is false
// when the client is closing (first has been failed).
func (c *Client) gather(cnp **conn, first *call, held **call) (calls []*call, ok bool) {
	for {
		if *cnp == nil || (*cnp).isDead() {
			cn, err := c.dial()
			if err != nil {
				if first.take() {
					first.done <- result{err: err}
				}
				return nil, true
			}
			*cnp = cn
		}
		cn := *cnp
		select {
		case cn.slots <- struct{}{}:
		case <-cn.deadCh:
			continue // died while full: redial; nothing of first was written
		case <-c.quit:
			if first.take() {
				first.done <- result{err: ErrClosed}
			}
			return nil, false
		}
		break
	}
	if first.take() {
		calls = append(calls, first)
	}
	if first.op != opVerify {
		if len(calls) == 0 {
			<-(*cnp).slots
		}
		return calls, true
	}
	items, size := first.n, len(first.enc)
	for {
		var cl *call
		select {
		case cl = <-c.calls:
		default:
		}
		if cl == nil {
			break
		}
		if cl.op != opVerify || items+cl.n > c.opt.MaxBatch ||
			size+len(cl.enc)+headMax > c.opt.MaxFrame {
			*held = cl
			break
		}
		if cl.take() {
			calls = append(calls, cl)
			items += cl.n
			size += len(cl.enc)
		}
	}
	if len(calls) == 0 {
		<-(*cnp).slots
	}
	return calls, true
}

// send encodes calls as one frame and writes it on *cnp, which holds a slot for it. If no
// byte of it could be written (the connection was stale: the daemon restarted), it is sent
// again, once, on a fresh connection.
func (c *Client) send(cnp **conn, buf *bytes.Buffer, enc *msgpack.Encoder, calls []*call) {
	f := &frame{id: atomic.AddUint64(&c.nextID, 1), op: calls[0].op, calls: calls}
	buf.Reset()
	for _, cl := range calls {
		f.nitems += cl.n
	}
	err := appendRequestHead(buf, enc, f.id, f.op, f.nitems)
	if err != nil {
		<-(*cnp).slots
		f.fail(fmt.Errorf("%w: encode: %v", ErrInvalid, err))
		return
	}
	for _, cl := range calls {
		buf.Write(cl.enc)
	}
	finishFrame(buf.Bytes(), 0)
	for attempt := 0; ; attempt++ {
		cn := *cnp
		if attempt > 0 {
			var derr error
			cn, derr = c.dial()
			if derr != nil {
				f.fail(derr)
				return
			}
			*cnp = cn
			cn.slots <- struct{}{} // a fresh connection has room
		}
		n, werr := cn.write(f, buf.Bytes())
		if werr == nil {
			return
		}
		<-cn.slots
		if n > 0 {
			f.fail(fmt.Errorf("%w: %v", ErrConnLost, werr))
			return
		}
		if attempt > 0 {
			f.fail(fmt.Errorf("%w: %v", ErrUnavailable, werr))
			return
		}
		// Nothing written on a connection that may be stale (daemon restarted): try a new one.
	}
}

// write queues f and writes b, its bytes. On error it returns how many bytes were written
// and f is back in the writer's hands, out of the queue; the connection is dead.
func (cn *conn) write(f *frame, b []byte) (int, error) {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return 0, errors.New("connection closed")
	}
	if len(cn.queue) == 0 {
		_ = cn.nc.SetReadDeadline(time.Now().Add(cn.timeout))
	}
	cn.queue = append(cn.queue, f)
	cn.mu.Unlock()

	_ = cn.nc.SetWriteDeadline(time.Now().Add(cn.timeout))
	n, err := cn.nc.Write(b)

	cn.mu.Lock()
	if err == nil && !cn.dead {
		f.written = true
		cn.mu.Unlock()
		return n, nil
	}
	if err == nil {
		err = errors.New("connection closed during the write")
	}
	mine := cn.removeLocked(f)
	victims := cn.killLocked()
	cn.mu.Unlock()
	for _, v := range victims {
		v.fail(fmt.Errorf("%w: %v", ErrConnLost, err))
	}
	if !mine {
		// The answer came back before the write returned: delivered by the reader.
		return len(b), nil
	}
	return n, err
}

// reader matches answers to frames until the connection dies.
func (cn *conn) reader() {
	br := bufio.NewReaderSize(cn.nc, 64<<10)
	var hdr [frameHeaderLen]byte
	var payload []byte
	for {
		_, err := io.ReadFull(br, hdr[:])
		if err == nil {
			n := binary.BigEndian.Uint32(hdr[:])
			if n > maxResponse {
				cn.kill(fmt.Errorf("%w: answer of %d bytes", ErrProtocol, n))
				return
			}
			if cap(payload) < int(n) {
				payload = make([]byte, n)
			}
			payload = payload[:n]
			_, err = io.ReadFull(br, payload)
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				cn.kill(fmt.Errorf("%w: %v", ErrTimeout, err))
			} else {
				cn.kill(fmt.Errorf("%w: %v", ErrConnLost, err))
			}
			return
		}
		resp, err := decodeResponse(payload)
		cn.mu.Lock()
		var f *frame
		if err == nil {
			if len(cn.queue) == 0 {
				err = fmt.Errorf("%w: answer without a request", ErrProtocol)
			} else {
				f = cn.queue[0]
				err = resp.matches(f)
			}
		}
		if err != nil {
			victims := cn.killLocked()
			if f != nil && cn.removeLocked(f) {
				victims = append(victims, f) // answered, so wholly written
			}
			cn.mu.Unlock()
			for _, v := range victims {
				v.fail(err)
			}
			return
		}
		cn.queue = cn.queue[1:]
		if len(cn.queue) > 0 {
			_ = cn.nc.SetReadDeadline(time.Now().Add(cn.timeout))
		} else {
			_ = cn.nc.SetReadDeadline(time.Time{})
		}
		cn.mu.Unlock()
		<-cn.slots
		resp.deliver(f)
	}
}

// matches checks that resp can be the answer to f.
func (resp *response) matches(f *frame) error {
	if resp.hasID && resp.id != f.id {
		return fmt.Errorf("%w: answer id %d, expected %d", ErrProtocol, resp.id, f.id)
	}
	if resp.hasError {
		return nil
	}
	switch f.op {
	case opVerify:
		if resp.results == nil || len(resp.results) != f.nitems {
			return fmt.Errorf("%w: verify answer does not hold %d results", ErrProtocol,
				f.nitems)
		}
	case opPing:
		if !resp.pong {
			return fmt.Errorf("%w: ping answer without pong", ErrProtocol)
		}
	case opStats:
		if resp.stats == nil {
			return fmt.Errorf("%w: stats answer without stats", ErrProtocol)
		}
	}
	return nil
}

func (resp *response) deliver(f *frame) {
	if resp.hasError {
		f.fail(&ServerError{Code: resp.errCode, Message: resp.errMsg})
		return
	}
	off := 0
	for _, cl := range f.calls {
		switch f.op {
		case opVerify:
			cl.done <- result{verdicts: resp.results[off : off+cl.n : off+cl.n]}
			off += cl.n
		case opStats:
			cl.done <- result{stats: resp.stats}
		default:
			cl.done <- result{}
		}
	}
}
