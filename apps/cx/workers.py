"""Workers and queues, for logged-in staff in the admin: how many tasks wait in each queue, which workers answer.

No Flower: this page is behind the admin's login, reads the broker directly (Redis ``LLEN``, or the files of
the filesystem broker) and pings the workers with a 1 s timeout. What it found is cached for
``SNAPSHOT_SECONDS``, so a page reloaded by several people costs the broker one look.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

logger = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 5
PING_TIMEOUT = 1.0
SNAPSHOT_KEY = "cx:workers:snapshot"
# kombu's Redis transport keeps a queue's prioritised messages in lists named queue + "\x06\x16" + step.
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)
REDIS_PRIORITY_SEP = "\x06\x16"


@dataclass
class Snapshot:
    taken_at: float
    queues: dict[str, int | None] = field(default_factory=dict)  # None: could not be read
    unacked: int | None = None  # taken by a worker, not acknowledged yet (late acks; Redis only)
    workers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def queue_names() -> list[str]:
    return ["celery", settings.CX_BOT_QUEUE]


def _redis_counts(url: str, names: list[str]) -> tuple[dict[str, int | None], int | None]:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PING_TIMEOUT, socket_timeout=PING_TIMEOUT)
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for step in REDIS_PRIORITY_STEPS:
                    pipe.llen(name if not step else f"{name}{REDIS_PRIORITY_SEP}{step}")
            pipe.hlen("unacked")
            found = pipe.execute()
    finally:
        client.close()
    steps = len(REDIS_PRIORITY_STEPS)
    counts = {name: sum(found[i * steps : (i + 1) * steps]) for i, name in enumerate(names)}
    return counts, found[-1]


def _filesystem_counts(names: list[str]) -> dict[str, int | None]:
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
    files = os.listdir(folder)
    return {name: sum(1 for f in files if f.endswith(f".{name}.msg")) for name in names}


def _ping() -> list[str]:
    from celery import current_app

    answers = current_app.control.inspect(timeout=PING_TIMEOUT).ping() or {}
    return sorted(answers)


def take_snapshot() -> Snapshot:
    snapshot = Snapshot(taken_at=time.time())
    names = queue_names()
    url = settings.CELERY_BROKER_URL
    try:
        if urlparse(url).scheme in ("redis", "rediss"):
            snapshot.queues, snapshot.unacked = _redis_counts(url, names)
        elif url.startswith("filesystem://"):
            snapshot.queues = _filesystem_counts(names)
        else:
            snapshot.queues = dict.fromkeys(names)
    except Exception as exc:  # noqa: BLE001 - the page says the broker does not answer
        logger.warning("Workers page: the broker's queues could not be read (%s)", type(exc).__name__)
        snapshot.queues = dict.fromkeys(names)
        snapshot.errors.append("The broker does not answer: the queue lengths are unknown.")
    try:
        snapshot.workers = _ping()
    except Exception as exc:  # noqa: BLE001
        logger.warning("Workers page: the workers could not be pinged (%s)", type(exc).__name__)
        snapshot.errors.append("The workers could not be asked (the broker does not answer).")
    return snapshot


def current_snapshot() -> Snapshot:
    """What the broker and the workers said at most SNAPSHOT_SECONDS ago."""
    cached = cache.get(SNAPSHOT_KEY)
    if isinstance(cached, dict):
        return Snapshot(**cached)
    snapshot = take_snapshot()
    cache.set(SNAPSHOT_KEY, asdict(snapshot), SNAPSHOT_SECONDS)
    return snapshot


def workers_view(request: HttpRequest) -> HttpResponse:
    """The admin page (wrapped by ``admin.site.admin_view``: logged-in staff only)."""
    snapshot = current_snapshot()
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": "Workers and queues",
        "snapshot": snapshot,
        "queues": sorted(snapshot.queues.items()),
        "age": max(0, int(time.time() - snapshot.taken_at)),
        "bot_queue": settings.CX_BOT_QUEUE,
    }
    return TemplateResponse(request, "admin/cx/workers.html", context)
