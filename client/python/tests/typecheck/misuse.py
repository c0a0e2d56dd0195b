"""misuse.py - mistakes the annotations must catch: mypy --strict reports an error on every
line marked "# error" and on no other line (tests/e2e/client_python_types.sh checks both)."""

from __future__ import annotations

from hmacd import AsyncClient, Client, Item, Signer, sign_rfc9421
from hmacd.wsgi import HmacdWSGIMiddleware


async def mistakes(client: Client, aclient: AsyncClient, item: Item) -> None:
    Signer("acme", "1", "secret")  # error
    Signer("acme", 1, "secret").sign_request("POST", "/x", headers={})  # error
    Client("/s", pool_size="2")  # error
    client.verify(item, timeout="5")  # error
    client.verify_many(item)  # error
    v: str = client.verify(item)  # error
    w: int = aclient.verify(item)  # error
    await client.verify(item)  # error
    sign_rfc9421("POST", "/x", key=b"k" * 32)  # error
    sign_rfc9421("POST", "/x", key=b"k" * 32, keyid="k", created="now")  # error
    Item(tenant="t", container="c", epoch=1, method="GET", path="/", ts=1)  # error
    HmacdWSGIMiddleware(None, client, container_pattern="x")  # error
    HmacdWSGIMiddleware(lambda e, s: [], client, max_body="1M", container_pattern="x")  # error
    HmacdWSGIMiddleware(lambda e, s: [], client, container_pattern="x", capture_dir=3)  # error
    HmacdWSGIMiddleware(lambda e, s: [], client, container_pattern="x", capture_max="9")  # error
    print(v, w)
