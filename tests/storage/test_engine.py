"""Engine settings: SQLite pragmas, clear errors for bad or unreachable databases."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.engine import check_connection, make_engine, normalize_url
from storage.errors import BadDatabaseURL, DatabaseUnreachable


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    engine.dispose()


def test_sqlite_enforces_foreign_keys(sqlite_url):
    engine = make_engine(sqlite_url)
    with pytest.raises(Exception, match="FOREIGN KEY"):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO crawl_runs (source_id, status, started_at, trigger, stats) "
                              "VALUES (999, 'running', '2026-01-01', 'manual', '{}')"))
    engine.dispose()


def test_postgresql_urls_use_psycopg3():
    assert normalize_url("postgresql://u@127.0.0.1/db").startswith("postgresql+psycopg://")


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url at all"])
def test_unsupported_or_malformed_urls_are_explained(url):
    with pytest.raises(BadDatabaseURL, match="sqlite"):
        make_engine(url)


def test_unreachable_database_is_explained():
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnreachable, match="cannot connect.*Check that the server runs"):
        check_connection(engine)
