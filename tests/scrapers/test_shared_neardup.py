"""Near-duplicates across the workers of one run: two batches written at the same moment by two workers,
each holding one image of a near-duplicate pair, end up in one cluster (PostgreSQL: the asset writes
are serialised by an advisory lock, and the index refresh after it sees the other worker's commit)."""
from __future__ import annotations

import threading

from sqlalchemy import select

from scrapers import pipelines
from storage import collect as q
from storage.collect_models import Asset
from storage.engine import make_engine, session_factory, session_scope
from tests.scrapers.test_neardup_shared import batch
from tests.scrapers.test_store_pipeline import open_pipeline


def test_two_workers_writing_a_near_duplicate_pair_at_once_make_one_cluster(postgres_url, tmp_path, monkeypatch):
    engine = make_engine(postgres_url)
    sessions = session_factory(engine)
    try:
        with session_scope(sessions) as s:
            one, two = q.upsert_source(s, "one", "config", {}, None), q.upsert_source(s, "two", "config", {}, None)
        first, _ = open_pipeline(engine, sessions, tmp_path / "w1", one)
        second, _ = open_pipeline(engine, sessions, tmp_path / "w2", two)
        # both batches stop right after inserting their asset, before committing: without a lock both have
        # looked at the index before either committed, and neither sees the other's image
        meet = threading.Barrier(2, timeout=3)
        insert = q.insert_assets

        def insert_then_meet(session, rows):
            result = insert(session, rows)
            try:
                meet.wait()
            except threading.BrokenBarrierError:  # the other worker waits for our lock: go on alone
                pass
            return result

        monkeypatch.setattr(q, "insert_assets", insert_then_meet)
        errors: list[BaseException] = []

        def write(pipe, name, sha, phash):
            try:
                pipe.flush(batch(name, sha, phash))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(first, "x", "a" * 64, 0x0F0F)),
                   threading.Thread(target=write, args=(second, "y", "b" * 64, 0x0F0F ^ 0b11))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors, errors
        with sessions() as s:
            clusters = dict(s.execute(select(Asset.sha256, Asset.cluster_id)).all())
        assert clusters["a" * 64] is not None and clusters["a" * 64] == clusters["b" * 64], clusters
    finally:
        engine.dispose()


def test_without_the_lock_the_same_race_makes_two_singletons(postgres_url, tmp_path, monkeypatch):
    """The control: the test above fails when the lock is gone (so it tests the lock, not luck)."""
    monkeypatch.setattr(pipelines, "lock_near_dups", lambda session: None)
    try:
        test_two_workers_writing_a_near_duplicate_pair_at_once_make_one_cluster(postgres_url, tmp_path, monkeypatch)
    except AssertionError:
        return
    raise AssertionError("two workers stored a near-duplicate pair without the lock and still clustered it")
