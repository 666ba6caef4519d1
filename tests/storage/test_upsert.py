"""Batched upserts behave the same on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from storage.models import Asset, Item, ItemAsset, Source
from storage.upsert import ids_by_key, upsert, upsert_returning_ids


def _asset(i: int, mime: str = "image/jpeg") -> dict:
    return {"sha256": f"{i:064x}", "mime": mime, "width": 10, "height": 10, "bytes": 100 + i, "blob_path": f"p/{i}"}


def test_upsert_inserts_then_updates_without_duplicates(sessions):
    with sessions.begin() as s:
        upsert(s, Asset, [_asset(i) for i in range(50)], conflict=["sha256"], update=["mime"])
    with sessions.begin() as s:
        upsert(s, Asset, [_asset(i, "image/png") for i in range(25, 75)], conflict=["sha256"], update=["mime"])
    with sessions() as s:
        assert s.scalar(select(func.count(Asset.id))) == 75
        mimes = dict(s.execute(select(Asset.sha256, Asset.mime)).all())
    assert mimes[f"{0:064x}"] == "image/jpeg"
    assert mimes[f"{30:064x}"] == "image/png"
    assert mimes[f"{74:064x}"] == "image/png"


def test_do_nothing_keeps_the_first_row(sessions):
    with sessions.begin() as s:
        upsert(s, Asset, [_asset(1)], conflict=["sha256"])
        upsert(s, Asset, [_asset(1, "image/png")], conflict=["sha256"])
    with sessions() as s:
        assert s.scalars(select(Asset.mime)).all() == ["image/jpeg"]


def test_large_batches_are_chunked_below_the_parameter_limit(sessions):
    rows = [_asset(i) for i in range(12_000)]  # 6 columns * 12k rows = 72k parameters
    with sessions.begin() as s:
        ids = upsert_returning_ids(s, Asset, rows, conflict=["sha256"])
    assert len(ids) == 12_000
    assert len(set(ids.values())) == 12_000


def test_composite_keys_map_to_ids(sessions):
    with sessions.begin() as s:
        src = Source(name="s")
        s.add(src)
        s.flush()
        item_ids = upsert_returning_ids(
            s,
            Item,
            [{"source_id": src.id, "canonical_url": f"http://x/{i}", "page_url": f"http://x/{i}"} for i in range(3)],
            conflict=["source_id", "canonical_url"],
        )
        item_ids = {url: i for (_, url), i in item_ids.items()}
        asset_ids = upsert_returning_ids(s, Asset, [_asset(i) for i in range(2)], conflict=["sha256"])
        links = [
            {"item_id": item_ids[f"http://x/{i}"], "asset_id": asset_ids[f"{i % 2:064x}"], "url": f"http://x/{i}.jpg"}
            for i in range(3)
        ]
        got = upsert_returning_ids(s, ItemAsset, links, conflict=["item_id", "url"])
        again = ids_by_key(s, ItemAsset, ["item_id", "url"], [(r["item_id"], r["url"]) for r in links])
    assert got == again and len(got) == 3


def test_rows_with_different_keys_are_rejected(sessions):
    with sessions.begin() as s, pytest.raises(ValueError, match="same keys|must all have"):
        upsert(s, Asset, [_asset(1), {"sha256": "x"}], conflict=["sha256"])
