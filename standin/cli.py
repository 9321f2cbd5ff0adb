"""The stand-in's command line, ``python -m standin``: credentials from flags, else the environment, else defaults."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any, Protocol

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN_TTL
from .server import start_sandbox


class Output(Protocol):
    """Where the "listening" line goes (sys.stdout unless a caller passes another stream)."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standin", description="A local stand-in for the CX API.")
    add_arguments(
        parser,
        client_id=os.environ.get("CX_CLIENT_ID") or DEFAULT_CLIENT_ID,
        client_secret=os.environ.get("CX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
    )
    return run(vars(parser.parse_args(argv)))


def add_arguments(parser: argparse.ArgumentParser, *, client_id: str, client_secret: str) -> None:
    """Adds the stand-in's options; the credential defaults come from the caller (``main``: the environment)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to listen on; 0 picks a free one (default 8001)")
    parser.add_argument("--client-id", default=client_id, help="client id the token endpoint accepts")
    parser.add_argument("--client-secret", default=client_secret, help="client secret the token endpoint accepts")
    parser.add_argument("--token-ttl", type=int, default=DEFAULT_TOKEN_TTL, help="token lifetime in seconds")
    parser.add_argument(
        "--seed-tenant",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="create this tenant with three web-widget inboxes (repeatable)",
    )
    parser.add_argument("--webhook-secret", default=None, help="sign event deliveries with this secret")
    parser.add_argument("--demo", action="store_true", help="play customers chatting with the seeded tenants")
    parser.add_argument("--demo-interval", type=float, default=8.0, help="seconds between demo customer actions")
    parser.add_argument("--verbose", action="store_true", help="log one line per request to stderr")
    parser.add_argument(
        "--id-start", type=int, default=1, help="first id of objects made while running (inboxes keep 1, 2, 3)"
    )


def run(options: Mapping[str, Any], out: Output = sys.stdout) -> int:
    """Serves until SIGINT or SIGTERM, then stops cleanly; returns the exit status."""
    logging.basicConfig(
        level=logging.INFO if options["verbose"] else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    handle = start_sandbox(
        host=options["host"],
        port=options["port"],
        client_id=options["client_id"],
        client_secret=options["client_secret"],
        token_ttl=options["token_ttl"],
        seed_tenants=list(options["seed_tenant"]),
        webhook_secret=options["webhook_secret"] or None,
        demo=options["demo"],
        demo_interval=options["demo_interval"],
        verbose=options["verbose"],
        id_start=options["id_start"],
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out.write(f"CX sandbox listening on {handle.url}\n")
        out.flush()
        stopping.wait()
    finally:
        handle.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
