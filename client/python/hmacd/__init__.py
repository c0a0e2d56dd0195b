"""hmacd - Python client of hmacd, the local HMAC request verifier.

- Client (thread-safe: pool + batching) and AsyncClient (asyncio, pipelined): verify items,
  ping, stats. See hmacd.client and hmacd.aio. Both check who answers on the socket before
  sending anything (hmacd.peer, the server_user option).
- Signer, canonical_string, sign_item, format_authorization: the signing side (PROTOCOL.md 8,
  13.1, 13.2). parse_authorization: the header parser.
- hmacd.rfc9421: RFC 9421 HTTP Message Signatures (hmac-sha256): sign() gives a request's
  Signature-Input, Signature and Content-Digest; RFC9421Item is its verify item (PROTOCOL.md
  7.2), verified by the same clients.
- hmacd.wsgi.HmacdWSGIMiddleware, hmacd.asgi.HmacdASGIMiddleware and
  hmacd.django.HmacdMiddleware: PROTOCOL.md 13.3 (and 13.5 for requests carrying
  Signature-Input) for WSGI (Flask, ...), ASGI (FastAPI, Starlette, ...) and Django apps.

The middleware modules are imported on demand, so this package needs only msgpack.
"""

from .aio import AsyncClient
from .authorization import Authorization, AuthorizationError, parse_authorization
from .client import Client
from .errors import (ClosedError, HmacdError, PeerCredentialsError, ProtocolError, ServerError,
                     Timeout, Unavailable, Verdict, verdict_name)
from .rfc9421 import RFC9421Signer
from .rfc9421 import sign as sign_rfc9421
from .signer import Signer, canonical_string, format_authorization, sign_item
from .wire import Item, RFC9421Item

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "Authorization", "AuthorizationError", "Client", "ClosedError", "HmacdError",
    "Item", "PeerCredentialsError", "ProtocolError", "RFC9421Item", "RFC9421Signer",
    "ServerError", "Signer", "Timeout", "Unavailable", "Verdict", "canonical_string",
    "format_authorization", "parse_authorization", "sign_item", "sign_rfc9421", "verdict_name",
]
