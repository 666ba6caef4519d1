"""Server time of the dashboard's pages on a synthetic store of 100,000 assets and 200,000 annotations,
on SQLite and on PostgreSQL, and the thumbnail generation rate; ratios against a static file served by
the same app in the same run (the app's floor).

    python bench/dashboard.py [--assets 100000] [--backends sqlite,postgres] [--runs 15] [--starts 6]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Rows are bulk-inserted (not crawled); PostgreSQL is then vacuumed and analyzed, as autovacuum does after bulk
inserts. PostgreSQL uses a database `dashboard_bench`, created and dropped here. Each of `--starts` fresh
processes opens with one goal page (the first view, sent while the start-up warm-up runs), then times every
page's first request with no figure cached (cold), then warm requests. The database's own caches (SQLite's
pages in the OS cache, PostgreSQL's buffers) stay warm across the starts: that part of "cold" is not measured.
Goal: overview, a grid page and a sample page each <= 200 ms at the median, cold and warm, on both backends.
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import create_engine, insert, make_url, text  # noqa: E402

from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Annotation, Asset, CrawlRun, DatasetVersion, ImageRejection, Item, ItemAsset, LabelingProject, NearDupCluster,
    Source, Task, VersionMember,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
LABELS = [f"class{i}" for i in range(10)]
CHUNK = 10_000
GOAL_MS = 200.0


def _insert(conn, model, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(model.__table__), rows[start:start + CHUNK])


def _boxes(rng: random.Random, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        x, y = rng.uniform(0, 500), rng.uniform(0, 350)
        out.append({"type": "bbox", "x_min": x, "y_min": y, "x_max": x + rng.uniform(20, 140),
                    "y_max": y + rng.uniform(20, 130), "label": rng.choice(LABELS), "instance": None})
    return out


def fill(url: str, n_assets: int) -> dict[str, float]:
    """Bulk-insert sources, runs, items, assets, links, clusters, rejections, tasks, 2 annotations per task,
    and a version holding every sample; returns seconds per stage."""
    rng = random.Random(0)
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg") if url.startswith("postgresql") else url)
    took: dict[str, float] = {}
    t = time.perf_counter()
    with engine.begin() as c:
        _insert(c, Source, [{"id": s + 1, "name": f"site-{s}", "kind": "config", "config": {}, "schedule": "0 * * * *",
                             "created_at": T0} for s in range(4)])
        _insert(c, CrawlRun, [{"id": r + 1, "source_id": r % 4 + 1, "status": "failed" if r % 37 == 0 else "succeeded",
                               "started_at": T0 + timedelta(hours=r), "finished_at": T0 + timedelta(hours=r, minutes=9),
                               "trigger": "schedule", "error": None,
                               "stats": {"pages": 500, "items": n_assets // 200, "images_stored": 400, "duplicates": 12,
                                         "near_duplicates": 3, "dropped": {"no image": 4, "too small": 2}, "errors": 1,
                                         "items_new": 300, "items_unchanged": 200, "items_gone": 1,
                                         "pages_failed": {"500": 1}, "failed_urls": ["http://x.test/a (HTTP 500)"]}}
                              for r in range(200)])
        _insert(c, NearDupCluster, [{"id": i + 1, "created_at": T0} for i in range(n_assets // 20)])
        _insert(c, Item, [{"id": i + 1, "source_id": i % 4 + 1, "canonical_url": f"http://x.test/p/{i}",
                           "page_url": f"http://x.test/p/{i}", "fetched_at": T0, "first_seen_at": T0, "last_seen_at": T0,
                           "licence": None if i % 50 == 0 else "CC-BY-4.0", "robots_decision": "allowed",
                           "fields": {}, "crawl_run_id": i % 200 + 1} for i in range(n_assets)])
        _insert(c, Asset, [{"id": i + 1, "sha256": f"{i:064x}", "mime": "image/jpeg", "width": 640, "height": 480,
                            "bytes": 50_000, "phash": i * 2654435761 % (1 << 62), "blob_path": "xx/yy/z", "frames": 1,
                            "cluster_id": (i // 10) % (n_assets // 20) + 1 if i % 10 < 2 else None,
                            "created_at": T0} for i in range(n_assets)])
        _insert(c, ItemAsset, [{"id": i + 1, "item_id": i + 1, "asset_id": i + 1, "url": f"http://x.test/i/{i}.jpg",
                                "position": 0, "fetched_at": T0, "last_seen_at": T0} for i in range(n_assets)])
        _insert(c, ImageRejection, [{"id": i + 1, "source_id": i % 4 + 1, "url": f"http://x.test/bad/{i}",
                                     "reason": ("too_small", "not_an_image", "bomb")[i % 3], "first_seen_at": T0,
                                     "last_seen_at": T0, "crawl_run_id": i % 200 + 1} for i in range(2000)])
        _insert(c, LabelingProject, [{"id": 1, "name": "bench", "template": "object-detection", "labels": LABELS,
                                      "label_config": "<View/>", "source_id": 1, "options": {}, "created_at": T0}])
        _insert(c, Task, [{"id": i + 1, "project_id": 1, "sample_key": f"asset:{i + 1}", "asset_id": i + 1,
                           "ls_task_id": i + 1, "data": {}, "created_at": T0} for i in range(n_assets)])
    took["collect + tasks"] = time.perf_counter() - t
    t = time.perf_counter()
    targets = {i: _boxes(rng, 1 + i % 3) for i in range(n_assets)}
    with engine.begin() as c:
        rows = []
        for i in range(n_assets):
            for a in (0, 1):
                tg = targets[i] if a == 0 or i % 7 else targets[i][:-1]
                rows.append({"id": 2 * i + a + 1, "task_id": i + 1, "ls_annotation_id": 2 * i + a + 1, "revision": 1,
                             "annotator": f"annotator{a + 1}@bench", "updated_at": T0, "created_at": T0,
                             "lead_time": 3.0, "was_cancelled": False, "ground_truth": False, "result": [],
                             "targets": tg, "result_hash": f"{2 * i + a:064x}", "valid": True, "problems": [],
                             "received_via": "pull", "received_at": T0})
        _insert(c, Annotation, rows)
    took["annotations"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.begin() as c:
        splits = ("train",) * 8 + ("val", "test")
        _insert(c, DatasetVersion, [{"id": 1, "name": "bench-v1", "project_id": 1, "seed": 0,
                                     "split_ratios": [0.8, 0.1, 0.1], "revision_rule": "latest", "filter": {},
                                     "content_hash": "0" * 64, "created_at": T0,
                                     "stats": {"samples": n_assets, "splits": {}, "classes": {}}}])
        _insert(c, VersionMember, [{"id": i + 1, "version_id": 1, "sample_key": f"asset:{i + 1}", "asset_id": i + 1,
                                    "item_id": i + 1, "task_id": i + 1, "annotation_ids": [2 * i + 1],
                                    "split": splits[i % 10], "targets": targets[i], "annotators": ["annotator1@bench"],
                                    "sha256": f"{i:064x}", "provenance": {}} for i in range(n_assets)])
    took["version members"] = time.perf_counter() - t
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            for table in ("sources", "crawl_runs", "near_dup_clusters", "items", "assets", "item_assets",
                          "image_rejections", "labeling_projects", "tasks", "annotations", "dataset_versions",
                          "version_members"):
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    engine.dispose()
    if url.startswith("postgresql"):
        with create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT").connect() as c:
            c.execute(text("VACUUM ANALYZE"))
    return took


def timed(client, url: str, runs: int) -> float:
    """Median ms of `runs` requests after two unmeasured ones (warm: the aggregates are cached)."""
    for _ in range(2):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, url
    return statistics.median(samples)


GOAL_PAGES = ("overview", "grid page 1", "sample page")


def pages(n_assets: int) -> list[tuple[str, str]]:
    sample = f"/samples/{random.Random(1).randrange(1, n_assets + 1)}"
    return [("overview", "/"), ("grid page 1", "/samples"), ("sample page", sample),
            ("grid page 1000", "/samples?page=1000"), ("grid annotator filter", "/samples?annotator=annotator2@bench"),
            ("grid label filter", "/samples?label=class3"),
            ("grid label+annotator", "/samples?label=class7&annotator=annotator2@bench"),
            ("grid version+split", "/samples?version=bench-v1&split=val"),
            ("grid version+label", "/samples?version=bench-v1&label=class3"), ("crawl run page", "/runs/5"),
            ("labeling (agreement over 2,000 tasks)", "/labeling"), ("versions", "/versions")]


def _open(url: str, data_dir: Path):
    from harvest.settings import load_settings
    from harvest.store import open_store

    return open_store(load_settings(None, data_dir=data_dir, database_url=url))


def one_start(url: str, data_dir: Path, n_assets: int, runs: int, first: str, wait: bool
              ) -> dict[str, dict[str, float]]:
    """In a fresh process: the page `first` is requested at once, while the start-up warm-up runs ("first"), or,
    with `wait`, once the warm-up is over ("first after warm-up"); then every page on its first request with no
    figure cached ("cold"), then warm. Returns {page: {"cold": ms, "warm": ms, and for the first page only
    "first" or "first after warm-up": ms, "warm-up": ms}}."""
    from starlette.testclient import TestClient

    from dashboard.app import create_app

    store = _open(url, data_dir)
    order = sorted(pages(n_assets), key=lambda p: p[0] != first)
    out: dict[str, dict[str, float]] = {}
    t0 = time.perf_counter()
    with TestClient(create_app(store)) as client:
        dashboard = client.app.state.dashboard
        if wait:
            assert dashboard.warmed.wait(600)
        t = time.perf_counter()
        assert client.get(order[0][1]).status_code == 200
        at_start = (time.perf_counter() - t) * 1000
        assert dashboard.warmed.wait(600)
        warm_up = (time.perf_counter() - t0) * 1000
        for name, page in order:
            dashboard.cache.clear()
            t = time.perf_counter()
            assert client.get(page).status_code == 200, page
            out[name] = {"cold": (time.perf_counter() - t) * 1000}
        for name, page in order:
            out[name]["warm"] = timed(client, page, runs)
    out[first].update({"first after warm-up" if wait else "first": at_start, "warm-up": warm_up})
    store.close()
    return out


def starts(url: str, data_dir: Path, n_assets: int, runs: int, n_starts: int) -> dict[str, dict[str, list[float]]]:
    """`n_starts` fresh processes, each opening with one of the goal pages in turn (the first view a user gets)."""
    import json
    import subprocess

    merged: dict[str, dict[str, list[float]]] = {}
    for k in range(n_starts):
        first = GOAL_PAGES[k % len(GOAL_PAGES)]
        wait = (k // len(GOAL_PAGES)) % 2 == 1
        proc = subprocess.run([sys.executable, __file__, "--one-start", url, str(data_dir), str(n_assets), str(runs),
                               first, "wait" if wait else "at-once"], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"a fresh start failed:\n{proc.stderr[-3000:]}")
        for name, v in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            row = merged.setdefault(name, {"cold": [], "warm": [], "first": [], "first after warm-up": [],
                                           "warm-up": []})
            for key in row:
                if key in v:
                    row[key].append(v[key])
    return merged


def changed(url: str, data_dir: Path, n_assets: int, runs: int) -> list[tuple[str, float]]:
    """Warm pages after the store changed (served while recomputed), and sample pages of different samples."""
    from starlette.testclient import TestClient

    from dashboard.app import create_app

    store = _open(url, data_dir)
    rng = random.Random(2)
    out = []
    with TestClient(create_app(store)) as client:
        out.append(("baseline: static css", timed(client, "/static/dashboard.css", runs)))
        cache = client.app.state.dashboard.cache
        for name, page in pages(n_assets)[:3]:
            client.get(page)
            took = []
            for _ in range(max(3, runs // 3)):
                with store.engine.begin() as c:  # a crawl run starts: the change stamp moves
                    c.execute(insert(CrawlRun.__table__), [{"source_id": 2, "status": "cancelled", "trigger": "manual",
                                                            "started_at": T0, "stats": {}}])
                t = time.perf_counter()
                assert client.get(page).status_code == 200
                took.append((time.perf_counter() - t) * 1000)
                deadline = time.monotonic() + 120
                while cache._busy and time.monotonic() < deadline:  # let the background recompute finish
                    time.sleep(0.05)
            out.append((f"{name} (store changed: served while recomputed)", statistics.median(took)))
        samples = []
        for page in [f"/samples/{rng.randrange(1, n_assets + 1)}" for _ in range(runs)]:
            t = time.perf_counter()
            assert client.get(page).status_code == 200
            samples.append((time.perf_counter() - t) * 1000)
        out.append(("sample page, each a different sample", statistics.median(samples)))
    store.close()
    return out


def thumbnails(n: int, tmp: Path) -> tuple[float, float]:
    """(drawn thumbnails/s, plain decode+resize/s) over n real 640x480 JPEGs with 1-3 boxes each."""
    from dashboard.draw import THUMB, Drawings
    from storage.blobs import BlobStore

    blobs = BlobStore(tmp / "blobs")
    rng = np.random.default_rng(0)
    keys = []
    for i in range(n):
        base = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(base).resize((640, 480)).save(buf, format="JPEG", quality=88)
        keys.append(blobs.put(buf.getvalue()))
    boxes = [_boxes(random.Random(i), 1 + i % 3) for i in range(n)]
    t = time.perf_counter()
    for key in keys:
        with blobs.open(key) as fh, Image.open(fh) as img:
            img.convert("RGB").resize((256, 192))
    plain = n / (time.perf_counter() - t)
    drawings = Drawings(blobs, tmp / "cache")
    t = time.perf_counter()
    for key, targets in zip(keys, boxes):
        drawings.path(key, targets, THUMB)
    drawn = n / (time.perf_counter() - t)
    return drawn, plain


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one-start":
        import json

        url, data_dir, n_assets, runs, first, wait = sys.argv[2:8]
        print(json.dumps(one_start(url, Path(data_dir), int(n_assets), int(runs), first, wait == "wait")))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--runs", type=int, default=15, help="warm requests per page and start")
    ap.add_argument("--starts", type=int, default=6, help="fresh processes per backend (each goal page opens one "
                    "at once and one after the warm-up)")
    ap.add_argument("--thumbnails", type=int, default=300)
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    results: dict[str, tuple[dict[str, dict[str, list[float]]], list[tuple[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for backend in args.backends.split(","):
            admin = None
            if backend == "sqlite":
                url = f"sqlite:///{tmp / 'bench.db'}"
            else:
                admin = create_engine(make_url(args.postgres).set(drivername="postgresql+psycopg"),
                                      isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text("DROP DATABASE IF EXISTS dashboard_bench WITH (FORCE)"))
                    c.execute(text("CREATE DATABASE dashboard_bench"))
                url = make_url(args.postgres).set(drivername="postgresql+psycopg", database="dashboard_bench") \
                    .render_as_string(hide_password=False)
            try:
                upgrade(url)
                took = fill(url, args.assets)
                print(f"{backend}: filled {args.assets:,} assets, {2 * args.assets:,} annotations in "
                      + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()), flush=True)
                data_dir = tmp / f"data-{backend}"
                results[backend] = (starts(url, data_dir, args.assets, args.runs, args.starts),
                                    changed(url, data_dir, args.assets, args.runs))
            finally:
                if admin is not None:
                    with admin.connect() as c:
                        c.execute(text("DROP DATABASE IF EXISTS dashboard_bench WITH (FORCE)"))
                    admin.dispose()
        drawn, plain = thumbnails(args.thumbnails, tmp)
    med = statistics.median
    for backend, (rows, extra) in results.items():
        base = extra[0][1]
        warm_up = [ms for r in rows.values() for ms in r["warm-up"]]
        print(f"\n{backend} ({args.assets:,} assets, {2 * args.assets:,} annotations; {args.starts} fresh processes, "
              f"each opening with one goal page; baseline = a static file, {base:.1f} ms; start-up warm-up "
              f"{med(warm_up) / 1000:.1f} s at the median)")
        print("  first view = a fresh process's first request, sent at once (it waits for the figures the warm-up is "
              "computing) or after the warm-up; cold = a page's first request with no figure cached (computed in the "
              f"request), median over the starts; warm = median of {args.runs} requests per start, median over the "
              "starts")
        print(f"  {'page':<40} {'first view':>11} {'after w-up':>11} {'cold':>9} {'warm':>9}  cold/base  goal: cold, "
              f"warm <= {GOAL_MS:.0f} ms")
        for name, r in rows.items():
            firsts = [f"{med(r[k]):8.1f} ms" if r[k] else f"{'-':>11}" for k in ("first", "first after warm-up")]
            goal = ""
            if name in GOAL_PAGES:
                goal = "ok" if max(med(r["cold"]), med(r["warm"])) <= GOAL_MS else "OVER"
            print(f"  {name:<40} {firsts[0]} {firsts[1]} {med(r['cold']):6.1f} ms {med(r['warm']):6.1f} ms "
                  f"{med(r['cold']) / base:9.1f}x  {goal}")
        for name, ms in extra[1:]:
            print(f"  {name:<52} {ms:8.1f} ms  {ms / base:7.1f}x baseline")
    print(f"\nthumbnails: {drawn:,.0f}/s drawn and cached (256 px, 1-3 boxes, 640x480 JPEG); "
          f"plain decode+resize {plain:,.0f}/s; ratio {drawn / plain:.2f}")


if __name__ == "__main__":
    main()
