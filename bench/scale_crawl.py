"""One source, many workers: a local site of N item pages and N distinct images crawled by 1 worker (a plain
`harvest crawl`, the baseline) and by W workers on the shared Redis frontier, in one run of this script.

Each crawl gets a fresh PostgreSQL database and data dir; printed: items/s and images/s of each, the ratio
W workers / 1 worker, CPU seconds per stored image (every crawl process, image worker and shared-run
worker included; the site's server is counted apart), and the store afterwards (items, assets, links,
runs). Also: Redis memory per million URLs of the seen-set, against scrapy-redis's own dupefilter.

    .venv/bin/python bench/scale_crawl.py [--pages 20000] [--workers 2] [--seen 1000000]

Needs PostgreSQL (HARVEST_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test) and Redis
(HARVEST_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0; keys under a prefix of this run, deleted after).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PER_LIST = 100


def image(i: int) -> bytes:
    """A distinct 128x128 JPEG: an 8x8 random colour grid, smoothly upscaled (its pHash differs per i)."""
    from PIL import Image

    grid = np.random.default_rng(i).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(grid).resize((128, 128), Image.BILINEAR).save(out, "JPEG", quality=85)
    return out.getvalue()


class Site:
    """N item pages (each with its own image) on N/100 listing pages, all linked from the index."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.images = [image(i) for i in range(pages)]
        self.lists = (pages + PER_LIST - 1) // PER_LIST

    def body(self, path: str) -> tuple[bytes, str] | None:
        if path == "/":
            links = "".join(f'<a class="list" href="/list/{k}.html">page {k}</a> ' for k in range(self.lists))
            return f"<html><body>{links}</body></html>".encode(), "text/html"
        if path.startswith("/list/"):
            k = int(path[6:-5])
            if k >= self.lists:
                return None
            links = "".join(f'<li><a class="item" href="/item/{i}.html">item {i}</a></li>'
                            for i in range(k * PER_LIST, min(self.pages, (k + 1) * PER_LIST)))
            return f"<html><body><ul>{links}</ul></body></html>".encode(), "text/html"
        if path.startswith("/item/"):
            i = int(path[6:-5])
            if i >= self.pages:
                return None
            return (f'<html><head><title>item {i}</title></head><body><h1>item {i}</h1>'
                    f'<div class="photo"><img src="/img/{i}.jpg" alt="photo {i}"></div></body></html>').encode(), "text/html"
        if path.startswith("/img/"):
            i = int(path[5:-4])
            return (self.images[i], "image/jpeg") if i < self.pages else None
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n", "text/plain"
        return None

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                found = site.body(self.path)
                body, ctype = found if found else (b"", "text/plain")
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"


def fresh_database(admin: str, name: str) -> str:
    from sqlalchemy import create_engine, make_url, text

    from storage.migrate import upgrade

    url = make_url(admin).set(drivername="postgresql+psycopg")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    target = url.set(database=name).render_as_string(hide_password=False)
    upgrade(target)
    return target


def drop_database(admin: str, name: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    engine = create_engine(make_url(admin).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def write_config(folder: Path, base: str, redis_url: str, prefix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "harvest.toml"
    path.write_text(f"""[crawl]
redis_url = "{redis_url}"
redis_prefix = "{prefix}"
batch_size = 200

[sources.bench]
start_urls = ["{base}/"]
allowed_domains = ["127.0.0.1"]
follow = ["a.list"]
item_links = ["a.item"]
item_pattern = '/item/\\d+\\.html$'
fields = {{title = "h1"}}
images = ["div.photo"]
licence = "CC0-1.0"
max_pages = 0
""")
    return path


def crawl(workers: int, base: str, admin: str, redis_url: str, work: Path) -> dict:
    name = f"harvest_scale2_bench_{uuid.uuid4().hex[:8]}"
    db = fresh_database(admin, name)
    prefix = f"harvest-bench-{uuid.uuid4().hex[:8]}"
    config = write_config(work / f"w{workers}", base, redis_url, prefix)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARVEST_", "SCRAPY_"))}
    env.update(HARVEST_CONFIG=str(config), HARVEST_DATABASE_URL=db, HARVEST_DATA_DIR=str(work / f"data{workers}"),
               PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "harvest", "crawl", "bench"] + (["--workers", str(workers)] if workers > 1 else [])
    before = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=config.parent, capture_output=True, text=True, timeout=7200)
    wall = time.perf_counter() - start
    after = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = [(a.ru_utime + a.ru_stime) - (b.ru_utime + b.ru_stime) for a, b in zip(after, before)]
    if proc.returncode != 0:
        raise SystemExit(f"crawl with {workers} worker(s) failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = {"workers": workers, "wall": wall, "cpu_crawl": cpu[1], "cpu_server": cpu[0], **check_store(db)}
    drop_database(admin, name)
    return result


def check_store(db: str) -> dict:
    from sqlalchemy import func, select

    from storage.collect_models import Asset, CrawlRun, Item, ItemAsset
    from storage.engine import make_engine, session_factory

    engine = make_engine(db)
    with session_factory(engine)() as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model))  # noqa: E731
        runs = list(s.scalars(select(CrawlRun)))
        found = {"items": count(Item), "assets": count(Asset), "links": count(ItemAsset), "runs": len(runs),
                 "status": [r.status for r in runs],
                 "distinct_sha": s.scalar(select(func.count(func.distinct(Asset.sha256)))),
                 "died": (runs[0].stats or {}).get("workers_died", 0) if runs else None}
    engine.dispose()
    return found


def seen_set_memory(redis_url: str, n: int) -> list[tuple[str, float]]:
    """Redis bytes per URL of n URLs: scrapy-redis's dupefilter (hex sha1 in one set) and harvest's seen-set
    (sized for 10M URLs, and for n), from MEMORY USAGE of every key (other users of the server do not count)."""
    from scrapers.frontier import Frontier, connect

    server = connect(redis_url)
    prefix = f"harvest-bench-seen-{uuid.uuid4().hex[:8]}"
    fps = [hashlib.sha1(f"https://example.com/item/{i}".encode()).digest() for i in range(n)]
    rows = []
    try:
        pipe = server.pipeline(transaction=False)
        for i, fp in enumerate(fps):
            pipe.sadd(f"{prefix}:scrapy-redis", fp.hex())
            if i % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
        rows.append(("scrapy-redis RFPDupeFilter (hex strings, one set)",
                     server.memory_usage(f"{prefix}:scrapy-redis", samples=0) / n))
        for capacity in (10_000_000, n):
            frontier = Frontier(server, f"{prefix}:cap{capacity}", "bench", buckets=-(-capacity // 256))
            pipe = server.pipeline(transaction=False)
            for i, fp in enumerate(fps):
                bucket = int.from_bytes(fp[:8], "big") % frontier.buckets
                pipe.sadd(frontier.key(f"seen:{bucket}"), int.from_bytes(fp[8:16], "big", signed=True))
                if i % 10_000 == 9_999:
                    pipe.execute()
            pipe.execute()
            keys = list(server.scan_iter(match=frontier.key("seen:*"), count=10_000))
            pipe = server.pipeline(transaction=False)
            for key in keys:
                pipe.memory_usage(key, samples=0)
            total = sum(pipe.execute())
            encodings = {server.object("encoding", keys[0]).decode()}
            rows.append((f"harvest seen-set, sized for {capacity:,} URLs ({len(keys):,} buckets, "
                         f"{'/'.join(encodings)})", total / n))
    finally:
        keys = list(server.scan_iter(match=f"{prefix}:*", count=10_000))
        for i in range(0, len(keys), 10_000):
            server.delete(*keys[i:i + 10_000])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seen", type=int, default=1_000_000, help="URLs for the seen-set memory figure (0: skip)")
    args = parser.parse_args()
    admin = os.environ.get("HARVEST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("HARVEST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    if args.seen:
        print(f"seen-set memory, {args.seen:,} URLs (Redis MEMORY USAGE, bytes per URL; x 1e6 = bytes per million):")
        for label, per in seen_set_memory(redis_url, args.seen):
            print(f"  {label:72s} {per:6.1f} B/URL  {per:6.1f} MB per million")
    t0 = time.perf_counter()
    site = Site(args.pages)
    print(f"site: {args.pages:,} item pages + {site.lists + 1} listing pages, {args.pages:,} distinct images "
          f"({sum(map(len, site.images)) / 1e6:.0f} MB), built in {time.perf_counter() - t0:.0f} s")
    server, base = site.serve()
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="harvest-scale-") as tmp:
            for workers in (1, args.workers):
                results.append(crawl(workers, base, admin, redis_url, Path(tmp)))
    finally:
        server.shutdown()
    print(f"{'workers':>8} {'wall s':>8} {'items/s':>8} {'images/s':>9} {'CPU ms/img':>11} {'server CPU s':>13}"
          f"   store (items, assets, distinct sha, links, runs, status, workers died)")
    for r in results:
        print(f"{r['workers']:>8} {r['wall']:>8.1f} {r['items'] / r['wall']:>8.1f} {r['assets'] / r['wall']:>9.1f} "
              f"{r['cpu_crawl'] / max(1, r['assets']) * 1e3:>11.2f} {r['cpu_server']:>13.1f}   {r['items']}, "
              f"{r['assets']}, {r['distinct_sha']}, {r['links']}, {r['runs']}, {r['status']}, {r['died']}")
    one, many = results
    print(f"ratio {many['workers']} workers / 1 worker: items/s x{one['wall'] / many['wall']:.2f} "
          f"(machine: {os.cpu_count()} cores)")
    ok = all(r["items"] == args.pages and r["assets"] == args.pages and r["distinct_sha"] == args.pages
             and r["links"] == args.pages and r["runs"] == 1 and r["status"] == ["succeeded"] for r in results)
    print("store checks:", "ok (every item once, every image once, one run each)" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
