"""Properties of the pure split and audit functions on generated data (hypothesis)."""
from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from export.audit import leakage_audit
from export.split import SPLITS, SplitSample, assign_splits, parse_ratios

LABELS = ["a", "b", "c", "d", "e"]
ratios_st = st.tuples(st.integers(1, 10), st.integers(0, 5), st.integers(0, 5)).map(parse_ratios)


@st.composite
def datasets(draw, max_size=120, grouped=True):
    n = draw(st.integers(1, max_size))
    out = []
    for i in range(n):
        labels = tuple(draw(st.lists(st.sampled_from(LABELS), max_size=4)))
        cluster = draw(st.one_of(st.none(), st.integers(0, n // 3))) if grouped else None
        group = draw(st.one_of(st.none(), st.integers(0, n // 2).map(str))) if grouped else None
        phash = draw(st.one_of(st.none(), st.integers(0, 2**64 - 1)))
        out.append(SplitSample(f"asset:{i}", labels, cluster, group, phash))
    return out


@settings(max_examples=60, deadline=None)
@given(datasets(), ratios_st, st.integers(0, 2**31))
def test_groups_never_straddle_splits_and_audit_reads_zero(samples, ratios, seed):
    result = assign_splits(samples, ratios, seed, phash_threshold=6)
    assert set(result.splits) == {s.key for s in samples}
    for attr in ("cluster", "group"):
        where = defaultdict(set)
        for s in samples:
            if getattr(s, attr) is not None:
                where[getattr(s, attr)].add(result.splits[s.key])
        assert all(len(v) == 1 for v in where.values())
    assert leakage_audit(samples, result.splits, 6)["leaks"] == 0
    assert all(result.splits[s.key] != sp for s in samples for sp, r in zip(SPLITS, ratios) if r == 0)


@settings(max_examples=40, deadline=None)
@given(datasets(), ratios_st, st.integers(0, 2**31), st.randoms())
def test_deterministic_and_independent_of_input_order(samples, ratios, seed, rnd):
    shuffled = list(samples)
    rnd.shuffle(shuffled)
    assert assign_splits(samples, ratios, seed).splits == assign_splits(shuffled, ratios, seed).splits


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(LABELS), min_size=1, max_size=300), ratios_st, st.integers(0, 2**31))
def test_single_label_strata_within_two_of_the_ratio(labels, ratios, seed):
    samples = [SplitSample(f"s{i}", (label,)) for i, label in enumerate(labels)]
    result = assign_splits(samples, ratios, seed)
    counts = Counter((result.splits[s.key], s.labels[0]) for s in samples)
    for label, n in Counter(labels).items():
        for sp, r in zip(SPLITS, ratios):
            assert abs(counts[sp, label] - r * n) < 2


@settings(max_examples=40, deadline=None)
@given(datasets(max_size=150, grouped=False), st.integers(0, 2**31))
def test_multilabel_every_split_gets_every_common_label(samples, seed):
    ratios = (0.6, 0.2, 0.2)
    result = assign_splits(samples, ratios, seed)
    per_sample = Counter(l for s in samples for l in set(s.labels))
    present = defaultdict(set)
    for s in samples:
        for l in s.labels:
            present[l].add(result.splits[s.key])
    for label, n in per_sample.items():
        if n >= math.ceil(2 / min(ratios)) and all(s.labels.count(label) <= 1 for s in samples):
            assert present[label] == set(SPLITS), (label, n)


def test_stratified_beats_chance_on_a_rare_class():
    rng = random.Random(0)
    samples = [SplitSample(f"s{i:03d}", ("rare",) if i < 10 else ("common",)) for i in range(200)]
    rng.shuffle(samples)
    for seed in range(20):
        result = assign_splits(samples, (0.8, 0.1, 0.1), seed)
        rare = Counter(result.splits[s.key] for s in samples if s.labels == ("rare",))
        assert rare == {"train": 8, "val": 1, "test": 1}


@settings(max_examples=40, deadline=None)
@given(datasets(grouped=False), ratios_st, st.integers(0, 2**31), st.data())
def test_pinned_samples_stay_put(samples, ratios, seed, data):
    parent = assign_splits(samples, ratios, seed).splits
    pinned = {k: v for k, v in parent.items() if data.draw(st.booleans())}
    child = assign_splits(samples, (0.5, 0.25, 0.25), seed + 1, pinned=pinned)
    assert all(child.splits[k] == v for k, v in pinned.items())


def test_pinned_val_pulls_its_whole_group():
    samples = [SplitSample("a", ("x",), cluster=1), SplitSample("b", ("x",), cluster=1), SplitSample("c", ("x",))]
    result = assign_splits(samples, (0.8, 0.1, 0.1), 0, pinned={"a": "train", "b": "val"})
    assert result.splits["a"] == result.splits["b"] == "val" and result.moved_by_group == ["a"]


def test_audit_finds_leaks_it_is_given():
    samples = [SplitSample("a", cluster=1, phash=0), SplitSample("b", cluster=1, phash=0b111),
               SplitSample("c", group="g"), SplitSample("d", group="g")]
    audit = leakage_audit(samples, {"a": "train", "b": "test", "c": "val", "d": "train"}, 6)
    assert (audit["cross_split_clusters"], audit["cross_split_groups"], audit["cross_split_phash_pairs"]) == (1, 1, 1)
    assert audit["leaks"] == 3
