"""manifest.json: every file with its sha256, and every sample's provenance, split and revisions."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from export.canonical import dumps, normalize, sha256_file

MANIFEST = "manifest.json"


def file_entries(root: Path, known: dict[str, str], workers: int = 1) -> list[dict[str, Any]]:
    """Sorted [{path, bytes, sha256}] for every file under root (known hashes are not recomputed)."""
    found = sorted(_walk(root, ""))
    found = [f for f in found if f[0] != MANIFEST]
    rels = [rel for rel, _ in found]
    sizes = [size for _, size in found]

    def digest(i: int) -> str:
        return known.get(rels[i]) or sha256_file(root / rels[i])

    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            hashes = list(pool.map(digest, range(len(rels))))
    else:
        hashes = [digest(i) for i in range(len(rels))]
    return [{"path": r, "bytes": n, "sha256": h} for r, n, h in zip(rels, sizes, hashes)]


def _walk(folder: Path, prefix: str) -> list[tuple[str, int]]:
    """(relative posix path, size) of every regular file below `folder` (one scandir per directory)."""
    out = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                out += _walk(Path(entry.path), f"{prefix}{entry.name}/")
            elif entry.is_file(follow_symlinks=False):
                out.append((prefix + entry.name, entry.stat(follow_symlinks=False).st_size))
    return out


def _sample_line(sample: dict[str, Any]) -> str:
    """One sample as canonical JSON. Only augmented samples carry floats: their report is rounded like the
    rest, their replay record is written exactly (its parameters must re-render the copy bit for bit)."""
    if "augment_report" not in sample:
        return dumps(sample, normalized=True)
    rest = normalize({k: v for k, v in sample.items() if k != "replay"})
    if "replay" in sample:
        rest["replay"] = sample["replay"]
    return dumps(rest, normalized=True)


def write_manifest(root: Path, header: dict[str, Any], samples: list[dict[str, Any]], known: dict[str, str],
                   workers: int = 1) -> tuple[Path, int]:
    """Write manifest.json; returns its path and how many files the export holds (itself included)."""
    files = file_entries(root, known, workers)
    lines = [f"{dumps(key)}: {dumps(value)}" for key, value in sorted(header.items())]
    lines.append('"files": [\n' + ",\n".join(dumps(f, normalized=True) for f in files) + "\n]")
    ordered = sorted(samples, key=lambda s: s["id"])
    lines.append('"samples": [\n' + ",\n".join(_sample_line(s) for s in ordered) + "\n]")
    path = root / MANIFEST
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")  # one JSON document, an entry per line
    return path, len(files) + 1
