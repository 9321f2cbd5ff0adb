"""Settings for `bench/`: production settings unchanged, plus a bare view to compare the real endpoints with."""

from cxconsole.settings import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"
