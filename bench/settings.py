"""Settings for `bench/`: the production settings, plus the floors answered where `/hooks/` is (bench/floor.py)."""

from cxconsole.settings import *  # noqa: F403
from cxconsole.settings import MIDDLEWARE

DEBUG = False
# Right after SecurityMiddleware: the place InboundEventsMiddleware answers /hooks/ from, so each floor
# passes the same middleware as the endpoint it is the floor of.
_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")
MIDDLEWARE = [*MIDDLEWARE[: _security + 1], "bench.floor.BenchFloorMiddleware", *MIDDLEWARE[_security + 1 :]]

# The benches speak plain http on 127.0.0.1, with no TLS proxy in front: a deployment's HTTPS redirect would
# answer every event with a 301 (cxconsole/settings.py, "HTTPS").
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
