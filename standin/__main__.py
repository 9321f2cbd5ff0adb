"""Runs the stand-in standalone: ``python -m standin --port 8765``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
