"""CSV and JSONL for any task (text included): one file per split, images under images/<split>/.

Each row has id, split, file (relative path, empty for text), width, height, text, labels and the
targets as canonical JSON.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from export.canonical import dumps
from export.formats.base import SPLITS, Context, Format, ReadSample, Sample, by_split, place_images, sha256_path
from storage.targets import TYPES, target_labels

COLUMNS = ("id", "split", "file", "width", "height", "text", "labels", "targets")


def _record(s: Sample) -> dict[str, Any]:
    return {
        "id": s.id, "split": s.split, "file": f"images/{s.split}/{s.file_name}" if s.file_name else None,
        "width": s.width, "height": s.height, "text": s.text, "labels": sorted(set(target_labels(s.targets))),
        "targets": s.targets,
    }


def _read_sample(root: Path, rec: dict[str, Any]) -> ReadSample:
    sha = sha256_path(root / rec["file"]) if rec.get("file") else None
    return ReadSample(rec["id"], rec["split"], rec["targets"], sha, rec.get("text"))


def write_jsonl(samples: list[Sample], out: Path, ctx: Context) -> None:
    place_images(samples, out, lambda s: f"images/{s.split}", ctx)
    for split, items in by_split(samples).items():
        if items:
            text = "".join(dumps(_record(s)) + "\n" for s in items)
            (out / f"{split}.jsonl").write_text(text, encoding="utf-8")


def read_jsonl(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        path = root / f"{split}.jsonl"
        if path.is_file():
            out += [_read_sample(root, json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    return out


def write_csv(samples: list[Sample], out: Path, ctx: Context) -> None:
    place_images(samples, out, lambda s: f"images/{s.split}", ctx)
    for split, items in by_split(samples).items():
        if not items:
            continue
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(COLUMNS)
        for s in items:
            rec = _record(s)
            rec["labels"] = ";".join(rec["labels"])
            rec["targets"] = dumps(rec["targets"])
            writer.writerow(["" if rec[c] is None else rec[c] for c in COLUMNS])
        (out / f"{split}.csv").write_text(buf.getvalue(), encoding="utf-8")


def read_csv(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        path = root / f"{split}.csv"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                rec = {**row, "targets": json.loads(row["targets"]), "text": row["text"] if row["file"] == "" else None}
                out.append(_read_sample(root, rec))
    return out


ALL = frozenset(TYPES)
FORMATS = [
    Format("csv", "CSV, one file per split (any task, text included)", ALL, write_csv, read_csv, text=True),
    Format("jsonl", "JSON Lines, one file per split (any task, text included)", ALL, write_jsonl, read_jsonl, text=True),
]
