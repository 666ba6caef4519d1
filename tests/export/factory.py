"""Rows of the collect and label stages written straight into the DB, with real images in the blob store."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from itertools import count
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from storage.models import (
    Annotation, Asset, Item, ItemAsset, LabelingProject, NearDupCluster, Source, Task,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def jpeg_bytes(width: int, height: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(max(1, height // 8), max(1, width // 8), 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((width, height))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def box(label: str, x0: float, y0: float, x1: float, y1: float, **extra: Any) -> dict[str, Any]:
    return {"type": "bbox", "x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1, "label": label, **extra}


def choice(label: str) -> dict[str, Any]:
    return {"type": "choice", "label": label}


class Factory:
    """Builds a small store: one source, projects, image/text samples and annotation revisions."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.session = store.sessions()
        self.ids = count(1)
        self.source = self.session.scalars(select(Source).where(Source.name == "demo-site")).first()
        if self.source is None:
            self.source = Source(name="demo-site")
            self.session.add(self.source)
            self.session.flush()
        self.ids = count(1 + 1000 * self.session.scalar(select(func.count()).select_from(Item)))

    def project(self, name: str = "proj", template: str = "image-bbox", labels: list[str] | None = None) -> LabelingProject:
        row = LabelingProject(name=name, template=template, labels=labels or ["cat", "dog"], label_config="<View/>")
        self.session.add(row)
        self.session.flush()
        return row

    def cluster(self) -> int:
        row = NearDupCluster()
        self.session.add(row)
        self.session.flush()
        return row.id

    def item(self, page_url: str | None = None, text: str | None = None, **fields: Any) -> Item:
        n = next(self.ids)
        page_url = page_url or f"http://127.0.0.1:8000/p/{n}"
        row = Item(
            source_id=self.source.id, canonical_url=f"{page_url}#{n}", page_url=page_url, fetched_at=T0,
            robots_decision="allowed", licence="CC-BY-4.0", attribution=f"author {n}", text=text, fields=fields,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def image(self, width: int = 64, height: int = 48, seed: int | None = None, cluster: int | None = None,
              phash: int | None = None, item: Item | None = None) -> Asset:
        data = jpeg_bytes(width, height, next(self.ids) if seed is None else seed)
        key = self.store.blobs.put(data)
        row = Asset(sha256=key, mime="image/jpeg", width=width, height=height, bytes=len(data), phash=phash,
                    blob_path=self.store.blobs.relpath(key), cluster_id=cluster)
        self.session.add(row)
        self.session.flush()
        item = item or self.item()
        self.session.add(ItemAsset(item_id=item.id, asset_id=row.id, url=f"http://127.0.0.1:8000/img/{key[:12]}.jpg",
                                   fetched_at=T0 + timedelta(minutes=1)))
        self.session.flush()
        return row

    def task(self, project: LabelingProject, asset: Asset | None = None, item: Item | None = None) -> Task:
        key = f"asset:{asset.id}" if asset is not None else f"item:{item.id}"
        row = Task(project_id=project.id, sample_key=key, asset_id=asset.id if asset else None,
                   item_id=item.id if item else None)
        self.session.add(row)
        self.session.flush()
        return row

    def annotate(self, task: Task, targets: list[dict[str, Any]], annotator: str = "ann@x", *,
                 ls_id: int | None = None, revision: int = 1, cancelled: bool = False,
                 ground_truth: bool = False, deleted: bool = False, minutes: int = 0) -> Annotation:
        row = Annotation(
            task_id=task.id, ls_annotation_id=ls_id if ls_id is not None else next(self.ids) + 10_000,
            revision=revision, annotator=annotator, updated_at=T0 + timedelta(minutes=minutes),
            was_cancelled=cancelled, ground_truth=ground_truth, deleted_at=T0 if deleted else None,
            targets=targets, result=[], result_hash=f"{next(self.ids):064d}",
        )
        self.session.add(row)
        self.session.flush()
        return row

    def sample(self, project: LabelingProject, targets: list[dict[str, Any]], annotator: str = "ann@x", **image: Any) -> Task:
        """An image sample with one annotation."""
        task = self.task(project, self.image(**image))
        self.annotate(task, targets, annotator)
        return task

    def text_sample(self, project: LabelingProject, text: str, targets: list[dict[str, Any]]) -> Task:
        task = self.task(project, item=self.item(text=text))
        self.annotate(task, targets)
        return task

    def commit(self) -> None:
        self.session.commit()

    def close(self) -> None:
        self.session.close()


def detection_project(store: Any, n: int = 20, name: str = "proj") -> Factory:
    """A committed project of `n` images with 1-2 boxes each, labels cat/dog/bird, some near-duplicates."""
    f = Factory(store)
    proj = f.project(name, labels=["cat", "dog", "bird"])
    shared = f.cluster()
    for i in range(n):
        label = ("cat", "dog", "bird")[i % 3]
        targets = [box(label, 2 + i % 5, 3, 30 + i % 7, 40.5)]
        if i % 4 == 0:
            targets.append(box("cat", 10, 10, 20.25, 22))
        f.sample(proj, targets, annotator=f"ann{i % 2}", cluster=shared if i < 3 else None,
                 width=64 + (i % 3) * 8, height=48)
    f.commit()
    return f
