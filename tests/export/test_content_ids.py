"""Reproducible from content: the same crawled bytes, annotations and seed give the same version and
byte-identical exports in every format, whatever order the store received them in (so whatever ids
the database gave them)."""
from __future__ import annotations

import hashlib
import shutil
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from export import create_version, export_version
from export.formats import registry
from storage.models import Annotation, Asset, Item, ItemAsset, LabelingProject, NearDupCluster, Source, Task
from tests.conftest import make_settings
from tests.export.factory import T0, box, choice, jpeg_bytes

POLICY = textwrap.dedent("""\
    version: 1
    name: order-test
    transforms:
      - HorizontalFlip: {p: 0.5}
      - RandomBrightnessContrast: {brightness_limit: 0.2, contrast_limit: 0.2, p: 0.5}
    budget: {multiplier: 1}
""")
N_IMAGES, N_TEXTS = 14, 5
TEXTS = [f"text number {i}: a {('cat', 'dog')[i % 2]} sat here" for i in range(N_TEXTS)]


def image_targets(i: int) -> list[dict[str, Any]]:
    label = ("cat", "dog", "bird")[i % 3]
    out = [choice(label), box(label, 2 + i % 5, 3, 30 + i % 7, 40.5)]
    if i % 3 == 0:
        out.append(box("cat", 10, 10, 20.25, 22))
    if i % 4 == 1:
        out.append({"type": "polygon", "points": [[2, 2], [30.5, 4 + i], [20, 35], [3, 30]], "label": label})
    return out


def text_targets(i: int) -> list[dict[str, Any]]:
    return [choice(("neg", "pos")[i % 2]), {"type": "span", "start": 0, "end": 4, "label": "subject",
                                            "text": TEXTS[i][:4]}]


class Builder:
    """Writes the same content into a store; `decoys` rows first shift every database id."""

    def __init__(self, store: Any) -> None:
        self.store, self.s = store, store.sessions()
        self.source = Source(name="demo-site")
        self.s.add(self.source)
        self.s.flush()

    def add(self, row: Any) -> Any:
        self.s.add(row)
        self.s.flush()
        return row

    def item(self, n: int, text: str | None = None) -> Item:
        url = f"http://127.0.0.1:8000/p/{n}"
        return self.add(Item(source_id=self.source.id, canonical_url=url, page_url=url, fetched_at=T0,
                             robots_decision="allowed", licence="CC-BY-4.0", attribution=f"author {n}", text=text))

    def asset(self, n: int, item: Item, cluster: int | None = None) -> Asset:
        data = jpeg_bytes(64 + (n % 3) * 8, 48, seed=n)
        key = self.store.blobs.put(data)
        asset = self.add(Asset(sha256=key, mime="image/jpeg", width=64 + (n % 3) * 8, height=48, bytes=len(data),
                               blob_path=self.store.blobs.relpath(key), cluster_id=cluster))
        self.add(ItemAsset(item_id=item.id, asset_id=asset.id, url=f"http://127.0.0.1:8000/img/{n}.jpg",
                           fetched_at=T0 + timedelta(minutes=1)))
        return asset

    def annotate(self, task: Task, targets: list[dict[str, Any]], ls_id: int, annotator: str) -> None:
        self.add(Annotation(task_id=task.id, ls_annotation_id=ls_id, revision=1, annotator=annotator,
                            updated_at=T0 + timedelta(minutes=ls_id % 7), targets=targets, result=[],
                            result_hash=f"{ls_id:064d}"))

    def build(self, order: list[int], decoys: int) -> None:
        det = self.add(LabelingProject(name="det", template="image-bbox", labels=["cat", "dog", "bird"],
                                       label_config="<View/>"))
        txt = self.add(LabelingProject(name="txt", template="text-classification", labels=["neg", "pos", "subject"],
                                       label_config="<View/>"))
        for d in range(decoys):  # crawled earlier, never labeled: only moves ids along
            self.asset(1000 + d, self.item(1000 + d))
            self.add(NearDupCluster())
        cluster = self.add(NearDupCluster()).id
        for n in order:
            if n < N_IMAGES:
                asset = self.asset(n, self.item(n), cluster if n in (2, 3) else None)
                task = self.add(Task(project_id=det.id, sample_key=f"asset:{asset.id}", asset_id=asset.id))
                self.annotate(task, image_targets(n), 500 + n, f"ann{n % 2}")
            else:
                i = n - N_IMAGES
                item = self.item(100 + i, TEXTS[i])
                task = self.add(Task(project_id=txt.id, sample_key=f"item:{item.id}", item_id=item.id))
                self.annotate(task, text_targets(i), 700 + i, "ann0")
        self.s.commit()
        self.s.close()


def tree_hash(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def open_built(tmp: Path, template: Path, order: list[int], decoys: int) -> Any:
    from harvest.store import open_store

    tmp.mkdir()
    shutil.copyfile(template, tmp / "harvest.db")
    store = open_store(make_settings(tmp, f"sqlite:///{tmp / 'harvest.db'}"))
    Builder(store).build(order, decoys)
    return store


@pytest.fixture
def two_stores(tmp_path, sqlite_template):
    everything = list(range(N_IMAGES + N_TEXTS))
    backwards = everything[::-1]
    backwards = backwards[1::2] + backwards[0::2]  # another arrival order altogether
    a = open_built(tmp_path / "a", sqlite_template, everything, decoys=0)
    b = open_built(tmp_path / "b", sqlite_template, backwards, decoys=7)
    yield a, b
    a.close()
    b.close()


def test_same_content_in_another_order_gives_the_same_version_and_export_bytes(two_stores, tmp_path):
    a, b = two_stores
    with a.sessions() as sa, b.sessions() as sb:  # the database ids really differ
        keys_a = {t.sample_key for t in sa.query(Task)}
        keys_b = {t.sample_key for t in sb.query(Task)}
    assert len(keys_a) == len(keys_b) == N_IMAGES + N_TEXTS and keys_a != keys_b

    hashes = []
    for store in (a, b):
        det = create_version(store, "v1", "det", seed=3, policy_text=POLICY)
        txt = create_version(store, "t1", "txt", seed=3)
        hashes.append((det.content_hash, txt.content_hash))
    assert hashes[0] == hashes[1]

    checked = []
    for fmt in sorted(registry()):
        spec = registry()[fmt]
        for version in (["v1", "t1"] if spec.text else ["v1"]):
            trees = []
            for label, store in (("a", a), ("b", b)):
                out = tmp_path / f"{label}-{fmt}-{version}"
                export_version(store, version, fmt, out)
                trees.append(tree_hash(out))
            assert trees[0] == trees[1], (fmt, version, sorted(set(trees[0].items()) ^ set(trees[1].items()))[:4])
            checked.append((fmt, version))
    assert len(checked) == len(registry()) + 4
    manifest = (tmp_path / "a-coco-v1" / "manifest.json").read_text()
    assert '"asset:' not in manifest and '"item:' not in manifest  # no database id in the bytes
    augmented = [p for p in (tmp_path / "a-coco-v1" / "images" / "train").iterdir() if "-aug" in p.name]
    assert augmented  # the policy's copies are part of what is compared


def test_file_names_come_from_content_ids_and_invert():
    from export.errors import FormatError
    from export.formats.base import file_name_for, id_from_file_name

    sha = hashlib.sha256(b"x").hexdigest()
    assert file_name_for(f"sha256:{sha}", sha, "jpg") == f"{sha}.jpg"
    assert file_name_for(f"sha256:{sha}#aug3", "0" * 64, "png") == f"{sha}-aug3.png"
    for sid in (f"sha256:{sha}", f"sha256:{sha}#aug0", f"sha256:{sha}#aug12"):
        assert id_from_file_name(file_name_for(sid, "ab" * 32, "jpg")) == sid
    assert id_from_file_name("asset-12-aug1_0123abcd.jpg") == "asset:12#aug1"  # an export made before content ids
    with pytest.raises(FormatError, match="as harvest writes it"):
        id_from_file_name("holiday.jpg")
