/*
 * peercred.c - the kernel credentials of the process at the other end of a Unix socket, for
 * the client's peer check (lib/peer.js): Node's net module has no SO_PEERCRED.
 *
 *   peercred(fd) -> {pid, uid, gid}
 *
 * fd is the connected socket's descriptor (socket._handle.fd). For a client socket, Linux gives
 * the credentials the server had when it called listen(2): who answers, not who might later
 * hold the descriptor. Throws a TypeError for an fd that is not a non-negative integer, and an
 * Error with `errno` (the positive number, e.g. ENOTSOCK or EBADF) and `syscall` for a failing
 * getsockopt(2); never returns credentials it did not read.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <node_api.h>

/* a napi call that fails leaves a pending exception (or none); return to JS with it */
#define CHECK(call)                      \
	do {                             \
		if ((call) != napi_ok)   \
			return NULL;     \
	} while (0)

static napi_value set_uint(napi_env env, napi_value obj, const char *name, uint32_t v)
{
	napi_value n;

	CHECK(napi_create_uint32(env, v, &n));
	CHECK(napi_set_named_property(env, obj, name, n));
	return obj;
}

/* throws Error("getsockopt(SO_PEERCRED) failed: errno N") with .errno = N and .syscall */
static napi_value throw_errno(napi_env env, int err)
{
	char msg[64];
	napi_value text, error, n, syscall;

	snprintf(msg, sizeof msg, "getsockopt(SO_PEERCRED) failed: errno %d", err);
	CHECK(napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text));
	CHECK(napi_create_error(env, NULL, text, &error));
	CHECK(napi_create_int32(env, err, &n));
	CHECK(napi_set_named_property(env, error, "errno", n));
	CHECK(napi_create_string_utf8(env, "getsockopt", NAPI_AUTO_LENGTH, &syscall));
	CHECK(napi_set_named_property(env, error, "syscall", syscall));
	napi_throw(env, error);
	return NULL;
}

static napi_value peercred(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], obj;
	napi_valuetype type;
	double d;
	int fd;
	struct ucred cred;
	socklen_t len = sizeof cred;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc != 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number ||
	    napi_get_value_double(env, argv[0], &d) != napi_ok || !(d >= 0 && d <= 2147483647) ||
	    d != (int)d) {
		napi_throw_type_error(env, NULL, "peercred(fd): fd is a non-negative integer");
		return NULL;
	}
	fd = (int)d;
	memset(&cred, 0, sizeof cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return throw_errno(env, errno);
	if (len != sizeof cred)
		return throw_errno(env, EPROTO);
	CHECK(napi_create_object(env, &obj));
	if (set_uint(env, obj, "pid", (uint32_t)cred.pid) == NULL ||
	    set_uint(env, obj, "uid", cred.uid) == NULL ||
	    set_uint(env, obj, "gid", cred.gid) == NULL)
		return NULL;
	return obj;
}

NAPI_MODULE_INIT()
{
	napi_value fn;

	CHECK(napi_create_function(env, "peercred", NAPI_AUTO_LENGTH, peercred, NULL, &fn));
	CHECK(napi_set_named_property(env, exports, "peercred", fn));
	return exports;
}
