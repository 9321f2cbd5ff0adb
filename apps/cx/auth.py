"""The API access token: fetched with client credentials, cached encrypted and shared by every process."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.cache import BaseCache, caches

from .exceptions import CxAuthError, CxBadResponse, CxConfigurationError, CxError, CxUnavailable
from .sealing import fernet

logger = logging.getLogger(__name__)

# How long one process may hold the fetch lock, and how long the others wait for its result.
LOCK_SECONDS = 30
WAIT_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Credentials:
    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]

    @classmethod
    def from_settings(cls) -> Credentials:
        if not settings.CX_CLIENT_ID or not settings.CX_CLIENT_SECRET:
            raise CxConfigurationError("CX_CLIENT_ID and CX_CLIENT_SECRET must be set to call the CX API.")
        return cls(
            token_url=settings.CX_TOKEN_URL,
            client_id=settings.CX_CLIENT_ID,
            client_secret=settings.CX_CLIENT_SECRET,
            scopes=tuple(settings.CX_SCOPES),
        )

    @property
    def cache_key(self) -> str:
        # The secret takes part so that rotated credentials never reuse an old token.
        material = "|".join([self.token_url, self.client_id, self.client_secret, " ".join(self.scopes)])
        return "cx:token:" + hashlib.sha256(material.encode()).hexdigest()[:32]


def _fernet() -> Fernet:
    return fernet("api token cache")


def _seal(token: str, expires_at: float) -> str:
    return _fernet().encrypt(json.dumps({"access_token": token, "expires_at": expires_at}).encode()).decode()


def _unseal(sealed: str | None) -> tuple[str, float] | None:
    if not sealed:
        return None
    try:
        data = json.loads(_fernet().decrypt(sealed.encode()))
    except (InvalidToken, ValueError):
        # Written under another secret key, or damaged: as good as absent.
        return None
    return data["access_token"], float(data["expires_at"])


# The function that records one token request as an API call row: (status, outcome, duration, body, error).
TokenRecorder = Callable[..., object]


@contextlib.contextmanager
def _cache_reachable() -> Iterator[None]:
    """A cache that cannot be reached (Redis restarting) is a "not done, try later", like a 5xx: the request
    that wanted the token never left, so a callback is retried rather than left unknown for a person."""
    try:
        yield
    except CxError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the cache backend raises when it is down
        error = CxUnavailable(f"The token cache cannot be reached ({type(exc).__name__}); try again shortly.")
        error.request_sent = False
        raise error from exc


class TokenProvider:
    """Hands out a valid bearer token; at most one process fetches a new one at a time."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        session: requests.Session,
        record: TokenRecorder,
        cache: BaseCache | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> None:
        self.credentials = credentials
        self.session = session
        self.record = record
        self.cache = cache or caches["default"]
        self.timeout = timeout or (settings.CX_CONNECT_TIMEOUT, settings.CX_READ_TIMEOUT)

    def get(self) -> str:
        with _cache_reachable():
            cached = self._cached()
            return cached if cached else self._fetch_under_lock(stale=None)

    def cached_token(self) -> str | None:
        """The cached token if it is still valid; never fetches one (``/health/`` asks this every second)."""
        return self._cached()

    def refresh(self, stale: str) -> str:
        """After a 401 with ``stale``: fetch anew, unless another process already replaced it."""
        with _cache_reachable():
            return self._fetch_under_lock(stale=stale)

    # -- cache -------------------------------------------------------------------------------
    def _cached(self) -> str | None:
        found = _unseal(self.cache.get(self.credentials.cache_key))
        if found is None:
            return None
        token, expires_at = found
        return token if expires_at - settings.CX_TOKEN_EXPIRY_MARGIN > time.time() else None

    def _fetch_under_lock(self, *, stale: str | None) -> str:
        lock_key = self.credentials.cache_key + ":lock"
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_SECONDS
        while True:
            current = self._cached()
            if current and current != stale:
                return current
            if self.cache.add(lock_key, owner, timeout=LOCK_SECONDS):
                try:
                    # Another process may have finished its fetch between our read and the lock.
                    current = self._cached()
                    if current and current != stale:
                        return current
                    token, expires_in = self._fetch()
                    timeout = max(1, int(expires_in - settings.CX_TOKEN_EXPIRY_MARGIN))
                    self.cache.set(self.credentials.cache_key, _seal(token, time.time() + expires_in), timeout)
                    return token
                finally:
                    if self.cache.get(lock_key) == owner:
                        self.cache.delete(lock_key)
            if time.monotonic() > deadline:
                raise CxUnavailable("Timed out waiting for another process to fetch the API token.")
            time.sleep(WAIT_POLL_SECONDS)

    # -- HTTP --------------------------------------------------------------------------------
    def _fetch(self) -> tuple[str, float]:
        creds = self.credentials
        started = time.monotonic()
        form = {"grant_type": "client_credentials", "scope": " ".join(creds.scopes)}

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            response = self.session.post(
                creds.token_url,
                data=form,
                auth=(creds.client_id, creds.client_secret),
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            self.record(status=None, outcome="not_sent", duration_ms=elapsed(), body=form, error=str(exc))
            raise CxUnavailable(f"The token endpoint could not be reached: {type(exc).__name__}") from exc

        try:
            data = response.json()
        except ValueError:
            data = None
        safe_answer = {k: v for k, v in data.items() if k != "access_token"} if isinstance(data, dict) else None
        answer_text = json.dumps(safe_answer) if safe_answer is not None else response.text[:500]
        if response.status_code in (400, 401, 403):
            self.record(
                status=response.status_code, outcome="auth", duration_ms=elapsed(), body=form, response=answer_text
            )
            reason = (data or {}).get("error", "refused") if isinstance(data, dict) else "refused"
            raise CxAuthError(
                f"The token endpoint refused the client credentials ({response.status_code} {reason}).",
                status_code=response.status_code,
            )
        if response.status_code >= 300:
            self.record(
                status=response.status_code,
                outcome="server_error",
                duration_ms=elapsed(),
                body=form,
                response=answer_text,
            )
            raise CxUnavailable(
                f"The token endpoint answered {response.status_code}.", status_code=response.status_code
            )
        if not isinstance(data, dict) or not data.get("access_token"):
            self.record(
                status=response.status_code,
                outcome="bad_response",
                duration_ms=elapsed(),
                body=form,
                response=answer_text,
            )
            raise CxBadResponse("The token endpoint's answer has no access_token.", status_code=response.status_code)
        self.record(status=response.status_code, outcome="ok", duration_ms=elapsed(), body=form, response=answer_text)
        try:
            expires_in = float(data.get("expires_in") or 3600)
        except (TypeError, ValueError):
            expires_in = 3600.0
        logger.info("Fetched a CX API token valid for %d s (scope: %s)", expires_in, data.get("scope", "?"))
        return str(data["access_token"]), expires_in
