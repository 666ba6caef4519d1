"""The crawl's shared near-duplicate index: other workers' hashes seen per batch, persisted in the data dir."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from scrapers import context
from scrapers.neardup_shared import FILE, SharedNearDupIndex
from storage import collect as q
from storage.collect_models import Asset
from storage.engine import session_scope
from tests.scrapers.test_store_pipeline import image, open_pipeline


def add_assets(sessions, rows: list[tuple[int, int]]) -> None:
    """Commit assets with explicit (id, pHash)."""
    with session_scope(sessions) as s:
        for asset_id, phash in rows:
            sha = f"{asset_id:064x}"
            s.add(Asset(id=asset_id, sha256=sha, mime="image/png", width=1, height=1, bytes=1, phash=phash,
                        blob_path=f"{sha[:2]}/{sha[2:4]}/{sha}"))


def batch(name: str, sha: str, phash: int) -> list[dict]:
    return [{"url": f"http://a/{name}", "page_url": f"http://a/{name}", "fields": {},
             "images": [image(f"http://a/{name}.jpg", sha, phash)]}]


def test_a_worker_clusters_against_what_another_worker_stored_after_it_opened(sessions, engine, tmp_path):
    with session_scope(sessions) as s:
        one, two = q.upsert_source(s, "one", "config", {}, None), q.upsert_source(s, "two", "config", {}, None)
    first, _ = open_pipeline(engine, sessions, tmp_path / "w1", one)
    second, _ = open_pipeline(engine, sessions, tmp_path / "w2", two)  # opened before `first` stores anything
    first.flush(batch("x", "a" * 64, 0x0F0F))
    second.flush(batch("y", "b" * 64, 0x0F0F ^ 0b11))  # 2 bits from the other worker's asset
    with sessions() as s:
        clusters = dict(s.execute(select(Asset.sha256, Asset.cluster_id)).all())
    assert clusters["a" * 64] is not None and clusters["a" * 64] == clusters["b" * 64]
    assert second.crawler.stats.get_value("harvest/near_dup_index_caught_up") == 1
    third, _ = open_pipeline(engine, sessions, tmp_path / "w3", one)  # joins the cluster that exists now
    third.flush(batch("z", "c" * 64, 0x0F0F ^ 0b1))
    with sessions() as s:
        assert len(set(s.scalars(select(Asset.cluster_id)))) == 1


def test_ids_committed_out_of_order_are_not_missed(sessions):
    with sessions() as s:
        shared = SharedNearDupIndex.open(s, None, "sqlite://", settle=3600)
    add_assets(sessions, [(1, 0x10), (3, 0x30)])
    with sessions() as s:
        assert shared.refresh(s) == 2
    add_assets(sessions, [(2, 0x20)])  # a transaction that took id 2 earlier commits only now
    with sessions() as s:
        assert shared.refresh(s) == 1 and shared.refresh(s) == 0
    assert sorted(i for i, _ in shared.query(0x10, 8)) == [1, 2, 3]
    shared.add_many([0x40], [3])  # an id already indexed is not added twice
    assert len(shared) == 3


def test_persisted_in_the_data_dir_and_caught_up_on_open(sessions, db_url, tmp_path):
    add_assets(sessions, [(i, i * 0x1111) for i in range(1, 51)])
    with sessions() as s:
        shared = SharedNearDupIndex.open(s, tmp_path, db_url, settle=0)
        assert len(shared) == 50 and shared.watermark == 50
    shared.save()
    assert (tmp_path / FILE).is_file()
    add_assets(sessions, [(51, 0xABCDEF), (52, 0xABCDEE)])
    with sessions() as s:
        again = SharedNearDupIndex.open(s, tmp_path, db_url, settle=0)
        assert len(again) == 52 and again.refresh(s) == 0
    assert [i for i, _ in again.query(0xABCDEF, 1)] == [51, 52]
    with sessions() as s:  # a file written for another database is not trusted: rebuilt from this one
        other = SharedNearDupIndex(tmp_path / FILE, "elsewhere")
        other.index.add(0x1, 999)
        other.save()
        rebuilt = SharedNearDupIndex.open(s, tmp_path, db_url)
        assert len(rebuilt) == 52 and not rebuilt.query(0x1, 0)
