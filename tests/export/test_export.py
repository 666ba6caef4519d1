"""Exporting versions from the DB: every format, manifest, data card, byte-identical re-runs, refusals, crashes."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from export import create_version, export_version
from export.canonical import sha256_file
from export.errors import FormatError, OutputPathError, VersionNotFound
from export.formats import get_format, registry
from export.formats.base import Format
from storage.models import Export
from tests.export.factory import Factory, detection_project

POLICY = textwrap.dedent("""\
    version: 1
    name: light-test
    transforms:
      - HorizontalFlip: {p: 0.5}
      - RandomBrightnessContrast: {brightness_limit: 0.2, contrast_limit: 0.2, p: 0.9}
    budget: {multiplier: 1, per_class: {bird: 2}}
""")


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def exports_count(store) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(Export))


@pytest.fixture
def version(sqlite_store):
    detection_project(sqlite_store, n=16)
    create_version(sqlite_store, "v1", "proj", seed=5)
    return sqlite_store


def test_export_writes_manifest_datacard_and_export_row(store, tmp_path):
    detection_project(store, n=10)
    create_version(store, "v1", "proj", seed=1)
    result = export_version(store, "v1", "coco", tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert result.manifest_sha256 == sha256_file(tmp_path / "out" / "manifest.json")
    for entry in manifest["files"]:
        assert sha256_file(tmp_path / "out" / entry["path"]) == entry["sha256"]
    assert {e["path"] for e in manifest["files"]} == set(tree(tmp_path / "out")) - {"manifest.json"}
    assert len(manifest["samples"]) == 10
    s = manifest["samples"][0]
    assert s["source_url"].startswith("http://127.0.0.1:8000/img/") and s["page_url"] and s["fetched_at"]
    assert s["licence"] == "CC-BY-4.0" and s["robots_decision"] == "allowed" and s["annotators"] and s["annotations"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## Leakage audit" in card and "CC-BY-4.0" in card and "| cat |" in card
    with store.sessions() as sess:
        row = sess.scalars(select(Export)).one()
    assert (row.format, row.path, row.manifest_sha256) == ("coco", str(tmp_path / "out"), result.manifest_sha256)
    assert not [p for p in tmp_path.iterdir() if ".harvest-tmp-" in p.name]
    sha_of = {e["path"]: e["sha256"] for e in manifest["files"]}
    images = list((tmp_path / "out" / "images").rglob("*.jpg"))
    assert len(images) == 10
    for image in images:  # originals are copies (or reflinks), never hard links into the blob store
        rel = image.relative_to(tmp_path / "out").as_posix()
        blob = store.blobs.path(sha_of[rel])
        assert image.stat().st_ino != blob.stat().st_ino and blob.stat().st_nlink == 1
        assert hashlib.sha256(image.read_bytes()).hexdigest() == sha_of[rel] == blob.name


@pytest.mark.parametrize("fmt", sorted(set(registry()) - {"imagefolder", "yolo-seg"}))
def test_every_format_round_trips_and_reexports_identically(version, tmp_path, fmt):
    a = export_version(version, "v1", fmt, tmp_path / "a")
    b = export_version(version, "v1", fmt, tmp_path / "b", workers=3)
    assert tree(a.path) == tree(b.path)
    f = get_format(fmt)
    back = {r.id: r for r in f.read(a.path)}
    manifest = json.loads((a.path / "manifest.json").read_text())
    assert sorted(back) == sorted(s["id"] for s in manifest["samples"])
    assert {r.split for r in back.values()} <= {"train", "val", "test"}
    for s in manifest["samples"]:
        assert back[s["id"]].split == s["split"] and back[s["id"]].image_sha256 == s["sha256"]


def test_imagefolder_export_of_classification(sqlite_store, tmp_path):
    f = Factory(sqlite_store)
    p = f.project(template="image-classification")
    for i in range(6):
        f.sample(p, [{"type": "choice", "label": "cat" if i % 2 else "dog"}])
    f.commit()
    create_version(sqlite_store, "cls", "proj")
    out = export_version(sqlite_store, "cls", "imagefolder", tmp_path / "out").path
    assert sorted(p.parent.name for p in out.glob("*/*/*.jpg")).count("cat") == 3
    with pytest.raises(FormatError, match="holds choice targets"):
        detection_project(sqlite_store, n=2, name="det")
        create_version(sqlite_store, "det1", "det")
        export_version(sqlite_store, "det1", "imagefolder", tmp_path / "det")
    assert not (tmp_path / "det").exists()


def test_text_versions_export_to_text_formats_only(sqlite_store, tmp_path):
    f = Factory(sqlite_store)
    p = f.project(template="text-classification", labels=["pos", "neg"])
    for i in range(5):
        f.text_sample(p, f"text number {i}", [{"type": "choice", "label": "pos" if i % 2 else "neg"}])
    f.commit()
    create_version(sqlite_store, "t", "proj")
    out = export_version(sqlite_store, "t", "jsonl", tmp_path / "j").path
    rows = [json.loads(line) for sp in ("train", "val", "test") if (out / f"{sp}.jsonl").exists()
            for line in (out / f"{sp}.jsonl").read_text().splitlines()]
    assert sorted(r["text"] for r in rows) == [f"text number {i}" for i in range(5)]
    with pytest.raises(FormatError, match="images only"):
        export_version(sqlite_store, "t", "voc", tmp_path / "v")


def test_refuses_existing_dir_traversal_and_symlinks(version, tmp_path, monkeypatch):
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputPathError, match="there already"):
        export_version(version, "v1", "jsonl", tmp_path / "taken")
    with pytest.raises(OutputPathError, match=r"'\.\.'"):
        export_version(version, "v1", "jsonl", tmp_path / "a" / ".." / ".." / "escape")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "inside").mkdir()
    (tmp_path / "inside" / "link").symlink_to(outside)
    with pytest.raises(OutputPathError, match="symlink"):
        export_version(version, "v1", "jsonl", tmp_path / "inside" / "link" / "out")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputPathError, match="symlink"):
        export_version(version, "v1", "jsonl", tmp_path / "dangling")
    with pytest.raises(VersionNotFound):
        export_version(version, "nope", "jsonl", tmp_path / "x")
    assert list(outside.iterdir()) == [] and not (tmp_path / "nowhere").exists()
    assert exports_count(version) == 0


def test_crash_in_writer_leaves_nothing(version, tmp_path, monkeypatch):
    real = get_format("coco")

    def half_then_fail(samples, out, ctx):
        real.write(samples[: len(samples) // 2], out, ctx)
        assert any(out.rglob("*.jpg"))
        raise RuntimeError("disk on fire")

    broken = Format(**{**real.__dict__, "write": half_then_fail})
    monkeypatch.setattr("export.exporter.get_format", lambda name: broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_version(version, "v1", "coco", tmp_path / "out")
    assert not [p for p in tmp_path.iterdir() if p.name == "out" or ".harvest-tmp-" in p.name]
    assert exports_count(version) == 0


KILLED = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from harvest.settings import load_settings
    from harvest.store import open_store
    import export.exporter as ex
    from export.formats import get_format
    from export.formats.base import Format
    real = get_format("jsonl")
    def slow(samples, out, ctx):
        real.write(samples[:3], out, ctx)
        Path(sys.argv[3]).write_text("half")
        time.sleep(120)
    ex.get_format = lambda name: Format(**{**real.__dict__, "write": slow})
    store = open_store(load_settings(None, data_dir=sys.argv[1], database_url=sys.argv[2]))
    ex.export_version(store, "v1", "jsonl", sys.argv[4])
""")


def test_sigkill_mid_export_then_rerun_completes(version, tmp_path):
    settings = version.settings
    ready, out = tmp_path / "ready", tmp_path / "exports" / "out"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(settings.data_dir), settings.database_url,
                             str(ready), str(out)], cwd=Path(__file__).resolve().parents[2])
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "the export subprocess died before reaching the writer"
        assert time.monotonic() < deadline, "the export subprocess never reached the writer"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    leftovers = sorted(p.name for p in out.parent.iterdir())
    assert not out.exists() and len(leftovers) == 2 and all(".harvest-tmp-" in n for n in leftovers)  # dir + lock
    result = export_version(version, "v1", "jsonl", out)
    assert result.path == out and (out / "manifest.json").is_file()
    assert list(out.parent.iterdir()) == [out]
    assert exports_count(version) == 1


def test_augmented_train_copies_with_provenance(sqlite_store, tmp_path):
    detection_project(sqlite_store, n=12)
    v = create_version(sqlite_store, "aug", "proj", seed=7, policy_text=POLICY)
    assert v.policy["sha256"] and v.policy_text == POLICY
    a = export_version(sqlite_store, "aug", "coco", tmp_path / "a")
    b = export_version(sqlite_store, "aug", "coco", tmp_path / "b", workers=2)
    assert tree(a.path) == tree(b.path)
    manifest = json.loads((a.path / "manifest.json").read_text())
    originals = {s["id"]: s for s in manifest["samples"] if "augmented_from" not in s}
    copies = [s for s in manifest["samples"] if "augmented_from" in s]
    assert copies and a.augmented == len(copies)
    assert all(s["split"] == "train" and originals[s["augmented_from"]]["split"] == "train" for s in copies)
    assert {s["policy_sha256"] for s in copies} == {v.policy["sha256"]}
    assert len({s["seed"] for s in copies}) == len(copies)
    birds = [s for s in originals.values() if s["split"] == "train" and "bird" in s["labels"]]
    assert sum(1 for s in copies if s["augmented_from"] in {b["id"] for b in birds}) == 2 * len(birds)
    assert "augmented copies of" in (a.path / "README.md").read_text()


def test_manifest_uses_provenance_frozen_with_the_version(version, tmp_path):
    from storage.models import Item

    with version.sessions() as s:
        for item in s.query(Item):
            item.licence = "changed after the version"
        s.commit()
    out = export_version(version, "v1", "jsonl", tmp_path / "out").path
    licences = {s["licence"] for s in json.loads((out / "manifest.json").read_text())["samples"]}
    assert licences == {"CC-BY-4.0"}


def test_clean_stale_spares_live_exports_and_removes_dead_ones(tmp_path):
    from export.paths import clean_stale, locked_temp_dir

    out = tmp_path / "out"
    dead = tmp_path / ".out.harvest-tmp-999999-deadbeef"
    (dead / "images").mkdir(parents=True)
    (tmp_path / (dead.name + ".lock")).touch()  # nobody holds it: its process was killed
    orphan = tmp_path / ".out.harvest-tmp-999998-cafecafe"
    orphan.mkdir()
    other = tmp_path / ".other.harvest-tmp-1-00000000"
    other.mkdir()
    with locked_temp_dir(out) as live:
        assert sorted(clean_stale(out)) == sorted([dead, orphan])
        assert live.is_dir() and other.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]
