/*
 * listener.h - the daemon's Unix stream socket: safe creation and removal.
 *
 * Creation never leaves a window in which the socket is more open than `mode`: it is bound under
 * a umask that already yields `mode`, then chmod()ed to exactly `mode`. An existing path is
 * replaced only if it is a socket nobody answers on (ECONNREFUSED): a live daemon's socket and
 * any other kind of file are left alone.
 */
#ifndef HM_LISTENER_H
#define HM_LISTENER_H

#include <sys/types.h>

#include "errors.h"

/*
 * Creates, binds and listens (non-blocking, close-on-exec) on `path` with permission bits
 * `mode`. HM_OK with *fd set; HM_EINVAL (path too long), HM_EEXIST (another daemon listens, or
 * the path is not a socket), HM_EIO (a system call failed; logged with errno).
 */
int hm_listen_unix(const char *path, mode_t mode, int *fd) HM_MUSTCHECK;

/* Closes the listening socket and removes its file. */
void hm_listen_close(int fd, const char *path);

#endif
