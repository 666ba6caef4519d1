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


def clustered(rng, n: int) -> np.ndarray:
    """Hashes in clusters (a centre and copies a few bits away), like the pHashes of a real crawl."""
    centres = rng.integers(0, 2**64 - 1, size=n // 8, dtype=np.uint64, endpoint=True)
    members = centres[rng.integers(0, len(centres), size=n)]
    for _ in range(4):  # up to 4 random bit flips per copy
        flip = rng.integers(0, 64, size=n).astype(np.uint64)
        members ^= np.where(rng.random(n) < 0.6, np.uint64(1) << flip, np.uint64(0))
    return members


def brute(hashes: np.ndarray, ids: np.ndarray, probe: int, t: int) -> list[tuple[int, int]]:
    bits = np.bitwise_count(hashes ^ np.uint64(probe))
    hit = np.flatnonzero(bits <= t)
    return [(int(i), int(d)) for d, i in sorted(zip(bits[hit].tolist(), ids[hit].tolist()))]


def test_tables_match_brute_force_at_every_radius_across_merges():
    """Exact recall of the multi-index tables (and the tail) against a scan, through incremental merges."""
    rng = np.random.default_rng(7)
    hashes = clustered(rng, 120_000)
    ids = np.arange(10, 10 + len(hashes), dtype=np.int64)
    index = NearDupIndex.from_arrays(hashes[:70_000], ids[:70_000])
    for lo in range(70_000, 120_000, 9_999):  # batches that fill and merge the tail
        index.add_many(hashes[lo:lo + 9_999], ids[lo:lo + 9_999])
    assert len(index) == 120_000 and index._main > 100_000 and index._n > index._main  # tables and a tail
    probes = [int(hashes[i]) for i in rng.integers(0, len(hashes), size=40)]
    probes += [int(h) ^ 0b1011 for h in hashes[-20:]]  # near the newest (tail) hashes
    for t in (0, 1, 3, 4, 6, 7, 8, 11, 12, 14):
        for probe in probes:
            assert index.query(signed64(probe), t) == brute(hashes, ids, probe, t), (t, probe)


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    hashes = clustered(rng, 50_000)
    index = NearDupIndex.from_arrays(hashes, np.arange(1, 50_001))
    index.add(-5, 99_999)
    index.save(tmp_path / "ix.npz", {"watermark": 12})
    loaded, meta = NearDupIndex.load(tmp_path / "ix.npz")
    assert meta["watermark"] == 12 and len(loaded) == 50_001
    for probe in [int(h) for h in hashes[:20]] + [2**64 - 5]:
        assert loaded.query(signed64(probe), 6) == index.query(signed64(probe), 6)
    (tmp_path / "bad.npz").write_bytes(b"not an index")
    with pytest.raises(ValueError, match="not a readable near-duplicate index"):
        NearDupIndex.load(tmp_path / "bad.npz")
