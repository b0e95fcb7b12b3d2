"""Where the store lives, and the errors for URLs that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from cs_core import ConfigurationError, Store, default_database_path, resolve_database_url


def test_the_default_is_a_sqlite_file_in_the_user_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CS_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_database_path() == tmp_path / "cs" / "cs.db"
    url = resolve_database_url()
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "cs" / "cs.db")
    assert (tmp_path / "cs").is_dir()


def test_the_environment_variable_chooses_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CS_DATABASE_URL", f"sqlite:///{tmp_path}/mine.db")
    assert resolve_database_url().database == f"{tmp_path}/mine.db"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_postgres_urls_use_psycopg(scheme: str) -> None:
    url = resolve_database_url(f"{scheme}://cs:secret@db.internal:5432/cs")
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.database) == ("db.internal", "cs")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/cs", "'mysql', which cs does not support"),
        ("not a url", "is not a database URL"),
        ("sqlite://", "in-memory SQLite database"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
        ("sqlite:////no/such/folder/cs.db", "/no/such/folder, which does not exist"),
    ],
)
def test_unusable_urls_say_what_to_give_instead(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_database_url(url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path}/cs.db") as store, store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_an_unreachable_server_is_one_clear_error() -> None:
    store = Store("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigurationError, match="cannot open the store"):
        store.current_revision()
    assert "secret" not in repr(Store("postgresql://u:secret@127.0.0.1:1/x"))
