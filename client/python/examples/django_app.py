"""django_app.py - POST /containers/<id>/exec with Django and hmacd.django.HmacdMiddleware, in one
file (its settings, URLs and views).

The same app as flask_app.py: the middleware takes the container from the resolved URL's <id>
(the view's own argument), so a signature made for one container is refused on another (401),
a daemon that is down refuses everything (503) and a body over 64 KiB is 413. The body is bound
by exec_request.py, as in the other examples (400 for an unknown field and the like), from the
very bytes hmacd verified; request.hmacd is the verified identity. RFC 9421 requests
(Signature-Input, with the tenant in X-Tenant) pass the same middleware. GET /healthz is left
open (hmacd_exempt). Each refusal's reason is logged on stderr, never sent to the caller.

Run it from the checkout, with hmacd listening on HMACD_SOCKET (sh daemon/demo.sh starts one
on demo/hmacd.sock with a key for tenant demo, container web-01) and Debian's python3-django:

    HMACD_SOCKET=$PWD/demo/hmacd.sock PORT=8080 PYTHONPATH=client/python \\
        /usr/bin/python3 client/python/examples/django_app.py

Configuration (exec_request.config_from_env): HMACD_SOCKET (default /run/hmacd/hmacd.sock),
PORT (default 8080), HMACD_SERVER_USER, and HMACD_TRUST_PROXY=1 only behind a proxy that sets
X-Forwarded-Proto (RFC 9421's @scheme: the middleware's TRUSTED_PROXY); it listens on 127.0.0.1, with Django's development server (runserver --noreload). In a project,
the MIDDLEWARE and HMACD settings below go into settings.py, the URL into urls.py.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, Optional

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from exec_request import (BAD_REQUEST, LOG_FORMAT, BadBody, bind_exec_request, config_from_env,
                          exec_answer)
from hmacd import Client
from hmacd.django import hmacd_exempt

log = logging.getLogger("example")


@csrf_exempt  # signed requests come from programs, not browsers: no CSRF token
@require_POST
def exec_in_container(request: HttpRequest, id: str) -> HttpResponse:
    # request.hmacd is what the middleware verified; `id` is the same container
    try:
        req = bind_exec_request(request.body)
    except BadBody as e:
        log.info("exec: bad body: %s", e)
        return JsonResponse(BAD_REQUEST, status=400)
    return JsonResponse(exec_answer(request.hmacd["tenant"], id, req))


@hmacd_exempt
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("containers/<str:id>/exec", exec_in_container),
    path("healthz", healthz),
]


def django_settings(socket: Optional[str] = None, *, client: Optional[Client] = None,
                    max_body: int = 64 * 1024, server_user: Optional[str] = None,
                    trust_proxy: bool = False) -> Dict[str, Any]:
    """This app's Django settings: hmacd's socket (and the user it runs as), or a Client (the
    tests give one)."""
    hmacd: Dict[str, Any] = {"PARAM": "id", "MAX_BODY": max_body, "TRUSTED_PROXY": trust_proxy}
    if client is not None:
        hmacd["CLIENT"] = client
    else:
        hmacd["SOCKET"] = socket
        hmacd["SERVER_USER"] = server_user
    return {
        "DEBUG": False,
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost", "[::1]"],
        "SECRET_KEY": os.urandom(32).hex(),  # no sessions, no signed cookies: never reused
        "ROOT_URLCONF": __name__,
        "INSTALLED_APPS": [],
        "MIDDLEWARE": ["hmacd.django.HmacdMiddleware"],
        "HMACD": hmacd,
        "USE_TZ": True,
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": LOG_FORMAT}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            # the middleware's refusals (401 reasons), and this app's
            "loggers": {"hmacd": {"handlers": ["stderr"], "level": "INFO"},
                        "example": {"handlers": ["stderr"], "level": "INFO"}},
        },
    }


def main() -> None:
    from django.core.management import execute_from_command_line

    conf = config_from_env()
    settings.configure(**django_settings(conf.socket, server_user=conf.server_user,
                                         trust_proxy=conf.trust_proxy))
    django.setup()
    execute_from_command_line([sys.argv[0], "runserver", "--noreload",
                               "127.0.0.1:%d" % conf.port])


if __name__ == "__main__":
    main()
