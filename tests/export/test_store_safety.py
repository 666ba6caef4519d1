"""Exports cannot corrupt the store, and corruption is found: copies by default, hashes read not trusted,
`harvest store verify` quarantines, `harvest dataset verify` re-hashes, `harvest dataset replay` re-renders."""
from __future__ import annotations

import hashlib
import json
import textwrap

import pytest

from export import create_version, export_version
from export.errors import FormatError, VerifyError
from export.replay import replay
from export.verify import verify_export
from storage.verify import QUARANTINE, STATE, verify_blobs
from tests.export.factory import detection_project

POLICY = textwrap.dedent("""\
    version: 1
    name: three
    transforms:
      - HorizontalFlip: {p: 0.5}
      - Affine: {rotate: [-10, 10], p: 0.5}
      - RandomBrightnessContrast: {p: 0.5}
    budget: {multiplier: 2}
""")


@pytest.fixture
def version(sqlite_store):
    detection_project(sqlite_store, n=12)
    create_version(sqlite_store, "v1", "proj", seed=5, policy_text=POLICY)
    return sqlite_store


def _images(root):
    return sorted(p for p in (root / "images").rglob("*") if p.is_file())


def _blob_hashes(store):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in store.blobs.root.rglob("*")
            if p.is_file() and len(p.name) == 64}


def test_editing_a_default_export_leaves_the_store_unchanged(version, tmp_path):
    before = _blob_hashes(version)
    export_version(version, "v1", "coco", tmp_path / "a")
    for image in _images(tmp_path / "a"):
        with image.open("ab") as fh:
            fh.write(b"\x00")
    assert _blob_hashes(version) == before and all(k == v for k, v in before.items())
    export_version(version, "v1", "coco", tmp_path / "b")  # the next export is clean and its manifest true
    assert verify_export(tmp_path / "b").ok
    check = verify_export(tmp_path / "a")
    assert len(check.changed) == len(_images(tmp_path / "a")) and not check.missing
    assert all(c["bytes"] == c["listed_bytes"] + 1 for c in check.changed)


def test_link_export_shares_inodes_and_a_corrupt_blob_stops_the_next_export(version, tmp_path):
    export_version(version, "v1", "coco", tmp_path / "a", link=True)
    originals = [p for p in _images(tmp_path / "a") if "-aug" not in p.name]
    assert originals and all(p.stat().st_nlink >= 2 for p in originals)
    with originals[0].open("ab") as fh:  # the risk --link states: this edits the stored blob
        fh.write(b"\x00")
    for link in (False, True):
        with pytest.raises(FormatError, match="no longer hashes to its key.*harvest store verify"):
            export_version(version, "v1", "coco", tmp_path / f"b{link}", link=link)
        assert not (tmp_path / f"b{link}").exists()


def test_store_verify_quarantines_mismatches_never_deletes_and_resumes(version, tmp_path, monkeypatch):
    blobs = sorted(p for p in version.blobs.root.rglob("*") if p.is_file() and len(p.name) == 64)
    total = len(blobs)
    damaged = blobs[len(blobs) // 2]
    damaged.write_bytes(damaged.read_bytes() + b"!")
    bad_bytes = damaged.read_bytes()
    import storage.verify as sv

    monkeypatch.setattr(sv, "CHECKPOINT_EVERY", 3)
    seen = []

    def stop_after_five(n):
        seen.append(n)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify_blobs(version.blobs, advance=stop_after_five)
    state = json.loads((version.blobs.root / STATE).read_text())
    assert state["checked"] == 3
    report = verify_blobs(version.blobs, resume=True)
    assert report.skipped == 3 and report.checked == total and report.resumed_after == state["last_key"]
    assert [m["key"] for m in report.mismatches] == [damaged.name]
    quarantined = list((version.blobs.root / QUARANTINE).iterdir())
    assert len(quarantined) == 1 and quarantined[0].read_bytes() == bad_bytes and not damaged.exists()
    assert not (version.blobs.root / STATE).exists()
    assert verify_blobs(version.blobs).mismatches == []  # clean now; nothing else moved
    with pytest.raises(FormatError, match="missing from the blob store"):
        export_version(version, "v1", "coco", tmp_path / "out")


def test_replay_rerenders_every_augmented_copy_from_the_export_alone(version, tmp_path):
    export_version(version, "v1", "coco", tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    section = manifest["augmentation"]
    assert section["policy_text"] == POLICY and set(section["libraries"]) == {"harvest", "albumentations", "opencv",
                                                                             "pillow", "numpy"}
    copies = [s for s in manifest["samples"] if "replay" in s]
    assert copies and section["copies"] == len(copies) and section["not_emitted"] == 0
    assert all(s["augment_report"]["applied"] and s["augment_report"]["params"] for s in copies)
    moved = tmp_path / "moved"
    (tmp_path / "a").rename(moved)  # nothing but the export directory is needed
    for s in copies:
        r = replay(moved, s["id"])
        assert r.matches and r.replayed_sha256 == s["sha256"] and not r.libraries_differ
    with pytest.raises(VerifyError, match="not an augmented copy"):
        replay(moved, "asset:999#aug0")
    redrawn = sum(1 for s in copies if s["augment_report"]["redrawn"])
    assert section["redrawn"] == redrawn and f"{redrawn} copies were re-drawn" in (moved / "README.md").read_text()


def _rewrite(root, change):
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _params(step):
    return {k: v for k, v in step["params"]["__dict__"]}


def test_replay_uses_the_recorded_parameters_and_a_tampered_record_fails(version, tmp_path):
    from harvest.cli import app
    from typer.testing import CliRunner

    export_version(version, "v1", "coco", tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    copies = [s for s in manifest["samples"] if "replay" in s]
    lit = next(s for s in copies if any(st["name"] == "RandomBrightnessContrast" for st in s["replay"]["steps"]))
    sid = lit["id"]
    steps = lit["replay"]["steps"]
    assert [st["name"] for st in steps] == lit["augment_report"]["applied"]
    assert all(isinstance(st["params"], dict) and "__dict__" in st["params"] for st in steps)

    def find(m):
        return next(s for s in m["samples"] if s["id"] == sid)

    # the seeds in the record are not what replays the copy: its recorded steps are
    _rewrite(tmp_path / "a", lambda m: find(m).update(seed=find(m)["seed"] + 1))
    assert replay(tmp_path / "a", sid).matches

    def brighter(m):
        step = next(st for st in find(m)["replay"]["steps"] if st["name"] == "RandomBrightnessContrast")
        pairs = step["params"]["__dict__"]
        for pair in pairs:
            if pair[0] == "beta":
                pair[1] = pair[1] + 0.25
        assert _params(step)["beta"] != 0

    _rewrite(tmp_path / "a", brighter)
    r = replay(tmp_path / "a", sid)
    assert not r.matches and r.expected_sha256 == lit["sha256"]
    got = CliRunner().invoke(app, ["dataset", "replay", str(tmp_path / "a"), sid])
    assert got.exit_code == 1 and "differs" in got.output

    def renamed(m):
        find(m)["replay"]["steps"][0]["name"] = "Blur"

    _rewrite(tmp_path / "a", renamed)
    with pytest.raises(VerifyError, match="do not belong together"):
        replay(tmp_path / "a", sid)
    _rewrite(tmp_path / "a", lambda m: find(m)["replay"].pop("steps"))
    with pytest.raises(VerifyError, match="lists no transforms"):
        replay(tmp_path / "a", sid)
    _rewrite(tmp_path / "a", lambda m: find(m)["replay"].update(steps=[{"path": "0"}]))
    with pytest.raises(VerifyError, match="expected path, name, seed and params"):
        replay(tmp_path / "a", sid)
