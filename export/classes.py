"""Class ids of an export, and what a format cannot hold.

Class ids follow the project's label order (the order labels were added), so they stay fixed across
versions: a label added later gets the next id at the end. Labels found in the data but not in the
project's label set come after those, sorted. Keypoint point names are not classes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from export.formats.base import rotated_corners


def class_order(project_labels: Iterable[str] | None, targets: Iterable[dict[str, Any]], kinds: frozenset[str],
                point_names: Iterable[str] = ()) -> list[str]:
    """The export's classes, index = class id: every project label (used or not, whatever target type uses
    it, so ids never depend on the data), then labels the format holds that the project lacks, sorted.
    Declared keypoint point names (the policy's `labels.keypoints`, a keypoint project's labels) are not
    classes unless a target uses one as its object label."""
    points = set(point_names)
    held = {t["label"] for t in targets if t["type"] in kinds and isinstance(t.get("label"), str)}
    project = [label for label in dict.fromkeys(project_labels or []) if label not in points or label in held]
    return project + sorted(held - set(project))


def left_out(targets_per_sample: Iterable[list[dict[str, Any]]], kinds: frozenset[str],
             rotated: bool = False) -> dict[str, dict[str, int]]:
    """{target type: {"targets": n, "samples": m}} for every target type the format cannot hold
    (with `rotated`, the corner polygon of a rotated box counts as part of its box)."""
    targets: Counter = Counter()
    samples: Counter = Counter()
    for sample_targets in targets_per_sample:
        corners = rotated_corners(sample_targets) if rotated else {}
        missing = [t["type"] for t in sample_targets if t["type"] not in kinds and not (
            t["type"] == "polygon" and corners.get(t.get("instance")) is t["points"])]
        targets.update(missing)
        samples.update(set(missing))
    return {kind: {"targets": targets[kind], "samples": samples[kind]} for kind in sorted(targets)}


def describe_left_out(fmt: str, dropped: dict[str, dict[str, int]]) -> str:
    parts = [f"{v['targets']} {kind} target(s) on {v['samples']} sample(s)" for kind, v in dropped.items()]
    return f"format {fmt!r} cannot hold " + "; ".join(parts)

