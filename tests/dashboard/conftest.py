"""A small store built with the export factories (two projects' worth of samples, runs, rejections and two
versions), and a TestClient over the dashboard app."""
from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from export import create_version
from storage.models import CrawlRun, ImageRejection, Item
from tests.conftest import make_settings
from tests.export.factory import T0, box, detection_project

SECRET = "ls-secret-token-5f1c9a0e77"


def build_store(store) -> dict:
    """20 detection samples (ann0/ann1), 2 crawl runs, 2 rejections, an item without licence, versions v1, v2."""
    f = detection_project(store, n=20)
    s = f.session
    runs = [CrawlRun(source_id=f.source.id, status="succeeded", started_at=T0 + timedelta(hours=h),
                     finished_at=T0 + timedelta(hours=h, minutes=5), trigger="manual",
                     stats={"pages": 10 + h, "items": 20, "images_stored": 20 - h, "duplicates": h,
                            "near_duplicates": 1, "dropped": {"no image": 2 + h}, "errors": 0,
                            "items_new": 20 - h, "items_unchanged": h, "items_gone": 0,
                            "pages_failed": {"500": 1}, "failed_urls": ["http://127.0.0.1:8000/broken (HTTP 500)"]})
            for h in (0, 1)]
    runs.append(CrawlRun(source_id=f.source.id, status="failed", started_at=T0 + timedelta(hours=2),
                         finished_at=T0 + timedelta(hours=2, minutes=1), error="reached nothing: no start URL answered",
                         stats={}))
    s.add_all(runs)
    s.flush()
    s.add_all([ImageRejection(source_id=f.source.id, url="http://127.0.0.1:8000/img/tiny.png", reason="too_small",
                              detail="8x8 is below 32x32", crawl_run_id=runs[1].id),
               ImageRejection(source_id=f.source.id, url="http://127.0.0.1:8000/img/page.html", reason="not_an_image",
                              detail="text/html", crawl_run_id=runs[1].id)])
    s.add(Item(source_id=f.source.id, canonical_url="http://127.0.0.1:8000/nolicence", page_url="http://127.0.0.1:8000/nolicence",
               licence=None, fields={}))
    f.commit()
    v1 = create_version(store, "v1", "proj", seed=0)
    # v2: one sample relabelled by a new revision, one new sample
    from sqlalchemy import select

    from storage.models import Annotation, Task
    task = s.scalars(select(Task).order_by(Task.id)).first()
    old = s.scalars(select(Annotation).where(Annotation.task_id == task.id)).first()
    f.annotate(task, [box("dog", 2, 3, 30, 40.5)], annotator=old.annotator, ls_id=old.ls_annotation_id, revision=2,
               minutes=5)
    added = f.sample(f.session.get(type(task.project), task.project_id), [box("bird", 5, 5, 25, 25)], annotator="ann0")
    f.commit()
    v2 = create_version(store, "v2", "proj", seed=0, parent="v1")
    info = {"factory": f, "relabelled": task.sample_key, "added": added.sample_key, "v1": v1.name, "v2": v2.name,
            "runs": [r.id for r in runs]}
    return info


@pytest.fixture
def small_store(tmp_path, db_url):
    from harvest.store import open_store

    store = open_store(make_settings(tmp_path, db_url, labelstudio={"url": "http://127.0.0.1:9", "token": SECRET}))
    info = build_store(store)
    yield store, info
    info["factory"].close()
    store.close()


@pytest.fixture
def client(small_store):
    from dashboard.app import create_app

    store, _ = small_store
    with TestClient(create_app(store)) as c:
        yield c
