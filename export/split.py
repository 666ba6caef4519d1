"""Deterministic, grouped, stratified and sticky train/val/test splits, as pure functions.

Samples are joined into groups (near-duplicate cluster, pHash distance, and an optional group key);
a whole group goes to one split. Groups holding a sample that was in val or test of the parent
version are pinned there (parent train samples stay in train unless their group is pinned elsewhere).
Free groups are placed by iterative stratification (Sechidis et al., 2011) over groups: the rarest
class first, each group to the split that still needs that class most.
"""
from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from export.errors import BadVersionSpec

SPLITS = ("train", "val", "test")
PIN_ORDER = ("test", "val", "train")  # a group pinned to several splits goes to the first of these


@dataclass(frozen=True)
class SplitSample:
    key: str
    labels: tuple[str, ...] = ()  # one entry per object, so detection counts instances
    cluster: int | None = None
    group: str | None = None
    phash: int | None = None


@dataclass
class SplitResult:
    splits: dict[str, str]
    groups: dict[str, str]  # sample key -> group id (the smallest key in the group)
    pinned: int = 0
    moved_by_group: list[str] = field(default_factory=list)  # parent-train samples pulled into val/test


def parse_ratios(value: str | Sequence[float]) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' or a 3-sequence -> normalized ratios; raises BadVersionSpec when malformed."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError):
        nums = []
    if len(nums) != 3 or any(n < 0 for n in nums) or sum(nums) <= 0 or nums[0] <= 0:
        raise BadVersionSpec(
            f"split ratios must be three non-negative numbers train,val,test with train > 0 (e.g. 0.8,0.1,0.1); "
            f"found {value!r}."
        )
    total = sum(nums)
    return (nums[0] / total, nums[1] / total, nums[2] / total)


def _as_u64(hashes: Iterable[int]) -> np.ndarray:
    return np.array([h & 0xFFFFFFFFFFFFFFFF for h in hashes], dtype=np.uint64)


def near_pairs(hashes: Sequence[int], threshold: int, cells: int = 4_000_000) -> list[tuple[int, int]]:
    """Index pairs (i < j) whose 64-bit hashes differ in at most `threshold` bits (blocks of ~`cells` XORs)."""
    arr = _as_u64(hashes)
    chunk = max(1, cells // max(1, len(arr)))
    pairs: list[tuple[int, int]] = []
    for start in range(0, len(arr), chunk):
        block = arr[start:start + chunk]
        dist = np.bitwise_count(block[:, None] ^ arr[None, :])
        rows, cols = np.nonzero(dist <= threshold)
        for r, c in zip(rows.tolist(), cols.tolist()):
            if start + r < c:
                pairs.append((start + r, c))
    return pairs


class _UnionFind:
    def __init__(self, keys: Iterable[str]) -> None:
        self.parent = {k: k for k in keys}

    def find(self, k: str) -> str:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def build_groups(samples: Sequence[SplitSample], phash_threshold: int | None = None) -> dict[str, str]:
    """Sample key -> group id; samples sharing a cluster, a group key or a near pHash share a group."""
    uf = _UnionFind(sorted(s.key for s in samples))
    first: dict[tuple[str, object], str] = {}
    for s in sorted(samples, key=lambda s: s.key):
        for tag, value in (("cluster", s.cluster), ("group", s.group)):
            if value is None:
                continue
            seen = first.setdefault((tag, value), s.key)
            uf.union(seen, s.key)
    if phash_threshold is not None:
        hashed = sorted((s for s in samples if s.phash is not None), key=lambda s: s.key)
        for i, j in near_pairs([s.phash for s in hashed], phash_threshold):
            uf.union(hashed[i].key, hashed[j].key)
    return {k: uf.find(k) for k in uf.parent}


def _pick(need: dict[str, float], total: dict[str, float], allowed: Sequence[str], rng: random.Random) -> str:
    best = max((need[s], total[s]) for s in allowed)
    ties = [s for s in allowed if (need[s], total[s]) == best]
    return ties[0] if len(ties) == 1 else rng.choice(ties)


def assign_splits(
    samples: Sequence[SplitSample],
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    pinned: dict[str, str] | None = None,
    phash_threshold: int | None = None,
) -> SplitResult:
    """Put every sample in train/val/test; same inputs (in any order) give the same result."""
    ratios = parse_ratios(ratios)
    pinned = pinned or {}
    groups = build_groups(samples, phash_threshold)
    members: dict[str, list[SplitSample]] = defaultdict(list)
    for s in sorted(samples, key=lambda s: s.key):
        members[groups[s.key]].append(s)
    labels_of = {g: Counter(l for s in ms for l in s.labels) for g, ms in members.items()}
    all_labels = sum(labels_of.values(), Counter())
    need = {sp: {l: r * n for l, n in all_labels.items()} for sp, r in zip(SPLITS, ratios)}
    total = {sp: r * len(samples) for sp, r in zip(SPLITS, ratios)}
    allowed = [sp for sp, r in zip(SPLITS, ratios) if r > 0]
    out: dict[str, str] = {}
    result = SplitResult(out, groups)

    def place(g: str, sp: str) -> None:
        for s in members[g]:
            out[s.key] = sp
        for label, n in labels_of[g].items():
            need[sp][label] -= n
        total[sp] -= len(members[g])

    free = []
    for g in sorted(members):
        pins = {pinned[s.key] for s in members[g] if s.key in pinned}
        target = next((sp for sp in PIN_ORDER if sp in pins), None)
        if target is None:
            free.append(g)
            continue
        place(g, target)
        result.pinned += sum(1 for s in members[g] if s.key in pinned)
        result.moved_by_group += [s.key for s in members[g] if pinned.get(s.key, target) != target]

    rng = random.Random(seed)
    rng.shuffle(free)
    remaining = set(free)
    by_label: dict[str, list[str]] = defaultdict(list)
    for g in free:
        for label in labels_of[g]:
            by_label[label].append(g)
    while True:
        left = Counter()
        for g in remaining:
            left.update(labels_of[g])
        if not left:
            break
        rarest = min(left, key=lambda l: (left[l], l))
        for g in by_label[rarest]:
            if g in remaining:
                place(g, _pick({sp: need[sp][rarest] for sp in SPLITS}, total, allowed, rng))
                remaining.discard(g)
    for g in free:
        if g in remaining:
            place(g, _pick(total, total, allowed, rng))
    return result
