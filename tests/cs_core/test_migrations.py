"""Migrations build exactly the models' schema, and undo it, on both dialects."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import URL

from cs_core import Base, ConfigurationError, Store, StoreNotReadyError


def test_upgrade_from_empty_to_head_matches_the_models(database_url: URL) -> None:
    with Store(database_url) as store:
        assert store.current_revision() is None
        store.upgrade()
        assert store.current_revision() == Store.head_revision()
        store.check_ready()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_removes_every_table(database_url: URL) -> None:
    with Store(database_url) as store:
        store.upgrade()
        store.downgrade("base")
        assert store.current_revision() is None
        tables = set(inspect(store.engine).get_table_names())
        assert tables <= {"alembic_version"}
        store.upgrade()  # and back up again, cleanly
        assert set(inspect(store.engine).get_table_names()) >= set(Base.metadata.tables)


def test_an_unmigrated_store_says_how_to_fix_it(database_url: URL) -> None:
    with Store(database_url) as store, pytest.raises(StoreNotReadyError, match="cs db upgrade"):
        store.check_ready()


def test_an_unknown_revision_is_a_clear_error(database_url: URL) -> None:
    with Store(database_url) as store, pytest.raises(ConfigurationError, match="'nope'"):
        store.upgrade("nope")
