"""``manage.py cx_sandbox``: runs the local CX API stand-in, with credentials defaulting to the settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.cx.sandbox.cli import add_arguments, run
from apps.cx.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


class Command(BaseCommand):
    help = "Runs the local stand-in for the CX API (the same options as `python -m apps.cx.sandbox`)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(
            parser,
            client_id=getattr(settings, "CX_CLIENT_ID", "") or DEFAULT_CLIENT_ID,
            client_secret=getattr(settings, "CX_CLIENT_SECRET", "") or DEFAULT_CLIENT_SECRET,
        )

    def handle(self, *args: Any, **options: Any) -> None:
        run(options, out=self.stdout)
