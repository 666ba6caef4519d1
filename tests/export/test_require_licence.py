"""`require_licence = true` on a source: its items without a licence are kept (still in the store, still
labelable) but left out of new versions unless `include_unlicensed`; the data card counts them."""
from __future__ import annotations

from sqlalchemy import select, update

from export import create_version
from storage import datasets as q
from storage.models import Item, Source
from tests.export.factory import detection_project


def _strip_licences(store, every: int, require: bool) -> int:
    """Every `every`-th item loses its licence; the source requires one when `require`. Returns how many."""
    with store.sessions.begin() as s:
        ids = sorted(s.scalars(select(Item.id)))[::every]
        s.execute(update(Item).where(Item.id.in_(ids)).values(licence=None))
        s.execute(update(Source).values(config={"require_licence": require}))
    return len(ids)


def test_unlicensed_items_left_out_unless_included(store):
    detection_project(store, n=12)
    stripped = _strip_licences(store, 3, require=True)
    assert stripped == 4
    v = create_version(store, "strict", "proj", seed=1)
    assert v.stats["samples"] == 12 - stripped
    assert v.stats["skipped"]["no licence (its source requires one; --include-unlicensed)"] == stripped
    with store.sessions() as s:  # kept and marked, never erased
        assert s.query(Item).filter(Item.licence.is_(None)).count() == stripped
        assert sum(row.unlicensed for row in q.project_samples(s, q.project_by_name(s, "proj").id)) == stripped
    v2 = create_version(store, "all", "proj", seed=1, include_unlicensed=True)
    assert v2.stats["samples"] == 12


def test_unlicensed_items_of_a_source_that_does_not_require_one_stay(store):
    detection_project(store, n=6)
    _strip_licences(store, 2, require=False)
    assert create_version(store, "v", "proj", seed=1).stats["samples"] == 6


def test_data_card_counts_samples_without_a_licence(store, tmp_path):
    from export import export_version

    detection_project(store, n=6)
    stripped = _strip_licences(store, 2, require=True)
    create_version(store, "all", "proj", seed=1, include_unlicensed=True)
    export_version(store, "all", "coco", tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"Samples without a licence: {stripped} " in card
