"""hmacd.peer - who answers on the socket: the server's credentials, checked on every new
connection before the first byte of a frame is written (issue 10, finding 3).

A local user who binds the socket path first (hmacd not yet started, or a socket in a directory
anyone may write) would otherwise answer OK to everything. So the clients read the server's
credentials with SO_PEERCRED (pid, uid, gid, as the kernel recorded them when the server called
listen) and accept the connection only if:

- server_user is set (a user name, resolved when the client is made, or a numeric uid): the
  server's uid is that uid;
- else: the server's uid is 0 (root) or the owner of the socket path's directory, read with
  os.stat() when connecting. Whoever owns the directory controls the path anyway.

A mismatch, or credentials that cannot be read, closes that connection and raises
PeerCredentialsError (a HmacdError: the middleware answers 503). It is never a verdict, and the
call is not retried on another connection.
"""

from __future__ import annotations

import os
import pwd
import re
import socket
import struct
from typing import Optional, Union

from .errors import PeerCredentialsError

_UCRED = struct.Struct("iII")  # struct ucred: pid_t pid, uid_t uid, gid_t gid


def resolve_user(server_user: Union[str, int, None]) -> Optional[int]:
    """The uid the server must run as: None (the default rule), or from server_user, a uid
    (int, or a str of digits) or a user name looked up now. ValueError for an unknown name or
    a negative uid, TypeError for another type."""
    if server_user is None:
        return None
    if isinstance(server_user, bool) or not isinstance(server_user, (int, str)):
        raise TypeError("server_user is a user name or a uid")
    if isinstance(server_user, int):
        if server_user < 0:
            raise ValueError("server_user: a uid is >= 0")
        return server_user
    if re.fullmatch(r"[0-9]+", server_user):
        return int(server_user)
    try:
        return pwd.getpwnam(server_user).pw_uid
    except KeyError:
        raise ValueError("server_user: no user named %r" % server_user) from None


def check(sock: socket.socket, path: str, server_uid: Optional[int]) -> None:
    """Raises PeerCredentialsError unless the server connected on sock (a socket, or asyncio's
    transport socket) may answer for path. server_uid: resolve_user()'s result."""
    try:
        _, uid, _ = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                  _UCRED.size))
    except (OSError, struct.error) as e:
        raise PeerCredentialsError("hmacd peer check: cannot read the server's credentials "
                                   "on %s: %s" % (path, e)) from None
    if server_uid is not None:
        if uid != server_uid:
            raise PeerCredentialsError("hmacd peer check: server uid %d is not the expected "
                                       "uid %d (server_user)" % (uid, server_uid))
        return
    directory = os.path.dirname(path) or "."
    try:
        owner = os.stat(directory).st_uid
    except OSError as e:
        raise PeerCredentialsError("hmacd peer check: cannot stat %s: %s"
                                   % (directory, e.strerror)) from None
    if uid != 0 and uid != owner:
        raise PeerCredentialsError("hmacd peer check: server uid %d is not the expected uid %d "
                                   "(owner of %s or root); set server_user to trust another "
                                   "user" % (uid, owner, directory))
