"""send.py - sign a request with a key hmacctl printed and send it: the tenant's side of the
example apps, to try them by hand.

    /usr/bin/python3 client/python/examples/send.py KEY.json URL [BODY] [--rfc9421]

KEY.json is what `hmacctl key create --json` printed (daemon/demo.sh keeps the demo key in
demo/demo-key.json). The request is POST URL with BODY (default {"cmd":["ls","-l"]}) as
application/json, signed for the key's container, whatever the URL says: sent to another
container's URL it is refused (401), as it must be. Signed with HMACD-V1 by default; with
--rfc9421, an RFC 9421 signature by the key's id (covering @method, @authority, @path, @scheme,
@query when there is one, and Content-Digest), the tenant in X-Tenant. Prints the status and
the body of the answer. Needs PYTHONPATH=client/python, as the apps do.
"""

from __future__ import annotations

import http.client
import json
import sys
from typing import Dict, List
from urllib.parse import urlsplit

from hmacd import Signer
from hmacd.rfc9421 import sign as sign_rfc9421


def main(argv: List[str]) -> int:
    rfc9421 = "--rfc9421" in argv
    args = [a for a in argv if a != "--rfc9421"]
    if not 2 <= len(args) <= 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        key = json.load(f)
    url = urlsplit(args[1])
    if url.scheme != "http" or not url.hostname:
        print("send.py: the URL is http://HOST:PORT/...", file=sys.stderr)
        return 2
    body = (args[2] if len(args) == 3 else '{"cmd":["ls","-l"]}').encode()
    target = url.path + ("?" + url.query if url.query else "")
    headers: Dict[str, str] = {"Host": url.netloc, "Content-Type": "application/json"}
    if rfc9421:
        headers["X-Tenant"] = key["tenant"]
        comps = ["@method", "@authority", "@path", "@scheme", "content-digest"]
        if url.query:
            comps.insert(3, "@query")
        headers.update(sign_rfc9421("POST", args[1], key=key["secret"], keyid=key["keyid"],
                                    headers=headers, body=body, components=comps))
    else:
        signer = Signer(key["tenant"], key["epoch"], key["secret"])
        headers["Authorization"] = signer.sign_request("POST", target,
                                                       container=key["container"],
                                                       headers=headers, body=body)
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
    conn.request("POST", target, body=body, headers=headers)
    resp = conn.getresponse()
    print(resp.status, resp.read().decode("utf-8", "replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
