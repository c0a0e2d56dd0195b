"""inproc.py - the verifiers of bench/http's "inproc" and "noauth" modes, for the Python apps.

InprocVerifier checks an hmacd-v1 item in the app's process as the daemon would, with the
client library's own canonical string (hmacd.signer.sign_item) and hmac.compare_digest; the
secrets come from the 0600 file HMACD_BENCH_KEYS (hmacctl key create --json lines), never
from argv or the environment. No replay cache: an item with a nonce is refused (the bench's
requests carry none). NoauthVerifier accepts every item and computes nothing. Both have the
sync verify() of hmacd.Client; the Async variants the coroutine of hmacd.AsyncClient, so that
the ASGI middleware calls them inline rather than in a thread pool.
"""

import hmac
import json
import os
import stat
import time
from typing import Dict, Tuple

from hmacd.signer import decode_secret, sign_item
from hmacd.wire import Item

OK, BAD_SIGNATURE, UNKNOWN_KEY, STALE_TIMESTAMP, MALFORMED = 0, 1, 2, 5, 7


def load_keys(path: str) -> Dict[Tuple[str, str, int], bytes]:
    st = os.stat(path)
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise SystemExit("%s: readable by others, want mode 0600" % path)
    keys = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                k = json.loads(line)
                keys[(k["tenant"], k["container"], k["epoch"])] = decode_secret(k["secret"])
    return keys


class InprocVerifier:
    def __init__(self, keys_path: str, skew: int = 300) -> None:
        self.keys = load_keys(keys_path)
        self.skew = skew

    def __repr__(self) -> str:
        return "InprocVerifier(%d scopes)" % len(self.keys)  # never the secrets

    def verify(self, item: object) -> int:
        if not isinstance(item, Item) or item.nonce:
            return MALFORMED
        secret = self.keys.get((item.tenant, item.container, item.epoch))
        if secret is None:
            return UNKNOWN_KEY
        if abs(int(time.time()) - item.ts) > self.skew:
            return STALE_TIMESTAMP
        try:
            want = sign_item(secret, item)
        except ValueError:
            return MALFORMED
        return OK if hmac.compare_digest(want, bytes(item.sig)) else BAD_SIGNATURE


class AsyncInprocVerifier(InprocVerifier):
    async def verify(self, item: object) -> int:  # type: ignore[override]
        return InprocVerifier.verify(self, item)


class NoauthVerifier:
    def verify(self, item: object) -> int:
        return OK


class AsyncNoauthVerifier:
    async def verify(self, item: object) -> int:
        return OK
