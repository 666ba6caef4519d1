"""Hugging Face parquet: data/<split>-00000-of-00001.parquet with images as `Image` features.

The Hugging Face feature description goes into the schema metadata (key `huggingface`), so
`datasets.load_dataset("parquet", data_files=...)` decodes the image column. Written with fixed
settings (zstd level 3, one row group, no page index) so the same version gives the same bytes.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from export.canonical import dumps
from export.formats.base import SPLITS, Context, Format, ReadSample, Sample, by_split, sha256_bytes
from storage.targets import TYPES, target_labels

FEATURES = {
    "id": {"dtype": "string", "_type": "Value"},
    "image": {"_type": "Image"},
    "text": {"dtype": "string", "_type": "Value"},
    "width": {"dtype": "int32", "_type": "Value"},
    "height": {"dtype": "int32", "_type": "Value"},
    "labels": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
    "targets": {"dtype": "string", "_type": "Value"},
}
SCHEMA = pa.schema([
    ("id", pa.string()),
    ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    ("text", pa.string()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("labels", pa.list_(pa.string())),
    ("targets", pa.string()),
]).with_metadata({"huggingface": json.dumps({"info": {"features": FEATURES}}, sort_keys=True)})


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, items in by_split(samples).items():
        if not items:
            continue
        columns = {
            "id": [s.id for s in items],
            "image": [{"bytes": s.image_bytes(), "path": s.file_name} if s.file_name else None for s in items],
            "text": [s.text for s in items],
            "width": [s.width for s in items],
            "height": [s.height for s in items],
            "labels": [sorted(set(target_labels(s.targets))) for s in items],
            "targets": [dumps(s.targets) for s in items],
        }
        table = pa.Table.from_pydict(columns, schema=SCHEMA)
        pq.write_table(
            table, out / "data" / f"{split}-00000-of-00001.parquet", compression="zstd", compression_level=3,
            row_group_size=max(1, len(items)), write_statistics=False, write_page_index=False,
            use_dictionary=False, store_schema=True,
        )


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


FORMATS = [Format("hf-parquet", "Hugging Face parquet with Image features (any task, text included)",
                  frozenset(TYPES), write, read, text=True)]
