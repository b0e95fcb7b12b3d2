"""A Segment-compatible tracking endpoint: ``POST /v1/track``, ``/v1/identify``, ``/v1/group``,
``/v1/page``, ``/v1/screen`` and ``/v1/batch``.

Segment's libraries send their write key as the HTTP basic-auth username: here it is an API token
with the ``write`` scope. Messages are validated one by one (a ``messageId``, a ``timestamp``, an
event name for ``track``…); the valid ones are stored in one transaction and the answer comes
after the commit, so a 200 means stored. A ``messageId`` seen before is acknowledged and not
stored again: clients may retry safely. The refused ones are listed with their position and the
reason; when none is valid the answer is 400. The accounts the new events belong to are rescored
incrementally right after, so usage reaches health and its subscribers within seconds.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cs_core import CSError, IngestReport, Scope, Store, ingest_segment
from cs_server._rescorer import Rescorer
from cs_server._tokens import TokenVerifier

__all__ = ["MAX_BATCH_BYTES", "MAX_MESSAGE_BYTES", "SegmentEndpoint"]

MAX_BATCH_BYTES = 500 * 1024
"""Segment's limit on a request's body."""
MAX_MESSAGE_BYTES = 32 * 1024
"""Segment's limit on one message."""
_KINDS = {"track", "identify", "group", "page", "screen"}


def _problem(status: int, message: str) -> Response:
    return JSONResponse({"success": False, "message": message}, status_code=status)


def _write_key(request: Request) -> str | None:
    kind, _, encoded = request.headers.get("authorization", "").partition(" ")
    if kind.lower() != "basic" or not encoded:
        return None
    try:
        username, _, _ = base64.b64decode(encoded.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username or None


class SegmentEndpoint:
    """The ASGI endpoint of ``/v1/{kind}``; ``rescorer`` is asked for a run after new events."""

    def __init__(
        self,
        store: Store,
        rescorer: Rescorer,
        tokens: TokenVerifier,
        account_source: str | None,
    ) -> None:
        self.store = store
        self.rescorer = rescorer
        self.tokens = tokens
        self.account_source = account_source

    async def _allowed(self, key: str) -> bool:
        token = await self.tokens.verify(key)
        return token is not None and token.allows(Scope.WRITE)

    async def handle(self, request: Request) -> Response:
        """Answer one request (see the module)."""
        messages = await self._messages(request)
        if isinstance(messages, Response):
            return messages
        too_large = {position: f"the message is larger than {MAX_MESSAGE_BYTES:,} bytes"
                     for position, message in enumerate(messages)
                     if len(json.dumps(message)) > MAX_MESSAGE_BYTES}  # fmt: skip
        accepted = [m for position, m in enumerate(messages) if position not in too_large]
        try:
            report = await to_thread.run_sync(self._store, accepted) if accepted else None
        except CSError as error:
            return _problem(400, str(error))
        rejected = self._rejections(messages, too_large, report)
        if len(rejected) == len(messages):
            return JSONResponse({"success": False, "rejected": rejected}, status_code=400)
        stored = report.stored if report else 0
        if stored:
            self.rescorer.request()
        return JSONResponse({"success": True, "received": len(messages), "stored": stored,
                             "rejected": rejected})  # fmt: skip

    async def _messages(  # noqa: PLR0911 - one answer per way a request is refused
        self, request: Request
    ) -> list[Any] | Response:
        """The request's messages, or the answer refusing it (path, write key, size, JSON)."""
        kind = request.path_params["kind"]
        if kind != "batch" and kind not in _KINDS:
            return _problem(404, f"no /v1/{kind}: use track, identify, group, page, screen, batch")
        key = _write_key(request)
        if key is None or not await self._allowed(key):
            return _problem(401, "send a write key (an API token with the 'write' scope) as the "
                                 "basic-auth username")  # fmt: skip
        body = await request.body()
        if len(body) > MAX_BATCH_BYTES:
            return _problem(413, f"the body is {len(body):,} bytes; at most {MAX_BATCH_BYTES:,}")
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return _problem(400, f"the body is not JSON: {error}")
        if kind == "batch":
            batch = document.get("batch") if isinstance(document, dict) else None
            if not isinstance(batch, list) or not batch:
                return _problem(400, 'a batch is {"batch": [message, ...]}, not empty')
            return batch
        if not isinstance(document, dict):
            return _problem(400, f"a /v1/{kind} call is one JSON object")
        return [{**document, "type": kind}]

    def _store(self, messages: list[Any]) -> IngestReport:
        return ingest_segment(self.store, messages, account_source=self.account_source)

    @staticmethod
    def _rejections(
        messages: list[Any], too_large: dict[int, str], report: IngestReport | None
    ) -> list[dict[str, Any]]:
        """Refusals by position in the request (the report counts within what was stored)."""
        kept = [position for position in range(len(messages)) if position not in too_large]
        reasons = dict(too_large)
        if report is not None:
            reasons.update({kept[index]: reason for index, reason in report.rejected.items()})
        return [{"index": position, "reason": reasons[position]} for position in sorted(reasons)]
