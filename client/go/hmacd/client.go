// client.go - the connection pool: batching, pipelining, deadlines and reconnection.
//
// Design. A Client pools a few connections (Options.Conns) and runs no goroutine of its own.
// Each connection has two sides, held in turn by the callers: the write side turns the calls
// queued on it into verify frames (at most MaxInFlight awaiting answers), and the read side
// reads the answers, which come back in request order (PROTOCOL.md section 2), and hands each
// caller its slice of the verdicts. A caller finding a connection with nothing in flight
// writes its frame and reads its answer itself: one round trip, no hand-off between
// goroutines. Callers arriving while the pipeline is full queue their calls; whoever frees a
// place (the reader, on an answer) sends everything queued meanwhile as one frame, up to
// MaxBatch items and MaxFrame bytes. That is what builds batches under load. A reader whose own
// answer came gives the read side to a caller whose frame is still in flight (which was going
// to wake for its answer anyway), or, if none waits any more, to a goroutine of its own.
//
// Ownership of a frame in flight is membership of the connection's list, under its mutex:
// whoever removes a frame from the list delivers its result, exactly once. The reader removes
// a frame when its answer arrives, or every written frame when the connection dies; the writer
// removes its frame if the write failed.
//
// Resending. A frame is sent again, once, on a fresh connection only if none of its bytes was
// written (the same rule as client/c/include/hmacd/client.h): after a daemon restart the old
// socket refuses the write at once with nothing written. A frame with any byte written is
// never resent, since its nonces may have been recorded: its callers get ErrConnLost.
//
// Deadlines. Each call's context bounds how long the caller waits (a caller reading answers
// notices a cancellation within readPoll); a call whose context ends while it is queued is
// never sent. Independently, a connection with frames in flight that sees no answer for
// Options.Timeout is closed (ErrTimeout), so a stuck daemon cannot pin callers whose contexts
// have no deadline.

package hmacd

import (
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
	// Conns is the number of pooled connections (default 2).
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
	pool      []slot
	rr        uint32 // atomic: where the next call starts looking in pool
	nextID    uint64 // atomic
	closed    int32  // atomic: 1 once Close was called
	readers   sync.WaitGroup
	serverUID uint32 // opt.ServerUser's uid, when it is set
}

// slot is one pooled connection: nil until first needed, replaced when found dead.
type slot struct {
	mu sync.Mutex // held while dialling
	cn atomic.Pointer[conn]
}

// call states, under the connection's mu.
const (
	callNew       int32 = iota
	callQueued          // in conn.pending
	callSent            // in a frame of conn.inflight (or being written)
	callCancelled       // its caller gave up before it was sent: it never will be
	callAbandoned       // its caller gave up after it was sent: its answer is dropped
)

// call is one Verify, Ping or Stats call on its way.
type call struct {
	ctx   context.Context
	op    string
	enc   []byte // verify: the encoded items
	n     int    // verify: how many
	state int32  // under cn.mu
	cn    *conn  // the connection it is queued or sent on
	// done carries its result, or news: retry (dispatch again), read (hold the read side).
	// Two messages at most are ever buffered: a read, then the result.
	done chan result
}

type result struct {
	verdicts []Verdict
	stats    map[string]uint64
	err      error
	retry    bool // not sent: dispatch it again
	unsent   bool // with retry: a write of it failed with nothing written
	read     bool // the caller now holds the connection's read side
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

// retry gives f's calls back to their callers, none of its bytes having been written.
func (f *frame) retry() {
	for _, cl := range f.calls {
		cl.done <- result{retry: true, unsent: true}
	}
}

// conn is one connection. Its two sides are tokens held by callers, not goroutines of their
// own: the writer (writing) turns queued calls into frames, the reader (reading) reads answers.
type conn struct {
	nc          net.Conn
	timeout     time.Duration
	maxInFlight int
	maxBatch    int
	maxFrame    int
	nextID      *uint64
	readers     *sync.WaitGroup
	deadFlag    int32 // atomic copy of dead, for the pool's lock-free look

	// the writer's, while it holds the write side
	wbuf bytes.Buffer
	wenc *msgpack.Encoder
	// the reader's, while it holds the read side: buffered bytes rbuf[rlo:rhi]
	rbuf     []byte
	rlo, rhi int

	mu       sync.Mutex
	pending  []*call  // not yet in a frame, oldest first
	inflight []*frame // frames written or being written, oldest first
	writing  bool     // someone holds the write side
	reading  bool     // someone holds the read side
	progress time.Time
	dead     bool
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
		path: socketPath,
		opt:  o,
		pool: make([]slot, o.Conns),
	}
	if o.ServerUser != "" {
		c.serverUID, err = lookupServerUser(o.ServerUser)
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Close closes the connections. Calls in flight fail with ErrClosed (their requests may
// still have been judged), later calls too.
func (c *Client) Close() error {
	atomic.StoreInt32(&c.closed, 1)
	for i := range c.pool {
		s := &c.pool[i]
		s.mu.Lock()
		cn := s.cn.Load()
		s.mu.Unlock()
		if cn != nil {
			cn.kill(ErrClosed)
		}
	}
	c.readers.Wait()
	return nil
}

func (c *Client) isClosed() bool {
	return atomic.LoadInt32(&c.closed) != 0
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

// maxDispatch bounds how often one call is dispatched: a call goes again when the connection
// it waited on died before it was sent, and each time a new connection is dialled.
const maxDispatch = 4

func (c *Client) do(ctx context.Context, cl *call) result {
	err := ctx.Err()
	if err != nil {
		return result{err: fmt.Errorf("hmacd: %w", err)}
	}
	cl.ctx = ctx
	cl.done = make(chan result, 2)
	resent := false
	for attempt := 1; ; attempt++ {
		if c.isClosed() {
			return result{err: ErrClosed}
		}
		cn, err := c.pick()
		if err != nil {
			return result{err: err}
		}
		r := cn.submit(cl)
		if !r.retry {
			return r
		}
		if c.isClosed() {
			return result{err: ErrClosed}
		}
		if r.unsent {
			if resent {
				return result{err: fmt.Errorf("%w: nothing could be written", ErrUnavailable)}
			}
			resent = true
		}
		if attempt == maxDispatch {
			return result{err: fmt.Errorf("%w: connections lost before the request was sent",
				ErrUnavailable)}
		}
	}
}

// pick chooses the connection for a call: one with nothing in flight (the caller then writes
// and reads itself), else a new one in an empty slot, else one with room in its pipeline, else
// any (the call waits there to go out with others in the next frame).
func (c *Client) pick() (*conn, error) {
	n := len(c.pool)
	start := int(atomic.AddUint32(&c.rr, 1) % uint32(n))
	var best *conn
	bestLoad := 3
	var dialErr error
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			s := &c.pool[(start+i)%n]
			cn := s.cn.Load()
			if cn == nil || atomic.LoadInt32(&cn.deadFlag) != 0 {
				if pass == 0 {
					continue
				}
				cn, err := c.dialSlot(s)
				if err == nil {
					return cn, nil
				}
				dialErr = err
				continue
			}
			if pass == 1 {
				continue
			}
			load := cn.load()
			if load == 0 {
				return cn, nil
			}
			if load < bestLoad {
				best, bestLoad = cn, load
			}
		}
		if best != nil && bestLoad == 1 {
			return best, nil
		}
	}
	if best != nil {
		return best, nil
	}
	return nil, dialErr
}

// load: 0 nothing in flight, 1 room for another frame, 2 full or busy writing, 3 dead.
func (cn *conn) load() int {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	switch {
	case cn.dead:
		return 3
	case cn.writing || len(cn.pending) > 0 || len(cn.inflight) >= cn.maxInFlight:
		return 2
	case len(cn.inflight) > 0:
		return 1
	}
	return 0
}

// dialSlot connects s, unless another caller did meanwhile.
func (c *Client) dialSlot(s *slot) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cn := s.cn.Load()
	if cn != nil && atomic.LoadInt32(&cn.deadFlag) == 0 {
		return cn, nil
	}
	cn, err := c.dial()
	if err != nil {
		return nil, err
	}
	if c.isClosed() {
		cn.kill(ErrClosed)
		return nil, ErrClosed
	}
	s.cn.Store(cn)
	return cn, nil
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
		nc:          nc,
		timeout:     c.opt.Timeout,
		maxInFlight: c.opt.MaxInFlight,
		maxBatch:    c.opt.MaxBatch,
		maxFrame:    c.opt.MaxFrame,
		nextID:      &c.nextID,
		readers:     &c.readers,
		rbuf:        make([]byte, 16<<10),
	}
	cn.wenc = msgpack.NewEncoder(&cn.wbuf)
	return cn, nil
}

// submit queues cl on cn, writes it (with whatever else is queued) if the write side is free
// and the pipeline has room, and waits for its result.
func (cn *conn) submit(cl *call) result {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return result{retry: true}
	}
	cl.cn = cn
	cl.state = callQueued
	cn.pending = append(cn.pending, cl)
	write := !cn.writing && len(cn.inflight) < cn.maxInFlight
	if write {
		cn.writing = true
	}
	cn.mu.Unlock()
	if write {
		cn.flush()
	}
	return cn.wait(cl)
}

// wait returns cl's result. While nobody reads cn and frames are in flight, cl's caller reads
// them itself; so a lone caller writes its frame and reads its answer with no hand-off. It
// does so even when its own result is in: the frames it wrote for others after its own may
// have gone out after the last reader left, and readAs hands the read side on at once.
func (cn *conn) wait(cl *call) result {
	for {
		cn.mu.Lock()
		read := !cn.reading && !cn.dead && len(cn.inflight) > 0
		if read {
			cn.reading = true
		}
		cn.mu.Unlock()
		if read {
			r, ok := cn.readAs(cl)
			if ok {
				return r
			}
			continue
		}
		select {
		case r := <-cl.done:
			if !r.read {
				return r
			}
			r, ok := cn.readAs(cl)
			if ok {
				return r
			}
		case <-cl.ctx.Done():
			cn.giveUp(cl)
			return result{err: fmt.Errorf("hmacd: %w", cl.ctx.Err())}
		}
	}
}

// giveUp is cl's caller leaving before its result: a queued call is never sent, a sent one has
// its answer dropped, and a read side handed to it goes on to someone else.
func (cn *conn) giveUp(cl *call) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	switch cl.state {
	case callQueued:
		for i, p := range cn.pending {
			if p == cl {
				cn.pending = append(cn.pending[:i], cn.pending[i+1:]...)
				break
			}
		}
		cl.state = callCancelled
	case callSent:
		cl.state = callAbandoned
	}
	for {
		select {
		case r := <-cl.done:
			if r.read {
				cn.releaseReadLocked()
			}
			continue
		default:
		}
		return
	}
}

// releaseReadLocked gives up the read side: to the caller of a frame in flight still waiting,
// or to a goroutine of its own if none is, or to nobody when nothing is in flight. cn.mu held.
func (cn *conn) releaseReadLocked() {
	if cn.dead || len(cn.inflight) == 0 {
		cn.reading = false
		return
	}
	for _, f := range cn.inflight {
		for _, cl := range f.calls {
			if cl.state == callSent && len(cl.done) == 0 {
				cl.done <- result{read: true}
				return
			}
		}
	}
	cn.readers.Add(1)
	go func() {
		defer cn.readers.Done()
		cn.readAs(nil)
	}()
}

// readPoll bounds one wait for an answer of a caller whose context can be cancelled without a
// deadline, so that it notices the cancellation.
const readPoll = 20 * time.Millisecond

// readAs reads answers while holding the read side, until me (nil: a reader goroutine) has its
// result and no other answer is buffered, or nothing is in flight; then it gives the read side
// up. ok: me's result, or its
// context's error if it ended while reading.
func (cn *conn) readAs(me *call) (result, bool) {
	for {
		cn.mu.Lock()
		if cn.dead || len(cn.inflight) == 0 || (me != nil && len(me.done) > 0 && !cn.buffered()) {
			cn.releaseReadLocked()
			cn.mu.Unlock()
			return result{}, false
		}
		limit := cn.progress.Add(cn.timeout)
		cn.mu.Unlock()
		dl := limit
		if me != nil && me.ctx.Done() != nil {
			if d, ok := me.ctx.Deadline(); ok && d.Before(dl) {
				dl = d
			}
			if poll := time.Now().Add(readPoll); poll.Before(dl) {
				dl = poll
			}
		}
		_ = cn.nc.SetReadDeadline(dl)
		payload, err := cn.readFrame()
		if err != nil {
			var ne net.Error
			if errors.Is(err, ErrProtocol) {
				cn.kill(err)
				continue
			}
			if !errors.As(err, &ne) || !ne.Timeout() {
				cn.kill(fmt.Errorf("%w: %v", ErrConnLost, err))
				continue
			}
			if !time.Now().Before(limit) {
				cn.kill(fmt.Errorf("%w: %v", ErrTimeout, err))
				continue
			}
			if me != nil && me.ctx.Err() != nil {
				cn.giveUp(me)
				cn.mu.Lock()
				cn.releaseReadLocked()
				cn.mu.Unlock()
				return result{err: fmt.Errorf("hmacd: %w", me.ctx.Err())}, true
			}
			continue
		}
		cn.answer(payload)
	}
}

// answer matches one answer to the oldest frame in flight and delivers it, after sending
// whatever was queued behind a full pipeline.
func (cn *conn) answer(payload []byte) {
	resp, err := decodeResponse(payload)
	cn.mu.Lock()
	var f *frame
	if err == nil {
		if len(cn.inflight) == 0 {
			err = fmt.Errorf("%w: answer without a request", ErrProtocol)
		} else {
			f = cn.inflight[0]
			err = resp.matches(f)
		}
	}
	if err != nil {
		victims, queued := cn.killLocked()
		if f != nil && cn.removeLocked(f) {
			victims = append(victims, f) // answered, so wholly written
		}
		cn.mu.Unlock()
		failAll(victims, queued, err)
		return
	}
	cn.inflight = cn.inflight[1:]
	cn.progress = time.Now()
	write := len(cn.pending) > 0 && !cn.writing
	if write {
		cn.writing = true
	}
	cn.mu.Unlock()
	if write {
		cn.flush()
	}
	resp.deliver(f)
}

// buffered tells whether a whole answer is already read: the reader hands those out before it
// gives up the read side, which costs no system call and saves the next reader a wait for the
// scheduler. Only the reader calls it.
func (cn *conn) buffered() bool {
	have := cn.rhi - cn.rlo
	return have >= frameHeaderLen &&
		uint64(have-frameHeaderLen) >= uint64(binary.BigEndian.Uint32(cn.rbuf[cn.rlo:]))
}

// readFrame returns the next answer's payload, valid until the next call. A timeout leaves
// what was read buffered, so the next call goes on where this one stopped.
func (cn *conn) readFrame() ([]byte, error) {
	for {
		have := cn.rhi - cn.rlo
		need := frameHeaderLen
		if have >= frameHeaderLen {
			n := binary.BigEndian.Uint32(cn.rbuf[cn.rlo:])
			if n > maxResponse {
				return nil, fmt.Errorf("%w: answer of %d bytes", ErrProtocol, n)
			}
			need += int(n)
			if have >= need {
				p := cn.rbuf[cn.rlo+frameHeaderLen : cn.rlo+need]
				cn.rlo += need
				return p, nil
			}
		}
		if cn.rlo+need > len(cn.rbuf) {
			if need > len(cn.rbuf) {
				nb := make([]byte, need)
				copy(nb, cn.rbuf[cn.rlo:cn.rhi])
				cn.rbuf = nb
			} else {
				copy(cn.rbuf, cn.rbuf[cn.rlo:cn.rhi])
			}
			cn.rlo, cn.rhi = 0, have
		}
		m, err := cn.nc.Read(cn.rbuf[cn.rhi:])
		cn.rhi += m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// flush writes queued calls as frames while the pipeline has room, then gives the write side
// up. The caller holds the write side.
func (cn *conn) flush() {
	for {
		cn.mu.Lock()
		if cn.dead || len(cn.pending) == 0 || len(cn.inflight) >= cn.maxInFlight {
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		f := cn.takeFrameLocked()
		if len(cn.inflight) == 0 {
			cn.progress = time.Now()
		}
		cn.inflight = append(cn.inflight, f)
		cn.mu.Unlock()
		cn.write(f)
	}
}

// takeFrameLocked makes the next frame of the queue: a ping or stats alone, or the verify
// calls at its head that fit MaxBatch and MaxFrame. cn.mu held.
func (cn *conn) takeFrameLocked() *frame {
	first := cn.pending[0]
	f := &frame{id: atomic.AddUint64(cn.nextID, 1), op: first.op}
	k := 1
	items, size := first.n, len(first.enc)
	if first.op == opVerify {
		for ; k < len(cn.pending); k++ {
			cl := cn.pending[k]
			if cl.op != opVerify || items+cl.n > cn.maxBatch ||
				size+len(cl.enc)+headMax > cn.maxFrame {
				break
			}
			items += cl.n
			size += len(cl.enc)
		}
	}
	f.calls = make([]*call, k)
	copy(f.calls, cn.pending[:k])
	cn.pending = append(cn.pending[:0], cn.pending[k:]...)
	for _, cl := range f.calls {
		cl.state = callSent
		f.nitems += cl.n
	}
	return f
}

// write encodes f and writes it. If it fails, the connection is dead; f is failed, or given
// back to its callers to send again when none of its bytes was written (the connection was
// stale: the daemon restarted).
func (cn *conn) write(f *frame) {
	buf := &cn.wbuf
	buf.Reset()
	err := appendRequestHead(buf, cn.wenc, f.id, f.op, f.nitems)
	if err != nil {
		cn.mu.Lock()
		mine := cn.removeLocked(f)
		cn.mu.Unlock()
		if mine {
			f.fail(fmt.Errorf("%w: encode: %v", ErrInvalid, err))
		}
		return
	}
	for _, cl := range f.calls {
		buf.Write(cl.enc)
	}
	finishFrame(buf.Bytes(), 0)
	_ = cn.nc.SetWriteDeadline(time.Now().Add(cn.timeout))
	n, err := cn.nc.Write(buf.Bytes())

	cn.mu.Lock()
	if err == nil && !cn.dead {
		f.written = true
		cn.mu.Unlock()
		return
	}
	if err == nil {
		err, n = errors.New("connection closed during the write"), buf.Len()
	}
	mine := cn.removeLocked(f)
	victims, queued := cn.killLocked()
	cn.mu.Unlock()
	failAll(victims, queued, fmt.Errorf("%w: %v", ErrConnLost, err))
	switch {
	case !mine:
		// The answer came back before the write returned: delivered by the reader.
	case n > 0:
		f.fail(fmt.Errorf("%w: %v", ErrConnLost, err))
	default:
		f.retry()
	}
}

// killLocked marks the connection dead and closes it; it returns the written frames, which
// the caller must fail, and the queued calls, which go again elsewhere. Frames still being
// written stay for their writer. cn.mu held.
func (cn *conn) killLocked() (victims []*frame, queued []*call) {
	if cn.dead {
		return nil, nil
	}
	cn.dead = true
	atomic.StoreInt32(&cn.deadFlag, 1)
	cn.nc.Close()
	var keep []*frame
	for _, f := range cn.inflight {
		if f.written {
			victims = append(victims, f)
		} else {
			keep = append(keep, f)
		}
	}
	cn.inflight = keep
	queued, cn.pending = cn.pending, nil
	return victims, queued
}

func (cn *conn) kill(err error) {
	cn.mu.Lock()
	victims, queued := cn.killLocked()
	cn.mu.Unlock()
	failAll(victims, queued, err)
}

// failAll fails the frames with err and sends the queued calls, of which nothing was sent,
// back to their callers to go again.
func failAll(victims []*frame, queued []*call, err error) {
	for _, f := range victims {
		f.fail(err)
	}
	for _, cl := range queued {
		cl.done <- result{retry: true}
	}
}

// removeLocked takes f out of the frames in flight; false if it was not there (someone else
// owns it).
func (cn *conn) removeLocked(f *frame) bool {
	for i, g := range cn.inflight {
		if g == f {
			cn.inflight = append(cn.inflight[:i], cn.inflight[i+1:]...)
			return true
		}
	}
	return false
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
