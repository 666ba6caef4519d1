"""annotation_labels and member_labels are kept by the database: every insert path (the ORM, an executemany
through add_revisions, plain SQL) and an update of the targets give exactly the labels the targets name."""
from __future__ import annotations

from sqlalchemy import insert, select, text, update

from storage.engine import make_engine, session_factory
from storage.labels import add_revisions
from storage.models import (
    Annotation, AnnotationLabel, Asset, DatasetVersion, LabelingProject, MemberLabel, Task, VersionMember,
)


def _rows(session, model, key) -> set[tuple]:
    return {(getattr(r, key), r.label, r.asset_id) for r in session.scalars(select(model))}


def _setup(session) -> tuple[int, int, int]:
    asset = Asset(sha256="b" * 64, mime="image/jpeg", width=4, height=4, bytes=10, blob_path="bb/bb/x")
    project = LabelingProject(name="p", template="object-detection", labels=["cat"], label_config="<View/>")
    session.add_all([asset, project])
    session.flush()
    task = Task(project_id=project.id, sample_key=f"asset:{asset.id}", asset_id=asset.id)
    text_task = Task(project_id=project.id, sample_key="item:1")
    session.add_all([task, text_task])
    session.flush()
    return asset.id, task.id, text_task.id


def test_every_insert_path_and_an_update_keep_the_labels(db_url):
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    with sessions() as s:
        asset, task, text_task = _setup(s)
        orm = Annotation(task_id=task, ls_annotation_id=1, annotator="a", result_hash="1" * 64, targets=[
            {"type": "bbox", "x_min": 0, "y_min": 0, "x_max": 1, "y_max": 1, "label": "cat"},
            {"type": "bbox", "x_min": 1, "y_min": 1, "x_max": 2, "y_max": 2, "label": "cat"},  # twice: one row
            {"type": "polygon", "points": [[0, 0], [1, 0], [1, 1]], "label": "dog \"big\" 100%_"},
            {"type": "keypoints", "points": [[0, 0]], "labels": ["nose"], "label": None},  # no label: no row
        ])
        s.add(orm)
        s.flush()
        add_revisions(s, [  # the pull's path: one executemany
            {"task_id": task, "ls_annotation_id": 2, "revision": 1, "annotator": "b", "result_hash": "2" * 64,
             "targets": [{"type": "choice", "label": "bird"}], "result": [], "problems": []},
            {"task_id": text_task, "ls_annotation_id": 3, "revision": 1, "annotator": "b", "result_hash": "3" * 64,
             "targets": [{"type": "span", "start": 0, "end": 2, "label": "PER"}], "result": [], "problems": []},
            {"task_id": task, "ls_annotation_id": 4, "revision": 1, "annotator": "b", "result_hash": "4" * 64,
             "targets": [], "result": [], "problems": []},
        ])
        s.execute(insert(Annotation.__table__), [  # malformed targets must not break the write, nor add labels
            {"task_id": task, "ls_annotation_id": 5, "revision": 1, "annotator": "c", "result_hash": "5" * 64,
             "targets": ["cat", 7, None, {"label": 3}, {"label": ["cat"]}, {"type": "choice", "label": "ok"}],
             "result": [], "problems": [], "valid": False, "was_cancelled": False, "ground_truth": False,
             "received_via": "pull", "received_at": orm.received_at},
            {"task_id": task, "ls_annotation_id": 6, "revision": 1, "annotator": "c", "result_hash": "6" * 64,
             "targets": {"label": "not a list"}, "result": [], "problems": [], "valid": False,
             "was_cancelled": False, "ground_truth": False, "received_via": "pull", "received_at": orm.received_at},
        ])
        s.commit()
        ids = dict(s.execute(select(Annotation.ls_annotation_id, Annotation.id)).all())
        assert set(s.execute(select(AnnotationLabel.annotation_id, AnnotationLabel.annotator))) == {
            (ids[1], "a"), (ids[2], "b"), (ids[3], "b"), (ids[5], "c")}
        assert _rows(s, AnnotationLabel, "annotation_id") == {
            (ids[1], "cat", asset), (ids[1], 'dog "big" 100%_', asset), (ids[2], "bird", asset),
            (ids[3], "PER", None), (ids[5], "ok", asset)}

        s.execute(update(Annotation).where(Annotation.id == ids[2]).values(targets=[{"type": "choice", "label": "fox"}]))
        s.execute(update(Annotation).where(Annotation.id == ids[1]).values(deleted_at=orm.received_at))  # not targets
        s.commit()
        labels = {(a, label) for a, label, _ in _rows(s, AnnotationLabel, "annotation_id")}
        assert (ids[2], "fox") in labels and (ids[2], "bird") not in labels and (ids[1], "cat") in labels

        version = DatasetVersion(name="v", content_hash="0" * 64)
        s.add(version)
        s.flush()
        s.add(VersionMember(version_id=version.id, sample_key=f"asset:{asset}", asset_id=asset, split="train",
                            targets=[{"type": "bbox", "x_min": 0, "y_min": 0, "x_max": 1, "y_max": 1, "label": "cat"},
                                     {"type": "choice", "label": "day"}]))
        s.commit()
        member = s.scalar(select(VersionMember.id))
        assert _rows(s, MemberLabel, "member_id") == {(member, "cat", asset), (member, "day", asset)}
        assert set(s.scalars(select(MemberLabel.version_id))) == {version.id}

        s.execute(text("DELETE FROM annotations WHERE id = :i"), {"i": ids[1]})  # rows go with their annotation
        s.commit()
        assert ids[1] not in set(s.scalars(select(AnnotationLabel.annotation_id)))
    engine.dispose()
