"""Secrets the console must read back (not just compare) are stored sealed: Fernet, keyed from SECRET_KEY.

Each use has its own key (HKDF ``info``), so a value sealed for one purpose does not open for another.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@functools.lru_cache(maxsize=16)
def _fernet(purpose: str, secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"cx-console {purpose}".encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def fernet(purpose: str) -> Fernet:
    return _fernet(purpose, settings.SECRET_KEY)


def seal(value: str, purpose: str) -> str:
    return fernet(purpose).encrypt(value.encode()).decode()


def unseal(sealed: str, purpose: str) -> str | None:
    """The clear value, or None when there is none or it was sealed under another SECRET_KEY."""
    if not sealed:
        return None
    try:
        return fernet(purpose).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None
