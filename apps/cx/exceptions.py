"""Typed failures of the CX API; each says whether repeating the request is safe."""

from __future__ import annotations

from typing import Any


class CxError(Exception):
    """Base class. ``retry_safe`` is True only when the request surely did not take effect."""

    retry_safe: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: Any = None,
        api_call_ids: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = body
        # The API call rows this failure left, so a UI can link to them.
        self.api_call_ids = api_call_ids
        # Whether the request itself left this machine (False: it failed before, e.g. fetching the token, or
        # the connection could not be made). Set by the client.
        self.request_sent = True


def error_text(exc: Exception) -> str:
    """What to show a person for a failure: the API's own message, or the local check's."""
    return exc.message if isinstance(exc, CxError) else str(exc)


class CxConfigurationError(CxError):
    """The console is not set up to call the API (no credentials, no base URL)."""


class CxAuthError(CxError):
    """401 or 403: the credentials or the token's scopes were refused."""


class CxValidationError(CxError):
    """A 4xx the API gave with its reasons: the request was refused as sent and will be again."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors or []


class CxNotFound(CxValidationError):
    """404: the path or the object named does not exist."""


class CxRateLimited(CxError):
    """429: not done; try again after ``retry_after`` seconds."""

    retry_safe = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CxUnavailable(CxError):
    """A 5xx answer or a connection that could not be made: not done, try later."""

    retry_safe = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class CxUnknownOutcome(CxError):
    """The request was sent but no answer came (timeout, dropped connection): it may have happened."""


class CxBadResponse(CxError):
    """The API answered 2xx with a body we cannot read: it accepted the request, the details are lost."""
