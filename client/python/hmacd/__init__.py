"""hmacd - Python client of hmacd, the local HMAC request verifier.

- Client (thread-safe: pool + batching) and AsyncClient (asyncio, pipelined): verify items,
  ping, stats. See hmacd.client and hmacd.aio.
- Signer, canonical_string, sign_item, format_authorization: the signing side (PROTOCOL.md 8,
  13.1, 13.2). parse_authorization: the header parser.
- hmacd.wsgi.HmacdWSGIMiddleware and hmacd.asgi.HmacdASGIMiddleware: PROTOCOL.md 13.3 for WSGI
  (Flask, ...) and ASGI (FastAPI, Starlette, ...) apps.

The middleware modules are imported on demand, so this package needs only msgpack.
"""

from .aio import AsyncClient
from .authorization import Authorization, AuthorizationError, parse_authorization
from .client import Client
from .errors import (ClosedError, HmacdError, ProtocolError, ServerError, Timeout, Unavailable,
                     Verdict, verdict_name)
from .signer import Signer, canonical_string, format_authorization, sign_item
from .wire import Item

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "Authorization", "AuthorizationError", "Client", "ClosedError", "HmacdError",
    "Item", "ProtocolError", "ServerError", "Signer", "Timeout", "Unavailable", "Verdict",
    "canonical_string", "format_authorization", "parse_authorization", "sign_item",
    "verdict_name",
]
