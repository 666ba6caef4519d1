"""Near-duplicate index over 64-bit perceptual hashes: a packed numpy uint64 array, vectorised popcount.

One query XORs every stored hash with the probe and counts bits with `np.bitwise_count` into
preallocated buffers: about a millisecond for a million hashes (see bench/neardup.py).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from scrapers.imaging import unsigned64


class NearDupIndex:
    """Append-only (hash, asset id) store answering "which ids lie within Hamming distance t"."""

    def __init__(self, capacity: int = 1024) -> None:
        capacity = max(16, capacity)
        self._hashes = np.zeros(capacity, dtype=np.uint64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._xor = np.empty(capacity, dtype=np.uint64)
        self._bits = np.empty(capacity, dtype=np.uint8)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> NearDupIndex:
        """Build from (signed or unsigned 64-bit hash, id) pairs, e.g. rows loaded from `assets`."""
        pairs = list(pairs)
        index = cls(len(pairs) + 1024)
        if pairs:
            index.add_many([h for h, _ in pairs], [i for _, i in pairs])
        return index

    def _grow(self, needed: int) -> None:
        if needed <= len(self._hashes):
            return
        size = max(needed, 2 * len(self._hashes))
        for name, dtype in (("_hashes", np.uint64), ("_ids", np.int64)):
            old = getattr(self, name)
            new = np.zeros(size, dtype=dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)
        self._xor = np.empty(size, dtype=np.uint64)
        self._bits = np.empty(size, dtype=np.uint8)

    def add(self, phash: int, asset_id: int) -> None:
        self._grow(self._n + 1)
        self._hashes[self._n] = np.uint64(unsigned64(phash))
        self._ids[self._n] = asset_id
        self._n += 1

    def add_many(self, hashes: list[int], ids: list[int]) -> None:
        count = len(hashes)
        self._grow(self._n + count)
        self._hashes[self._n : self._n + count] = np.array([unsigned64(h) for h in hashes], dtype=np.uint64)
        self._ids[self._n : self._n + count] = np.asarray(ids, dtype=np.int64)
        self._n += count

    def query(self, phash: int, threshold: int) -> list[tuple[int, int]]:
        """[(asset id, distance)] of stored hashes within `threshold` bits, nearest first."""
        n = self._n
        if n == 0:
            return []
        xor = self._xor[:n]
        bits = self._bits[:n]
        np.bitwise_xor(self._hashes[:n], np.uint64(unsigned64(phash)), out=xor)
        np.bitwise_count(xor, out=bits)
        hits = np.flatnonzero(bits <= threshold)
        found = sorted(zip(bits[hits].tolist(), self._ids[hits].tolist()))
        return [(asset_id, dist) for dist, asset_id in found]

    def nearest(self, phash: int, threshold: int) -> tuple[int, int] | None:
        hits = self.query(phash, threshold)
        return hits[0] if hits else None
