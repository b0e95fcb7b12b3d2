"""Checking API tokens, with a short memory of the ones found valid.

Checking a token reads the store in a worker thread (≈ 2 ms of a request that takes 15); a
client sends the same token with every request, so each process remembers the valid ones for
``ServerSettings.token_cache_seconds``. A revoked token therefore stops working within that
time. Unknown and revoked tokens are never remembered: a flood of made-up ones cannot push the
real ones out, and a token created a moment ago works at once.
"""

from __future__ import annotations

from anyio import to_thread
from cachetools import TTLCache

from cs_core import Store, TokenInfo, note_token_use, verify_token

__all__ = ["TokenVerifier"]

_REMEMBERED = 1024
"""Valid tokens a process remembers at most; the oldest go first."""


class TokenVerifier:
    """The live token a secret belongs to, checked against the store at most every ``ttl``
    seconds per token (``0``: on every call)."""

    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self._valid: TTLCache[str, TokenInfo] | None = (
            TTLCache(maxsize=_REMEMBERED, ttl=ttl) if ttl > 0 else None
        )

    async def verify(self, secret: str) -> TokenInfo | None:
        """Called from the event loop only (the memory is not shared with threads)."""
        if self._valid is not None and (known := self._valid.get(secret)) is not None:
            return known
        token = await to_thread.run_sync(self._check, secret)
        if token is not None and self._valid is not None:
            self._valid[secret] = token
        return token

    def _check(self, secret: str) -> TokenInfo | None:
        with self.store.transaction(read_only=True) as session:
            token = verify_token(session, secret)
        if token is not None:
            with self.store.transaction() as session:
                note_token_use(session, token)
        return token
