"""hmacd._capture - capture files (issue 15) for every Python middleware: with capture_dir set,
a request that hmacd refused (a verdict other than OK and UNAVAILABLE, so a 401) is written to
that directory as JSON, in the format PROTOCOL.md documents under "Capture files", for
`hmacctl explain --request FILE`.

Every byte of such a request is an attacker's choice, so: the body is never written (only its
length, SHA-256 and SHA-512); the values of headers the signature does not cover are replaced
by "[redacted]"; files are created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600) in a
directory that must belong to the process's user and not be writable by group or others
(checked at start-up, ValueError, and again before each write, skipped if it no longer holds);
and their number is bounded (capture_max, default 100, counting the capture files already in
the directory when the process first used it, shared by every middleware of the process on
that directory). A capture never changes the response, and an error writing one is logged,
never raised.

Strings in the file are the received bytes decoded as UTF-8 (a byte that is not valid UTF-8
becomes U+FFFD).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import stat
import threading
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

from .rfc9421 import KIND_DICT, InnerList, Token, parse_field

log = logging.getLogger("hmacd")

DEFAULT_CAPTURE_MAX = 100
REDACTED = "[redacted]"
# the headers whose values a capture always keeps: the signature, and what explain needs to
# describe the authority and the body
KEPT = frozenset({"authorization", "signature", "signature-input", "host", "content-digest",
                  "content-type"})
PREFIX, SUFFIX = "hmacd-capture-", ".json"

CaptureDir = Union[str, "os.PathLike[str]"]
"""The capture_dir option: a path."""


class _Budget:
    """The capture files of one directory, for the whole process."""

    def __init__(self, files: int) -> None:
        self.lock = threading.Lock()
        self.files = files
        self.warned = False


_budgets: Dict[Tuple[str, int, int], _Budget] = {}
_budgets_lock = threading.Lock()


def _check_dir(path: str) -> Tuple[int, int]:
    """(st_dev, st_ino) of path if it is a directory (not a symlink) that belongs to this
    process's user and is not writable by group or others; else ValueError saying why."""
    try:
        st = os.lstat(path)
    except OSError as e:
        raise ValueError("capture_dir %r: %s" % (path, e.strerror)) from None
    why = None
    if stat.S_ISLNK(st.st_mode):
        why = "it is a symlink"
    elif not stat.S_ISDIR(st.st_mode):
        why = "it is not a directory"
    elif st.st_uid != os.geteuid():
        why = "it belongs to uid %d, not %d" % (st.st_uid, os.geteuid())
    elif st.st_mode & 0o022:
        why = "it is writable by group or others (mode %o)" % stat.S_IMODE(st.st_mode)
    if why is not None:
        raise ValueError("capture_dir %r must be an existing directory, not a symlink, owned by "
                         "this process's user and not writable by group or others: %s"
                         % (path, why))
    return st.st_dev, st.st_ino


def _text(b: Union[str, bytes]) -> str:
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else b


def covered_rfc9421(signature_input: Union[str, bytes], label: Optional[str]) -> Set[str]:
    """The header names a Signature-Input value covers: the signature `label`, or without a
    label every signature's (the only one, usually). Nothing if it does not parse."""
    try:
        d = parse_field(signature_input, KIND_DICT)
    except ValueError:
        return set()
    assert isinstance(d, dict)
    members = ([d[label]] if label in d else []) if label else list(d.values())
    names: Set[str] = set()
    for m in members:
        if isinstance(m, InnerList):
            for it in m.items:
                v = it.value
                if isinstance(v, str) and not isinstance(v, Token) and not v.startswith("@"):
                    names.add(v.lower())
    return names


class Capturer:
    """Writes the capture files of one middleware. ValueError at construction if the directory
    is not fit for them or capture_max is not a positive int."""

    def __init__(self, directory: CaptureDir, capture_max: int) -> None:
        if isinstance(capture_max, bool) or not isinstance(capture_max, int) or capture_max < 1:
            raise ValueError("capture_max must be a positive number of files")
        if not os.fspath(directory):
            raise ValueError("capture_dir is a directory path (None: no capture files)")
        path = os.path.abspath(os.fspath(directory))
        self.dir = path
        self.id = _check_dir(path)
        self.max = capture_max
        key = (path,) + self.id
        with _budgets_lock:
            b = _budgets.get(key)
            if b is None:
                b = _Budget(sum(1 for n in os.listdir(path)
                                if n.startswith(PREFIX) and n.endswith(SUFFIX)))
                _budgets[key] = b
        self.budget = b

    def capture(self, *, scheme: str, tenant: Optional[str], container: str,
                label: Optional[str], method: str, uri_scheme: str, authority: bytes,
                path: bytes, headers: Iterable[Tuple[bytes, bytes]], covered: Iterable[str],
                body: bytes, verdict: str, received_at: int) -> Optional[str]:
        """Writes the capture of a refused request; returns its path, or None (logged) when
        none was written. Never raises."""
        try:
            return self._capture(scheme, tenant, container, label, method, uri_scheme,
                                 authority, path, headers, covered, body, verdict, received_at)
        except Exception as e:  # a capture must never fail the response
            log.error("hmacd: capture not written: %r", e)
            return None

    def _capture(self, scheme: str, tenant: Optional[str], container: str,
                 label: Optional[str], method: str, uri_scheme: str, authority: bytes,
                 path: bytes, headers: Iterable[Tuple[bytes, bytes]], covered: Iterable[str],
                 body: bytes, verdict: str, received_at: int) -> Optional[str]:
        cov = set(covered)
        lines: List[List[str]] = []
        for k, v in headers:
            name = _text(k).lower()
            lines.append([name, _text(v) if name in KEPT or name in cov else REDACTED])
        doc: Dict[str, object] = {"hmacd_capture": 1, "captured_at": received_at,
                                  "scheme": scheme}
        if tenant is not None:
            doc["tenant"] = tenant
        doc["container"] = container
        if label:
            doc["label"] = label
        doc.update({
            "method": method, "uri_scheme": uri_scheme, "authority": _text(authority),
            "path": _text(path), "headers": lines, "body_length": len(body),
            "body_sha256": base64.b64encode(hashlib.sha256(body).digest()).decode("ascii"),
            "body_sha512": base64.b64encode(hashlib.sha512(body).digest()).decode("ascii"),
            "verdict": verdict})
        data = (json.dumps(doc, separators=(",", ":")) + "\n").encode("ascii")

        with self.budget.lock:
            if self.budget.files >= self.max:
                if not self.budget.warned:
                    self.budget.warned = True
                    log.warning("hmacd: no more captures: %s holds %d capture files "
                                "(capture_max %d) until the process restarts",
                                self.dir, self.budget.files, self.max)
                return None
            self.budget.files += 1
        try:
            out = self._write(received_at, data)
        except (OSError, ValueError) as e:
            with self.budget.lock:
                self.budget.files -= 1
            log.error("hmacd: capture not written: %s", e)
            return None
        log.warning("hmacd: capture %s written (hmacctl explain --request %s)", out, out)
        return out

    def _write(self, received_at: int, data: bytes) -> str:
        """Creates a new capture file holding data; its path. The directory is checked again:
        it may have been replaced, or its mode changed, since start-up."""
        if _check_dir(self.dir) != self.id:
            raise ValueError("%s is not the directory checked at start-up" % self.dir)
        name = "%s%d-%s%s" % (PREFIX, received_at, secrets.token_hex(8), SUFFIX)
        path = os.path.join(self.dir, name)
        flags = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                 | getattr(os, "O_CLOEXEC", 0))
        fd = os.open(path, flags, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except BaseException:
            os.unlink(path)
            raise
        return path
