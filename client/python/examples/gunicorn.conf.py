"""gunicorn.conf.py - gunicorn's settings for the example apps (Flask's, or any WSGI app made
the same way), so that under gunicorn they keep the configuration and answers of every example
app (README.md, "Example apps"):

    HMACD_SOCKET=$PWD/demo/hmacd.sock PORT=8080 PYTHONPATH=client/python \\
        /usr/bin/python3 -m gunicorn -c client/python/examples/gunicorn.conf.py \\
        'flask_app:app_from_env()'

- bind: 127.0.0.1:$PORT (default 8080). gunicorn's own default for a set PORT is 0.0.0.0.
- The scheme is never taken from a header here: gunicorn by default believes
  X-Forwarded-Proto (and X-Forwarded-Ssl, X-Forwarded-Protocol) from 127.0.0.1 and rewrites
  wsgi.url_scheme, so any local client could choose the RFC 9421 @scheme that hmacd checks.
  Behind a proxy that sets X-Forwarded-Proto, HMACD_TRUST_PROXY=1 makes the middleware read it
  (trusted_proxy), whatever gunicorn does.
- pythonpath: this directory, where flask_app.py and exec_request.py are.
"""

import os
from typing import Dict

bind = ["127.0.0.1:%s" % (os.environ.get("PORT") or "8080")]
forwarded_allow_ips = ""
secure_scheme_headers: Dict[str, str] = {}
pythonpath = os.path.dirname(os.path.abspath(__file__))
