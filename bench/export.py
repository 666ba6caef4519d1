"""Benchmark: export a version of N generated JPEGs vs a plain `cp -r` of the same bytes (the blob folders).

The default export copies (or reflinks) every image and hashes the bytes it writes; `--link` hard-links and
hashes the linked bytes. Prints wall times and the ratios cp_time / export_time (goals: default >= 0.7,
--link >= 0.9). Run:
    .venv/bin/python bench/export.py [--n 2000] [--format coco] [--workers 1]
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from export import create_version, export_version  # noqa: E402
from harvest.settings import load_settings  # noqa: E402
from harvest.store import open_store  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Annotation, Asset, Item, ItemAsset, LabelingProject, Source, Task  # noqa: E402


def jpeg(seed: int, size: int = 320) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)).resize((size, size))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def populate(store, n: int) -> list[Path]:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with store.sessions() as s:
        src = Source(name="bench")
        proj = LabelingProject(name="bench", template="image-bbox", labels=["a", "b"], label_config="<View/>")
        s.add_all([src, proj])
        s.flush()
        paths = []
        for i in range(n):
            data = jpeg(i)
            key = store.blobs.put(data)
            paths.append(store.blobs.path(key))
            item = Item(source_id=src.id, canonical_url=f"http://127.0.0.1/p/{i}", page_url=f"http://127.0.0.1/p/{i}",
                        fetched_at=now, licence="CC0", robots_decision="allowed")
            asset = Asset(sha256=key, mime="image/jpeg", width=320, height=320, bytes=len(data),
                          blob_path=store.blobs.relpath(key))
            s.add_all([item, asset])
            s.flush()
            task = Task(project_id=proj.id, sample_key=f"asset:{asset.id}", asset_id=asset.id, item_id=item.id)
            s.add_all([ItemAsset(item_id=item.id, asset_id=asset.id, url=f"http://127.0.0.1/i/{i}.jpg"), task])
            s.flush()
            label = "ab"[i % 2]
            s.add(Annotation(task_id=task.id, ls_annotation_id=i + 1, annotator="bench", updated_at=now,
                             targets=[{"type": "bbox", "x_min": 10, "y_min": 10, "x_max": 100 + i % 50, "y_max": 120,
                                       "label": label}], result=[], result_hash=f"{i:064d}"))
        s.commit()
    return paths


def timed(fn, r: int) -> float:
    start = time.perf_counter()
    fn(r)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--format", default="coco")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'bench.db'}"
        upgrade(url)
        store = open_store(load_settings(None, data_dir=root / "data", database_url=url))
        t0 = time.perf_counter()
        files = populate(store, args.n)
        create_version(store, "bench-v1", "bench", seed=0)
        setup = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in files)

        blob_dirs = sorted({str(p.parent.parent) for p in files})  # the 2-level shards holding the images

        def copy(r: int) -> None:
            out = root / f"copy{r}"
            out.mkdir()
            subprocess.run(["cp", "-r", *blob_dirs, str(out)], check=True)

        def export(link: bool):
            def run(r: int) -> None:
                export_version(store, "bench-v1", args.format, root / f"export-{link}-{r}", workers=args.workers, link=link)
            return run

        times = {"copy": [], "link": [], "safe": []}
        for r in range(args.runs):  # interleaved, best of runs: the disk is shared and noisy
            times["copy"].append(timed(copy, r))
            times["link"].append(timed(export(True), r))
            times["safe"].append(timed(export(False), r))
            for d in (root / f"copy{r}", root / f"export-True-{r}", root / f"export-False-{r}"):
                shutil.rmtree(d)
        best = {k: min(v) for k, v in times.items()}
        median = {k: statistics.median(v) for k, v in times.items()}
        print(f"{args.n} JPEGs, {size / 1e6:.1f} MB, format {args.format}, workers {args.workers}, {args.runs} interleaved "
              f"runs (setup {setup:.1f}s; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end)")
        print("                                     best      median   ratio cp/export best, median")
        print(f"cp -r baseline:                     {best['copy']:7.3f} s {median['copy']:7.3f} s")
        for key, label, goal in (("safe", "export default (copy/reflink+hash)", 0.7), ("link", "export --link (hard link+hash)", 0.9)):
            print(f"{label + ':':36s}{best[key]:7.3f} s {median[key]:7.3f} s   {best['copy'] / best[key]:.2f}, "
                  f"{median['copy'] / median[key]:.2f}  (goal >= {goal})")
        store.close()


if __name__ == "__main__":
    main()
