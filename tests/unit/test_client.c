/*
 * test_client.c - unit tests of libhmacd (client/c: client.c, transport.c) against a fake daemon.
 *
 * The fake daemon is a thread of this process that listens on a temporary Unix socket and speaks
 * the protocol with the proto/ code (hm_frame_parse, hm_request_decode, hm_item_next and the
 * response encoders). Its verdicts are scripted by the items themselves: a malformed item gets
 * MALFORMED, an item of epoch 1 gets a real HMAC check against FAKE_SECRET, any other epoch e
 * gets verdict e % 8. An rfc9421 item of tenant "t8" gets INSUFFICIENT_COVERAGE; an item of
 * either scheme of tenant "t9" gets UNAVAILABLE (what a fleet-mode daemon answers when it cannot
 * claim a nonce in time: the real daemon never does outside fleet mode); any other
 * rfc9421 item gets a real RFC 9421 check (proto/sfv + proto/sigbase, hmac-sha256 under
 * FAKE_SECRET), so a field the client encodes wrongly shows as BAD_SIGNATURE. The fake keeps a
 * copy of the last verify request, for tests of the encoding. On demand it misbehaves once
 * (wrong id, short answer, closing mid-answer, silence) or drops the connection, so every error path of the client is reached without the
 * real daemon (the end-to-end tests drive that one).
 *
 * SIGPIPE keeps its default action on purpose: a send() without MSG_NOSIGNAL kills the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "hmacd/client.h"

#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/sfv.h"
#include "proto/sigbase.h"
#include "proto/sign.h"
#include "proto/verdict.h"

#include "tests/lib/rfc9421_example.h"

#define FAKE_MAX_BATCH 16
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One-shot misbehaviours of the fake, applied to the next request it reads. */
enum trick {
	TRICK_NONE,
	TRICK_BAD_ID,    /* answer with another id */
	TRICK_SHORT,     /* a verify answer with one verdict missing */
	TRICK_CLOSE_MID, /* write half of the answer, then close */
	TRICK_SILENT,    /* never answer (the connection stays open) */
};

struct fake {
	char dir[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	int ctl[2]; /* test -> fake: 'q' quit, 'k' close the current connection */
	int ack[2]; /* fake -> test: 'k' done */
	pthread_t thread;
	_Atomic int trick;
	_Atomic int accepted; /* connections */
	_Atomic int requests;
	_Atomic int errors;   /* the fake's own failures: checked at teardown */
	pthread_mutex_t lock; /* guards last */
	struct hm_buf last;   /* payload of the last verify request */
};

static const uint8_t FAKE_SECRET[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
	0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
	0x1e, 0x1f,
};

/* ---- the fake daemon ---- */

static bool fake_write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false; /* the client went away: not the fake's failure */
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* A real RFC 9421 hmac-sha256 check of an rfc9421 item under FAKE_SECRET (keyid ignored). */
static unsigned fake_rfc9421(const struct hm_item *it)
{
	struct hm_sf_field *in = malloc(sizeof(*in)), *sig = malloc(sizeof(*sig));
	const struct hm_sf_member *m, *sm;
	enum hm_sb_reason why;
	uint8_t mac[HM_MAC_LEN], got[HM_MAC_LEN + 1];
	size_t glen = 0;
	unsigned v = HM_V_MALFORMED;

	if (in == NULL || sig == NULL)
		goto out;
	/* the signature under the chosen label, then the MAC the daemon would compute */
	if (hm_sf_parse(it->rfc.signature_input.ptr, it->rfc.signature_input.len,
			HM_SF_KIND_DICT, in) != HM_OK ||
	    hm_sf_parse(it->rfc.signature.ptr, it->rfc.signature.len, HM_SF_KIND_DICT,
			sig) != HM_OK ||
	    hm_sb_select(in, it->rfc.label, &m, &why) != HM_OK)
		goto out;
	sm = hm_sf_dict_get(sig, (const char *)m->key.ptr, m->key.len);
	if (sm == NULL || sm->is_inner ||
	    hm_sf_bytes_decode(&sm->bare, got, sizeof(got), &glen) != HM_OK || glen != HM_MAC_LEN ||
	    hm_sign_rfc9421(FAKE_SECRET, sizeof(FAKE_SECRET), it, mac) != HM_OK)
		goto out;
	v = CRYPTO_memcmp(mac, got, HM_MAC_LEN) == 0 ? HM_V_OK : HM_V_BAD_SIGNATURE;
out:
	free(sig);
	free(in);
	return v;
}

static unsigned fake_verdict(struct hm_mp *items)
{
	struct hm_item it;
	uint8_t mac[HM_MAC_LEN];

	if (hm_item_next(items, &it) != HM_OK)
		return HM_V_MALFORMED;
	if (it.tenant.len == 2 && memcmp(it.tenant.ptr, "t9", 2) == 0)
		return HM_V_UNAVAILABLE;
	if (it.scheme == HM_SCHEME_RFC9421) {
		if (it.tenant.len == 2 && memcmp(it.tenant.ptr, "t8", 2) == 0)
			return HM_V_INSUFFICIENT_COVERAGE;
		return fake_rfc9421(&it);
	}
	if (it.v1.epoch != 1)
		return (unsigned)(it.v1.epoch % 8);
	if (hm_sign_item(FAKE_SECRET, sizeof(FAKE_SECRET), &it, mac) != HM_OK)
		return HM_V_MALFORMED;
	return CRYPTO_memcmp(mac, it.v1.sig, HM_MAC_LEN) == 0 ? HM_V_OK : HM_V_BAD_SIGNATURE;
}

/* Answers one request frame. False: close the connection. */
static bool fake_answer(struct fake *f, int conn, const uint8_t *payload, size_t len)
{
	int trick = atomic_exchange(&f->trick, TRICK_NONE);
	struct hm_request req;
	struct hm_buf out;
	size_t start;
	uint64_t id;
	uint32_t n;
	bool keep = true;

	f->requests++;
	hm_buf_init(&out, HM_FRAME_DEFAULT_MAX);
	if (hm_request_decode(payload, len, FAKE_MAX_BATCH, &req) != HM_OK) {
		hm_encode_error(&out, req.has_id, req.id, req.err, req.err_text);
	} else {
		id = trick == TRICK_BAD_ID ? req.id + 1000 : req.id;
		switch (req.op) {
		case HM_OP_PING:
			hm_encode_pong(&out, id);
			break;
		case HM_OP_STATS:
			start = hm_encode_stats_begin(&out, id, 2);
			hm_encode_stat(&out, "requests", (uint64_t)f->requests);
			hm_encode_stat(&out, "connections", (uint64_t)f->accepted);
			hm_frame_end(&out, start);
			break;
		case HM_OP_VERIFY:
			pthread_mutex_lock(&f->lock);
			hm_buf_reset(&f->last);
			hm_buf_append(&f->last, payload, len);
			if (f->last.failed)
				f->errors++;
			pthread_mutex_unlock(&f->lock);
			n = trick == TRICK_SHORT && req.nitems > 0 ? req.nitems - 1 : req.nitems;
			start = hm_encode_results_begin(&out, id, n);
			for (uint32_t i = 0; i < req.nitems; i++) {
				unsigned v = fake_verdict(&req.items);

				if (i < n)
					hm_encode_result(&out, v);
			}
			hm_frame_end(&out, start);
			break;
		}
	}
	if (out.failed)
		f->errors++;
	switch (trick) {
	case TRICK_SILENT:
		break;
	case TRICK_CLOSE_MID:
		(void)fake_write_all(conn, out.data, out.len / 2);
		keep = false;
		break;
	default:
		keep = fake_write_all(conn, out.data, out.len);
		break;
	}
	hm_buf_free(&out);
	return keep;
}

/* Serves one connection until it ends. Returns the control command that ended it, or 0. */
static char fake_serve(struct fake *f, int conn)
{
	struct pollfd p[2];
	struct hm_buf in;
	uint32_t plen;
	size_t flen;
	ssize_t r;
	char cmd = 0;
	int rc;

	hm_buf_init(&in, HM_FRAME_HEADER + HM_FRAME_DEFAULT_MAX);
	for (;;) {
		p[0] = (struct pollfd){.fd = conn, .events = POLLIN};
		p[1] = (struct pollfd){.fd = f->ctl[0], .events = POLLIN};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			f->errors++;
			break;
		}
		if (p[1].revents) {
			if (read(f->ctl[0], &cmd, 1) != 1)
				cmd = 'q';
			break;
		}
		if (hm_buf_reserve(&in, 4096) != HM_OK) {
			f->errors++;
			break;
		}
		r = recv(conn, in.data + in.len, in.cap - in.len, 0);
		if (r <= 0)
			break; /* the client closed */
		in.len += (size_t)r;
		for (;;) {
			rc = hm_frame_parse(in.data, in.len, HM_FRAME_DEFAULT_MAX, &plen, &flen);
			if (rc != HM_OK)
				break;
			if (!fake_answer(f, conn, in.data + HM_FRAME_HEADER, plen))
				goto out;
			hm_buf_consume(&in, flen);
		}
		if (rc == HM_ETOOBIG) {
			f->errors++;
			break;
		}
	}
out:
	hm_buf_free(&in);
	return cmd;
}

static void fake_ack(struct fake *f)
{
	char c = 'k';

	if (write(f->ack[1], &c, 1) != 1)
		f->errors++;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	struct pollfd p[2];
	char cmd;
	int conn;

	for (;;) {
		p[0] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = f->ctl[0], .events = POLLIN};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			f->errors++;
			return NULL;
		}
		if (p[1].revents) {
			if (read(f->ctl[0], &cmd, 1) != 1 || cmd == 'q')
				return NULL;
			fake_ack(f); /* 'k' with no connection open */
			continue;
		}
		conn = accept(f->lfd, NULL, NULL);
		if (conn < 0) {
			f->errors++;
			continue;
		}
		f->accepted++;
		cmd = fake_serve(f, conn);
		(void)close(conn);
		if (cmd == 'k')
			fake_ack(f);
		if (cmd == 'q')
			return NULL;
	}
}

static int fake_setup(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fake *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/hmacd-test-client-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	memcpy(sa.sun_path, f->path, sizeof(f->path));
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(f->lfd, 8) != 0)
		return -1;
	if (pipe2(f->ctl, O_CLOEXEC) != 0 || pipe2(f->ack, O_CLOEXEC) != 0)
		return -1;
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		return -1;
	hm_buf_init(&f->last, HM_FRAME_DEFAULT_MAX);
	if (pthread_create(&f->thread, NULL, fake_main, f) != 0)
		return -1;
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	char c = 'q';
	int errors;

	if (write(f->ctl[1], &c, 1) != 1 || pthread_join(f->thread, NULL) != 0)
		return -1;
	errors = f->errors;
	(void)close(f->lfd);
	(void)close(f->ctl[0]);
	(void)close(f->ctl[1]);
	(void)close(f->ack[0]);
	(void)close(f->ack[1]);
	(void)unlink(f->path);
	(void)rmdir(f->dir);
	hm_buf_free(&f->last);
	(void)pthread_mutex_destroy(&f->lock);
	free(f);
	return errors == 0 ? 0 : -1;
}

/* Makes the fake close the connection it serves, and waits until it has. */
static void fake_kick(struct fake *f)
{
	char c = 'k';

	assert_int_equal(write(f->ctl[1], &c, 1), 1);
	assert_int_equal(read(f->ack[0], &c, 1), 1);
}

static struct hmacd_client *connect_ok(struct fake *f, int timeout_ms, uint32_t max_frame)
{
	struct hmacd_options opts = {.max_frame = max_frame, .timeout_ms = timeout_ms};
	struct hmacd_client *c = NULL;

	assert_int_equal(hmacd_connect(f->path, &opts, &c), HMACD_OK);
	assert_non_null(c);
	return c;
}

/* ---- items ---- */

static const struct hmacd_header VEC_HEADERS[2] = {
	{"content-type", 12, "application/json", 16},
	{"x-request-id", 12, "42", 2},
};
static const char VEC_BODY[] = "{\"cmd\":[\"ls\",\"-l\"]}";

/* The vector item; its canonical string, written out by hand from PROTOCOL.md. */
static void vec_item(struct hmacd_item *it)
{
	memset(it, 0, sizeof(*it));
	it->tenant = "t1";
	it->tenant_len = 2;
	it->container = "c1";
	it->container_len = 2;
	it->epoch = 1;
	it->method = "POST";
	it->method_len = 4;
	it->path = "/containers/c1/exec?tty=0";
	it->path_len = strlen(it->path);
	it->ts = 1700000000;
	it->nonce = "n-123";
	it->nonce_len = 5;
	it->headers = VEC_HEADERS;
	it->nheaders = 2;
	it->body = (const uint8_t *)VEC_BODY;
	it->body_len = sizeof(VEC_BODY) - 1;
}

static const char VEC_CANON[] = "hmacd-v1\n"
				"t1\n"
				"c1\n"
				"1\n"
				"POST\n"
				"/containers/c1/exec?tty=0\n"
				"1700000000\n"
				"n-123\n"
				"content-type:application/json\n"
				"x-request-id:42\n"
				/* sha256sum of the body */
				"f1d08736d9b5ae2812bd7c1d5b4657616d57ade382095f44e9a914cbc8e30f61";

/* A well-formed item whose fake verdict is `epoch % 8` (epoch != 1). */
static void plain_item(struct hmacd_item *it, uint64_t epoch)
{
	memset(it, 0, sizeof(*it));
	it->tenant = "t1";
	it->tenant_len = 2;
	it->container = "c1";
	it->container_len = 2;
	it->epoch = epoch;
	it->method = "GET";
	it->method_len = 3;
	it->path = "/";
	it->path_len = 1;
	it->ts = 1;
}

/* ---- tests ---- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(hmacd_strerror(HMACD_ETIMEDOUT), "timed out");
	assert_string_equal(hmacd_strerror(12345), "unknown error");
	assert_string_equal(hmacd_verdict_name(HMACD_V_OK), "OK");
	assert_string_equal(hmacd_verdict_name(HMACD_V_REPLAY), "REPLAY");
	assert_string_equal(hmacd_verdict_name(HMACD_V_UNAVAILABLE), "UNAVAILABLE");
	assert_string_equal(hmacd_verdict_name(10), "UNKNOWN");
	assert_string_equal(hmacd_verdict_name(99), "UNKNOWN");
}

static void test_connect_errors(void **state)
{
	struct fake *f = *state;
	struct hmacd_options bad_frame = {.max_frame = 100};
	struct hmacd_options bad_timeout = {.timeout_ms = -2};
	struct hmacd_client *c = (struct hmacd_client *)&c; /* poisoned: must come back NULL */
	char longpath[300], missing[160];

	/* sizeof(sun_path) is 108: one byte too many must be refused, not truncated */
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(hmacd_connect(longpath, NULL, &c), HMACD_EINVAL);
	assert_null(c);
	longpath[sizeof(((struct sockaddr_un *)0)->sun_path)] = '\0';
	assert_int_equal(hmacd_connect(longpath, NULL, &c), HMACD_EINVAL);
	/* one byte shorter fits (and nobody listens there) */
	longpath[sizeof(((struct sockaddr_un *)0)->sun_path) - 1] = '\0';
	assert_int_equal(hmacd_connect(longpath, NULL, &c), HMACD_ECONN);
	assert_int_equal(hmacd_connect("", NULL, &c), HMACD_EINVAL);
	assert_int_equal(hmacd_connect(f->path, &bad_frame, &c), HMACD_EINVAL);
	assert_int_equal(hmacd_connect(f->path, &bad_timeout, &c), HMACD_EINVAL);
	snprintf(missing, sizeof(missing), "%s/nobody-listens", f->dir);
	assert_int_equal(hmacd_connect(missing, NULL, &c), HMACD_ECONN);
	assert_null(c);
	hmacd_close(NULL);
}

static void test_ping(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c;

	assert_int_equal(hmacd_connect(f->path, NULL, &c), HMACD_OK);
	assert_true(hmacd_fd(c) >= 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(f->requests, 3);
	hmacd_close(c);
}

/*
 * Who may serve the socket (issue 10, finding 3). The fake runs as this user in a directory of
 * this user's, so the default rule (the directory's owner, or root) accepts it; a client told
 * to expect another user refuses it before writing a byte, and says so with HMACD_EPEER.
 */
static void test_peer_check(void **state)
{
	struct fake *f = *state;
	struct hmacd_options o = {0};
	struct hmacd_client *c = (struct hmacd_client *)&c;
	const struct passwd *me = getpwuid(geteuid());
	char uid[32];

	assert_non_null(me);
	o.server_user = "4242";
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_EPEER);
	assert_null(c);
	assert_int_equal(f->requests, 0); /* nothing was sent to the wrong server */
	/* the expected user, by name and by number */
	o.server_user = me->pw_name;
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_OK);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	hmacd_close(c);
	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	o.server_user = uid;
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_OK);
	hmacd_close(c);
	/* not a user: refused before any connection */
	o.server_user = "no-such-user-hmacd-test";
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_EINVAL);
	o.server_user = "";
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_EINVAL);
	o.server_user = "12x";
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_EINVAL);
	o.server_user = "99999999999999999999";
	assert_int_equal(hmacd_connect(f->path, &o, &c), HMACD_EINVAL);
	assert_null(c);
	assert_int_equal(f->requests, 1);
	assert_string_equal(hmacd_strerror(HMACD_EPEER),
			    "the daemon's socket is served by an unexpected user");
}

static void stat_cb(const char *name, uint64_t value, void *arg)
{
	uint64_t *seen = arg;

	if (strcmp(name, "requests") == 0)
		seen[0] = value;
	else if (strcmp(name, "connections") == 0)
		seen[1] = value;
	else
		seen[2]++;
}

static void test_stats(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	uint64_t seen[3] = {0, 0, 0};

	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(hmacd_stats(c, stat_cb, seen), HMACD_OK);
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[1], 1);
	assert_int_equal(seen[2], 0);
	assert_int_equal(hmacd_stats(c, NULL, NULL), HMACD_EINVAL);
	hmacd_close(c);
}

static void test_verify_verdicts(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item items[11];
	uint8_t verdicts[11];
	static const uint8_t want[11] = {
		HMACD_V_OK,          HMACD_V_BAD_SIGNATURE, HMACD_V_UNKNOWN_KEY,
		HMACD_V_KEY_REVOKED, HMACD_V_KEY_EXPIRED,   HMACD_V_STALE_TIMESTAMP,
		HMACD_V_REPLAY,      HMACD_V_MALFORMED,     HMACD_V_OK,
		HMACD_V_MALFORMED,   HMACD_V_MALFORMED,
	};

	vec_item(&items[0]);
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &items[0]), HMACD_OK);
	items[1] = items[0];
	items[1].sig[31] ^= 1;
	for (uint64_t e = 2; e <= 8; e++)
		plain_item(&items[e], e); /* 2..7 -> that verdict, 8 -> OK */
	/* malformed items are sent as they are: the daemon judges them */
	plain_item(&items[9], 8);
	items[9].tenant = "bad tenant";
	items[9].tenant_len = 10;
	plain_item(&items[10], 8);
	items[10].path = "no-slash";
	items[10].path_len = 8;
	memset(verdicts, 0xff, sizeof(verdicts));
	assert_int_equal(hmacd_verify(c, items, 11, verdicts), HMACD_OK);
	assert_memory_equal(verdicts, want, sizeof(want));
	assert_string_equal(hmacd_verdict_name(verdicts[1]), "BAD_SIGNATURE");

	/* an empty batch is a valid request */
	assert_int_equal(hmacd_verify(c, NULL, 0, NULL), HMACD_OK);
	/* an item the wire cannot carry is refused before anything is sent */
	items[2].body_sha256 = (const uint8_t *)"0123456789abcdef0123456789abcdef";
	items[2].body = (const uint8_t *)"x";
	items[2].body_len = 1;
	assert_int_equal(hmacd_verify(c, items, 3, verdicts), HMACD_EINVAL);
	plain_item(&items[2], 2);
	items[2].method = NULL;
	items[2].method_len = 3;
	assert_int_equal(hmacd_verify(c, items, 3, verdicts), HMACD_EINVAL);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(f->accepted, 1);
	hmacd_close(c);
}

static void test_pipelining(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item items[10];
	uint64_t ids[10], id;
	uint8_t verdicts[10];
	size_t n;

	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 10, &n), HMACD_EINVAL);
	/* batch b holds b + 1 items whose verdict is 2 + b % 6 */
	for (size_t b = 0; b < 10; b++) {
		for (size_t i = 0; i <= b; i++)
			plain_item(&items[i], 2 + b % 6);
		assert_int_equal(hmacd_send_verify(c, items, b + 1, &ids[b]), HMACD_OK);
		if (b > 0)
			assert_true(ids[b] > ids[b - 1]);
	}
	assert_int_equal(hmacd_in_flight(c), 10);
	/* synchronous calls would take the pipeline's answers */
	assert_int_equal(hmacd_ping(c), HMACD_EINVAL);
	assert_int_equal(hmacd_verify(c, items, 1, verdicts), HMACD_EINVAL);
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	for (size_t b = 0; b < 10; b++) {
		memset(verdicts, 0xff, sizeof(verdicts));
		assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 10, &n), HMACD_OK);
		assert_int_equal(id, ids[b]);
		assert_int_equal(n, b + 1);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(verdicts[i], 2 + b % 6);
		assert_int_equal(hmacd_in_flight(c), 9 - b);
	}
	/* recv flushes by itself */
	plain_item(&items[0], 3);
	assert_int_equal(hmacd_send_verify(c, items, 1, &ids[0]), HMACD_OK);
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 10, &n), HMACD_OK);
	assert_int_equal(id, ids[0]);
	assert_int_equal(n, 1);
	assert_int_equal(verdicts[0], HMACD_V_KEY_REVOKED);
	assert_int_equal(f->accepted, 1);
	hmacd_close(c);
}

/*
 * Far more bytes than a socket buffer holds: flush() must wait for room and write in pieces,
 * and the answers that arrive meanwhile must be read and kept for recv_verify().
 */
static void test_pipelining_large(void **state)
{
	enum { NBATCH = 24, BODY = 256 * 1024 };
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item item;
	uint64_t ids[NBATCH], id;
	uint8_t *body, verdict;
	size_t n;

	body = calloc(1, BODY);
	assert_non_null(body);
	for (size_t b = 0; b < NBATCH; b++) {
		plain_item(&item, 2 + b % 6);
		item.body = body;
		item.body_len = BODY;
		assert_int_equal(hmacd_send_verify(c, &item, 1, &ids[b]), HMACD_OK);
	}
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	/* everything was written, so the fake has every request once it has answered the last */
	for (size_t b = 0; b < NBATCH; b++) {
		assert_int_equal(hmacd_recv_verify(c, &id, &verdict, 1, &n), HMACD_OK);
		assert_int_equal(id, ids[b]);
		assert_int_equal(n, 1);
		assert_int_equal(verdict, 2 + b % 6);
	}
	assert_int_equal(f->requests, NBATCH);
	assert_int_equal(hmacd_in_flight(c), 0);
	free(body);
	hmacd_close(c);
}

/*
 * Many small batches: their answers fill the socket buffer long before the requests are all
 * written, and the fake (like a daemon applying backpressure) stops reading while its own write
 * blocks. flush() must read the answers while it writes, or both sides wait for each other.
 */
static void test_pipelining_deep(void **state)
{
	enum { NBATCH = 5000 };
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 10000, 0);
	struct hmacd_item item;
	uint64_t first, id;
	uint8_t verdict;
	size_t n;

	for (size_t b = 0; b < NBATCH; b++) {
		plain_item(&item, 2 + b % 6);
		assert_int_equal(hmacd_send_verify(c, &item, 1, b == 0 ? &first : &id), HMACD_OK);
	}
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	for (size_t b = 0; b < NBATCH; b++) {
		assert_int_equal(hmacd_recv_verify(c, &id, &verdict, 1, &n), HMACD_OK);
		assert_int_equal(id, first + b);
		assert_int_equal(verdict, 2 + b % 6);
	}
	assert_int_equal(hmacd_in_flight(c), 0);
	hmacd_close(c);
}

static void test_server_error(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item items[FAKE_MAX_BATCH + 1];
	uint8_t verdicts[FAKE_MAX_BATCH + 1];
	uint64_t big, small, id;
	size_t n = 99;

	for (size_t i = 0; i <= FAKE_MAX_BATCH; i++)
		plain_item(&items[i], 4);
	/* more items than the daemon's batch limit: it refuses the request, the connection stays */
	assert_int_equal(hmacd_verify(c, items, FAKE_MAX_BATCH + 1, verdicts), HMACD_ESERVER);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	/* pipelined: the refused batch answers ESERVER with its id, the next one is fine */
	assert_int_equal(hmacd_send_verify(c, items, FAKE_MAX_BATCH + 1, &big), HMACD_OK);
	assert_int_equal(hmacd_send_verify(c, items, 2, &small), HMACD_OK);
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, FAKE_MAX_BATCH + 1, &n),
			 HMACD_ESERVER);
	assert_int_equal(id, big);
	assert_int_equal(n, 0);
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, FAKE_MAX_BATCH + 1, &n), HMACD_OK);
	assert_int_equal(id, small);
	assert_int_equal(n, 2);
	assert_int_equal(verdicts[1], HMACD_V_KEY_EXPIRED);
	assert_int_equal(f->accepted, 1);
	hmacd_close(c);
}

static void test_id_mismatch(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);

	f->trick = TRICK_BAD_ID;
	assert_int_equal(hmacd_ping(c), HMACD_EPROTO);
	/* the stream can no longer be trusted: dropped, and the next call reconnects */
	assert_int_equal(hmacd_fd(c), -1);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(f->accepted, 2);
	hmacd_close(c);
}

static void test_short_answer(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item items[3];
	uint8_t verdicts[3];
	uint64_t id;
	size_t n;

	for (size_t i = 0; i < 3; i++)
		plain_item(&items[i], 5);
	f->trick = TRICK_SHORT;
	assert_int_equal(hmacd_verify(c, items, 3, verdicts), HMACD_EPROTO);
	assert_int_equal(hmacd_verify(c, items, 3, verdicts), HMACD_OK);
	assert_int_equal(verdicts[2], HMACD_V_STALE_TIMESTAMP);
	/* an answer holding more verdicts than the caller has room for */
	assert_int_equal(hmacd_send_verify(c, items, 3, &id), HMACD_OK);
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 2, &n), HMACD_EPROTO);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	hmacd_close(c);
}

static void test_close_mid_answer(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item items[2];
	uint8_t verdicts[2];
	uint64_t id;
	size_t n;

	f->trick = TRICK_CLOSE_MID;
	/* the request reached the daemon: it is not resent, the answer is lost */
	assert_int_equal(hmacd_ping(c), HMACD_ECONN);
	assert_int_equal(hmacd_fd(c), -1);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(f->accepted, 2);

	/* the same with two batches written: both answers are lost, neither is resent */
	plain_item(&items[0], 6);
	plain_item(&items[1], 6);
	f->trick = TRICK_CLOSE_MID;
	assert_int_equal(hmacd_send_verify(c, items, 2, &id), HMACD_OK);
	assert_int_equal(hmacd_send_verify(c, items, 1, &id), HMACD_OK);
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	assert_int_equal(hmacd_in_flight(c), 2);
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 2, &n), HMACD_ECONN);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 2, &n), HMACD_EINVAL);
	assert_int_equal(hmacd_verify(c, items, 2, verdicts), HMACD_OK);
	assert_int_equal(verdicts[0], HMACD_V_REPLAY);
	assert_int_equal(f->accepted, 3);
	hmacd_close(c);
}

static void test_reconnect_idle(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_item item;
	uint8_t verdict = 0xff;
	uint64_t id;
	size_t n;

	assert_int_equal(hmacd_ping(c), HMACD_OK);
	/* a daemon restart: the connection dies while idle, so no byte of the next request was
	 * accepted and the call reconnects and sends it again by itself */
	fake_kick(f);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(f->accepted, 2);
	fake_kick(f);
	plain_item(&item, 3);
	assert_int_equal(hmacd_verify(c, &item, 1, &verdict), HMACD_OK);
	assert_int_equal(verdict, HMACD_V_KEY_REVOKED);
	assert_int_equal(f->accepted, 3);
	/* pipelined batches not yet written are resent the same way */
	fake_kick(f);
	assert_int_equal(hmacd_send_verify(c, &item, 1, &id), HMACD_OK);
	assert_int_equal(hmacd_send_verify(c, &item, 1, &id), HMACD_OK);
	assert_int_equal(hmacd_flush(c), HMACD_OK);
	assert_int_equal(hmacd_recv_verify(c, &id, &verdict, 1, &n), HMACD_OK);
	assert_int_equal(hmacd_recv_verify(c, &id, &verdict, 1, &n), HMACD_OK);
	assert_int_equal(f->accepted, 4);
	hmacd_close(c);
}

static void test_timeout(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 100, 0);

	f->trick = TRICK_SILENT;
	assert_int_equal(hmacd_ping(c), HMACD_ETIMEDOUT);
	/* a late answer could be taken for the next request's: the connection is dropped */
	assert_int_equal(hmacd_fd(c), -1);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(f->accepted, 2);
	hmacd_close(c);
}

static void test_too_big(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, HM_FRAME_MIN_MAX);
	static uint8_t body[2000];
	struct hmacd_item item;
	uint8_t verdict;
	uint64_t id;

	plain_item(&item, 2);
	item.body = body;
	item.body_len = sizeof(body);
	assert_int_equal(hmacd_verify(c, &item, 1, &verdict), HMACD_ETOOBIG);
	assert_int_equal(hmacd_send_verify(c, &item, 1, &id), HMACD_ETOOBIG);
	/* just over the limit once encoded (the content alone fits) */
	item.body_len = HM_FRAME_MIN_MAX - 64;
	assert_int_equal(hmacd_verify(c, &item, 1, &verdict), HMACD_ETOOBIG);
	assert_int_equal(hmacd_in_flight(c), 0);
	item.body_len = 100;
	assert_int_equal(hmacd_verify(c, &item, 1, &verdict), HMACD_OK);
	assert_int_equal(verdict, HMACD_V_UNKNOWN_KEY);
	assert_int_equal(f->requests, 1);
	hmacd_close(c);
}

static void test_sign_vector(void **state)
{
	struct hmacd_item item;
	uint8_t want[EVP_MAX_MD_SIZE], digest[SHA256_DIGEST_LENGTH];
	unsigned int want_len = 0;
	char *canon = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(HMAC(EVP_sha256(), FAKE_SECRET, sizeof(FAKE_SECRET),
			     (const uint8_t *)VEC_CANON, sizeof(VEC_CANON) - 1, want, &want_len));
	assert_int_equal(want_len, HMACD_MAC_LEN);

	vec_item(&item);
	assert_int_equal(hmacd_canonical(&item, &canon, &len), HMACD_OK);
	assert_int_equal(len, sizeof(VEC_CANON) - 1);
	assert_memory_equal(canon, VEC_CANON, sizeof(VEC_CANON)); /* NUL included */
	free(canon);
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_OK);
	assert_memory_equal(item.sig, want, HMACD_MAC_LEN);

	/* the body's digest instead of the body signs the same string */
	vec_item(&item);
	SHA256((const uint8_t *)VEC_BODY, sizeof(VEC_BODY) - 1, digest);
	item.body = NULL;
	item.body_len = 0;
	item.body_sha256 = digest;
	assert_int_equal(hmacd_canonical(&item, &canon, NULL), HMACD_OK);
	assert_string_equal(canon, VEC_CANON);
	free(canon);
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_OK);
	assert_memory_equal(item.sig, want, HMACD_MAC_LEN);
}

/* No nonce, no headers, and no body at all (both NULL): the empty body. */
static void test_canonical_minimal(void **state)
{
	static const char want[] =
		"hmacd-v1\nt1\nc1\n7\nGET\n/\n1\n\n"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	struct hmacd_item item;
	char *canon = NULL;
	size_t len = 0;

	(void)state;
	plain_item(&item, 7);
	assert_int_equal(hmacd_canonical(&item, &canon, &len), HMACD_OK);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(canon, want, sizeof(want));
	free(canon);
}

static void test_sign_malformed(void **state)
{
	struct hmacd_header many[HMACD_MAX_HEADERS + 1];
	struct hmacd_item item;
	uint8_t zero[HMACD_MAC_LEN] = {0};
	char *canon = (char *)&canon;

	(void)state;
	vec_item(&item);
	item.tenant = "t 1";
	item.tenant_len = 3;
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_EMALFORMED);
	assert_memory_equal(item.sig, zero, sizeof(zero)); /* untouched on failure */
	assert_int_equal(hmacd_canonical(&item, &canon, NULL), HMACD_EMALFORMED);
	assert_null(canon);

	vec_item(&item);
	item.path = "/a\nb";
	item.path_len = 4;
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_EMALFORMED);

	vec_item(&item);
	item.body_sha256 = zero; /* and the body: both forms */
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_EMALFORMED);

	vec_item(&item);
	for (size_t i = 0; i < HMACD_MAX_HEADERS + 1; i++)
		many[i] = VEC_HEADERS[0];
	item.headers = many;
	item.nheaders = HMACD_MAX_HEADERS + 1;
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_EMALFORMED);

	vec_item(&item);
	assert_int_equal(hmacd_sign(FAKE_SECRET, 15, &item), HMACD_EINVAL);
	assert_int_equal(hmacd_sign(NULL, 32, &item), HMACD_EINVAL);
	item.nonce = NULL; /* with a length */
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &item), HMACD_EINVAL);
	assert_memory_equal(item.sig, zero, sizeof(zero));
}

/* ---- RFC 9421 ---- */

/* The B.2 request as an rfc9421 item of scope t1/c1 (no signature yet). */
static void b2_item(struct hmacd_rfc9421_item *it)
{
	b2_client_item(it, "t1", "c1");
}

struct signed_item {
	struct hmacd_rfc9421_item it;
	char input[HMACD_RFC9421_FIELD_MAX + 1];
	char sig[HMACD_RFC9421_SIGNATURE_CAP];
};

/* b2_item() signed by hmacd_rfc9421_sign() under `secret` with params p. */
static void b2_signed(struct signed_item *s, const uint8_t *secret, size_t secret_len,
		      const struct hmacd_rfc9421_params *p)
{
	b2_item(&s->it);
	assert_int_equal(hmacd_rfc9421_sign(secret, secret_len, &s->it, p, s->input,
					    sizeof(s->input), s->sig, sizeof(s->sig)),
			 HMACD_OK);
	s->it.signature_input = s->input;
	s->it.signature_input_len = strlen(s->input);
	s->it.signature = s->sig;
	s->it.signature_len = strlen(s->sig);
}

static void test_rfc9421_names(void **state)
{
	(void)state;
	assert_int_equal(HMACD_V_INSUFFICIENT_COVERAGE, 8);
	assert_string_equal(hmacd_verdict_name(HMACD_V_INSUFFICIENT_COVERAGE),
			    "INSUFFICIENT_COVERAGE");
	assert_string_equal(hmacd_verdict_name(10), "UNKNOWN");
}

/* RFC 9421 B.2.5, byte for byte: the Signature-Input, the base and the Signature. */
static void test_rfc9421_sign_b25(void **state)
{
	static const char *const comps[] = {"date", "@authority", "content-type"};
	static const char *const quoted[] = {"\"date\"", "\"@authority\"", "\"content-type\""};
	struct hmacd_rfc9421_params p = {
		.label = "sig-b25",
		.components = comps,
		.ncomponents = 3,
		.created = 1618884473,
		.nonce = "",
		.keyid = "test-shared-secret",
	};
	struct signed_item s;
	uint8_t secret[66];
	char *base = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(EVP_DecodeBlock(secret, (const unsigned char *)SHARED_SECRET_B64,
					 (int)strlen(SHARED_SECRET_B64)),
			 66); /* 64 bytes plus the two padding zeros */
	b2_signed(&s, secret, 64, &p);
	assert_string_equal(s.input, B25_INPUT);
	assert_string_equal(s.sig, B25_SIGNATURE);
	/* the base the daemon builds for what was sent */
	assert_int_equal(hmacd_rfc9421_base(&s.it, &base, &len), HMACD_OK);
	assert_int_equal(len, strlen(B25_BASE));
	assert_string_equal(base, B25_BASE);
	free(base);
	/* the same from the RFC's own header values, and with the label chosen */
	s.it.signature_input = B25_INPUT;
	s.it.signature_input_len = strlen(B25_INPUT);
	s.it.label = "sig-b25";
	s.it.label_len = 7;
	assert_int_equal(hmacd_rfc9421_base(&s.it, &base, NULL), HMACD_OK);
	assert_string_equal(base, B25_BASE);
	free(base);
	s.it.label = "sig-b26";
	assert_int_equal(hmacd_rfc9421_base(&s.it, &base, NULL), HMACD_EMALFORMED);
	assert_null(base);
	/* components already serialized sign the same */
	p.components = quoted;
	b2_signed(&s, secret, 64, &p);
	assert_string_equal(s.input, B25_INPUT);
	assert_string_equal(s.sig, B25_SIGNATURE);
	OPENSSL_cleanse(secret, sizeof(secret));
}

/* Defaults, every parameter, the component forms, and the refusals. */
static void test_rfc9421_sign_params(void **state)
{
	static const char *const qp[] = {"@query-param;name=Pet", "\"@query-param\";name=\"param\"",
					 "content-digest;sf", "content-digest;key=sha-512",
					 "date;bs", "@target-uri"};
	static const char *const missing[] = {"x-missing"};
	static const char *const unknown[] = {"@nope"};
	static const char *const badsyntax[] = {"Date"};
	static const char *const empty[] = {""};
	struct hmacd_rfc9421_params p = {.keyid = "k1"};
	struct signed_item s;
	char small[32], *base = NULL;
	long created;
	char *end;

	(void)state;
	/*
	 * zero params: sig1, @method @authority @path, @query (the path has one), content-digest
	 * (present), now, nonce
	 */
	b2_signed(&s, FAKE_SECRET, sizeof(FAKE_SECRET), &p);
	assert_memory_equal(s.input,
			    "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\" "
			    "\"content-digest\");created=",
			    strlen("sig1=(\"@method\" \"@authority\" \"@path\" \"@query\" "
				   "\"content-digest\");created="));
	created = strtol(strstr(s.input, "created=") + 8, &end, 10);
	assert_true(labs(created - (long)time(NULL)) < 5);
	assert_memory_equal(end, ";nonce=\"", 8);
	assert_int_equal(strspn(end + 8, "0123456789abcdef"), 32);
	assert_string_equal(end + 8 + 32, "\";keyid=\"k1\"");
	assert_memory_equal(s.sig, "sig1=:", 6);
	assert_int_equal(strlen(s.sig), 6 + 44 + 1);
	/* without a content-digest header it is not covered by default */
	{
		struct hmacd_rfc9421_item it;
		char in[512], sig[HMACD_RFC9421_SIGNATURE_CAP];

		b2_item(&it);
		it.nheaders = 3;
		assert_int_equal(hmacd_rfc9421_sign(FAKE_SECRET, 32, &it, &p, in, sizeof(in), sig,
						    sizeof(sig)),
				 HMACD_OK);
		assert_memory_equal(in, "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\");",
				    strlen("sig1=(\"@method\" \"@authority\" \"@path\" "
					   "\"@query\");"));
		/* ... and without a query, @query is not covered either */
		it.path = "/foo";
		it.path_len = 4;
		assert_int_equal(hmacd_rfc9421_sign(FAKE_SECRET, 32, &it, &p, in, sizeof(in), sig,
						    sizeof(sig)),
				 HMACD_OK);
		assert_memory_equal(in, "sig1=(\"@method\" \"@authority\" \"@path\");",
				    strlen("sig1=(\"@method\" \"@authority\" \"@path\");"));
	}
	/* every parameter, in the RFC's order; strings escaped */
	p = (struct hmacd_rfc9421_params){
		.label = "a*b",
		.components = qp,
		.ncomponents = ARRAY_LEN(qp),
		.created = HMACD_RFC9421_OMIT,
		.expires = 1700000000,
		.nonce = "n\"1\\",
		.keyid = "key/1",
		.tag = "app",
		.alg = true,
	};
	b2_signed(&s, FAKE_SECRET, sizeof(FAKE_SECRET), &p);
	assert_string_equal(s.input,
			    "a*b=(\"@query-param\";name=\"Pet\" \"@query-param\";name=\"param\" "
			    "\"content-digest\";sf \"content-digest\";key=\"sha-512\" \"date\";bs "
			    "\"@target-uri\");expires=1700000000;nonce=\"n\\\"1\\\\\""
			    ";alg=\"hmac-sha256\";keyid=\"key/1\";tag=\"app\"");
	assert_int_equal(hmacd_rfc9421_base(&s.it, &base, NULL), HMACD_OK);
	assert_non_null(strstr(base, "\"@query-param\";name=\"Pet\": dog\n"));
	assert_non_null(
		strstr(base, "\"@target-uri\": https://example.com/foo?param=Value&Pet=dog\n"));
	assert_non_null(strstr(base, "\"date\";bs: :VHVlLCAyMCBBcHIgMjAyMSAwMjowNzo1NSBHTVQ=:\n"));
	free(base);
	/* uri_scheme http changes @target-uri, so the signature */
	{
		struct signed_item h;

		b2_item(&h.it);
		h.it.uri_scheme = "http";
		h.it.uri_scheme_len = 4;
		assert_int_equal(hmacd_rfc9421_sign(FAKE_SECRET, 32, &h.it, &p, h.input,
						    sizeof(h.input), h.sig, sizeof(h.sig)),
				 HMACD_OK);
		assert_string_equal(h.input, s.input);
		assert_string_not_equal(h.sig, s.sig);
	}

	/* refusals: outputs are emptied */
	p = (struct hmacd_rfc9421_params){.keyid = "k1", .nonce = ""};
	b2_item(&s.it);
#define SIGN(secret_len) \
	hmacd_rfc9421_sign(FAKE_SECRET, (secret_len), &s.it, &p, s.input, sizeof(s.input), s.sig, \
			   sizeof(s.sig))
	assert_int_equal(SIGN(15), HMACD_EINVAL);
	assert_string_equal(s.input, "");
	assert_string_equal(s.sig, "");
	assert_int_equal(SIGN(65), HMACD_EINVAL);
	p.keyid = NULL;
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.keyid = "";
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.keyid = "k\n1";
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.keyid = "k1";
	p.label = "Sig";
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.label = "";
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.label = NULL;
	p.nonce = "caf\xc3\xa9";
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.nonce = "";
	p.created = -5;
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.created = 0;
	p.ncomponents = HMACD_RFC9421_MAX_COMPONENTS + 1;
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.ncomponents = 1;
	assert_int_equal(SIGN(32), HMACD_EINVAL); /* components NULL */
	p.components = empty;
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	p.components = missing;
	assert_int_equal(SIGN(32), HMACD_EMALFORMED);
	p.components = unknown;
	assert_int_equal(SIGN(32), HMACD_EMALFORMED);
	p.components = badsyntax;
	assert_int_equal(SIGN(32), HMACD_EMALFORMED);
	assert_string_equal(s.input, "");
	p.components = NULL;
	p.ncomponents = 0;
	s.it.path = "no-slash";
	s.it.path_len = 8;
	assert_int_equal(SIGN(32), HMACD_EMALFORMED);
	b2_item(&s.it);
	s.it.method = NULL; /* with a length */
	assert_int_equal(SIGN(32), HMACD_EINVAL);
	b2_item(&s.it);
	assert_int_equal(SIGN(32), HMACD_OK);
#undef SIGN
	/* short buffers */
	assert_int_equal(hmacd_rfc9421_sign(FAKE_SECRET, 32, &s.it, &p, small, sizeof(small), s.sig,
					    sizeof(s.sig)),
			 HMACD_ETOOBIG);
	assert_string_equal(small, "");
	assert_int_equal(hmacd_rfc9421_sign(FAKE_SECRET, 32, &s.it, &p, s.input, sizeof(s.input),
					    small, 20),
			 HMACD_ETOOBIG);
	assert_int_equal(hmacd_rfc9421_sign(FAKE_SECRET, 32, &s.it, NULL, s.input, sizeof(s.input),
					    s.sig, sizeof(s.sig)),
			 HMACD_EINVAL);
	assert_int_equal(hmacd_rfc9421_base(NULL, &base, NULL), HMACD_EINVAL);
	/* a Signature-Input that does not parse */
	s.it.signature_input = "sig1=(\"@method\"";
	s.it.signature_input_len = strlen(s.it.signature_input);
	assert_int_equal(hmacd_rfc9421_base(&s.it, &base, NULL), HMACD_EMALFORMED);
	assert_null(base);
}

static void test_content_digest(void **state)
{
	char out[HMACD_CONTENT_DIGEST_CAP];

	(void)state;
	/* RFC 9530 section 2's example body, and the B.2 request's header */
	assert_int_equal(hmacd_content_digest((const uint8_t *)B2_BODY, sizeof(B2_BODY) - 1, 256,
					      out, sizeof(out)),
			 HMACD_OK);
	assert_string_equal(out, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
	assert_int_equal(hmacd_content_digest((const uint8_t *)B2_BODY, sizeof(B2_BODY) - 1, 512,
					      out, sizeof(out)),
			 HMACD_OK);
	assert_string_equal(out, B2_HEADERS[3].value);
	assert_int_equal(hmacd_content_digest(NULL, 0, 256, out, sizeof(out)), HMACD_OK);
	assert_string_equal(out, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
	assert_int_equal(hmacd_content_digest(NULL, 1, 256, out, sizeof(out)), HMACD_EINVAL);
	assert_int_equal(hmacd_content_digest(NULL, 0, 384, out, sizeof(out)), HMACD_EINVAL);
	assert_int_equal(hmacd_content_digest(NULL, 0, 512, out, 98), HMACD_ETOOBIG);
	assert_string_equal(out, "");
}

/* Copies the fake's record of the last verify request. */
static size_t last_request(struct fake *f, uint8_t *buf, size_t cap)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->last.len;
	assert_true(n <= cap);
	memcpy(buf, f->last.data, n);
	pthread_mutex_unlock(&f->lock);
	return n;
}

static bool str_eq(struct hm_str s, const char *want, size_t len)
{
	return s.len == len && (len == 0 || memcmp(s.ptr, want, len) == 0);
}

static bool has_bytes(const uint8_t *p, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(p + i, needle, k) == 0)
			return true;
	return false;
}

/* What goes on the wire: every field, as the daemon's decoder reads it back. */
static void test_rfc9421_encoding(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_rfc9421_item r;
	struct hmacd_item v1;
	struct hmacd_any_item items[2];
	static const struct hmacd_header hs[] = {
		{"x-a", 3, "1", 1}, {"x-a", 3, "\t2 ", 3}, {"x-empty", 7, "", 0}};
	static uint8_t payload[8192];
	struct hm_request req;
	struct hm_item *got = malloc(sizeof(*got));
	uint8_t verdicts[2];
	size_t n;

	assert_non_null(got);
	plain_item(&v1, 4);
	memset(&r, 0, sizeof(r));
	r.tenant = "t2";
	r.tenant_len = 2;
	r.container = "c-9";
	r.container_len = 3;
	r.method = "PATCH";
	r.method_len = 5;
	r.authority = "api.example:8443";
	r.authority_len = 16;
	r.path = "/x?y=1";
	r.path_len = 6;
	r.uri_scheme = "http";
	r.uri_scheme_len = 4;
	r.headers = hs;
	r.nheaders = ARRAY_LEN(hs);
	/* by hand: this item is never signed, only its encoding is looked at */
	r.signature_input = "lbl=(\"@method\");keyid=\"k\"";
	r.signature_input_len = strlen(r.signature_input);
	r.signature = "lbl=:AAAA:";
	r.signature_len = 10;
	r.label = "lbl";
	r.label_len = 3;
	r.body = (const uint8_t *)"\0body";
	r.body_len = 5;
	items[0] = (struct hmacd_any_item){.scheme = HMACD_SCHEME_RFC9421, .u.rfc9421 = &r};
	items[1] = (struct hmacd_any_item){.scheme = HMACD_SCHEME_HMACD_V1, .u.v1 = &v1};
	assert_int_equal(hmacd_verify_any(c, items, 2, verdicts), HMACD_OK);
	/* the fake judged the rfc item for real (a 3-byte MAC: malformed), v1 by its epoch */
	assert_int_equal(verdicts[0], HMACD_V_MALFORMED);
	assert_int_equal(verdicts[1], HMACD_V_KEY_EXPIRED);

	n = last_request(f, payload, sizeof(payload));
	assert_int_equal(hm_request_decode(payload, n, FAKE_MAX_BATCH, &req), HM_OK);
	assert_int_equal(req.nitems, 2);
	assert_int_equal(hm_item_next(&req.items, got), HM_OK);
	assert_int_equal(got->scheme, HM_SCHEME_RFC9421);
	assert_true(str_eq(got->tenant, "t2", 2));
	assert_true(str_eq(got->container, "c-9", 3));
	assert_true(str_eq(got->method, "PATCH", 5));
	assert_true(str_eq(got->rfc.authority, "api.example:8443", 16));
	assert_true(str_eq(got->path, "/x?y=1", 6));
	assert_true(str_eq(got->rfc.uri_scheme, "http", 4));
	assert_int_equal(got->nheaders, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_true(str_eq(got->headers[i].name, hs[i].name, hs[i].name_len));
		assert_true(str_eq(got->headers[i].value, hs[i].value, hs[i].value_len));
	}
	assert_true(str_eq(got->rfc.signature_input, r.signature_input, r.signature_input_len));
	assert_true(str_eq(got->rfc.signature, "lbl=:AAAA:", 10));
	assert_true(str_eq(got->rfc.label, "lbl", 3));
	assert_true(got->has_body);
	assert_true(str_eq(got->body, "\0body", 5));
	assert_int_equal(hm_item_next(&req.items, got), HM_OK);
	assert_int_equal(got->scheme, HM_SCHEME_HMACD_V1);
	assert_int_equal(got->v1.epoch, 4);

	/* optional fields left out are not sent at all (absent, not empty) */
	r.uri_scheme = NULL;
	r.uri_scheme_len = 0;
	r.label = "";
	r.label_len = 0;
	r.body = NULL;
	r.body_len = 0;
	r.headers = NULL;
	r.nheaders = 0;
	assert_int_equal(hmacd_verify_any(c, items, 1, verdicts), HMACD_OK);
	n = last_request(f, payload, sizeof(payload));
	assert_false(has_bytes(payload, n, "uri_scheme"));
	assert_false(has_bytes(payload, n, "label"));
	assert_true(has_bytes(payload, n, "rfc9421"));
	assert_true(has_bytes(payload, n, "headers"));
	assert_int_equal(hm_request_decode(payload, n, FAKE_MAX_BATCH, &req), HM_OK);
	assert_int_equal(hm_item_next(&req.items, got), HM_OK);
	assert_int_equal(got->rfc.uri_scheme.len, 0);
	assert_int_equal(got->rfc.label.len, 0);
	/* the body is always sent: a NULL body is the empty body, never "nothing to check" */
	assert_true(got->has_body);
	assert_int_equal(got->body.len, 0);
	assert_int_equal(got->nheaders, 0);
	/* an empty body through a pointer: the same */
	r.body = (const uint8_t *)"";
	assert_int_equal(hmacd_verify_any(c, items, 1, verdicts), HMACD_OK);
	n = last_request(f, payload, sizeof(payload));
	assert_int_equal(hm_request_decode(payload, n, FAKE_MAX_BATCH, &req), HM_OK);
	assert_int_equal(hm_item_next(&req.items, got), HM_OK);
	assert_true(got->has_body);
	assert_int_equal(got->body.len, 0);
	hmacd_close(c);
	free(got);
}

/*
 * Verdict 9 (fleet mode: a nonce that could not be claimed fleet-wide in time) is an answer like
 * any other verdict, for either scheme: the call succeeds, the verdict is named, the items
 * beside it keep their own verdicts, and the connection stays up for the next request.
 */
static void test_verify_unavailable(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_rfc9421_params p = {.keyid = "k1", .alg = true};
	struct signed_item r9;
	struct hmacd_item ok, v9;
	struct hmacd_any_item items[3];
	static const uint8_t want[3] = {HMACD_V_OK, HMACD_V_UNAVAILABLE, HMACD_V_UNAVAILABLE};
	uint8_t verdicts[3];
	uint64_t id1, id;
	size_t n;

	assert_int_equal(HMACD_V_UNAVAILABLE, 9);
	vec_item(&ok);
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &ok), HMACD_OK);
	plain_item(&v9, 1);
	v9.tenant = "t9";
	b2_signed(&r9, FAKE_SECRET, sizeof(FAKE_SECRET), &p);
	r9.it.tenant = "t9";
	items[0] = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &ok}};
	items[1] = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &v9}};
	items[2] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &r9.it}};
	memset(verdicts, 0xff, sizeof(verdicts));
	assert_int_equal(hmacd_verify_any(c, items, 3, verdicts), HMACD_OK);
	assert_memory_equal(verdicts, want, sizeof(want));
	assert_string_equal(hmacd_verdict_name(verdicts[1]), "UNAVAILABLE");
	/* pipelined, the same */
	assert_int_equal(hmacd_send_verify_any(c, items, 3, &id1), HMACD_OK);
	memset(verdicts, 0xff, sizeof(verdicts));
	assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 3, &n), HMACD_OK);
	assert_int_equal(id, id1);
	assert_int_equal(n, 3);
	assert_memory_equal(verdicts, want, sizeof(want));
	/* not an error: the same connection serves on */
	assert_int_equal(hmacd_verify(c, &v9, 1, verdicts), HMACD_OK);
	assert_int_equal(verdicts[0], HMACD_V_UNAVAILABLE);
	assert_int_equal(hmacd_ping(c), HMACD_OK);
	assert_int_equal(f->accepted, 1);
	hmacd_close(c);
}

/* Both schemes in one batch, judged item by item; what the wire cannot carry is refused. */
static void test_rfc9421_mixed_batch(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, 0);
	struct hmacd_rfc9421_params p = {.keyid = "k1", .alg = true};
	struct signed_item good, bad, cov;
	struct hmacd_item v1ok, v1bad;
	struct hmacd_header many[HMACD_RFC9421_MAX_HEADERS + 1];
	struct hmacd_any_item items[6];
	static const uint8_t want[6] = {HMACD_V_OK,          HMACD_V_OK,
					HMACD_V_BAD_SIGNATURE, HMACD_V_BAD_SIGNATURE,
					HMACD_V_INSUFFICIENT_COVERAGE, HMACD_V_REPLAY};
	uint8_t verdicts[6];
	uint64_t id1, id2, id;
	size_t n;

	vec_item(&v1ok);
	assert_int_equal(hmacd_sign(FAKE_SECRET, sizeof(FAKE_SECRET), &v1ok), HMACD_OK);
	v1bad = v1ok;
	v1bad.sig[0] ^= 1;
	b2_signed(&good, FAKE_SECRET, sizeof(FAKE_SECRET), &p);
	bad = good;
	bad.it.path = "/bar?param=Value&Pet=dog"; /* @path is covered: the MAC no longer fits */
	b2_signed(&cov, FAKE_SECRET, sizeof(FAKE_SECRET), &p);
	cov.it.tenant = "t8";
	items[0] = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &v1ok}};
	items[1] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &good.it}};
	items[2] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &bad.it}};
	items[3] = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &v1bad}};
	items[4] = (struct hmacd_any_item){HMACD_SCHEME_RFC9421, {.rfc9421 = &cov.it}};
	{
		struct hmacd_item e6;

		plain_item(&e6, 6); /* the fake answers REPLAY */
		items[5] = (struct hmacd_any_item){HMACD_SCHEME_HMACD_V1, {.v1 = &e6}};
		memset(verdicts, 0xff, sizeof(verdicts));
		assert_int_equal(hmacd_verify_any(c, items, 6, verdicts), HMACD_OK);
		assert_memory_equal(verdicts, want, sizeof(want));
		/* pipelined, the same answers */
		assert_int_equal(hmacd_send_verify_any(c, items, 6, &id1), HMACD_OK);
		assert_int_equal(hmacd_send_verify_any(c, items + 1, 2, &id2), HMACD_OK);
		assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 6, &n), HMACD_OK);
		assert_int_equal(id, id1);
		assert_int_equal(n, 6);
		assert_memory_equal(verdicts, want, sizeof(want));
		assert_int_equal(hmacd_recv_verify(c, &id, verdicts, 6, &n), HMACD_OK);
		assert_int_equal(id, id2);
		assert_int_equal(n, 2);
		assert_memory_equal(verdicts, want + 1, 2);
	}
	/* refused before anything is sent; verdicts never left at OK */
	items[5].scheme = (enum hmacd_scheme)7;
	memset(verdicts, 0, sizeof(verdicts));
	assert_int_equal(hmacd_verify_any(c, items, 6, verdicts), HMACD_EINVAL);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(verdicts[i], HMACD_V_MALFORMED);
	items[5].scheme = HMACD_SCHEME_RFC9421;
	items[5].u.rfc9421 = NULL;
	assert_int_equal(hmacd_verify_any(c, items, 6, verdicts), HMACD_EINVAL);
	assert_int_equal(hmacd_send_verify_any(c, items, 6, &id), HMACD_EINVAL);
	for (size_t i = 0; i <= HMACD_RFC9421_MAX_HEADERS; i++)
		many[i] = i < ARRAY_LEN(B2_HEADERS) ? B2_HEADERS[i]
						    : (struct hmacd_header){"x-pad", 5, "1", 1};
	bad.it.headers = many;
	bad.it.nheaders = HMACD_RFC9421_MAX_HEADERS + 1;
	assert_int_equal(hmacd_verify_any(c, items, 3, verdicts), HMACD_EINVAL);
	/* 128 headers fit (more than hmacd-v1's 64) */
	bad.it.nheaders = HMACD_RFC9421_MAX_HEADERS;
	assert_int_equal(hmacd_verify_any(c, items, 3, verdicts), HMACD_OK);
	assert_int_equal(verdicts[2], HMACD_V_BAD_SIGNATURE);
	bad.it.headers = NULL; /* with a count */
	assert_int_equal(hmacd_verify_any(c, items, 3, verdicts), HMACD_EINVAL);
	bad.it.headers = B2_HEADERS;
	bad.it.nheaders = ARRAY_LEN(B2_HEADERS);
	bad.it.signature = NULL;
	assert_int_equal(hmacd_verify_any(c, items, 3, verdicts), HMACD_EINVAL);
	assert_int_equal(hmacd_verify_any(c, NULL, 1, verdicts), HMACD_EINVAL);
	assert_int_equal(hmacd_verify_any(c, NULL, 0, NULL), HMACD_OK);
	assert_int_equal(hmacd_in_flight(c), 0);
	assert_int_equal(f->accepted, 1);
	hmacd_close(c);
}

/* An oversized rfc9421 item is refused before it is encoded. */
static void test_rfc9421_too_big(void **state)
{
	struct fake *f = *state;
	struct hmacd_client *c = connect_ok(f, 0, HM_FRAME_MIN_MAX);
	static uint8_t body[HM_FRAME_MIN_MAX + 1];
	struct hmacd_rfc9421_item r;
	struct hmacd_any_item ai = {HMACD_SCHEME_RFC9421, {.rfc9421 = &r}};
	uint8_t v;

	b2_item(&r);
	r.signature_input = B25_INPUT;
	r.signature_input_len = strlen(B25_INPUT);
	r.signature = B25_SIGNATURE;
	r.signature_len = strlen(B25_SIGNATURE);
	r.body = body;
	r.body_len = sizeof(body);
	assert_int_equal(hmacd_verify_any(c, &ai, 1, &v), HMACD_ETOOBIG);
	assert_int_equal(v, HMACD_V_MALFORMED);
	r.body_len = 10;
	assert_int_equal(hmacd_verify_any(c, &ai, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_BAD_SIGNATURE); /* the RFC's key is not the fake's */
	assert_int_equal(f->requests, 1);
	hmacd_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_connect_errors, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_peer_check, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_ping, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_stats, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_verify_verdicts, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_pipelining, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_pipelining_large, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_pipelining_deep, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_server_error, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_id_mismatch, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_short_answer, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_close_mid_answer, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_idle, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_timeout, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_too_big, fake_setup, fake_teardown),
		cmocka_unit_test(test_sign_vector),
		cmocka_unit_test(test_canonical_minimal),
		cmocka_unit_test(test_sign_malformed),
		cmocka_unit_test(test_rfc9421_names),
		cmocka_unit_test(test_rfc9421_sign_b25),
		cmocka_unit_test(test_rfc9421_sign_params),
		cmocka_unit_test(test_content_digest),
		cmocka_unit_test_setup_teardown(test_rfc9421_encoding, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_verify_unavailable, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_mixed_batch, fake_setup,
						fake_teardown),
		cmocka_unit_test_setup_teardown(test_rfc9421_too_big, fake_setup, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
