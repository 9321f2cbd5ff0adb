"""OAuth client-credentials tokens: the /oauth/token endpoint and the bearer check on API requests."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from typing import Any

from .config import SandboxConfig
from .errors import ApiError

SCOPE_QUEUE_CALLS = "cx.queue-calls"
SCOPE_AGENT_CALLS = "cx.agent-calls"
SCOPE_DIGITAL = "cx.digital-interactions"
ALL_SCOPES = (SCOPE_QUEUE_CALLS, SCOPE_AGENT_CALLS, SCOPE_DIGITAL)

# Expired tokens are only swept once this many are held, so issuing stays O(1) in the common case.
_SWEEP_THRESHOLD = 10_000


class TokenStore:
    """Issued tokens with their scopes and expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[frozenset[str], float]] = {}

    def issue(self, scopes: frozenset[str], ttl: int) -> str:
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            if len(self._tokens) >= _SWEEP_THRESHOLD:
                self._tokens = {t: entry for t, entry in self._tokens.items() if entry[1] > now}
            self._tokens[token] = (scopes, now + ttl)
        return token

    def scopes_for(self, token: str) -> frozenset[str] | None:
        """The token's scopes, or None when it is unknown or expired."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


class OAuthError(ApiError):
    """A refusal at the token endpoint, whose body follows OAuth (``{"error": ...}``), not the API's."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, error, headers=headers)
        self.error = error

    def body(self) -> dict[str, str]:
        return {"error": self.error}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    kind, _, encoded = header.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, client_secret = decoded.partition(":")
    return (client_id, client_secret) if colon else None


def grant_token(
    config: SandboxConfig, store: TokenStore, authorization: str | None, form: dict[str, str]
) -> dict[str, Any]:
    """Answers a token request; raises ApiError with the OAuth error body on refusal."""
    credentials = _basic_credentials(authorization)
    # Both comparisons always run, so timing does not tell which half was wrong.
    valid = credentials is not None and all(
        [
            hmac.compare_digest(credentials[0].encode(), config.client_id.encode()),
            hmac.compare_digest(credentials[1].encode(), config.client_secret.encode()),
        ]
    )
    if not valid:
        raise OAuthError(401, "invalid_client", headers={"WWW-Authenticate": 'Basic realm="cx"'})
    if form.get("grant_type") != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type")
    requested = form.get("scope", "").split()
    if any(scope not in ALL_SCOPES for scope in requested):
        raise OAuthError(400, "invalid_scope")
    granted = [scope for scope in ALL_SCOPES if scope in requested] if requested else list(ALL_SCOPES)
    ttl = config.token_ttl
    token = store.issue(frozenset(granted), ttl)
    return {"access_token": token, "scope": " ".join(granted), "token_type": "bearer", "expires_in": ttl}


def check_bearer(store: TokenStore, authorization: str | None, scope: str) -> None:
    """Raises 401 for a missing, unknown or expired token and 403 for one lacking ``scope``."""
    kind, _, token = (authorization or "").partition(" ")
    scopes = store.scopes_for(token.strip()) if kind.lower() == "bearer" and token.strip() else None
    if scopes is None:
        message = "Missing bearer token" if not authorization else "Invalid or expired access token"
        raise ApiError(401, message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if scope not in scopes:
        raise ApiError(
            403,
            f"The access token lacks the scope {scope}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
