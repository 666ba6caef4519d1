"""Path traversal: blob keys that would leave the blob store and export directories with '..' or through a
symlink are refused with a clear message, and nothing is written outside."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select, update

from export import create_version, export_version
from export.errors import OutputPathError
from storage.blobs import BlobStore
from storage.errors import BlobKeyError
from storage.models import Export, VersionMember
from tests.export.factory import detection_project

EVIL_KEYS = ["../../etc/passwd", "/etc/passwd", "ab/../../../etc/passwd", "..", "",
             "../" + "a" * 61, "a" * 63 + "/", "A" * 64, "a" * 64 + "\x00"]


def snapshot(root) -> dict[str, float]:
    return {str(p): p.lstat().st_mtime for p in root.rglob("*")}


@pytest.mark.parametrize("key", EVIL_KEYS)
def test_blob_keys_that_leave_the_store_are_refused(tmp_path, key):
    blobs = BlobStore(tmp_path / "store" / "blobs")
    before = snapshot(tmp_path)
    for call in (blobs.path, blobs.exists, blobs.get, blobs.relpath):
        with pytest.raises(BlobKeyError, match="sha256"):
            call(key)
    if "\x00" not in key:  # see test_stored_blob_path_with_a_nul_byte_gets_a_blob_error
        with pytest.raises(BlobKeyError, match="inside"):
            blobs.resolve(key)
    assert snapshot(tmp_path) == before and not (tmp_path / "etc").exists()


def test_stored_blob_path_with_a_nul_byte_gets_a_blob_error(tmp_path):
    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(BlobKeyError, match="inside"):
        blobs.resolve("ab/cd/" + "a" * 64 + "\x00")


def test_a_tampered_blob_path_in_the_database_is_refused_before_any_read_or_write(sqlite_store, tmp_path):
    detection_project(sqlite_store, n=4)
    create_version(sqlite_store, "v1", "proj", seed=1)
    with sqlite_store.sessions.begin() as s:
        s.execute(update(VersionMember).where(VersionMember.id == s.scalar(select(func.min(VersionMember.id))))
                  .values(sha256="../../../../etc/passwd"))
    with pytest.raises(BlobKeyError):
        export_version(sqlite_store, "v1", "jsonl", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if ".harvest-tmp-" in p.name]


@pytest.fixture
def version(sqlite_store):
    detection_project(sqlite_store, n=4)
    create_version(sqlite_store, "v1", "proj", seed=1)
    return sqlite_store


def _exports(store) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(Export))


def test_export_output_dirs_with_dotdot_or_symlinks_are_refused(version, tmp_path, monkeypatch):
    work, outside = tmp_path / "work", tmp_path / "outside"
    (work / "sub").mkdir(parents=True)
    outside.mkdir()
    monkeypatch.chdir(work / "sub")
    (work / "link-to-outside").symlink_to(outside, target_is_directory=True)
    (work / "deep").mkdir()
    (work / "deep" / "hop").symlink_to(outside, target_is_directory=True)
    before = snapshot(tmp_path)
    refused = {
        "../../outside/escape": "'..'",  # relative, climbing out of the cwd
        str(work / "sub" / ".." / ".." / "outside" / "escape"): "'..'",
        str(work / "link-to-outside"): "symlink",  # the output dir itself is a symlink
        str(work / "link-to-outside" / "new"): "symlink",  # inside a symlinked directory
        str(work / "deep" / "hop" / "a" / "b"): "symlink",  # a symlink further up, parents to be created
    }
    for out, why in refused.items():
        with pytest.raises(OutputPathError, match=why) as info:
            export_version(version, "v1", "jsonl", out)
        assert "expected" in str(info.value) or "Choose" in str(info.value) or "Give" in str(info.value)
    assert snapshot(tmp_path) == before and list(outside.iterdir()) == []
    assert _exports(version) == 0
    ok = export_version(version, "v1", "jsonl", "fine")  # a plain relative path still works
    assert ok.path == work / "sub" / "fine" and os.path.realpath(ok.path) == str(ok.path)
    assert list(outside.iterdir()) == [] and _exports(version) == 1
