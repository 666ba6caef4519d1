"""Run inside the datumaro consumer venv: import a harvest export with datumaro, print counts as JSON.

usage: datumaro_load.py DATUMARO_FORMAT ROOT. Warnings (Python warnings and datumaro's log warnings) are
listed under "warnings" and printed as lines starting with WARNING.
"""
from __future__ import annotations

import json
import logging
import sys
import warnings
from collections import Counter, defaultdict

fmt, root = sys.argv[1], sys.argv[2]
caught: list[str] = []
warnings.showwarning = lambda message, category, *a, **k: caught.append(f"{category.__name__}: {message}")


class Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            caught.append(record.getMessage())


logging.getLogger().addHandler(Collect())

import datumaro as dm  # noqa: E402

ds = dm.Dataset.import_from(root, fmt)
labels = [c.name for c in ds.categories()[dm.AnnotationType.label].items]
splits: dict[str, dict[str, object]] = defaultdict(lambda: {"items": 0, "annotations": Counter()})
for item in ds:
    row = splits[item.subset]
    row["items"] += 1
    for ann in item.annotations:
        row["annotations"][ann.type.name] += 1
    if item.media is not None and hasattr(item.media, "size"):
        assert item.media.size is not None
print(json.dumps({"labels": labels, "splits": {k: {"items": v["items"], "annotations": dict(v["annotations"])}
                                              for k, v in splits.items()}, "warnings": caught}))
for line in caught:
    print("WARNING", line, file=sys.stderr)
