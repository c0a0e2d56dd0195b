"""sign.py - the signed requests of one bench/http run, with the Python client's Signer.

    python3 sign.py KEYS PORT COUNT OUT

KEYS: the scopes, one `hmacctl key create --json` object a line (tenant, container, epoch,
secret). Writes COUNT lines "TARGET<TAB>AUTHORIZATION<TAB>BODY" to OUT (mode 0600), request i
for scope i mod len(KEYS): POST /containers/C/exec, a 256-byte JSON body, signed hmacd-v1 over
host (127.0.0.1:PORT) and content-type, now, WITHOUT a nonce (hmacd refuses a repeated nonce;
these requests are sent again and again while their timestamp is inside the skew window,
as the figures of issue 16 are: "no nonce"). wrk (signed.lua) and hmacd-http-load read OUT.
"""

import json
import os
import sys
import time

from hmacd.signer import Signer

BODY_LEN = 256


def body_for(i: int) -> bytes:
    """A valid exec body of exactly BODY_LEN bytes."""
    head = b'{"cmd":["echo","'
    tail = b'"],"tty":false}'
    tag = b"%08d-" % i
    pad = BODY_LEN - len(head) - len(tail) - len(tag)
    return head + tag + b"x" * pad + tail


def main() -> int:
    keys_path, port, count, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with open(keys_path) as f:
        keys = [json.loads(line) for line in f if line.strip()]
    signers = [Signer(k["tenant"], k["epoch"], k["secret"]) for k in keys]
    host = "127.0.0.1:%d" % port
    now = int(time.time())
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        for i in range(count):
            k = keys[i % len(keys)]
            target = "/containers/%s/exec" % k["container"]
            body = body_for(i)
            auth = signers[i % len(keys)].sign_request(
                "POST", target, container=k["container"],
                headers={"host": host, "content-type": "application/json"},
                body=body, ts=now, nonce="")
            f.write("%s\t%s\t%s\n" % (target, auth, body.decode()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
