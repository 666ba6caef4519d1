"""Re-hash every blob of the store: report and quarantine mismatches, never delete; resumable.

A blob whose bytes no longer hash to its key is moved to ``<root>/.quarantine/<key>`` (so no export can
use it again, and nothing is lost). Progress is checkpointed in ``<root>/.verify-state.json`` every
few hundred blobs: an interrupted run started again with ``resume=True`` continues after the last
checkpointed key (blobs are visited in key order).
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from storage.blobs import BlobStore, hash_file

STATE = ".verify-state.json"
QUARANTINE = ".quarantine"
CHECKPOINT_EVERY = 256
_KEY = re.compile(r"^[0-9a-f]{64}$")
_SHARD = re.compile(r"^[0-9a-f]{2}$")


@dataclass
class VerifyReport:
    checked: int = 0
    skipped: int = 0  # already checked by the interrupted run this one resumed
    bytes: int = 0
    mismatches: list[dict[str, str]] = field(default_factory=list)  # key, found, quarantined_to
    resumed_after: str | None = None


def blob_keys(root: Path) -> Iterator[tuple[str, Path]]:
    """(key, path) of every blob under ``root/ab/cd/``, in key order (temp and quarantine folders skipped)."""
    for a in sorted(d for d in os.listdir(root) if _SHARD.match(d) and (root / d).is_dir()):
        for b in sorted(d for d in os.listdir(root / a) if _SHARD.match(d) and (root / a / d).is_dir()):
            for name in sorted(os.listdir(root / a / b)):
                if _KEY.match(name) and name.startswith(a + b):
                    yield name, root / a / b / name


def verify_blobs(blobs: BlobStore, resume: bool = False,
                 advance: Callable[[int], None] | None = None) -> VerifyReport:
    """Re-hash every blob; quarantine (move, never delete) each one whose bytes do not match its key."""
    root = blobs.root
    state_path = root / STATE
    report = VerifyReport()
    after = None
    if resume and state_path.is_file():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        after = state.get("last_key")
        report.resumed_after = after
        report.checked, report.bytes = state.get("checked", 0), state.get("bytes", 0)
        report.mismatches = list(state.get("mismatches", []))
    for i, (key, path) in enumerate(blob_keys(root)):
        if after is not None and key <= after:
            report.skipped += 1
            if advance:
                advance(1)
            continue
        found = hash_file(path)
        report.checked += 1
        report.bytes += path.stat().st_size
        if found != key:
            report.mismatches.append({"key": key, "found": found, "quarantined_to": str(_quarantine(root, key, path))})
        if advance:
            advance(1)
        if report.checked % CHECKPOINT_EVERY == 0:
            _save(state_path, key, report)
    state_path.unlink(missing_ok=True)  # a finished run leaves nothing to resume
    return report


def count_blobs(blobs: BlobStore) -> int:
    return sum(1 for _ in blob_keys(blobs.root))


def _quarantine(root: Path, key: str, path: Path) -> Path:
    folder = root / QUARANTINE
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = folder / f"{key}.{stamp}"
    os.replace(path, target)
    return target


def _save(state_path: Path, key: str, report: VerifyReport) -> None:
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"last_key": key, "checked": report.checked, "bytes": report.bytes,
                               "mismatches": report.mismatches}), encoding="utf-8")
    os.replace(tmp, state_path)
