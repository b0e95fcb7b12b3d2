"""Fixtures shared by every package's tests: stores on SQLite and, when configured, PostgreSQL.

Set ``CS_TEST_POSTGRES_URL`` (for example ``postgresql://postgres@127.0.0.1:5432/test``) and every
test that takes ``store`` or ``database_url`` runs on PostgreSQL too. Each test session works in
databases of its own, created on that server and dropped at the end, so nothing it finds there is
touched.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from cs_core import Base, Store

POSTGRES_URL = os.environ.get("CS_TEST_POSTGRES_URL")
EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
"""The documentation's examples: real files, run or loaded by the tests."""
DIALECTS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not POSTGRES_URL, reason="set CS_TEST_POSTGRES_URL to run on PostgreSQL"
        ),
    ),
]


class PostgresServer:
    """Creates and drops throwaway databases on the server of ``CS_TEST_POSTGRES_URL``."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> URL:
        name = f"cs_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name)

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    if not POSTGRES_URL:
        yield None
        return
    server = PostgresServer(POSTGRES_URL)
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server: PostgresServer | None) -> URL | None:
    """One database per session, migrated once; tests empty it before they start."""
    if postgres_server is None:
        return None
    url = postgres_server.create_database()
    with Store(url) as store:
        store.upgrade()
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "cs.db"
    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
    return path


@pytest.fixture(params=DIALECTS)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_server: PostgresServer | None,
) -> URL:
    """The URL of an empty database (no schema) on each dialect."""
    if request.param == "postgresql":
        assert postgres_server is not None
        return postgres_server.create_database()
    return make_url(f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.fixture(params=DIALECTS)
def store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_sqlite_template: Path,
    migrated_postgres: URL | None,
) -> Iterator[Store]:
    """A migrated, empty store on each dialect."""
    if request.param == "postgresql":
        assert migrated_postgres is not None
        opened = Store(migrated_postgres)
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        with opened.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    else:
        path = tmp_path / "cs.db"
        shutil.copyfile(migrated_sqlite_template, path)
        opened = Store(f"sqlite:///{path}")
    yield opened
    opened.close()


@pytest.fixture(params=DIALECTS)
def store_factory(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_sqlite_template: Path,
    postgres_server: PostgresServer | None,
) -> Iterator[Callable[[], Store]]:
    """Makes new migrated, empty stores on each dialect, for tests that compare two stores."""
    opened: list[Store] = []

    def make() -> Store:
        if request.param == "postgresql":
            assert postgres_server is not None
            made = Store(postgres_server.create_database())
            made.upgrade()
        else:
            path = tmp_path / f"store-{len(opened)}.db"
            shutil.copyfile(migrated_sqlite_template, path)
            made = Store(f"sqlite:///{path}")
        opened.append(made)
        return made

    yield make
    for made in opened:
        made.close()


def imported_modules(package: ModuleType) -> Iterator[tuple[Path, str]]:
    """Every module that a package's source files import, with the importing file."""
    assert package.__file__ is not None
    for path in Path(package.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                yield from ((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield path, node.module


@pytest.fixture
def package_imports() -> Callable[[ModuleType], Iterator[tuple[Path, str]]]:
    """:func:`imported_modules`, for tests that inspect a package's imports."""
    return imported_modules


@pytest.fixture
def assert_imports_only_public_cs_core() -> Callable[[ModuleType, str], None]:
    """Check that a package reaches cs-core through its public API and not ``forbidden``."""

    def check(package: ModuleType, forbidden: str) -> None:
        for path, module in imported_modules(package):
            assert not module.startswith("cs_core."), f"{path} imports private {module}"
            assert not module.startswith(forbidden), f"{path} imports {module}"

    return check


def load_docs_example(name: str) -> ModuleType:
    """Import ``docs/examples/NAME`` as a module (the plugin examples are loaded, not run)."""
    spec = importlib.util.spec_from_file_location(Path(name).stem, EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def docs_example() -> Callable[[str], ModuleType]:
    """:func:`load_docs_example`, for tests of the documentation's plugin examples."""
    return load_docs_example
