"""Intercom's REST API as the streams use it: authenticated, versioned, and with every failure
turned into the error the sync engine acts on.

The connector never retries by itself. A failure that may pass (no answer, 429, 5xx) is a
``TransientError``, with the wait Intercom asks for, and the engine resumes the stream from its
last checkpoint; a refusal that will not pass by waiting (a bad token, a missing permission) is a
``ConnectorError`` that says what to fix.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from cs_core import ConnectorError, TransientError
from cs_intercom._settings import IntercomSettings

__all__ = ["IntercomClient", "IntercomRequestError"]


class IntercomRequestError(ConnectorError):
    """Intercom refused a request: the HTTP status and the code of Intercom's first error."""

    def __init__(self, message: str, *, status: int, code: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class IntercomClient:
    """One connection to a workspace's API; use it in a ``with`` block, which closes it."""

    def __init__(self, settings: IntercomSettings) -> None:
        self.base_url = settings.base_url
        self._http = httpx.Client(
            base_url=settings.base_url,
            headers={
                "Authorization": f"Bearer {settings.access_token.get_secret_value()}",
                "Accept": "application/json",
                # Pinned, so that a workspace upgrading its default version changes no shape.
                "Intercom-Version": settings.api_version,
            },
            timeout=settings.timeout,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.close()

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON object Intercom answers ``GET path`` with."""
        return self._send("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON object Intercom answers ``POST path`` with."""
        return self._send("POST", path, body=body)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        request = f"{method} {path}"
        try:
            response = self._http.request(method, path, params=params, json=body)
        except httpx.TransportError as error:
            raise TransientError(
                f"Intercom did not answer {request} at {self.base_url}: {error}"
            ) from error
        if response.status_code == 429:
            raise TransientError(
                f"Intercom's rate limit was reached on {request}",
                retry_after=_requested_wait(response.headers),
            )
        if response.status_code >= 500:
            raise TransientError(
                f"Intercom answered {request} with {response.status_code}",
                retry_after=_requested_wait(response.headers),
            )
        if response.status_code >= 400:
            raise _refusal(request, response)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError(
                f"the answer to {request} at {self.base_url} is not a JSON object: "
                "is CS_INTERCOM_BASE_URL the address of Intercom's API?"
            )
        return answer


def _refusal(request: str, response: httpx.Response) -> IntercomRequestError:
    """The error for a 4xx answer, saying what to fix when the fix is on this side."""
    code, detail = _first_error(response)
    status = response.status_code
    if status == 401:
        message = (
            f"Intercom refused the access token on {request} ({detail}): set "
            "CS_INTERCOM_ACCESS_TOKEN to the token of an app installed in the workspace, and "
            "CS_INTERCOM_BASE_URL to the workspace's region (https://api.eu.intercom.io for "
            "Europe, https://api.au.intercom.io for Australia)"
        )
    elif status == 403:
        message = (
            f"the access token may not {request} ({detail}): give the Intercom app the "
            "permissions to read users, companies and conversations"
        )
    else:
        message = f"Intercom refused {request} with {status} ({detail})"
    return IntercomRequestError(message, status=status, code=code)


def _first_error(response: httpx.Response) -> tuple[str | None, str]:
    """The code and message of the first error of Intercom's ``error.list`` answer."""
    try:
        answer = response.json()
    except ValueError:
        return None, response.reason_phrase or "no details"
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code = errors[0].get("code")
        return (code if isinstance(code, str) else None), str(errors[0].get("message", code))
    return None, response.reason_phrase or "no details"


def _requested_wait(headers: httpx.Headers) -> float | None:
    """The seconds an answer asks to wait: ``Retry-After``, or else until ``X-RateLimit-Reset``
    (the Unix time at which Intercom's rate-limit window starts again)."""
    retry_after = _seconds(headers.get("Retry-After"))
    if retry_after is not None:
        return max(retry_after, 0.0)
    reset_at = _seconds(headers.get("X-RateLimit-Reset"))
    if reset_at is not None:
        return max(reset_at - time.time(), 0.0)
    return None


def _seconds(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
