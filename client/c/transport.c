/*
 * transport.c - libhmacd's connection to the daemon (see transport.h).
 *
 * I/O: the socket stays blocking, but every send()/recv() passes MSG_DONTWAIT and waits in poll()
 * for the time left of the call, so a large write cannot outlive the call's timeout. While it
 * writes, the client also reads whatever the daemon answers: a daemon that stops reading a
 * connection whose answers pile up unread would otherwise deadlock a deep pipeline.
 *
 * An I/O error, a timeout or a protocol error closes the connection and forgets the requests in
 * flight (their answers could no longer be matched); the next call reconnects. A request is sent
 * again only if no byte of it reached the daemon (reconnect()).
 */
#include "client/c/transport.h"

#include <assert.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "hmacd/client.h"
#include "proto/errors.h"
#include "proto/frame.h"

#define READ_CHUNK 16384u
/* Largest answer accepted: the daemon's own frame ceiling. Checked before buffering it. */
#define RESP_MAX HM_FRAME_MAX_MAX
#define FIFO_MIN 8

/* ---- time ---- */

int hm_deadline_start(struct hm_deadline *d, int timeout_ms)
{
	d->forever = timeout_ms < 0;
	if (d->forever)
		return HMACD_OK;
	if (clock_gettime(CLOCK_MONOTONIC, &d->at) != 0)
		return HMACD_EIO;
	d->at.tv_sec += timeout_ms / 1000;
	d->at.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (d->at.tv_nsec >= 1000000000L) {
		d->at.tv_sec++;
		d->at.tv_nsec -= 1000000000L;
	}
	return HMACD_OK;
}

/* Milliseconds left, rounded up, in poll()'s terms: -1 no limit, 0 time is up. */
static int deadline_left(const struct hm_deadline *d, int *ms)
{
	struct timespec now;
	int64_t ns;

	if (d->forever) {
		*ms = -1;
		return HMACD_OK;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return HMACD_EIO;
	ns = (int64_t)(d->at.tv_sec - now.tv_sec) * 1000000000 + (d->at.tv_nsec - now.tv_nsec);
	/* never more than the timeout_ms the deadline started from, so it fits an int */
	*ms = ns <= 0 ? 0 : (int)((ns + 999999) / 1000000);
	return HMACD_OK;
}

/* Waits until fd is ready for `events`. HMACD_OK with *revents, HMACD_ETIMEDOUT, HMACD_ECONN
 * (fd no longer valid) or HMACD_EIO (poll() itself failed). */
static int wait_fd(int fd, short events, const struct hm_deadline *dl, short *revents)
{
	struct pollfd p;
	int ms, n, rc;

	for (;;) {
		rc = deadline_left(dl, &ms);
		if (rc != HMACD_OK)
			return rc;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		n = poll(&p, 1, ms);
		if (n > 0)
			break;
		if (n == 0)
			return HMACD_ETIMEDOUT;
		if (errno != EINTR)
			return HMACD_EIO;
	}
	if (p.revents & POLLNVAL)
		return HMACD_ECONN;
	*revents = p.revents;
	return HMACD_OK;
}

/* ---- connection ---- */

/*
 * The kernel's word on who serves the socket (SO_PEERCRED: the process that called listen()).
 * Allowed: the pinned user, else the owner of the socket path's directory or root. Anyone who
 * could write that directory could have put their own socket there, which is why the daemon
 * refuses such a directory and the client trusts only the directory's owner. HMACD_OK or
 * HMACD_EPEER.
 */
static int check_peer(const struct hm_tp *c, int fd)
{
	char dir[sizeof(c->addr.sun_path)];
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct stat st;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return HMACD_EPEER;
	if (c->pin_uid)
		return cred.uid == c->server_uid ? HMACD_OK : HMACD_EPEER;
	memcpy(dir, c->addr.sun_path, sizeof(dir));
	if (stat(dirname(dir), &st) != 0)
		return HMACD_EPEER;
	return cred.uid == 0 || cred.uid == st.st_uid ? HMACD_OK : HMACD_EPEER;
}

static int open_socket(const struct hm_tp *c, const struct hm_deadline *dl, int *out)
{
	const struct sockaddr_un *addr = &c->addr;
	struct timeval tv;
	int fd, ms, rc;

	*out = -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return HMACD_ECONN;
	for (;;) {
		rc = deadline_left(dl, &ms);
		if (rc != HMACD_OK)
			goto out;
		if (ms == 0) {
			rc = HMACD_ECONN;
			goto out;
		}
		if (ms > 0) {
			/*
			 * connect() to a Unix socket blocks only while the listener's backlog is
			 * full; SO_SNDTIMEO bounds that wait. Every later send() passes
			 * MSG_DONTWAIT, so the option has no other effect.
			 */
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
			if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
				rc = HMACD_ECONN;
				goto out;
			}
		}
		if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
			break;
		if (errno != EINTR) {
			rc = HMACD_ECONN;
			goto out;
		}
	}
	rc = check_peer(c, fd);
	if (rc != HMACD_OK)
		goto out;
	*out = fd;
	fd = -1;
	rc = HMACD_OK;
out:
	if (fd >= 0)
		(void)close(fd);
	return rc;
}

/* Closes the connection and forgets every request in flight: no answer can be matched now. */
void hm_tp_drop(struct hm_tp *c)
{
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
	hm_buf_reset(&c->out);
	c->out_off = 0;
	c->written = 0;
	hm_buf_reset(&c->in);
	c->in_off = 0;
	c->fifo_head = 0;
	c->fifo_len = 0;
}

/*
 * Replaces a dead (or closed) connection: at most once per call, and only while no byte of any
 * request in flight has been written, so that those requests can be sent again whole. Once a byte
 * went out, the daemon may have judged the request and recorded its nonce: a resent copy would
 * come back REPLAY, so the answer is reported lost instead (HMACD_ECONN).
 */
static int reconnect(struct hm_tp *c, const struct hm_deadline *dl, bool *retried)
{
	int fd, rc;

	if (*retried || c->written > 0)
		return HMACD_ECONN;
	*retried = true;
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
	/* Nothing in flight was sent, so bytes left from the old connection answer nothing. */
	hm_buf_reset(&c->in);
	c->in_off = 0;
	rc = open_socket(c, dl, &fd);
	if (rc != HMACD_OK)
		return rc;
	c->fd = fd;
	return HMACD_OK;
}

int hm_tp_init(struct hm_tp *c, const char *path, bool pin_uid, uid_t server_uid)
{
	int n;

	c->fd = -1;
	c->pin_uid = pin_uid;
	c->server_uid = server_uid;
	/* out: sizes are checked per frame (client.c), so its only failure is allocation */
	hm_buf_init(&c->out, SIZE_MAX);
	hm_buf_init(&c->in, HM_FRAME_HEADER + (size_t)RESP_MAX + READ_CHUNK);
	c->addr.sun_family = AF_UNIX;
	n = snprintf(c->addr.sun_path, sizeof(c->addr.sun_path), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(c->addr.sun_path))
		return HMACD_EINVAL;
	/* allocated once, so the read position is never a NULL pointer */
	if (hm_buf_reserve(&c->in, READ_CHUNK) != HM_OK)
		return HMACD_ENOMEM;
	return HMACD_OK;
}

void hm_tp_free(struct hm_tp *c)
{
	hm_tp_drop(c);
	hm_buf_free(&c->out);
	hm_buf_free(&c->in);
	free(c->fifo);
	c->fifo = NULL;
}

int hm_tp_connect(struct hm_tp *c, const struct hm_deadline *dl)
{
	return open_socket(c, dl, &c->fd);
}

int hm_tp_fd(const struct hm_tp *c)
{
	return c->fd;
}

/* ---- byte moving ---- */

/*
 * Writes as much of the output buffer as the socket takes now. HMACD_OK (all written, or the
 * socket is full), or HMACD_ECONN with *gone set if the peer has closed the connection.
 */
static int send_some(struct hm_tp *c, bool *gone)
{
	ssize_t w;

	*gone = false;
	while (c->out_off < c->out.len) {
		w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += (size_t)w;
			c->written += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return HMACD_OK;
		*gone = w < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN);
		return HMACD_ECONN;
	}
	hm_buf_reset(&c->out);
	c->out_off = 0;
	return HMACD_OK;
}

/*
 * Reads what the socket holds now, into room for at least `want` more bytes. HMACD_OK (maybe
 * nothing read; *eof set if the peer closed), HMACD_ECONN or HMACD_ENOMEM.
 */
static int recv_some(struct hm_tp *c, size_t want, bool *eof)
{
	ssize_t r;
	int rc;

	*eof = false;
	if (c->in_off > 0) {
		hm_buf_consume(&c->in, c->in_off);
		c->in_off = 0;
	}
	rc = hm_buf_reserve(&c->in, want);
	if (rc != HM_OK)
		return rc == HM_ENOMEM ? HMACD_ENOMEM : HMACD_EPROTO;
	for (;;) {
		r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
		if (r > 0) {
			c->in.len += (size_t)r;
			return HMACD_OK;
		}
		if (r == 0 || errno == ECONNRESET) {
			*eof = true;
			return HMACD_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return HMACD_OK;
		return HMACD_ECONN;
	}
}

/*
 * Is a whole answer waiting at the read position? HM_OK (*plen, *flen set), HM_EAGAIN (*need:
 * bytes still missing), or HMACD_EPROTO: its announced length is over RESP_MAX.
 */
static int head_frame(const struct hm_tp *c, uint32_t *plen, size_t *flen, size_t *need)
{
	size_t have = c->in.len - c->in_off;
	int rc;

	rc = hm_frame_parse(c->in.data + c->in_off, have, RESP_MAX, plen, flen);
	if (rc == HM_ETOOBIG)
		return HMACD_EPROTO;
	if (rc == HM_EAGAIN)
		*need = *plen > 0 ? HM_FRAME_HEADER + (size_t)*plen - have : HM_FRAME_HEADER - have;
	return rc;
}

/*
 * One step of pump(): writes, checks for completion, waits, reads. Sets *done when the output is
 * all written and (if want_frame) a whole answer is buffered; sets *gone if the peer closed.
 */
static int pump_step(struct hm_tp *c, const struct hm_deadline *dl, bool want_frame,
		     bool *done, bool *gone, uint32_t *plen, size_t *flen)
{
	size_t need = 0, buffered;
	short events = 0, revents = 0;
	bool pending, eof;
	int frc, rc;

	rc = send_some(c, gone);
	if (rc != HMACD_OK)
		return rc;
	frc = head_frame(c, plen, flen, &need);
	if (frc == HMACD_EPROTO)
		return frc;
	pending = c->out_off < c->out.len;
	if (!pending && (!want_frame || frc == HM_OK)) {
		*done = true;
		return HMACD_OK;
	}
	if (pending)
		events |= POLLOUT;
	buffered = c->in.len - c->in_off;
	if (want_frame && frc == HM_EAGAIN)
		events |= POLLIN;
	else if (buffered <= c->in.limit - READ_CHUNK)
		events |= POLLIN; /* read answers while writing, as long as there is room */
	rc = wait_fd(c->fd, events, dl, &revents);
	if (rc != HMACD_OK)
		return rc;
	if (!(events & POLLIN) || !(revents & (POLLIN | POLLHUP | POLLERR)))
		return HMACD_OK; /* writable: the next step writes */
	/*
	 * The head frame is at most HM_FRAME_HEADER + RESP_MAX bytes and the buffer's limit leaves
	 * READ_CHUNK beyond that, so this reservation always fits.
	 */
	rc = recv_some(c, need > READ_CHUNK ? need : READ_CHUNK, &eof);
	if (rc != HMACD_OK)
		return rc;
	if (eof) {
		*gone = true;
		return HMACD_ECONN;
	}
	return HMACD_OK;
}

/*
 * Moves bytes until everything buffered is written and, if want_frame, a whole answer is
 * buffered at the read position (its sizes in *plen, *flen). Reconnects as reconnect() allows.
 * On error the caller drops the connection.
 */
static int pump(struct hm_tp *c, const struct hm_deadline *dl, bool want_frame, uint32_t *plen,
		size_t *flen)
{
	bool retried = false, done = false, gone;
	int rc;

	if (c->fd < 0) {
		rc = reconnect(c, dl, &retried);
		if (rc != HMACD_OK)
			return rc;
	}
	while (!done) {
		gone = false;
		rc = pump_step(c, dl, want_frame, &done, &gone, plen, flen);
		if (rc == HMACD_OK)
			continue;
		if (!gone)
			return rc;
		/* the peer closed: if nothing in flight reached it, this is a dead connection */
		rc = reconnect(c, dl, &retried);
		if (rc != HMACD_OK)
			return rc;
	}
	return HMACD_OK;
}

/* Drops the bytes already written first: the next frame starts at the end of what is left. */
struct hm_buf *hm_tp_out_begin(struct hm_tp *c)
{
	if (c->out_off > 0) {
		hm_buf_consume(&c->out, c->out_off);
		c->out_off = 0;
	}
	return &c->out;
}

size_t hm_tp_unsent(const struct hm_tp *c)
{
	return c->out.len - c->out_off;
}

int hm_tp_flush(struct hm_tp *c, const struct hm_deadline *dl)
{
	uint32_t plen = 0;
	size_t flen = 0;
	int rc;

	rc = pump(c, dl, false, &plen, &flen);
	if (rc != HMACD_OK)
		hm_tp_drop(c);
	return rc;
}

int hm_tp_recv(struct hm_tp *c, const struct hm_deadline *dl, const uint8_t **payload,
	       uint32_t *plen)
{
	size_t flen = 0;
	int rc;

	*plen = 0;
	rc = pump(c, dl, true, plen, &flen);
	if (rc != HMACD_OK) {
		hm_tp_drop(c);
		return rc;
	}
	*payload = c->in.data + c->in_off + HM_FRAME_HEADER;
	c->in_off += flen;
	return HMACD_OK;
}

/* ---- requests in flight ---- */

int hm_tp_push(struct hm_tp *c, const struct hm_pending *p)
{
	struct hm_pending *nf;
	size_t ncap;

	if (c->fifo_len == c->fifo_cap) {
		ncap = c->fifo_cap > 0 ? c->fifo_cap * 2 : FIFO_MIN;
		if (ncap < c->fifo_cap || ncap > SIZE_MAX / sizeof(*nf))
			return HMACD_ENOMEM;
		nf = malloc(ncap * sizeof(*nf));
		if (nf == NULL)
			return HMACD_ENOMEM;
		for (size_t i = 0; i < c->fifo_len; i++)
			nf[i] = c->fifo[(c->fifo_head + i) % c->fifo_cap];
		free(c->fifo);
		c->fifo = nf;
		c->fifo_cap = ncap;
		c->fifo_head = 0;
	}
	c->fifo[(c->fifo_head + c->fifo_len) % c->fifo_cap] = *p;
	c->fifo_len++;
	return HMACD_OK;
}

void hm_tp_pop(struct hm_tp *c, struct hm_pending *p)
{
	*p = c->fifo[c->fifo_head];
	c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
	c->fifo_len--;
	/* hm_tp_recv() wrote everything, so every request in flight was written whole */
	assert(c->written >= p->len);
	c->written -= p->len;
}

size_t hm_tp_in_flight(const struct hm_tp *c)
{
	return c->fifo_len;
}

const struct hm_pending *hm_tp_oldest(const struct hm_tp *c)
{
	return &c->fifo[c->fifo_head];
}
