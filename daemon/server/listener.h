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

#include <stddef.h>
#include <sys/types.h>

#include "proto/errors.h"

/*
 * Creates, binds and listens (non-blocking, close-on-exec) on `path` with permission bits
 * `mode`. HM_OK with *fd set; HM_EINVAL (path too long, or a directory on the way that another
 * user could use to put their own socket at the path: see hm_listen_check_path), HM_EEXIST
 * (another daemon listens, or the path is not a socket), HM_EIO (no such directory, or a
 * system call failed; logged).
 */
int hm_listen_unix(const char *path, mode_t mode, int *fd) HM_MUSTCHECK;

/*
 * Systemd-style socket activation: if LISTEN_PID is this process and LISTEN_FDS is 1, takes fd 3
 * after checking it is a listening Unix stream socket, makes it non-blocking and close-on-exec,
 * and clears the LISTEN_* variables. HM_OK with *fd set; HM_ENOTFOUND when no socket was
 * passed; HM_EINVAL when what was passed is not usable (logged).
 */
int hm_listen_inherited(int *fd) HM_MUSTCHECK;

/*
 * Checks that a socket could be created at `path` safely: its length; its directory, which must
 * belong to this user or root and be writable by no one else (sticky or not); every ancestor,
 * which must belong to this user or root and be sticky if others may write it; and no live
 * daemon's socket or non-socket file there. HM_OK, HM_EINVAL (length), HM_ESTATE (a directory
 * another user could use to replace the socket; the reason, naming it, in why[0..cap)),
 * HM_EEXIST, HM_ENOTFOUND (no such directory).
 */
int hm_listen_check_path(const char *path, char *why, size_t cap) HM_MUSTCHECK;

/*
 * The pid of the process that listens on `path` (SO_PEERCRED of a connection: whoever called
 * listen()). --check-config uses it to tell a service manager holding the socket for hmacd
 * (systemd runs ExecStartPre= with the socket already listening) from another daemon.
 * HM_OK, HM_ENOTFOUND (nobody listens), HM_EINVAL (path), HM_EIO.
 */
int hm_listen_owner_pid(const char *path, pid_t *pid) HM_MUSTCHECK;

/* Closes the listening socket and removes its file (path NULL: leaves the file). */
void hm_listen_close(int fd, const char *path);

#endif
