"""Revision 0003 (assets.source_mode, assets.frames): down to 0001 and up again keeps every asset row."""
from __future__ import annotations

from sqlalchemy import inspect, text

from storage.engine import make_engine
from storage.migrate import downgrade, upgrade
from tests.storage.test_migrations import _fill, empty_url  # noqa: F401 - fixture


def test_0003_down_and_up_keeps_assets(empty_url):  # noqa: F811
    upgrade(empty_url)
    _fill(empty_url)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT frames, source_mode FROM assets")).one() == (1, None)
        conn.execute(text("UPDATE assets SET frames = 3, source_mode = 'P'"))
    engine.dispose()

    downgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    columns = {c["name"] for c in inspect(engine).get_columns("assets")}
    assert "frames" not in columns and "source_mode" not in columns
    with engine.connect() as conn:
        assert conn.execute(text("SELECT sha256, phash FROM assets")).one() == ("a" * 64, -5)
    engine.dispose()

    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT phash, frames, source_mode FROM assets")).one() == (-5, 1, None)
    engine.dispose()
