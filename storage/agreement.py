"""Inter-annotator agreement and consensus as pure functions over internal targets (no DB).

Shared by the label stage (agreement reports) and the export stage (the consensus revision rule),
next to the internal annotation model (`storage.targets`) they both work on.

- choices: Cohen's kappa (exactly 2 raters per item) and Fleiss' kappa (any fixed or varying number
  >= 2 raters per item), overall and per label (label present / absent);
- boxes and polygons: IoU-matched F1 between each pair of annotators (same label, IoU >= threshold);
- consensus: majority vote for choices; for boxes, IoU clusters supported by a majority, averaged.
"""
from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Target = dict[str, Any]


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters; `pairs` holds (rater A's label, rater B's label) per item."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(a == b for a, b in pairs) / n
    count_a, count_b = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(count_a[k] * count_b[k] for k in set(count_a) | set(count_b)) / (n * n)
    if expected == 1:
        return 1.0 if observed == 1 else 0.0
    return (observed - expected) / (1 - expected)


def fleiss_kappa(items: list[list[str]]) -> float | None:
    """Fleiss' kappa; each item is the list of labels its raters gave (>= 2 raters; counts may vary)."""
    items = [labels for labels in items if len(labels) >= 2]
    if not items:
        return None
    categories = sorted({label for labels in items for label in labels})
    total = sum(len(labels) for labels in items)
    p_items = []
    for labels in items:
        r = len(labels)
        counts = Counter(labels)
        p_items.append((sum(c * c for c in counts.values()) - r) / (r * (r - 1)))
    p_bar = sum(p_items) / len(items)
    shares = {c: sum(labels.count(c) for labels in items) / total for c in categories}
    p_e = sum(s * s for s in shares.values())
    if p_e == 1:
        return 1.0 if p_bar == 1 else 0.0
    return (p_bar - p_e) / (1 - p_e)


def box_iou(a: Target, b: Target) -> float:
    ix = max(0.0, min(a["x_max"], b["x_max"]) - max(a["x_min"], b["x_min"]))
    iy = max(0.0, min(a["y_max"], b["y_max"]) - max(a["y_min"], b["y_min"]))
    inter = ix * iy
    area = lambda t: (t["x_max"] - t["x_min"]) * (t["y_max"] - t["y_min"])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def polygon_iou(a: Target, b: Target, cells: int = 512) -> float:
    """IoU of two polygons, rasterised on a grid of about `cells` per side over their joint extent."""
    import numpy as np
    from PIL import Image, ImageDraw

    pts = a["points"] + b["points"]
    x0, y0 = min(p[0] for p in pts), min(p[1] for p in pts)
    span = max(max(p[0] for p in pts) - x0, max(p[1] for p in pts) - y0) or 1.0
    scale = cells / span

    def raster(poly: Target) -> np.ndarray:
        img = Image.new("1", (cells + 2, cells + 2), 0)
        ImageDraw.Draw(img).polygon([((x - x0) * scale, (y - y0) * scale) for x, y in poly["points"]], fill=1)
        return np.asarray(img, dtype=bool)

    ma, mb = raster(a), raster(b)
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 0.0


def iou(a: Target, b: Target) -> float:
    return box_iou(a, b) if a["type"] == "bbox" else polygon_iou(a, b)


def match(a: list[Target], b: list[Target], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching of same-label shapes by descending IoU (>= threshold)."""
    candidates = sorted(((iou(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                         if x["label"] == y["label"]), reverse=True)
    used_a, used_b, out = set(), set(), []
    for score, i, j in candidates:
        if score < threshold or i in used_a or j in used_b:
            continue
        used_a.add(i), used_b.add(j)
        out.append((i, j, score))
    return out


def f1(a: list[Target], b: list[Target], threshold: float = 0.5) -> float:
    if not a and not b:
        return 1.0
    return 2 * len(match(a, b, threshold)) / (len(a) + len(b))


def shapes(targets: list[Target], kind: str) -> list[Target]:
    return [t for t in targets if t["type"] == kind]


@dataclass
class TaskConsensus:
    targets: list[Target]
    disagreements: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)  # objects/labels some annotators gave but no majority did


def consensus(by_annotator: dict[Any, list[Target]], threshold: float = 0.5) -> TaskConsensus:
    """One target list for a task from its annotators' targets, with what they disagreed on."""
    n = len(by_annotator)
    need = n // 2 + 1
    out: list[Target] = []
    problems: list[str] = []
    votes = Counter(label for targets in by_annotator.values() for label in {t["label"] for t in targets
                                                                             if t["type"] == "choice"})
    undecided: list[str] = []
    for label, count in sorted(votes.items()):
        if count >= need:
            out.append({"type": "choice", "label": label})
        elif n - count < need:  # neither "has it" nor "has it not" has a majority: a tie
            undecided.append(f"choice {label!r}: {count} of {n} annotators (a tie)")
        if count < n:
            problems.append(f"choice {label!r}: {count} of {n} annotators")
    boxes = [(who, t) for who, targets in by_annotator.items() for t in shapes(targets, "bbox")]
    clusters: list[list[tuple[Any, Target]]] = []
    for who, box in boxes:  # join the best cluster of the same label that has no box of this annotator yet
        best, best_iou = None, threshold
        for cluster in clusters:
            if cluster[0][1]["label"] != box["label"] or any(w == who for w, _ in cluster):
                continue
            score = sum(box_iou(box, b) for _, b in cluster) / len(cluster)
            if score >= best_iou:
                best, best_iou = cluster, score
        if best is None:
            clusters.append([(who, box)])
        else:
            best.append((who, box))
    conflicts = _label_conflicts(clusters, n, need, threshold)
    for cluster in clusters:
        members = [b for _, b in cluster]
        if len(cluster) >= need:
            merged = {k: sum(b[k] for b in members) / len(members) for k in ("x_min", "y_min", "x_max", "y_max")}
            out.append({"type": "bbox", **merged, "label": members[0]["label"], "instance": None,
                        "support": len(cluster)})
        if len(cluster) < n:
            first = members[0]
            problems.append(f"bbox {first['label']!r} near ({first['x_min']:.0f}, {first['y_min']:.0f}): "
                            f"{len(cluster)} of {n} annotators")
            if len(cluster) < need and id(cluster) in conflicts:
                if conflicts[id(cluster)]:
                    undecided.append(conflicts[id(cluster)])
            elif len(cluster) < need:
                undecided.append(f"bbox {first['label']!r} near ({first['x_min']:.0f}, {first['y_min']:.0f}): drawn by "
                                 f"{len(cluster)} of {n} annotators (no majority)")
    for kind in ("polygon", "keypoints", "mask", "span"):  # no merge rule: the first annotator's, if others agree
        per = {who: sorted((repr(sorted(t.items())) for t in shapes(ts, kind))) for who, ts in by_annotator.items()}
        if not any(per.values()):
            continue
        first = min(by_annotator, key=str)
        out += shapes(by_annotator[first], kind)
        if len({tuple(v) for v in per.values()}) > 1:
            problems.append(f"{kind}: annotators differ; kept {first}'s")
            undecided.append(f"{kind}: annotators differ (no merge rule for {kind})")
    return TaskConsensus(out, problems, undecided)


def _label_conflicts(clusters: list[list[tuple[Any, Target]]], n: int, need: int, threshold: float) -> dict[int, str]:
    """Minority clusters of different labels on the same place: one object the annotators named differently.

    Returns {id(cluster): message} for each such cluster; the first cluster of a group carries the message, the
    others map to "" so that one object is reported once ("labelled 'a' by 1, 'b' by 1 of 2 annotators")."""
    minority = [c for c in clusters if len(c) < need]
    out: dict[int, str] = {}
    for i, cluster in enumerate(minority):
        if id(cluster) in out:
            continue
        group = [cluster]
        for other in minority[i + 1:]:
            if id(other) in out or any(other[0][1]["label"] == g[0][1]["label"] for g in group):
                continue
            if box_iou(cluster[0][1], other[0][1]) >= threshold:
                group.append(other)
        if len(group) < 2:
            continue
        first = cluster[0][1]
        votes = ", ".join(f"{g[0][1]['label']!r} by {len(g)}" for g in group)
        out[id(cluster)] = (f"bbox near ({first['x_min']:.0f}, {first['y_min']:.0f}): labelled {votes} of "
                            f"{n} annotators (no label has a majority)")
        for g in group[1:]:
            out[id(g)] = ""
    return out


@dataclass
class AgreementTable:
    tasks: int = 0  # tasks with >= 2 annotators
    kappa: float | None = None  # Cohen (2 raters everywhere) or Fleiss
    kappa_kind: str = ""
    per_label: dict[str, float | None] = field(default_factory=dict)
    f1: dict[str, float | None] = field(default_factory=dict)  # "bbox" / "polygon" -> mean pairwise F1
    review: dict[Any, list[str]] = field(default_factory=dict)  # task -> disagreements


def _single_choice(targets: list[Target]) -> str:
    labels = sorted(t["label"] for t in targets if t["type"] == "choice")
    return "+".join(labels) or "(none)"


def agreement(tasks: dict[Any, dict[Any, list[Target]]], threshold: float = 0.5) -> AgreementTable:
    """tasks: {task: {annotator: targets}}; only tasks with two or more annotators count."""
    multi = {t: a for t, a in tasks.items() if len(a) >= 2}
    table = AgreementTable(tasks=len(multi))
    with_choices = {t: a for t, a in multi.items() if any(x["type"] == "choice" for ts in a.values() for x in ts)}
    if with_choices:
        ratings = [[_single_choice(ts) for ts in a.values()] for a in with_choices.values()]
        if all(len(r) == 2 for r in ratings):
            table.kappa, table.kappa_kind = cohen_kappa([(r[0], r[1]) for r in ratings]), "cohen"
        else:
            table.kappa, table.kappa_kind = fleiss_kappa(ratings), "fleiss"
        labels = sorted({x["label"] for a in with_choices.values() for ts in a.values() for x in ts
                         if x["type"] == "choice"})
        for label in labels:
            binary = [["yes" if any(x["type"] == "choice" and x["label"] == label for x in ts) else "no"
                       for ts in a.values()] for a in with_choices.values()]
            table.per_label[label] = (cohen_kappa([(r[0], r[1]) for r in binary]) if all(len(r) == 2 for r in binary)
                                      else fleiss_kappa(binary))
    for kind in ("bbox", "polygon"):
        scores = [f1(shapes(x, kind), shapes(y, kind), threshold)
                  for a in multi.values() if any(shapes(ts, kind) for ts in a.values())
                  for x, y in itertools.combinations(a.values(), 2)]
        if scores:
            table.f1[kind] = sum(scores) / len(scores)
    for task, by in multi.items():
        problems = consensus(by, threshold).disagreements
        for kind in ("polygon",):
            for (wa, a), (wb, b) in itertools.combinations(by.items(), 2):
                if shapes(a, kind) or shapes(b, kind):
                    score = f1(shapes(a, kind), shapes(b, kind), threshold)
                    if score < 1:
                        problems.append(f"{kind} F1 {score:.2f} between {wa} and {wb}")
        if problems:
            table.review[task] = problems
    return table

