"""Per-class augmentation budgets: how many augmented copies each train sample gets.

Two modes, declared in the policy's ``budget`` section:

- ``multiplier``: every sample gets ``multiplier`` copies; ``per_class`` raises (or lowers) it for
  samples that contain a class;
- ``target``: each class should reach ``target`` samples (originals + copies) in the train split;
  ``per_class`` overrides the target of a class. A class with n samples gets ceil(target / n) - 1 copies.

A sample with several classes gets the largest number of its classes, capped by ``max_copies``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from augment.errors import PolicyError

CLASS_TARGET_TYPES = frozenset({"choice", "bbox", "polygon", "mask", "keypoints"})


@dataclass(frozen=True)
class Budget:
    """A validated ``budget`` section."""

    mode: str = "multiplier"
    amount: int = 1
    per_class: Mapping[str, int] = field(default_factory=dict)
    max_copies: int = 16


@dataclass(frozen=True)
class CopyPlan:
    """Copies per class for one train split; ``copies(labels)`` answers for one sample."""

    per_class: Mapping[str, int]
    default: int
    max_copies: int

    def copies(self, labels: Iterable[str]) -> int:
        """Augmented copies for a sample carrying these class labels (use ``sample_labels``)."""
        found = [self.per_class.get(label, self.default) for label in set(labels)]
        return min(self.max_copies, max(found) if found else self.default)


def parse_budget(raw: Any) -> Budget:
    """Validate the ``budget`` section of a policy (None means one copy per sample)."""
    if raw is None:
        return Budget()
    if not isinstance(raw, Mapping):
        raise PolicyError(f"budget: expected a mapping with 'multiplier' or 'target', found {raw!r}")
    unknown = sorted(set(raw) - {"multiplier", "target", "per_class", "max_copies"})
    if unknown:
        raise PolicyError(f"budget: expected keys multiplier|target, per_class, max_copies; found unknown {unknown}; "
                          "remove them")
    modes = [m for m in ("multiplier", "target") if m in raw]
    if len(modes) != 1:
        raise PolicyError(f"budget: expected exactly one of 'multiplier' or 'target', found {modes or 'neither'}; "
                          "use multiplier: N (copies per sample) or target: N (samples per class)")
    mode = modes[0]
    amount = _count(raw[mode], f"budget.{mode}")
    per_class_raw = raw.get("per_class") or {}
    if not isinstance(per_class_raw, Mapping):
        raise PolicyError(f"budget.per_class: expected a mapping class -> count, found {per_class_raw!r}")
    per_class = {str(k): _count(v, f"budget.per_class.{k}") for k, v in per_class_raw.items()}
    max_copies = _count(raw.get("max_copies", 16), "budget.max_copies")
    return Budget(mode=mode, amount=amount, per_class=per_class, max_copies=max_copies)


def plan_copies(budget: Budget, class_counts: Mapping[str, int]) -> CopyPlan:
    """Copies per class given the train split's class counts (samples per class)."""
    if budget.mode == "multiplier":
        classes = set(class_counts) | set(budget.per_class)
        per = {c: min(budget.max_copies, budget.per_class.get(c, budget.amount)) for c in classes}
        return CopyPlan(per_class=per, default=min(budget.max_copies, budget.amount), max_copies=budget.max_copies)
    per = {}
    for cls, count in class_counts.items():
        if count < 0:
            raise PolicyError(f"class_counts[{cls!r}]: expected a count >= 0, found {count}")
        target = budget.per_class.get(cls, budget.amount)
        per[cls] = 0 if count == 0 else min(budget.max_copies, max(0, math.ceil(target / count) - 1))
    return CopyPlan(per_class=per, default=0, max_copies=budget.max_copies)


def sample_labels(targets: Iterable[Mapping[str, Any]]) -> set[str]:
    """Class labels of a sample's targets (choices, boxes, polygons, masks, keypoint objects)."""
    return {
        t["label"] for t in targets
        if t.get("type") in CLASS_TARGET_TYPES and isinstance(t.get("label"), str)
    }


def class_counts(samples: Iterable[Iterable[Mapping[str, Any]]]) -> dict[str, int]:
    """Samples per class over an iterable of target lists (each sample counts once per class)."""
    counts: dict[str, int] = {}
    for targets in samples:
        for label in sample_labels(targets):
            counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items()))


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"{where}: expected a whole number >= 0, found {value!r}")
    return value
