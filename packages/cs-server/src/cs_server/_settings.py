"""The server's settings, from ``CS_SERVER_*`` environment variables (the store's URL is
cs-core's ``CS_DATABASE_URL``)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from cs_core import ConfigurationError

__all__ = ["ServerSettings"]


class ServerSettings(BaseSettings):
    """How ``cs serve`` listens and what it accepts."""

    model_config = SettingsConfigDict(env_prefix="CS_SERVER_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    cors: str = ""
    """Origins allowed to call the API from a browser, comma-separated (``*`` for any)."""
    max_depth: int = Field(default=12, ge=2)
    """Deepest selection a query may nest."""
    max_aliases: int = Field(default=30, ge=1)
    """Most aliases in one query (an alias flood asks for the same costly field many times)."""
    max_tokens: int = Field(default=3000, ge=100)
    """Most lexical tokens in one document: bounds the cost of parsing and validating it."""
    segment_account_source: str | None = None
    """The source whose account ids a Segment message's ``groupId`` carries (``salesforce``,
    ``hubspot``…); default: the events' own source, ``segment``."""
    rescore_delay: float = Field(default=0.5, ge=0, le=60)
    """Seconds between new usage arriving and the incremental scoring run it asks for: a burst
    of events within it makes one run."""
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    """How long a process trusts an API token it has found valid before asking the store again:
    a revoked token stops working within this time (0: ask on every request)."""
    poll_interval: float = Field(default=1.0, gt=0, le=60)
    """How often subscriptions look at the outbox when nothing woke them (a safety net: the
    server's own commits, PostgreSQL's LISTEN/NOTIFY and, on SQLite, a commit to the file by
    another process wake them at once)."""

    @classmethod
    def from_environment(cls, **given: Any) -> Self:
        """The settings of ``CS_SERVER_*``, with ``given`` values winning over them; what is
        wrong is named by its variable (a :class:`ConfigurationError`), not a traceback."""
        try:
            return cls(**given)
        except ValidationError as error:
            named = [(str(problem["loc"][0]), problem["msg"]) for problem in error.errors()]
            problems = "; ".join(
                f"{name} (CS_SERVER_{name.upper()}): {message}" for name, message in named
            )
            raise ConfigurationError(f"the server's settings are wrong: {problems}") from None

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors.split(",") if origin.strip()]
