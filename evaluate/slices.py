"""Slices of a version: which group each sample falls in per dimension (pure), ranked by how far a
metric on the group falls below the metric on the whole."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from evaluate.data import Member
from storage.quality import Thresholds, brightness_bucket

DIMENSIONS = ("source", "domain", "image_size", "brightness", "cluster_size", "annotator", "licence")


def size_bucket(width: int | None, height: int | None) -> str:
    if not width or not height:
        return "unknown"
    side = max(width, height)
    return "<256" if side < 256 else "256-511" if side < 512 else "512-1023" if side < 1024 else ">=1024"


def cluster_bucket(n: int) -> str:
    return "1" if n <= 1 else "2-3" if n <= 3 else "4+"


def groups_of(m: Member, thresholds: Thresholds = Thresholds()) -> dict[str, list[str]]:
    """dimension -> the group(s) of one sample (several annotators put a sample in several groups)."""
    q = m.facts.get("quality")
    return {
        "source": [str(m.facts.get("source"))],
        "domain": [str(m.facts.get("domain"))],
        "image_size": [size_bucket(m.width, m.height)],
        "brightness": [brightness_bucket(q["brightness"], thresholds) if q else "unmeasured"],
        "cluster_size": [cluster_bucket(int(m.facts.get("cluster_size") or 1))],
        "annotator": list(m.annotators) or ["(none)"],
        "licence": [str(m.facts.get("licence"))],
    }


def slice_table(members: list[Member], metric: Callable[[list[str]], float | None], overall: float | None,
                min_samples: int = 5, thresholds: Thresholds = Thresholds()) -> list[dict[str, Any]]:
    """One row per (dimension, group) with >= min_samples samples, worst (most below overall) first.

    Dimensions with a single group say nothing and are left out.
    """
    per: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for m in members:
        for dim, groups in groups_of(m, thresholds).items():
            for g in groups:
                per[dim][g].append(m.key)
    rows = []
    for dim in DIMENSIONS:
        groups = per.get(dim, {})
        if len(groups) < 2:
            continue
        for g, keys in groups.items():
            if len(keys) < min_samples:
                continue
            value = metric(keys)
            gap = None if value is None or overall is None else value - overall
            rows.append({"dimension": dim, "group": g, "samples": len(keys), "value": value, "delta": gap})
    return sorted(rows, key=lambda r: (r["delta"] if r["delta"] is not None else 0.0, r["dimension"], r["group"]))
