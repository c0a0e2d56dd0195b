"""helpers.py - small shared helpers for the tests (items from vectors, signing, names)."""

import base64
import itertools
import os
import time

from hmacd import Item, sign_item

_seq = itertools.count(1)


def unique(prefix):
    """A scope name not used before in this run."""
    return "%s-%d-%d" % (prefix, os.getpid(), next(_seq))


def now():
    return int(time.time())


def item_from_vector(v, **over):
    """The Item of a vector's fields (sig from sig_b64), with fields replaced by `over`."""
    fields = dict(tenant=v["tenant"], container=v["container"], epoch=v["epoch"],
                  method=v["method"], path=v["path"], ts=v["ts"], nonce=v["nonce"],
                  headers=[tuple(h) for h in v["headers"]],
                  body=base64.b64decode(v["body_b64"]), sig=base64.b64decode(v["sig_b64"]))
    fields.update(over)
    return Item(**fields)


def signed(secret_b64, **fields):
    """A fresh item signed with secret_b64. Defaults: POST /containers/<container>/exec now,
    a random nonce, one signed header, a small body."""
    f = dict(epoch=1, method="POST", ts=now(), nonce=os.urandom(16).hex(),
             headers=[("content-type", "application/json")], body=b'{"cmd":["ls"]}', sig=b"")
    f.update(fields)
    f.setdefault("path", "/containers/%s/exec" % f["container"])
    it = Item(**f)
    it.sig = sign_item(secret_b64, it)
    return it
