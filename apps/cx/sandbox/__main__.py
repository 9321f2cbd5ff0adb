"""Runs the sandbox standalone: ``python -m apps.cx.sandbox --port 8765``."""

from __future__ import annotations

import argparse
import os
import sys

from .cli import add_arguments, run
from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.cx.sandbox", description="A local stand-in for the CX API.")
    add_arguments(
        parser,
        client_id=os.environ.get("CX_CLIENT_ID") or DEFAULT_CLIENT_ID,
        client_secret=os.environ.get("CX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
    )
    return run(vars(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
