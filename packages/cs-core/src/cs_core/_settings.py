"""cs-core's settings: where the store lives (``CS_DATABASE_URL``, else a SQLite file in the user's
data folder), which policies file to use (``CS_POLICIES``) and which playbooks to add
(``CS_PLAYBOOKS``)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from cs_core._errors import ConfigurationError

__all__ = ["Settings", "default_database_path", "resolve_database_url"]

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}


def default_database_path() -> Path:
    """The embedded store used when ``CS_DATABASE_URL`` is not set.

    ``$XDG_DATA_HOME/cs/cs.db`` (usually ``~/.local/share/cs/cs.db``) on Linux, and the
    platform's equivalent elsewhere, as chosen by platformdirs.
    """
    return user_data_path("cs", appauthor=False) / "cs.db"


class Settings(BaseSettings):
    """cs-core's settings, read from ``CS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CS_", extra="ignore")

    database_url: str | None = None
    """``sqlite:///path/to/cs.db`` or ``postgresql://user@host:5432/db``."""

    policies: Path | None = None
    """A TOML file of policies (SLAs, renewal tracks) laid over the shipped defaults."""

    playbooks: Path | None = None
    """A TOML file, or a folder of them, with playbooks added to (or replacing) the built-ins."""


def resolve_database_url(url: str | None = None) -> URL:
    """The SQLAlchemy URL of the store: ``url``, else ``CS_DATABASE_URL``, else the default file.

    ``postgres://`` and ``postgresql://`` are driven by psycopg 3. Anything but SQLite and
    PostgreSQL is refused with a message saying what to give instead.
    """
    raw = url if url is not None else Settings().database_url
    if raw is None or not raw.strip():
        path = default_database_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return URL.create("sqlite+pysqlite", database=str(path))
    try:
        parsed = make_url(raw.strip())
    except ArgumentError:
        raise ConfigurationError(
            f"CS_DATABASE_URL {raw!r} is not a database URL: "
            "use sqlite:///path/to/cs.db or postgresql://user@host:5432/dbname"
        ) from None
    scheme = parsed.drivername
    if scheme in _POSTGRES_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if scheme in _SQLITE_SCHEMES:
        return _checked_sqlite(parsed.set(drivername="sqlite+pysqlite"))
    raise ConfigurationError(
        f"CS_DATABASE_URL uses {scheme!r}, which cs does not support: "
        "use sqlite:///path/to/cs.db or postgresql://user@host:5432/dbname"
    )


def _checked_sqlite(url: URL) -> URL:
    database = url.database
    if not database or database == ":memory:":
        raise ConfigurationError(
            "CS_DATABASE_URL names an in-memory SQLite database, which would vanish with each "
            "connection: give a file, as sqlite:///path/to/cs.db"
        )
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise ConfigurationError(
            f"CS_DATABASE_URL points into {folder}, which does not exist: create it first"
        )
    return url
