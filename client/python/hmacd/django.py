"""hmacd.django - Django middleware that lets a request reach its view only if hmacd says its
signature is valid for the container in the view's URL (PROTOCOL.md 13.3, and 13.5 for RFC
9421 requests).

    # settings.py
    MIDDLEWARE = [
        "hmacd.django.HmacdMiddleware",   # before anything that reads request.POST
        ...
    ]
    HMACD = {"SOCKET": "/run/hmacd/hmacd.sock", "PARAM": "id"}

    # urls.py: the container is the URL's <id>
    urlpatterns = [path("containers/<str:id>/exec", views.exec_in_container)]

It works in process_view(), after Django resolved the URL: the container is the resolved view's
keyword argument named PARAM (view_kwargs, the same value the view receives), never the
signer's word. Every view is protected; a view whose URL has no such argument gets 401, unless
it is exempt (the hmacd_exempt decorator, or HMACD["EXEMPT"], a function of the request). A URL
that no pattern matches gets 401 too, as in the other Python middleware (not Django's 404,
which would tell an unsigned caller which routes exist; nor APPEND_SLASH's redirect).
Signed requests come from programs, not browsers: decorate the protected views with
csrf_exempt when CsrfViewMiddleware is installed (it would refuse them for want of a token).

HMACD settings (upper case; the same names in lower case as keyword arguments of the class
override them, for a middleware made by hand):

    SOCKET          hmacd's socket (or CLIENT: a hmacd.Client, or anything with verify(item))
    SERVER_USER     the user hmacd runs as, when neither root nor the socket directory's owner
    PARAM           the URL keyword argument holding the container (default "id")
    MAX_BODY        largest body in bytes (default 1 MiB; more: 413)
    EXEMPT          a function of the request: True leaves it alone (also @hmacd_exempt)
    TENANT_HEADER   RFC 9421: the header naming the tenant (default X-Tenant)
    TENANT_FROM     RFC 9421: a function of the request giving the tenant instead
    URI_SCHEME      RFC 9421: "http" or "https" (or a function of the request) to fix the scheme
    TRUSTED_PROXY   RFC 9421: True takes the scheme from the proxy's X-Forwarded-Proto
    LABEL           RFC 9421: which signature to verify when a request carries several
    CAPTURE_DIR     write a capture file there for each request hmacd refused (a 401 from its
                    verdict), for `hmacctl explain --request FILE`; off by default
    CAPTURE_MAX     at most this many capture files in CAPTURE_DIR (default 100)

The refusals are the other Python middleware's: 401 {"error":"unauthorized"} with
WWW-Authenticate: HMACD-V1 whatever the reason; 413 {"error":"too_large"}; 503
{"error":"unavailable"} when hmacd is down, slow, refusing or not the expected process, or its
verdict is UNAVAILABLE (9). The reason goes to the "hmacd" logger, never into the response.

The request hmacd checks is the one the view gets: the raw target (scope["raw_path"] under
ASGI; under WSGI RAW_URI or REQUEST_URI, else rebuilt from PATH_INFO and QUERY_STRING, as in
hmacd.wsgi), every header, and request.body (read here, at most MAX_BODY bytes; Django's
DATA_UPLOAD_MAX_MEMORY_SIZE, when lower, gives 413 too). The RFC 9421 scheme is the
connection's (wsgi.url_scheme, scope["scheme"]), never SECURE_PROXY_SSL_HEADER's: a client's
X-Forwarded-Proto counts only with TRUSTED_PROXY. On success request.hmacd holds the verified
identity: {scheme: "hmacd-v1", tenant, container, epoch, ts, nonce}, or for RFC 9421 {scheme:
"rfc9421", tenant, container, label, keyid, created, nonce, covered}.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException, UnreadablePostError
from django.urls import Resolver404, resolve

from . import asgi, wsgi
from ._capture import DEFAULT_CAPTURE_MAX
from ._http import (DEFAULT_MAX_BODY, DEFAULT_TENANT_HEADER, Header, Identity, Middleware,
                    Pending, RFC9421Identity, Refused, V1Identity, Verifier, refusal_headers,
                    unavailable)
from .client import Client
from .wire import Text

__all__ = ["HmacdMiddleware", "Identity", "RFC9421Identity", "V1Identity", "hmacd_exempt"]

log = logging.getLogger("hmacd")

OPTIONS = ("client", "socket", "server_user", "param", "max_body", "exempt", "tenant_header",
           "tenant_from", "uri_scheme", "trusted_proxy", "label", "capture_dir", "capture_max")

F = TypeVar("F", bound=Callable[..., Any])


def hmacd_exempt(view: F) -> F:
    """Marks a view that HmacdMiddleware leaves alone (a health check), like csrf_exempt."""
    view.hmacd_exempt = True  # type: ignore[attr-defined]
    return view


class _View(NamedTuple):
    """A request on its way to its view: what the shared checks (hmacd._http) look at."""

    request: HttpRequest
    kwargs: Dict[str, Any]


def _options(overrides: Dict[str, Any]) -> Dict[str, Any]:
    """settings.HMACD (keys in upper case) with the keyword arguments (lower case) over it."""
    conf = getattr(settings, "HMACD", None)
    if conf is None:
        conf = {}
    if not isinstance(conf, dict):
        raise ImproperlyConfigured("settings.HMACD must be a dict")
    opts: Dict[str, Any] = {}
    for k, v in conf.items():
        if not isinstance(k, str) or k.lower() not in OPTIONS or k != k.upper():
            raise ImproperlyConfigured("settings.HMACD: unknown key %r (known: %s)"
                                       % (k, ", ".join(o.upper() for o in OPTIONS)))
        opts[k.lower()] = v
    for k, v in overrides.items():
        if k not in OPTIONS:
            raise TypeError("HmacdMiddleware: unknown option %r" % k)
        opts[k] = v
    return opts


def _of_request(fn: Optional[Callable[[HttpRequest], Any]]) -> Optional[Callable[[_View], Any]]:
    """A user's function of the request, as a function of a _View."""
    if fn is None:
        return None
    f = fn

    def of_view(v: _View) -> Any:
        return f(v.request)
    return of_view


class HmacdMiddleware(Middleware[_View]):
    """See the module doc. Django makes it with get_response alone; the options come from
    settings.HMACD, and keyword arguments (lower-case names) override them."""

    sync_capable = True
    async_capable = False  # Django runs it in a thread under ASGI; Client is thread-safe

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse],
                 **overrides: Any) -> None:
        opts = _options(overrides)
        client: Optional[Verifier] = opts.get("client")
        if client is None:
            sock = opts.get("socket")
            if not sock:
                raise ImproperlyConfigured("settings.HMACD needs SOCKET (hmacd's socket) or "
                                           "CLIENT")
            client = Client(sock, server_user=opts.get("server_user"))
        elif opts.get("socket") or opts.get("server_user") is not None:
            raise ImproperlyConfigured("settings.HMACD: give CLIENT or SOCKET, not both")
        uri_scheme = opts.get("uri_scheme")
        tenant_header = opts.get("tenant_header", DEFAULT_TENANT_HEADER)
        if not isinstance(tenant_header, str):
            raise ImproperlyConfigured("settings.HMACD: TENANT_HEADER is a header name")
        max_body = opts.get("max_body", DEFAULT_MAX_BODY)
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0:
            raise ImproperlyConfigured("settings.HMACD: MAX_BODY is a number of bytes")
        try:
            super().__init__(max_body=max_body, exempt=_of_request(opts.get("exempt")),
                             tenant_from=_of_request(opts.get("tenant_from")),
                             tenant_header=tenant_header,
                             uri_scheme=_of_request(uri_scheme) if callable(uri_scheme)
                             else uri_scheme,
                             trusted_proxy=bool(opts.get("trusted_proxy", False)),
                             label=opts.get("label"), capture_dir=opts.get("capture_dir"),
                             capture_max=opts.get("capture_max", DEFAULT_CAPTURE_MAX))
        except ValueError as e:
            raise ImproperlyConfigured("settings.HMACD: %s" % e) from None
        param = opts.get("param", "id")
        if not isinstance(param, str) or not param:
            raise ImproperlyConfigured("settings.HMACD: PARAM names a URL keyword argument")
        self.get_response = get_response
        self.client = client
        self.param = param

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            p = Pending(request.method or "", _raw_target(request))
            return _refuse(p, Refused(401, "NO_ROUTE"))
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any],
                     view_args: Sequence[Any], view_kwargs: Dict[str, Any]
                     ) -> Optional[HttpResponse]:
        """None to let the request through to its view (request.hmacd set), else the
        refusal."""
        v = _View(request, view_kwargs)
        if getattr(view_func, "hmacd_exempt", False) or (
                self.exempt is not None and self.exempt(v)):
            return None
        p = Pending(request.method or "", _raw_target(request))
        try:
            self._check_head(v, p)
            body = self._read_body(request, p.tenant)
            item = self._build_item(v, p, body)
            try:
                verdict = self.client.verify(item)
            except Exception as e:  # HmacdError, or anything else: fail closed
                raise unavailable(e, p.tenant) from None
            self._check_verdict(v, p, body, verdict)
        except Refused as r:
            return _refuse(p, r)
        request.hmacd = p.identity()
        return None

    # ---- what the shared checks need ----

    def _fields(self, v: _View, name: str) -> List[bytes]:
        return wsgi.header_fields(v.request.META, name)

    def _authorization(self, v: _View) -> Sequence[Text]:
        return self._fields(v, "authorization")

    def _container(self, v: _View) -> Optional[str]:
        c = v.kwargs.get(self.param)
        return c if isinstance(c, str) else None

    def _authority(self, v: _View) -> Optional[bytes]:
        return wsgi._authority(v.request.META)

    def _all_headers(self, v: _View) -> List[Header]:
        return wsgi.all_headers(v.request.META)

    def _connection_scheme(self, v: _View) -> str:
        # what request.scheme is without SECURE_PROXY_SSL_HEADER (a setting that would let a
        # client's header decide, unless the proxy is trusted: TRUSTED_PROXY says that here)
        scope = getattr(v.request, "scope", None)
        if isinstance(scope, dict):
            return str(scope.get("scheme") or "http")
        return str(v.request.META.get("wsgi.url_scheme", "http"))

    def _read_body(self, request: HttpRequest, tenant: Optional[str]) -> bytes:
        """request.body, at most max_body bytes; Refused(413) if longer."""
        cl = request.META.get("CONTENT_LENGTH") or ""
        if cl:
            try:
                n = int(cl)
            except ValueError:
                raise Refused(401, "BAD_CONTENT_LENGTH", tenant) from None
            if n < 0:
                raise Refused(401, "BAD_CONTENT_LENGTH", tenant)
            if n > self.max_body:
                raise Refused(413, "TOO_LARGE", tenant)
        try:
            body = request.body
        except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE is lower than MAX_BODY
            raise Refused(413, "TOO_LARGE", tenant) from None
        except RawPostDataException:
            # a middleware before this one read request.POST (a multipart body): the body
            # cannot be had, so it cannot be checked
            log.error("hmacd: request.body was read before HmacdMiddleware: put it first in "
                      "MIDDLEWARE")
            raise Refused(503, "BODY_ALREADY_READ", tenant) from None
        except UnreadablePostError:
            raise Refused(401, "BODY_UNREADABLE", tenant) from None
        if len(body) > self.max_body:  # an ASGI body arrives whole, whatever it announced
            raise Refused(413, "TOO_LARGE", tenant)
        return bytes(body)


def _refuse(p: Pending, r: Refused) -> HttpResponse:
    """The response to a refused request (its reason logged, never in the response)."""
    p.log_refusal(r)
    out = r.body
    resp = HttpResponse(out, status=r.status)
    for k, val in refusal_headers(r.status, out):
        resp[k.decode()] = val.decode()
    return resp


def _raw_target(request: HttpRequest) -> bytes:
    """The request target as received."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        return asgi.raw_target(scope)
    return wsgi.raw_target(request.META)

