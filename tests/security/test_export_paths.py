"""An export is never written inside the blob store (directly, through a relative path or through a
symlinked alias of it), the refusal leaves nothing behind, and the export command reports progress."""
from __future__ import annotations

import os

import pytest

from export import export_version
from export.errors import OutputPathError
from tests.export.factory import detection_project


@pytest.fixture
def version(sqlite_store):
    detection_project(sqlite_store, n=6)
    from export import create_version

    create_version(sqlite_store, "v1", "proj", seed=1)
    return sqlite_store


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_export_inside_the_blob_store_is_refused(version, tmp_path, monkeypatch):
    blobs = version.blobs.root
    before = _tree(blobs)
    alias = tmp_path / "alias"
    os.symlink(blobs, alias)
    monkeypatch.chdir(blobs)
    for out in (blobs / "coco-out", blobs / "ab" / "deeper" / "x", "relative-out"):
        with pytest.raises(OutputPathError, match="inside the blob store"):
            export_version(version, "v1", "coco", out)
    with pytest.raises(OutputPathError):  # through a symlink: refused too (the symlink check names it)
        export_version(version, "v1", "coco", alias / "x")
    assert _tree(blobs) == before


def test_export_reports_progress_per_stage(version, tmp_path):
    seen: list[tuple[str, int, int | None]] = []
    r = export_version(version, "v1", "coco", tmp_path / "out", progress=lambda *a: seen.append(a))
    images = [s for s in seen if s[0] == "images"]
    assert images and images[-1][1] == images[-1][2] == r.samples  # every image placed, counted to the end
    assert [d for _, d, _ in images] == list(range(1, r.samples + 1))
