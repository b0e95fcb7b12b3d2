"""The store: an engine on SQLite or PostgreSQL, transactions, and schema migrations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cs_core._errors import ConfigurationError, StoreNotReadyError
from cs_core._records import Record
from cs_core._settings import resolve_database_url
from cs_core._writes import WriteResult, write_records

__all__ = ["Store"]

_SQLITE_BUSY_TIMEOUT_MS = 30_000
_SQLITE_BEGIN = "cs_sqlite_begin"
"""The execution option naming how a SQLite transaction begins (see :meth:`Store.transaction`)."""


class Store:
    """The database behind the SDK.

    ``Store()`` opens ``CS_DATABASE_URL`` or the default SQLite file; ``Store(url)`` opens the
    given one. SQLite runs in WAL mode with foreign keys enforced, so readers never block the
    writer; PostgreSQL is reached through psycopg 3.

    Writes happen in :meth:`transaction`, which commits on success and rolls everything back
    on any exception: a failed batch leaves no trace.
    """

    def __init__(self, url: str | URL | None = None, *, echo: bool = False) -> None:
        self.url: URL = url if isinstance(url, URL) else resolve_database_url(url)
        self.engine: Engine = _create_engine(self.url, echo=echo)
        # On SQLite, transactions that may write begin IMMEDIATE (see transaction()); the
        # option rides on the connection, so one that runs no statement costs nothing.
        writing = (self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
                   if self.engine.dialect.name == "sqlite" else self.engine)  # fmt: skip
        self._sessions = sessionmaker(writing, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """A session inside one transaction: committed if the block succeeds, else rolled back.

        On SQLite a transaction takes the write lock as it begins (``BEGIN IMMEDIATE``), waiting
        its turn behind another writer for up to the busy timeout: one that read first and
        wrote later would fail at once ("database is locked") whenever another connection
        committed in between. ``read_only=True``, for a transaction that only reads, begins
        without it, so that readers never wait for writers. PostgreSQL needs neither. So, on
        SQLite, a thread inside a transaction that is not read-only must not open another one
        that is not: the second would wait for the first, which waits for it.
        """
        sessions = self._read_sessions if read_only else self._sessions
        with sessions() as session, session.begin():
            yield session

    def write(self, records: Iterable[Record]) -> WriteResult:
        """Write ``records`` in one transaction, all or none (see :func:`write_records`)."""
        with self.transaction() as session:
            return write_records(session, records)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Migrations -------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema up to ``revision`` (default: the newest this cs-core ships)."""
        self._migrate(command.upgrade, revision)

    def downgrade(self, revision: str = "base") -> None:
        """Migrate the schema down to ``revision`` (default: ``base``, an empty database)."""
        self._migrate(command.downgrade, revision)

    def current_revision(self) -> str | None:
        """The schema revision the database is at; ``None`` for an empty database."""
        with self._connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str:
        """The newest schema revision this version of cs-core ships."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        if head is None:  # pragma: no cover - the package always ships migrations
            raise RuntimeError("cs-core ships no migrations")
        return head

    def check_ready(self) -> None:
        """Raise :class:`StoreNotReadyError` unless the schema is at the head revision."""
        current = self.current_revision()
        if current != self.head_revision():
            state = "is empty" if current is None else f"is at revision {current}"
            raise StoreNotReadyError(
                f"the store {self.url.render_as_string(hide_password=True)} {state}; "
                f"run `cs db upgrade` to bring it to {self.head_revision()}"
            )

    def _migrate(self, operation: Any, revision: str) -> None:
        config = _alembic_config()
        with self._connect() as connection:
            config.attributes["connection"] = connection
            try:
                operation(config, revision)
            except Exception as error:
                if type(error).__module__.startswith("alembic"):
                    raise ConfigurationError(f"cannot migrate to {revision!r}: {error}") from error
                raise
            connection.commit()

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        try:
            connection = self.engine.connect()
        except OperationalError as error:
            raise ConfigurationError(
                f"cannot open the store {self.url.render_as_string(hide_password=True)}: "
                f"{str(error.orig).strip().splitlines()[0]}"
            ) from None
        with connection:
            yield connection


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "cs_core:migrations")
    return config


def _create_engine(url: URL, *, echo: bool) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _configure_sqlite_connection)
        # pysqlite opens transactions lazily and commits DDL on its own; hand control of BEGIN to
        # SQLAlchemy so that a transaction (including a migration) is atomic.
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _begin_sqlite(connection: Connection) -> None:
    mode = connection.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
