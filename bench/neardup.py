"""Near-duplicate query time at 1M, 10M and 100M stored pHashes: harvest's multi-index hashing index vs a
vectorised numpy linear scan (the baseline, and the previous index), measured in the same run, with recall
checked against that scan on a sample of probes.

The hashes are synthetic but clustered like a real crawl's: cluster centres whose bits are biased
(each bit set with its own probability between 0.25 and 0.75, so some substring values are far more
common than others), and copies 0-4 bits away from their centre (about 8 per centre).

    .venv/bin/python bench/neardup.py            # 1M, 10M, 100M (about 4.5 GB of memory at 100M)
    .venv/bin/python bench/neardup.py 1e6 1e7    # chosen sizes
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scrapers.imaging import signed64  # noqa: E402
from scrapers.neardup import NearDupIndex  # noqa: E402

THRESHOLD = 6
STEP = 10_000_000


def clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` hashes around n/8 biased centres, each 0-4 bit flips away (generated in steps to bound memory)."""
    bias = rng.uniform(0.25, 0.75, size=64)
    centres = np.zeros(max(1, n // 8), dtype=np.uint64)
    for bit in range(64):
        centres |= (rng.random(len(centres)) < bias[bit]).astype(np.uint64) << np.uint64(bit)
    out = np.empty(n, dtype=np.uint64)
    for lo in range(0, n, STEP):
        m = min(STEP, n - lo)
        part = centres[rng.integers(0, len(centres), size=m)]
        for _ in range(4):
            flip = np.uint64(1) << rng.integers(0, 64, size=m).astype(np.uint64)
            part ^= np.where(rng.random(m) < 0.5, flip, np.uint64(0))
        out[lo:lo + m] = part
    return out


def scan(hashes: np.ndarray, probe: int, threshold: int) -> np.ndarray:
    """The baseline: every stored hash XORed and popcounted (in steps, so 100M fits), positions within t."""
    p = np.uint64(probe & (2**64 - 1))
    hits = [np.flatnonzero(np.bitwise_count(hashes[lo:lo + STEP] ^ p) <= threshold) + lo
            for lo in range(0, len(hashes), STEP)]
    return np.concatenate(hits)


def timed(fn, args: list) -> float:
    """Median seconds of fn(arg) over `args`."""
    times = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(sizes: list[int]) -> None:
    print(f"near-duplicate query, Hamming threshold {THRESHOLD}, clustered synthetic pHashes, median per query")
    results = {}
    for n in sizes:
        rng = np.random.default_rng(n)
        hashes = clustered(rng, n)
        start = time.perf_counter()
        index = NearDupIndex.from_arrays(hashes, np.arange(1, n + 1, dtype=np.int64))
        build = time.perf_counter() - start
        picks = rng.integers(0, n, size=300)
        near = [signed64(int(hashes[i]) ^ 0b101) for i in picks]  # a re-crawled near copy of a stored image
        fresh = [signed64(int(h)) for h in clustered(np.random.default_rng(n + 1), 300)]  # mostly unseen images
        q_near = timed(lambda p: index.query(p, THRESHOLD), near)
        q_fresh = timed(lambda p: index.query(p, THRESHOLD), fresh)
        sample = near[:15] + fresh[:15]
        base = timed(lambda p: scan(hashes, p, THRESHOLD), sample[:6])
        want = got = 0
        for probe in sample:  # recall against the brute-force scan
            truth = set((scan(hashes, probe, THRESHOLD) + 1).tolist())
            found = {i for i, _ in index.query(probe, THRESHOLD)}
            assert found <= truth, "the index returned a pair beyond the threshold"
            want, got = want + len(truth), got + len(truth & found)
        recall = got / want if want else 1.0
        add = rng.integers(0, 2**64 - 1, size=100_000, dtype=np.uint64, endpoint=True)
        start = time.perf_counter()
        for lo in range(0, len(add), 1000):  # incremental, in crawl-batch-sized pieces
            index.add_many(add[lo:lo + 1000], np.arange(n + 1 + lo, n + 1 + lo + len(add[lo:lo + 1000])))
        per_add = (time.perf_counter() - start) / len(add)
        results[n] = q_near
        print(f"  {n:>11,} hashes: index {q_near * 1e3:6.3f} ms/query (near copy), {q_fresh * 1e3:6.3f} ms (new image)"
              f" | linear scan {base * 1e3:8.2f} ms | speed-up {base / q_near:6.0f}x | recall {recall:.3f} "
              f"({got}/{want} pairs, 30 probes) | build {build:.1f} s | add {per_add * 1e6:.1f} us/hash")
        del index, hashes
    if 10_000_000 in results:
        verdict = "OK" if results[10_000_000] <= 0.001 else "MISSED"
        print(f"goal <= 1 ms per query at 10M: {results[10_000_000] * 1e3:.3f} ms -> {verdict}")
    ns = sorted(results)
    for a, b in zip(ns, ns[1:]):
        print(f"growth {a:,} -> {b:,} hashes ({b / a:.0f}x): query time x{results[b] / results[a]:.1f}")


if __name__ == "__main__":
    main([int(float(x)) for x in sys.argv[1:]] or [1_000_000, 10_000_000, 100_000_000])
