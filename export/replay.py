"""The replay record of an export, and re-rendering one augmented copy from the export alone.

The manifest's ``augmentation`` section holds the policy text and the versions of the libraries that
render (harvest, albumentations, OpenCV, Pillow, numpy); each augmented sample holds its seed key, k,
seed, the applied transforms with their exact sampled parameters (``steps``, see ``augment.replay``), and
its source image's sha256 and targets. ``replay(export_dir, sample_id)`` finds the source image in the
export by that sha256, re-runs exactly those steps with those parameters (nothing is drawn again, the
policy text only supplies the transforms' settings) and compares the bytes with the exported file.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from export.errors import VerifyError
from export.manifest import MANIFEST


def seed_key(sha256: str | None) -> str:
    """What an original's augmentation seeds derive from: its content (see ``versions.content_key``)."""
    return f"sha256:{sha256}"


def library_versions() -> dict[str, str | None]:
    """Versions of everything that decides an augmented copy's bytes."""
    out: dict[str, str | None] = {}
    for name, dist in (("harvest", "harvest"), ("albumentations", "albumentations"), ("pillow", "Pillow"),
                       ("numpy", "numpy")):
        try:
            out[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import cv2

        out["opencv"] = cv2.__version__
    except ImportError:
        out["opencv"] = None
    return out


def replay_record(policy: tuple[str | None, dict[str, Any] | None], copies: int, tally: dict[str, int]) -> dict[str, Any]:
    """The manifest's ``augmentation`` section (None values when the version has no policy)."""
    text, record = policy
    return {"policy_text": text, "policy_syntax": (record or {}).get("syntax", "yaml") if text else None,
            "libraries": library_versions() if text else None, "copies": copies,
            "redrawn": tally.get("redrawn", 0), "not_emitted": tally.get("not_emitted", 0)}


@dataclass(frozen=True)
class Replayed:
    sample: str
    file: str
    expected_sha256: str
    replayed_sha256: str
    libraries_differ: dict[str, tuple[str | None, str | None]]

    @property
    def matches(self) -> bool:
        return self.expected_sha256 == self.replayed_sha256


def load_manifest(export_dir: str | Path) -> dict[str, Any]:
    path = Path(export_dir) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerifyError(f"{path} does not exist: expected an export directory written by `harvest dataset export`.") from None
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read {path} as JSON ({exc}); the manifest is damaged: export the version again.") from None


def replay(export_dir: str | Path, sample_id: str) -> Replayed:
    """Render augmented copy ``sample_id`` (e.g. "asset:12#aug0") again from the export and compare bytes."""
    from augment import parse_policy, render_steps
    from augment.errors import AugmentError

    root = Path(export_dir)
    manifest = load_manifest(root)
    section = manifest.get("augmentation") or {}
    samples = {s["id"]: s for s in manifest.get("samples", [])}
    record = samples.get(sample_id)
    if record is None or "replay" not in record:
        copies = sorted(k for k, s in samples.items() if "replay" in s)[:3]
        raise VerifyError(f"sample {sample_id!r} is not an augmented copy in {root / MANIFEST}; "
                          f"augmented copies look like {copies or 'none (this export has none)'}.")
    if not section.get("policy_text"):
        raise VerifyError(f"{root / MANIFEST} has no augmentation policy text; this export predates replay records.")
    files = {f["sha256"]: f["path"] for f in manifest.get("files", [])}
    rep = record["replay"]
    source, target = files.get(rep["source_sha256"]), files.get(record["sha256"])
    if source is None or target is None:
        missing = "source image" if source is None else "copy"
        raise VerifyError(f"the {missing} of {sample_id} is not among the export's files; the export is incomplete: "
                          "run `harvest dataset verify` on it.")
    steps = rep.get("steps")
    if not isinstance(steps, list) or not steps:
        raise VerifyError(f"the replay record of {sample_id} in {root / MANIFEST} lists no transforms with their "
                          "sampled parameters (an export made before they were recorded, or an altered record); "
                          "export the version again to get a replayable record.")
    policy = parse_policy(section["policy_text"], section.get("policy_syntax") or "yaml")
    try:
        result = render_steps(root / source, rep["source_targets"], policy, steps, int(record.get("seed") or 0))
    except AugmentError as exc:
        raise VerifyError(f"cannot replay {sample_id} from {root / MANIFEST}: {exc}") from None
    now = library_versions()
    differ = {k: (v, now.get(k)) for k, v in (section.get("libraries") or {}).items() if now.get(k) != v}
    return Replayed(sample_id, target, record["sha256"], hashlib.sha256(result.data).hexdigest(), differ)
