"""Settings for `bench/`: the production settings, plus the floors answered where `/hooks/` is (bench/floor.py)."""

from cxconsole.settings import *  # noqa: F403
from cxconsole.settings import MIDDLEWARE

DEBUG = False
# Right after SecurityMiddleware: the place InboundEventsMiddleware answers /hooks/ from, so each floor
# passes the same middleware as the endpoint it is the floor of.
_security = MIDDLEWARE.index("django.middleware.security.SecurityMiddleware")
MIDDLEWARE = [*MIDDLEWARE[: _security + 1], "bench.floor.BenchFloorMiddleware", *MIDDLEWARE[_security + 1 :]]
