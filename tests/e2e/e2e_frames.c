/*
 * e2e_frames.c - hostile bytes on the socket: every bad frame is answered with an error or
 * closes that connection, within a bounded time, and the daemon keeps serving everyone else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto/frame.h"
#include "harness.h"
#include "proto/msg.h"

struct fx {
	struct hd d;
	uint8_t secret[32];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	/*
	 * --idle-spin: the framing cases (pipelining, frames in pieces, read timeouts, closes)
	 * run through the workers' spinning loop; every other e2e test runs without it.
	 */
	hd_start(&f->d, "--threads 2 --max-frame 65536 --max-batch 4 --read-timeout 1 "
			"--idle-spin 200");
	assert_int_equal(hd_key_create(&f->d, "t1", "c1", f->secret), 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	hd_stop(&f->d);
	hd_cleanup(&f->d);
	free(f);
	return 0;
}

/* The daemon still answers a good request on a new connection. */
static void assert_serving(struct fx *f)
{
	struct hmacd_client *c = hd_client(&f->d);
	struct hd_req r;
	uint8_t v = 0xff;

	hd_req_init(&r, "t1", "c1", 1, (uint64_t)time(NULL), NULL, f->secret);
	assert_int_equal(hmacd_verify(c, &r.item, 1, &v), HMACD_OK);
	assert_int_equal(v, HMACD_V_OK);
	hmacd_close(c);
}

static void send_frame(int fd, const void *payload, uint32_t len)
{
	uint8_t hdr[4];

	hm_frame_put_header(hdr, len);
	assert_true(hd_raw_send(fd, hdr, 4));
	if (len > 0)
		assert_true(hd_raw_send(fd, payload, len));
}

/* Sends one payload; expects an error response with `code`; returns the decoded id state. */
static void expect_error(int fd, const void *payload, uint32_t len, const char *code,
			 bool has_id, uint64_t id)
{
	uint8_t buf[4096];
	struct hm_response resp;
	long n;

	send_frame(fd, payload, len);
	n = hd_raw_recv(fd, buf, sizeof(buf), 5000);
	assert_true(n > 0);
	assert_int_equal(hm_response_decode(buf, (size_t)n, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_ERROR);
	assert_int_equal(resp.err.len, strlen(code));
	assert_memory_equal(resp.err.ptr, code, resp.err.len);
	assert_true(resp.err_text.len > 0);
	assert_int_equal(resp.has_id, has_id);
	if (has_id)
		assert_int_equal(resp.id, id);
}

static void expect_pong(int fd)
{
	struct hm_buf b;
	uint8_t buf[256];
	struct hm_response resp;
	long n;

	hm_buf_init(&b, 1024);
	hm_encode_simple_request(&b, 77, HM_OP_PING);
	assert_false(b.failed);
	assert_true(hd_raw_send(fd, b.data, b.len));
	hm_buf_free(&b);
	n = hd_raw_recv(fd, buf, sizeof(buf), 5000);
	assert_true(n > 0);
	assert_int_equal(hm_response_decode(buf, (size_t)n, &resp), HM_OK);
	assert_int_equal(resp.kind, HM_RESP_PONG);
	assert_int_equal(resp.id, 77);
}

static void test_request_errors_keep_connection(void **state)
{
	struct fx *f = *state;
	int fd = hd_raw_connect(&f->d);
	msgpack_sbuffer sb;
	msgpack_packer pk;

	/* garbage bytes, a non-map, msgpack-c's huge-length trap, trailing bytes, empty payload */
	expect_error(fd, "\xc1\xc1\xc1", 3, "malformed", false, 0);
	expect_error(fd, "\x93\x01\x02\x03", 4, "malformed", false, 0);
	expect_error(fd, "\xdd\xff\x00\x00\x00", 5, "malformed", false, 0);
	expect_error(fd, "\xdb\xff\xff\xff\xff", 5, "malformed", false, 0);
	expect_error(fd, "\x80\x00", 2, "malformed", false, 0);
	expect_error(fd, "", 0, "malformed", false, 0);
	/* nesting deeper than allowed */
	{
		uint8_t deep[64];

		memset(deep, 0x91, sizeof(deep));
		deep[63] = 0x01;
		expect_error(fd, deep, sizeof(deep), "malformed", false, 0);
	}
	/* unknown op, with its id echoed */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, 5);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, "delete", 6);
	expect_error(fd, sb.data, (uint32_t)sb.size, "unknown_op", true, 5);
	/* an unknown key */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, 6);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, "ping", 4);
	msgpack_pack_str_with_body(&pk, "debug", 5);
	msgpack_pack_true(&pk);
	expect_error(fd, sb.data, (uint32_t)sb.size, "malformed", true, 6);
	/* too many items (--max-batch 4) */
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "id", 2);
	msgpack_pack_uint64(&pk, 7);
	msgpack_pack_str_with_body(&pk, "op", 2);
	msgpack_pack_str_with_body(&pk, "verify", 6);
	msgpack_pack_str_with_body(&pk, "items", 5);
	msgpack_pack_array(&pk, 5);
	for (int i = 0; i < 5; i++)
		msgpack_pack_nil(&pk);
	expect_error(fd, sb.data, (uint32_t)sb.size, "too_many_items", true, 7);
	msgpack_sbuffer_destroy(&sb);
	/* after all that, the same connection still works */
	expect_pong(fd);
	close(fd);
	assert_serving(f);
}

static void test_oversize_frame_closes(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[4], buf[64];
	int fd = hd_raw_connect(&f->d);

	hm_frame_put_header(hdr, 65537); /* one over --max-frame */
	assert_true(hd_raw_send(fd, hdr, 4));
	assert_int_equal(hd_raw_recv(fd, buf, sizeof(buf), 5000), -1); /* closed, no answer */
	close(fd);
	fd = hd_raw_connect(&f->d);
	hm_frame_put_header(hdr, 0xffffffffu);
	assert_true(hd_raw_send(fd, hdr, 4));
	assert_int_equal(hd_raw_recv(fd, buf, sizeof(buf), 5000), -1);
	close(fd);
	assert_serving(f);
}

static void test_stalled_partial_frame_times_out(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64];
	int fds[20];

	for (int i = 0; i < 20; i++) {
		fds[i] = hd_raw_connect(&f->d);
		/* announce 100 bytes, send 3 */
		assert_true(hd_raw_send(fds[i], "\x00\x00\x00\x64\x83\xa2\x69", 7));
	}
	assert_serving(f); /* others are served meanwhile */
	for (int i = 0; i < 20; i++) {
		/* --read-timeout 1: closed well within 5 s */
		assert_int_equal(hd_raw_recv(fds[i], buf, sizeof(buf), 5000), -1);
		close(fds[i]);
	}
	/* a connection that sent nothing is kept (idle keep-alive is fine) */
	assert_serving(f);
}

static void test_truncated_and_garbage_storm(void **state)
{
	struct fx *f = *state;
	uint8_t junk[512];
	unsigned seed = 12345;

	for (int i = 0; i < 300; i++) {
		int fd = hd_raw_connect(&f->d);
		size_t n = (size_t)(rand_r(&seed) % sizeof(junk));

		for (size_t k = 0; k < n; k++)
			junk[k] = (uint8_t)rand_r(&seed);
		/* keep the length under the limit half of the time, so payloads get parsed */
		if (i % 2 == 0 && n >= 4) {
			junk[0] = 0;
			junk[1] = 0;
			junk[2] = 0;
			junk[3] = (uint8_t)(n - 4);
		}
		(void)hd_raw_send(fd, junk, n);
		close(fd); /* truncated or whole, then gone */
		if (i % 50 == 0)
			assert_serving(f);
	}
	assert_serving(f);
}

static void test_malformed_items_do_not_spoil_batch(void **state)
{
	struct fx *f = *state;
	struct hmacd_client *c = hd_client(&f->d);
	struct hd_req good, bad;
	struct hmacd_item items[4];
	uint8_t v[4];

	hd_req_init(&good, "t1", "c1", 1, (uint64_t)time(NULL), NULL, f->secret);
	hd_req_init(&bad, "t1", "c1", 1, (uint64_t)time(NULL), NULL, f->secret);
	bad.item.path = "no-slash";
	bad.item.path_len = 8;
	items[0] = good.item;
	items[1] = bad.item;
	items[2] = good.item;
	bad.item.path = "/a\nb";
	bad.item.path_len = 4;
	items[3] = bad.item;
	assert_int_equal(hmacd_verify(c, items, 4, v), HMACD_OK);
	assert_int_equal(v[0], HMACD_V_OK);
	assert_int_equal(v[1], HMACD_V_MALFORMED);
	assert_int_equal(v[2], HMACD_V_OK);
	assert_int_equal(v[3], HMACD_V_MALFORMED);
	hmacd_close(c);
}

/*
 * A client that pipelines a flood of small frames and reads its answers late: every frame is
 * answered, in order, and the connection is not dropped (input and output buffers stay bounded
 * by reading only when no whole frame is waiting, and by compacting queued responses).
 */
static void test_pipelined_flood_all_answered(void **state)
{
	struct fx *f = *state;
	enum { N = 30000 };
	struct hm_buf req;
	uint8_t *in = NULL;
	size_t sent = 0, got = 0, inlen = 0, incap = 1 << 20;
	unsigned answered = 0;
	int fd = hd_raw_connect(&f->d);

	hm_buf_init(&req, 64u << 20);
	for (unsigned i = 0; i < N; i++)
		hm_encode_simple_request(&req, i, HM_OP_PING);
	assert_false(req.failed);
	in = malloc(incap);
	assert_non_null(in);
	/* first write everything we can before reading anything: the daemon must block, not drop */
	while (sent < req.len) {
		ssize_t n = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break;
		sent += (size_t)n;
	}
	while (answered < N) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN | (sent < req.len ? POLLOUT : 0)};
		ssize_t n;

		assert_true(poll(&pfd, 1, 10000) > 0);
		if ((pfd.revents & POLLOUT) && sent < req.len) {
			n = send(fd, req.data + sent, req.len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			assert_true(n > 0);
			sent += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, in + inlen, incap - inlen, 0);
			assert_true(n > 0); /* never closed on us */
			inlen += (size_t)n;
			got += (size_t)n;
			for (;;) {
				struct hm_response resp;
				uint32_t plen;
				size_t flen;

				if (hm_frame_parse(in, inlen, 1u << 20, &plen, &flen) != HM_OK)
					break;
				assert_int_equal(hm_response_decode(in + 4, plen, &resp), HM_OK);
				assert_int_equal(resp.kind, HM_RESP_PONG);
				assert_int_equal(resp.id, answered);
				answered++;
				memmove(in, in + flen, inlen - flen);
				inlen -= flen;
			}
		}
	}
	assert_int_equal(sent, req.len);
	assert_true(got > 0);
	free(in);
	hm_buf_free(&req);
	close(fd);
	assert_serving(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_errors_keep_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_frame_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_partial_frame_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_and_garbage_storm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_items_do_not_spoil_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_flood_all_answered, setup, teardown),
	};

	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
