"""Rows/s of harvest's batched upsert vs naive ORM per-row commits, on SQLite, in one run.

    python bench/db_ingest.py [--rows 50000] [--naive-rows 2000]

Goal: batched >= 20,000 rows/s and >= 30x the per-row figure.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.engine import make_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Asset  # noqa: E402
from storage.upsert import upsert  # noqa: E402


def rows(n: int, offset: int) -> list[dict]:
    return [
        {
            "sha256": f"{offset + i:064x}",
            "mime": "image/jpeg",
            "width": 640,
            "height": 480,
            "bytes": 50_000 + i,
            "phash": (offset + i) * 2654435761 % (1 << 63),
            "blob_path": f"{offset + i:064x}"[:2] + "/x",
        }
        for i in range(n)
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--naive-rows", type=int, default=2_000)
    ap.add_argument("--batch", type=int, default=5_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)

        data = rows(args.rows, 0)
        t0 = time.perf_counter()
        for start in range(0, len(data), args.batch):
            with sessions.begin() as s:
                upsert(s, Asset, data[start : start + args.batch], conflict=["sha256"], update=["bytes"])
        batched = args.rows / (time.perf_counter() - t0)

        naive_data = rows(args.naive_rows, 10_000_000)
        t0 = time.perf_counter()
        for row in naive_data:
            with sessions.begin() as s:
                s.add(Asset(**row))
        naive = args.naive_rows / (time.perf_counter() - t0)
        engine.dispose()

    print(f"batched upsert  : {batched:>10,.0f} rows/s ({args.rows:,} rows, batches of {args.batch:,})")
    print(f"ORM per-row commit: {naive:>8,.0f} rows/s ({args.naive_rows:,} rows)")
    print(f"ratio batched/per-row: {batched / naive:.1f}x  (goal >= 30x; batched goal >= 20,000 rows/s)")


if __name__ == "__main__":
    main()
