"""`harvest predictions import`: read a model's file, match its ids through the version's export, store."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluate import data, parse
from evaluate.errors import NoExport, PredictionFileError
from evaluate.mapping import ExportIndex, load_index, resolve_keys, store_keys
from storage import datasets as q

FORMATS = ("coco", "yolo", "jsonl")
NEEDS_EXPORT = {"coco": ("coco",), "yolo": ("yolo", "yolo-seg")}


@dataclass(frozen=True)
class ImportResult:
    model: str
    format: str
    samples: int
    targets: int
    export: str | None


def guess_format(path: Path) -> str:
    if path.is_dir() or path.suffix == ".txt":
        return "yolo"
    if path.suffix == ".jsonl":
        return "jsonl"
    if path.suffix == ".json":
        return "coco"
    raise PredictionFileError(f"cannot tell the format of {path}; pass --format with one of {', '.join(FORMATS)}.")


def find_export(store: Any, version: str, fmt: str, given: Path | None) -> ExportIndex:
    """The export whose ids the file uses (resolved to the store's sample keys)."""
    return resolve_keys(_find_export(store, version, fmt, given), store_keys(store, version))


def _find_export(store: Any, version: str, fmt: str, given: Path | None) -> ExportIndex:
    """`given`, else the newest recorded export in a matching format."""
    if given is not None:
        return load_index(Path(given))
    with store.sessions() as session:
        row = data.version_row(session, version)
        exports = [e for e in q.exports_of(session, row.id) if e.format in NEEDS_EXPORT[fmt]]
    for e in reversed(exports):
        if (Path(e.path) / "manifest.json").is_file():
            return load_index(Path(e.path))
    raise NoExport(f"{fmt} predictions name images and classes by the ids of an export, and version {version!r} has no "
                   f"{'/'.join(NEEDS_EXPORT[fmt])} export on disk; run `harvest dataset export {version} --format {fmt}` "
                   "and predict on it, or pass --export DIR.")


def import_predictions(store: Any, version: str, file: Path, model: str, fmt: str | None = None,
                       export: Path | None = None, split: str = "test") -> ImportResult:
    """Parse `file` completely, then store every sample's predictions for `model` in one transaction."""
    file = Path(file)
    if not file.exists():
        raise PredictionFileError(f"predictions file {file} does not exist.")
    if not model or len(model) > 200:
        raise PredictionFileError("--model needs a name of 1..200 characters (e.g. yolov8n-e50).")
    fmt = fmt or guess_format(file)
    if fmt not in FORMATS:
        raise PredictionFileError(f"format {fmt!r} is unknown; expected one of {', '.join(FORMATS)}.")
    members = data.members(store, version)
    by_key = {m.key: m for m in members}
    index = None
    if fmt == "jsonl":
        labels = ({t["label"] for m in members for t in m.targets if isinstance(t.get("label"), str)}
                  | data.project_labels(store, version)) or None
        # JSONL may also carry predictions for stored samples outside the version (unlabeled ones, for
        # `harvest label push --order uncertainty`)
        preds = parse.parse_jsonl(file, labels, set(by_key) | data.stored_keys(store))
    else:
        index = find_export(store, version, fmt, export)
        if fmt == "coco":
            preds = parse.parse_coco(file, index, split)
        else:
            sizes = {m.key: (m.width or 0, m.height or 0) for m in members}
            covered = [m.key for m in members if m.split == split or split == "all"]
            preds = parse.parse_yolo(file, index, sizes, covered)
    unknown = sorted(set(preds) - set(by_key)) if fmt != "jsonl" else []
    if unknown:
        raise PredictionFileError(f"{file} names {len(unknown)} samples that are not members of {version!r} "
                                  f"(e.g. {unknown[0]}); was the export made from another version?")
    n = data.store_predictions(store, version, model, preds, fmt, str(file))
    return ImportResult(model, fmt, n, sum(len(v) for v in preds.values()), str(index.root) if index else None)
