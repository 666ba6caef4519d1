"""Leakage audit of a split, as a pure function: nothing may be shared between train, val and test."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from export.split import SplitSample, near_pairs


def _cross(samples: Sequence[SplitSample], splits: dict[str, str], attr: str) -> list[str]:
    seen: dict[object, set[str]] = defaultdict(set)
    for s in samples:
        value = getattr(s, attr)
        if value is not None:
            seen[value].add(splits[s.key])
    return sorted(str(v) for v, where in seen.items() if len(where) > 1)


def leakage_audit(
    samples: Sequence[SplitSample], splits: dict[str, str], phash_threshold: int | None = None
) -> dict[str, Any]:
    """Counts of near-duplicate clusters, group keys and close pHash pairs found in more than one split."""
    clusters = _cross(samples, splits, "cluster")
    groups = _cross(samples, splits, "group")
    hashed = sorted((s for s in samples if s.phash is not None), key=lambda s: s.key)
    close = []
    if phash_threshold is not None:
        close = [
            (hashed[i].key, hashed[j].key)
            for i, j in near_pairs([s.phash for s in hashed], phash_threshold)
            if splits[hashed[i].key] != splits[hashed[j].key]
        ]
    return {
        "cross_split_clusters": len(clusters),
        "cross_split_groups": len(groups),
        "cross_split_phash_pairs": len(close),
        "phash_threshold": phash_threshold,
        "phash_checked": len(hashed),
        "examples": (clusters[:5] + groups[:5] + [f"{a}~{b}" for a, b in close[:5]]),
        "leaks": len(clusters) + len(groups) + len(close),
    }
