"""Near-duplicate index over 64-bit perceptual hashes: multi-index hashing, exact within any radius.

The 64 bits are cut into 4 substrings of 16 bits. Two hashes at most t bits apart differ, by the
pigeonhole principle, in at most t // 4 bits in at least one substring (sharper: see `_candidates`). Each substring has a table:
the positions of every stored hash sorted by that substring, with bucket offsets over its 65,536
values. A query visits every value within t // 4 bits of each of the probe's substrings, checks the
candidates' full distance, and so returns exactly what a linear scan returns (Norouzi, Punjani and
Fleet, "Fast exact search in Hamming space with multi-index hashing", 2014).

New hashes go to a tail that is scanned linearly and merged into the tables when it fills (an O(n)
insert of sorted runs, no re-sort). Radii of 12 bits and more use a vectorised linear scan (still
exact), as does a small index. bench/neardup.py measures query time up to 100M hashes.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from functools import cache
from itertools import combinations
from pathlib import Path

import numpy as np

from scrapers.imaging import unsigned64

PARTS = 4  # substrings
BITS = 16  # bits per substring
BUCKETS = 1 << BITS
MAX_SUB_RADIUS = 2  # at most C(16,0)+C(16,1)+C(16,2) = 137 probes per substring; beyond that, scan
TAIL = 1 << 15  # hashes kept outside the tables before a merge
SCAN_BELOW = 1 << 15  # an index smaller than this is scanned: faster than any table
FORMAT = 1


@cache
def _masks(radius: int) -> np.ndarray:
    """Every 16-bit value with at most `radius` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(BITS), r)]
    return np.array(masks, dtype=np.int64)


def _parts(hashes: np.ndarray, j: int) -> np.ndarray:
    return ((hashes >> np.uint64(BITS * j)) & np.uint64(BUCKETS - 1)).astype(np.uint16)


def _as_uint64(hashes: Iterable[int] | np.ndarray) -> np.ndarray:
    if isinstance(hashes, np.ndarray):
        return hashes.astype(np.uint64, copy=False) if hashes.dtype != np.int64 else hashes.view(np.uint64)
    return np.array([unsigned64(h) for h in hashes], dtype=np.uint64)


class NearDupIndex:
    """Append-only (hash, asset id) store answering "which ids lie within Hamming distance t"."""

    def __init__(self, capacity: int = 1024) -> None:
        capacity = max(16, capacity)
        self._hashes = np.zeros(capacity, dtype=np.uint64)
        self._ids = np.zeros(capacity, dtype=np.int64)
        self._n = 0
        self._main = 0  # hashes [0, _main) are in the tables, [_main, _n) in the tail
        self._order = np.zeros((PARTS, 0), dtype=np.int32)  # per substring: positions sorted by its value
        self._start = np.zeros((PARTS, BUCKETS + 1), dtype=np.int64)  # bucket offsets into _order rows

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

    @classmethod
    def from_arrays(cls, hashes: np.ndarray, ids: np.ndarray) -> NearDupIndex:
        """Build from numpy arrays (uint64 or int64 hashes, int64 ids); arrays of those types are used in
        place, not copied (the index then owns them)."""
        hashes, ids = _as_uint64(hashes), np.asarray(ids, dtype=np.int64)
        if len(hashes) != len(ids):
            raise ValueError(f"from_arrays needs one id per hash; got {len(hashes)} hashes and {len(ids)} ids")
        index = cls(16)
        index._hashes, index._ids, index._n = np.ascontiguousarray(hashes), np.ascontiguousarray(ids), len(hashes)
        if index._n >= SCAN_BELOW:
            index._merge()
        return index

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self._n]

    def _grow(self, needed: int) -> None:
        if needed <= len(self._hashes):
            return
        size = max(needed, 2 * len(self._hashes))
        for name, dtype in (("_hashes", np.uint64), ("_ids", np.int64)):
            new = np.zeros(size, dtype=dtype)
            new[: self._n] = getattr(self, name)[: self._n]
            setattr(self, name, new)

    def add(self, phash: int, asset_id: int) -> None:
        self.add_many([phash], [asset_id])

    def add_many(self, hashes: Iterable[int] | np.ndarray, ids: Iterable[int] | np.ndarray) -> None:
        hashes = _as_uint64(hashes)
        ids = np.asarray(ids, dtype=np.int64)
        if len(hashes) != len(ids):
            raise ValueError(f"add_many needs one id per hash; got {len(hashes)} hashes and {len(ids)} ids")
        count = len(hashes)
        self._grow(self._n + count)
        self._hashes[self._n : self._n + count] = hashes
        self._ids[self._n : self._n + count] = ids
        self._n += count
        if self._n - self._main >= TAIL and self._n >= SCAN_BELOW:
            self._merge()

    def _merge(self) -> None:
        """Put the tail into the tables: per substring, insert its sorted run into the sorted positions."""
        n, main = self._n, self._main
        if n >= 2**31:
            raise OverflowError("the near-duplicate index holds at most 2**31 hashes")
        tail = self._hashes[main:n]
        order = np.empty((PARTS, n), dtype=np.int32)
        start = np.empty_like(self._start)
        for j in range(PARTS):
            values = _parts(tail, j)
            run = np.argsort(values, kind="stable")  # a radix sort for 16-bit values
            if main == 0:
                order[j] = run
            else:  # each new position goes to the end of its bucket; positions stay ascending per bucket
                ends = self._start[j][values[run].astype(np.int64) + 1]
                order[j] = np.insert(self._order[j], ends, (run + main).astype(np.int32))
            counts = np.bincount(values, minlength=BUCKETS)
            start[j, 0] = 0
            np.cumsum(counts, out=start[j, 1:])
            start[j] += self._start[j]
            del values, run
        self._order, self._start, self._main = order, start, n

    def _candidates(self, probe: np.uint64, threshold: int) -> np.ndarray:
        """Positions in the tables sharing a close enough substring with the probe (with repeats).

        With t = 4r + a: if every one of the first a+1 substrings differed in more than r bits and every
        other one in more than r-1, the hashes would differ in at least t+1 bits. So substrings 0..a are
        probed within r bits and the others within r-1 (not at all when r is 0)."""
        r, a = divmod(threshold, PARTS)
        subs = np.array([(int(probe) >> (BITS * j)) & (BUCKETS - 1) for j in range(PARTS)], dtype=np.int64)
        rows_, values_ = [], []
        for parts, radius in ((range(a + 1), r), (range(a + 1, PARTS), r - 1)):
            if radius < 0 or not len(parts):
                continue
            masks = _masks(radius)
            rows = np.repeat(np.asarray(parts, dtype=np.int64), len(masks))
            rows_.append(rows)
            values_.append(subs[rows] ^ np.tile(masks, len(parts)))
        rows, values = np.concatenate(rows_), np.concatenate(values_)
        lo = self._start[rows, values]
        lens = self._start[rows, values + 1] - lo
        lo = lo + rows * self._main
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        skip = np.cumsum(lens) - lens
        flat = np.repeat(lo - skip, lens) + np.arange(total)
        return self._order.ravel()[flat]

    def query(self, phash: int, threshold: int) -> list[tuple[int, int]]:
        """[(asset id, distance)] of stored hashes within `threshold` bits, nearest first."""
        n = self._n
        if n == 0 or threshold < 0:
            return []
        probe = np.uint64(unsigned64(phash))
        sub_radius = threshold // PARTS
        if self._main == 0 or sub_radius > MAX_SUB_RADIUS:
            positions = np.arange(n)
            bits = np.bitwise_count(self._hashes[:n] ^ probe)
        else:
            found = self._candidates(probe, threshold)
            bits = np.bitwise_count(self._hashes[found] ^ probe)
            found = np.unique(found[bits <= threshold])
            tail = np.arange(self._main, n)
            positions = np.concatenate([found, tail])
            bits = np.bitwise_count(self._hashes[positions] ^ probe)
        hits = np.flatnonzero(bits <= threshold)
        found = sorted(zip(bits[hits].tolist(), self._ids[positions[hits]].tolist()))
        return [(asset_id, dist) for dist, asset_id in found]

    def nearest(self, phash: int, threshold: int) -> tuple[int, int] | None:
        hits = self.query(phash, threshold)
        return hits[0] if hits else None

    def save(self, path: Path | str, meta: dict | None = None) -> None:
        """Write the index (hashes, ids, tables and `meta`) to `path` atomically (temp file, rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, hashes=self._hashes[: self._n], ids=self.ids, order=self._order, start=self._start,
                         meta=np.array(json.dumps({"format": FORMAT, "n": self._n, "main": self._main,
                                                   **(meta or {})})))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path | str) -> tuple[NearDupIndex, dict]:
        """(index, meta) read from `path`; ValueError if it is not an index this version wrote."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                hashes, ids, order, start = data["hashes"], data["ids"], data["order"], data["start"]
        except (OSError, KeyError, ValueError, EOFError) as exc:
            raise ValueError(f"{path} is not a readable near-duplicate index ({exc})") from None
        n, main = meta.get("n"), meta.get("main")
        if (meta.get("format") != FORMAT or len(hashes) != n or len(ids) != n or order.shape != (PARTS, main)
                or start.shape != (PARTS, BUCKETS + 1) or not np.all(start[:, -1] == main)):
            raise ValueError(f"{path} is an index of another format or is inconsistent; it will be rebuilt")
        index = cls(n + 1024)
        index._hashes[:n], index._ids[:n], index._n = hashes, ids, n
        index._order, index._start, index._main = order.astype(np.int32, copy=False), start, main
        return index, meta
