"""The overview's figures (`dashboard.overview.store_counts`) against plain reference queries and `harvest status`:
images and distinct assets per source when assets are shared between items and sources, and the annotation
figures both with one project holding every task (read from the annotations alone) and with two (the join)."""
from __future__ import annotations

from sqlalchemy import case, distinct, func, select

from dashboard.overview import store_counts
from harvest.status import status_table
from storage.models import Annotation, Item, ItemAsset, Source, Task
from tests.export.factory import T0, Factory, box


def reference(s) -> dict:
    """The figures computed the plain way: one COUNT(DISTINCT) join per source, one outer join per project."""
    per_source = {}
    for sid in s.scalars(select(Source.id)):
        images, assets = s.execute(select(func.count(ItemAsset.id), func.count(distinct(ItemAsset.asset_id)))
                                   .join(Item, Item.id == ItemAsset.item_id).where(Item.source_id == sid)).one()
        per_source[sid] = (images, assets)
    live = (Annotation.task_id == Task.id) & Annotation.deleted_at.is_(None)
    waiting = s.scalar(select(func.count()).where(Task.ls_deleted_at.is_(None), ~select(Annotation.id).where(live)
                                                  .exists()))
    annotations, invalid = s.execute(select(func.count(Annotation.id),
                                            func.sum(case((Annotation.valid.is_(False), 1), else_=0)))
                                     .where(Annotation.deleted_at.is_(None))).one()
    return {"sources": per_source, "annotations": annotations, "invalid": int(invalid or 0), "waiting": waiting}


def shown(s) -> dict:
    figures = store_counts(s)
    t = figures["totals"]
    return {"sources": {sid: (c["images"], c["assets"]) for sid, c in figures["sources"].items()},
            "annotations": t["annotations"], "invalid": t["invalid"], "waiting": t["waiting"]}


def test_store_counts_equal_plain_queries_and_harvest_status(small_store):
    store, info = small_store
    f: Factory = info["factory"]
    s = f.session
    project = f.project("second-only-later")
    first = s.scalars(select(Task).order_by(Task.id)).first()
    proj = s.get(type(project), first.project_id)
    # links: an asset on two items of the same source, the same asset on an item of another source, an item
    # with two images
    asset = f.image()
    f.session.add(ItemAsset(item_id=f.item().id, asset_id=asset.id, url="http://127.0.0.1:8000/img/again.jpg"))
    other = Source(name="other-site")
    s.add(other)
    s.flush()
    elsewhere = Item(source_id=other.id, canonical_url="http://127.0.0.1:8001/p", page_url="http://127.0.0.1:8001/p",
                     licence="CC0-1.0", fields={})
    s.add(elsewhere)
    s.flush()
    s.add(ItemAsset(item_id=elsewhere.id, asset_id=asset.id, url="http://127.0.0.1:8001/img/a.jpg"))
    two = f.item()
    f.image(item=two)
    f.image(item=two)
    # tasks: without annotation, with only a deleted one, deleted in Label Studio with and without a live one,
    # an invalid annotation
    f.task(proj, f.image())
    f.annotate(f.task(proj, f.image()), [box("cat", 1, 1, 5, 5)], deleted=True)
    gone = f.task(proj, f.image())
    gone.ls_deleted_at = T0
    gone_labeled = f.task(proj, f.image())
    gone_labeled.ls_deleted_at = T0
    f.annotate(gone_labeled, [box("dog", 1, 1, 5, 5)])
    f.annotate(f.task(proj, f.image()), [box("cat", 1, 1, 5, 5)]).valid = False
    f.commit()
    assert len(set(s.scalars(select(Task.project_id)))) == 1  # one project holds every task
    want = reference(s)
    assert shown(s) == want
    assert want["waiting"] == 2 and want["invalid"] == 1
    assert want["sources"][other.id] == (1, 1)
    # a second project holding tasks: the figures come from the tasks x annotations join
    f.annotate(f.task(project, f.image()), [box("cat", 1, 1, 5, 5)])
    f.task(project, f.image())
    f.commit()
    want = reference(s)
    assert shown(s) == want and want["waiting"] == 3
    columns = {c.header: list(c._cells) for c in status_table(store).columns}
    figures = store_counts(s)
    names = dict(s.execute(select(Source.name, Source.id)).all())
    for row, name in enumerate(columns["source"][:-1]):
        counts = figures["sources"][names[name]]
        assert (str(counts["images"]), str(counts["assets"])) == (columns["images"][row], columns["assets"][row])
    assert str(figures["totals"]["annotations"]) == columns["annotations"][-1]
