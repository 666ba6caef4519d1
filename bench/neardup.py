"""Near-duplicate query time against 100k and 1M stored pHashes: harvest's packed numpy index vs a
linear Python scan (the baseline), measured in the same run.

    .venv/bin/python bench/neardup.py
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


def python_scan(hashes: list[int], probe: int, threshold: int) -> list[int]:
    return [i for i, h in enumerate(hashes) if ((h ^ probe) & 0xFFFFFFFFFFFFFFFF).bit_count() <= threshold]


def timed(fn, repeats: int) -> float:
    """Median seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"near-duplicate query, Hamming threshold {THRESHOLD}, median of repeated queries")
    for n in (100_000, 1_000_000):
        raw = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
        hashes = [signed64(int(h)) for h in raw]
        start = time.perf_counter()
        index = NearDupIndex.from_pairs(zip(hashes, range(1, n + 1)))
        build = time.perf_counter() - start
        probes = [hashes[int(i)] ^ 0b101 for i in rng.integers(0, n, size=200)]
        it = iter(probes * 2)
        ours = timed(lambda: index.query(next(it), THRESHOLD), 200)
        assert index.query(probes[0], THRESHOLD)  # the probe's source hash is 2 bits away
        base = timed(lambda: python_scan(hashes, probes[0], THRESHOLD), 3)
        print(f"  {n:>9,} hashes: index {ours * 1e3:7.3f} ms/query   python scan {base * 1e3:8.1f} ms/query   "
              f"speed-up {base / ours:6.0f}x   (index built in {build:.2f} s)")
        if n == 1_000_000:
            verdict = "OK" if ours <= 0.002 else "MISSED"
            print(f"goal <= 2 ms per query at 1M: {ours * 1e3:.3f} ms -> {verdict}")


if __name__ == "__main__":
    main()
