"""Differences between two versions, as a pure function: samples, labels (boxes matched by IoU), splits, policy."""
from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from export.canonical import dumps
from storage.agreement import box_iou as iou
from storage.targets import target_labels

BOX_MATCH = 0.5


@dataclass(frozen=True)
class VersionView:
    """What a diff needs of a version: its settings and {sample key: (split, targets)}."""

    name: str
    members: dict[str, tuple[str, list[dict[str, Any]]]]
    policy_text: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def box_changes(old: list[dict[str, Any]], new: list[dict[str, Any]], threshold: float = BOX_MATCH) -> dict[str, list]:
    """Match boxes greedily by IoU; report relabelled, moved, added and removed boxes."""
    a = [t for t in old if t["type"] == "bbox"]
    b = [t for t in new if t["type"] == "bbox"]
    pairs = sorted(((iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)), key=lambda p: (-p[0], p[1], p[2]))
    used_a, used_b, out = set(), set(), {"relabelled": [], "moved": [], "added": [], "removed": []}
    for score, i, j in pairs:
        if score < threshold or i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        if a[i]["label"] != b[j]["label"]:
            out["relabelled"].append((a[i]["label"], b[j]["label"]))
        elif score < 0.999999:
            out["moved"].append((a[i]["label"], round(score, 3)))
    out["removed"] = [a[i]["label"] for i in range(len(a)) if i not in used_a]
    out["added"] = [b[j]["label"] for j in range(len(b)) if j not in used_b]
    return out


def _others(targets: list[dict[str, Any]]) -> Counter:
    return Counter(dumps({k: v for k, v in t.items() if k not in ("id", "score")}) for t in targets if t["type"] != "bbox")


def diff_versions(a: VersionView, b: VersionView) -> dict[str, Any]:
    """Added/removed samples, label changes, split moves, policy and setting changes, per-class impact."""
    added = sorted(set(b.members) - set(a.members))
    removed = sorted(set(a.members) - set(b.members))
    moves, labels = [], []
    for key in sorted(set(a.members) & set(b.members)):
        (sa, ta), (sb, tb) = a.members[key], b.members[key]
        if sa != sb:
            moves.append({"sample": key, "from": sa, "to": sb})
        if dumps(ta) == dumps(tb):
            continue
        change: dict[str, Any] = {"sample": key, **{k: v for k, v in box_changes(ta, tb).items() if v}}
        oa, ob = _others(ta), _others(tb)
        if oa != ob:
            change["other_removed"] = sorted((oa - ob).elements())
            change["other_added"] = sorted((ob - oa).elements())
        if len(change) > 1:
            labels.append(change)
    count_a = Counter(l for _, t in a.members.values() for l in target_labels(t))
    count_b = Counter(l for _, t in b.members.values() for l in target_labels(t))
    per_class = {
        c: {"before": count_a[c], "after": count_b[c], "delta": count_b[c] - count_a[c],
            "samples_added": sum(1 for k in added if c in target_labels(b.members[k][1])),
            "samples_removed": sum(1 for k in removed if c in target_labels(a.members[k][1]))}
        for c in sorted(set(count_a) | set(count_b))
    }
    policy = None
    if (a.policy_text or "") != (b.policy_text or ""):
        policy = list(difflib.unified_diff((a.policy_text or "").splitlines(), (b.policy_text or "").splitlines(),
                                           a.name, b.name, lineterm=""))
    settings = {k: (a.settings.get(k), b.settings.get(k)) for k in sorted(set(a.settings) | set(b.settings))
                if a.settings.get(k) != b.settings.get(k)}
    return {"a": a.name, "b": b.name, "added": added, "removed": removed, "split_moves": moves,
            "label_changes": labels, "policy_diff": policy, "settings": settings, "per_class": per_class}
