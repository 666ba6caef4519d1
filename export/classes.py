"""Class ids of an export, and what a format cannot hold.

Class ids follow the project's label order (the order labels were added), so they stay fixed across
versions: a label added later gets the next id at the end. Labels found in the data but not in the
project's label set come after those, sorted. Keypoint point names are not classes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any


def class_order(project_labels: Iterable[str] | None, targets: Iterable[dict[str, Any]], kinds: frozenset[str]) -> list[str]:
    """The export's classes, index = class id: the project's labels that this format can use, then extras."""
    held: set[str] = set()
    other: set[str] = set()
    point_names: set[str] = set()
    for t in targets:
        label = t.get("label")
        if t["type"] == "keypoints":
            point_names.update(t.get("labels") or [])
        if isinstance(label, str):
            (held if t["type"] in kinds else other).add(label)
    project = [label for label in dict.fromkeys(project_labels or [])
               if label in held or (label not in other and label not in point_names)]
    return project + sorted(held - set(project))


def left_out(targets_per_sample: Iterable[list[dict[str, Any]]], kinds: frozenset[str],
             rotated: bool = False) -> dict[str, dict[str, int]]:
    """{target type: {"targets": n, "samples": m}} for every target type the format cannot hold
    (with `rotated`, the corner polygon of a rotated box counts as part of its box)."""
    targets: Counter = Counter()
    samples: Counter = Counter()
    for sample_targets in targets_per_sample:
        corners = _rotated_polygons(sample_targets) if rotated else set()
        missing = [t["type"] for i, t in enumerate(sample_targets) if t["type"] not in kinds and i not in corners]
        targets.update(missing)
        samples.update(set(missing))
    return {kind: {"targets": targets[kind], "samples": samples[kind]} for kind in sorted(targets)}


def describe_left_out(fmt: str, dropped: dict[str, dict[str, int]]) -> str:
    parts = [f"{v['targets']} {kind} target(s) on {v['samples']} sample(s)" for kind, v in dropped.items()]
    return f"format {fmt!r} cannot hold " + "; ".join(parts)


def _rotated_polygons(targets: list[dict[str, Any]]) -> set[int]:
    boxed = {t.get("instance") for t in targets if t["type"] == "bbox" and t.get("instance") is not None}
    return {i for i, t in enumerate(targets)
            if t["type"] == "polygon" and len(t.get("points", [])) == 4 and t.get("instance") in boxed}
