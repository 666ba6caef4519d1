"""The labeling page's figures against hand-written truth, with one project holding every task (read from the
annotations alone) and again once a second project holds tasks (restricted to each project's tasks)."""
from __future__ import annotations

import pytest

from dashboard import labeling
from tests.export.factory import Factory, box


@pytest.fixture
def factory(tmp_path, db_url):
    from harvest.store import open_store
    from tests.conftest import make_settings

    store = open_store(make_settings(tmp_path, db_url))
    f = Factory(store)
    yield f
    f.close()
    store.close()


def figures(f: Factory, project) -> dict:
    s = f.session
    row = next(p for p in labeling.progress(s) if p["project"].id == project.id)
    people = {p["annotator"]: (p["revisions"], p["tasks"], p["cancelled"]) for p in labeling.annotators(s, project.id)}
    current = {t: {w: ann for w, (ann, _) in by.items()} for t, by in labeling.current_by_task(s, project.id).items()}
    agree = labeling.project_agreement(s, project.id)
    review = labeling.review_queue(s, project.id, agree["disagreements"])
    return {"tasks": row["tasks"], "labeled": row["labeled"], "reviewed": row["reviewed"], "people": people,
            "current": current, "open": review["open"]}


def test_labeling_figures_with_one_and_with_two_projects(factory):
    f = factory
    proj = f.project("first", labels=["cat", "dog"])
    cat, dog = [box("cat", 1, 1, 20, 20)], [box("dog", 1, 1, 20, 20)]
    t1 = f.task(proj, f.image())  # two annotators agree; a's first revision said dog
    a1 = f.annotate(t1, dog, "a", ls_id=1)
    a1r = f.annotate(t1, cat, "a", ls_id=1, revision=2)
    b1 = f.annotate(t1, cat, "b", ls_id=2)
    t2 = f.task(proj, f.image())  # they disagree; a ground-truth answer decides it
    a2 = f.annotate(t2, cat, "a", ls_id=3)
    b2 = f.annotate(t2, dog, "b", ls_id=4)
    f.annotate(t2, cat, "lead", ls_id=5, ground_truth=True)
    t3 = f.task(proj, f.image())  # they disagree, nobody decided
    a3 = f.annotate(t3, cat, "a", ls_id=6)
    b3 = f.annotate(t3, dog, "b", ls_id=7)
    t4 = f.task(proj, f.image())  # cancelled by one, deleted by the other: not labeled, not multi
    f.annotate(t4, cat, "a", ls_id=8, cancelled=True)
    f.annotate(t4, cat, "b", ls_id=9, deleted=True)
    f.task(proj, f.image())  # no annotation
    f.commit()
    assert labeling.only_project(f.session) == proj.id
    want = {"tasks": 5, "labeled": 3, "reviewed": 1,
            "people": {"a": (5, 4, 1), "b": (3, 3, 0), "lead": (1, 1, 0)},
            "current": {t1.id: {"a": a1r.id, "b": b1.id}, t2.id: {"a": a2.id, "b": b2.id},
                        t3.id: {"a": a3.id, "b": b3.id}},
            "open": 1}
    assert figures(f, proj) == want
    assert a1.id not in {a for by in want["current"].values() for a in by.values()}

    other = f.project("second", labels=["cat"])
    u1 = f.task(other, f.image())
    c1 = f.annotate(u1, cat, "a", ls_id=10)
    d1 = f.annotate(u1, cat, "c", ls_id=11)
    f.commit()
    assert labeling.only_project(f.session) is None
    assert figures(f, proj) == want
    assert figures(f, other) == {"tasks": 1, "labeled": 1, "reviewed": 0, "people": {"a": (1, 1, 0), "c": (1, 1, 0)},
                                 "current": {u1.id: {"a": c1.id, "c": d1.id}}, "open": 0}
