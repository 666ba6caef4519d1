"""Hugging Face parquet: data/<split>-00000-of-00001.parquet and a README whose YAML header declares the
config, splits and features, so `datasets.load_dataset(EXPORT_DIR)` works with no arguments.

Columns follow the `datasets` detection and classification examples: `image` (Image), `label`
(ClassLabel; -1 when an image has no or several whole-image classes), `labels` (List(ClassLabel),
every whole-image class), `objects` with `bbox` ([x, y, width, height] in pixels, COCO style),
`category` (ClassLabel) and `area` for each box; `targets` keeps every internal target as JSON.
The feature description also goes into the schema metadata (key `huggingface`). Written with fixed
settings (zstd level 3, one row group, no page index) so the same version gives the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from export.canonical import dumps
from export.formats.base import SPLITS, Context, Format, ReadSample, Sample, by_split, sha256_bytes
from export.formats.hfcard import card_header, class_label, list_of, value
from storage.targets import TYPES


def features(classes: list[str]) -> dict[str, Any]:
    return {
        "id": value("string"),
        "image": {"_type": "Image"},
        "text": value("string"),
        "width": value("int32"),
        "height": value("int32"),
        "label": class_label(classes),
        "labels": list_of(class_label(classes)),
        "objects": {"bbox": list_of(list_of(value("float32"), 4)), "category": list_of(class_label(classes)),
                    "area": list_of(value("float32"))},
        "targets": value("string"),
    }


def schema(classes: list[str]) -> pa.Schema:
    return pa.schema([
        ("id", pa.string()),
        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("text", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("label", pa.int64()),
        ("labels", pa.list_(pa.int64())),
        ("objects", pa.struct([("bbox", pa.list_(pa.list_(pa.float32(), 4))), ("category", pa.list_(pa.int64())),
                               ("area", pa.list_(pa.float32()))])),
        ("targets", pa.string()),
    ]).with_metadata({"huggingface": json.dumps({"info": {"features": features(classes)}}, sort_keys=True)})


def _row(s: Sample, index: dict[str, int]) -> dict[str, Any]:
    chosen = sorted({index[t["label"]] for t in s.targets if t["type"] == "choice"})
    boxes = [t for t in s.targets if t["type"] == "bbox"]
    return {
        "id": s.id,
        "image": {"bytes": s.image_bytes(), "path": s.file_name} if s.file_name else None,
        "text": s.text,
        "width": s.width,
        "height": s.height,
        "label": chosen[0] if len(chosen) == 1 else -1,
        "labels": chosen,
        "objects": {"bbox": [[t["x_min"], t["y_min"], t["x_max"] - t["x_min"], t["y_max"] - t["y_min"]] for t in boxes],
                    "category": [index[t["label"]] for t in boxes],
                    "area": [(t["x_max"] - t["x_min"]) * (t["y_max"] - t["y_min"]) for t in boxes]},
        "targets": dumps(s.targets),
    }


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    (out / "data").mkdir(parents=True, exist_ok=True)
    index = {c: i for i, c in enumerate(ctx.classes)}
    splits: dict[str, tuple[str, int, int]] = {}
    for split, items in by_split(samples).items():
        if not items:
            continue
        name = f"data/{split}-00000-of-00001.parquet"
        table = pa.Table.from_pylist([_row(s, index) for s in items], schema=schema(ctx.classes))
        pq.write_table(
            table, out / name, compression="zstd", compression_level=3,
            row_group_size=max(1, len(items)), write_statistics=False, write_page_index=False,
            use_dictionary=False, store_schema=True,
        )
        splits[split] = (name, len(items), (out / name).stat().st_size)
    (out / "README.md").write_text(card_header(splits, features(ctx.classes)), encoding="utf-8")


def read(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        path = root / "data" / f"{split}-00000-of-00001.parquet"
        if not path.is_file():
            continue
        for row in pq.read_table(path).to_pylist():
            image = row["image"]
            out.append(ReadSample(row["id"], split, json.loads(row["targets"]),
                                  sha256_bytes(image["bytes"]) if image else None, row["text"]))
    return out


FORMATS = [Format("hf-parquet", "Hugging Face parquet: image, label/labels and objects as ClassLabel, all targets "
                  "as JSON (any task, text included)", frozenset(TYPES), write, read, text=True)]
