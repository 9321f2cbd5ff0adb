"""Outgoing Chatwoot-style event deliveries: event names, signing, and the background sender."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

ACCOUNT_WEBHOOK_EVENTS = (
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "message_created",
    "message_updated",
    "contact_created",
    "contact_updated",
    "webwidget_triggered",
    "inbox_created",
    "inbox_updated",
    "conversation_typing_on",
    "conversation_typing_off",
)
AGENT_BOT_EVENTS = (
    "conversation_opened",
    "conversation_resolved",
    "message_created",
    "message_updated",
    "webwidget_triggered",
)

DELIVERY_TIMEOUT = 5.0
USER_AGENT = "CX-Sandbox/1.0"


@dataclass(frozen=True)
class Delivery:
    """One event for one receiver. ``body`` is a snapshot: it is never changed after it is made."""

    url: str
    event: str
    body: dict[str, Any]
    secret: str | None = None


def signature(secret: str, timestamp: int | str, raw_body: bytes) -> str:
    """The ``X-Chatwoot-Signature`` value: HMAC-SHA256 over ``"{timestamp}.{raw body}"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass
class _Job:
    delivery: Delivery
    generation: int


class EventDispatcher:
    """Sends deliveries from worker threads so an API answer never waits for a receiver.

    Deliveries to one URL keep their order (each URL always lands on the same worker); a slow or
    unreachable receiver only holds up the URLs that share its worker.
    """

    def __init__(
        self,
        default_secret: Callable[[], str | None],
        *,
        workers: int = 8,
        log_size: int = 20_000,
        timeout: float = DELIVERY_TIMEOUT,
    ) -> None:
        self._default_secret = default_secret
        self._timeout = timeout
        self._queues: list[queue.SimpleQueue[_Job | None]] = [queue.SimpleQueue() for _ in range(workers)]
        self._threads: list[threading.Thread] = []
        self._log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self._sequence = 0
        self._pending = 0
        self._generation = 0
        self._idle = threading.Condition()
        # Deliveries go straight to the receiver: a proxy from the environment must not swallow loopback traffic.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def start(self) -> None:
        for index, jobs in enumerate(self._queues):
            thread = threading.Thread(target=self._work, args=(jobs,), name=f"cx-sandbox-events-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for jobs in self._queues:
            jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=self._timeout + 1)
        self._threads.clear()

    def submit(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            with self._idle:
                self._pending += 1
                generation = self._generation
            self._queues[hash(delivery.url) % len(self._queues)].put(_Job(delivery, generation))

    def reset(self) -> None:
        """Forgets the log; deliveries still queued from before are dropped unsent."""
        with self._idle:
            self._generation += 1
            self._log.clear()

    def log(self) -> list[dict[str, Any]]:
        with self._idle:
            return list(self._log)

    def wait_idle(self, timeout: float) -> bool:
        """Waits until nothing is queued or being sent; False if that did not happen within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while (job := jobs.get()) is not None:
            try:
                with self._idle:
                    current = job.generation == self._generation
                if current:
                    self._record(job.generation, self._send(job.delivery))
            except Exception:  # noqa: BLE001 - a bad delivery must never kill the worker
                logger.exception("CX sandbox: event delivery failed unexpectedly")
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def _send(self, delivery: Delivery) -> dict[str, Any]:
        raw = json.dumps(delivery.body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        secret = delivery.secret or self._default_secret()
        if secret:
            timestamp = int(time.time())
            headers["X-Chatwoot-Timestamp"] = str(timestamp)
            headers["X-Chatwoot-Delivery"] = str(uuid.uuid4())
            headers["X-Chatwoot-Signature"] = signature(secret, timestamp, raw)
        request = urllib.request.Request(delivery.url, data=raw, headers=headers, method="POST")
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}"
            exc.close()
        except (OSError, ValueError) as exc:  # refused, reset, timed out, unresolvable, bad URL
            error = f"{type(exc).__name__}: {exc}"
        return {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "url": delivery.url,
            "event": delivery.event,
            "status": status,
            "error": error,
            "duration_ms": round((time.monotonic() - started) * 1000, 1),
            "headers": headers,
            "body": delivery.body,
        }

    def _record(self, generation: int, entry: dict[str, Any]) -> None:
        with self._idle:
            if generation != self._generation:
                return
            self._sequence += 1
            self._log.append({"id": self._sequence, **entry})
