"""usage.py - the public API as an application uses it, for mypy (not run; see
tests/e2e/client_python_types.sh). Every line must type-check under --strict: what the
annotations promise an application can write without a cast or an ignore."""

from __future__ import annotations

import asyncio
import pathlib
from typing import TYPE_CHECKING, Dict, List, Optional

from hmacd import (AsyncClient, Client, HmacdError, Item, RFC9421Item, RFC9421Signer, Signer,
                   Verdict, parse_authorization, sign_item, sign_rfc9421, verdict_name)
from hmacd.rfc9421 import SignatureInfo, signature_info
from hmacd.django import HmacdMiddleware, hmacd_exempt
from hmacd.asgi import HmacdASGIMiddleware, Receive, Scope, Send
from hmacd.wsgi import HmacdWSGIMiddleware, Identity

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


@hmacd_exempt
def healthz(request: object) -> str:
    return "ok"


def django_middleware(client: Client) -> HmacdMiddleware:
    return HmacdMiddleware(lambda request: None, client=client, param="id", trusted_proxy=True)


def capturing_middleware(client: Client, app: WSGIApplication,
                         directory: pathlib.Path) -> HmacdWSGIMiddleware:
    HmacdASGIMiddleware(app=asgi_app, client=client, param="id",
                        capture_dir="/var/lib/app/hmacd-captures", capture_max=50)
    return HmacdWSGIMiddleware(app, client, container_pattern="/containers/(?P<id>[^/]+)/exec",
                               capture_dir=directory, capture_max=10)


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    pass


def tenant_of(who: Identity) -> str:
    if who["scheme"] == "hmacd-v1":
        return who["tenant"]
    return who["tenant"] + (who["keyid"] or "")


def sign_and_verify(client: Client, secret: str) -> bool:
    signer = Signer("acme", 1, secret)
    headers = {"Host": "api.example.com", "Content-Type": "application/json"}
    auth: str = signer.sign_request("POST", "/containers/web-01/exec", container="web-01",
                                    headers=headers, body=b"{}")
    parsed = parse_authorization(auth)
    item = Item(tenant=parsed.tenant, container="web-01", epoch=parsed.epoch, method="POST",
                path="/containers/web-01/exec", ts=parsed.ts, sig=parsed.sig,
                nonce=parsed.nonce or "", body=b"{}")
    item.sig = sign_item(secret, item)
    try:
        verdict: int = client.verify(item, timeout=1.0)
    except HmacdError:
        return False
    many: List[int] = client.verify_many([item, item])
    stats: Dict[str, int] = client.stats()
    return verdict == Verdict.OK and verdict_name(verdict) == "OK" and len(many) == 2 and \
        "verify_items" in stats


async def rfc9421(client: AsyncClient, key: bytes) -> int:
    h: Dict[str, str] = sign_rfc9421("POST", "https://api.example.com/x", key=key, keyid="k1",
                                     body=b"{}")
    h.update(RFC9421Signer("k1", key).sign("GET", "https://api.example.com/x"))
    info: SignatureInfo = signature_info(h["Signature-Input"])
    created: Optional[int] = info["created"]
    item = RFC9421Item(tenant="acme", container="web-01", method="POST",
                       authority="api.example.com", path="/x",
                       signature_input=h["Signature-Input"], signature=h["Signature"],
                       headers=[(k.lower(), v) for k, v in h.items()], body=b"{}")
    async with client:
        await client.ping()
        return await client.verify(item) + (created or 0)


def main() -> None:
    with Client("/run/hmacd/hmacd.sock", server_user="hmacd") as c:
        sign_and_verify(c, "c2VjcmV0LXNlY3JldC1zZWNyZXQ=")
        django_middleware(c)
    print(healthz("GET /healthz").upper())
    asyncio.run(rfc9421(AsyncClient("/run/hmacd/hmacd.sock"), b"k" * 32))
