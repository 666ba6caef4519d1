"""The near-duplicate index gives exactly what a brute-force scan gives, and grows."""
from __future__ import annotations

import numpy as np
import pytest

from scrapers.imaging import signed64
from scrapers.neardup import NearDupIndex


def hamming(a: int, b: int) -> int:
    return bin((a ^ b) & (2**64 - 1)).count("1")


@pytest.mark.parametrize("threshold", [0, 3, 10])
def test_query_matches_brute_force(threshold):
    rng = np.random.default_rng(threshold)
    base = [signed64(int(x)) for x in rng.integers(0, 2**63, size=300, dtype=np.uint64)]
    hashes = list(base)
    for h in base[:100]:  # near copies: flip a few bits
        flip = 0
        for bit in rng.choice(64, size=int(rng.integers(1, 8)), replace=False):
            flip |= 1 << int(bit)
        hashes.append(signed64((h ^ flip) & (2**64 - 1)))
    index = NearDupIndex(capacity=16)  # forces growth
    for i, h in enumerate(hashes):
        index.add(h, i + 1)
    assert len(index) == len(hashes)
    for probe in hashes[:150]:
        want = sorted((hamming(probe, h), i + 1) for i, h in enumerate(hashes) if hamming(probe, h) <= threshold)
        assert index.query(probe, threshold) == [(i, d) for d, i in want]


def test_bulk_build_and_nearest():
    index = NearDupIndex.from_pairs([(-1, 7), (0, 8), (1, 9)])
    assert index.nearest(3, 1) == (9, 1)
    assert index.nearest(-2, 0) is None and index.nearest(-2, 1) == (7, 1)
    assert NearDupIndex().query(5, 64) == []
