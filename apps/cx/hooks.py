"""Unguessable secrets that address this console's inbound endpoints (webhooks, bot callbacks).

Only a hash of each secret is stored: the full URL is handed to the vendor once and never kept in clear.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings

HOOK_KINDS = ("webhook", "bot")


def new_hook_secret() -> tuple[str, str]:
    """A fresh secret and the hash to store for looking it up."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_hook_secret(secret)


def hash_hook_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hook_url(kind: str, secret: str) -> str:
    if kind not in HOOK_KINDS:
        raise ValueError(f"unknown hook kind {kind!r}")
    return f"{settings.CONSOLE_PUBLIC_URL.rstrip('/')}/hooks/{kind}/{secret}/"
