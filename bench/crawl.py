"""Crawl throughput: the same local image set through Scrapy's FilesPipeline, Scrapy's ImagesPipeline
and harvest's pipelines (validate by decoding, EXIF, sha256 + pHash, near-dups, blobs, SQL), in one run.

A few hundred generated photo-like JPEGs are served on 127.0.0.1 (by an asyncio server with prebuilt
responses, see bench/site.py); each crawl runs in its own process (Twisted's reactor cannot restart) with
the project's Scrapy settings.

    .venv/bin/python bench/crawl.py [--images 300] [--repeat 5] [--url-policy-off] [--threaded-server]
                                    [--profile FILE]

The steadier figure on a busy machine is CPU time: the crawler process's CPU per image, harvest's against
FilesPipeline's (goal <= 1.2x); wall-clock throughput is also compared (goal >= 0.7x FilesPipeline). Each
round measures every crawl back to back and gives one ratio; the best and the median of the rounds are
printed. A crawl of a 1-image site measures the fixed (start-up) CPU, so the per-image figure is also
given without it (labelled; the goal is on the whole process).

`--url-policy-off` also measures harvest with the URL policy middleware switched off (HARVEST_URL_POLICY)
and prints what the address and robots checks cost: harvest / harvest-without-policy.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site import photo_jpeg, serve  # noqa: E402


def child(kind: str, base: str, workdir: Path) -> None:
    """Run one crawl in this process and print {"images": n, "seconds": s} as JSON.

    Every pipeline's modules are imported before the clock starts, whichever is measured, so the
    figure is crawl throughput, not import time.
    """
    import importlib

    import scrapy
    from scrapy.crawler import CrawlerProcess

    for module in ("scrapy.pipelines.files", "scrapy.pipelines.images", "scrapers.media", "scrapers.pipelines",
                   "scrapers.extensions", "scrapers.middlewares", "scrapers.loader", "harvest.settings"):
        importlib.import_module(module)

    os.environ["SCRAPY_SETTINGS_MODULE"] = "scrapers.settings"
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.set("LOG_LEVEL", "WARNING")
    for key_value in os.environ.get("BENCH_SETTINGS", "").split():
        key, value = key_value.split("=", 1)
        settings.set(key, json.loads(value))
    if kind == "files":
        settings.set("ITEM_PIPELINES", {"scrapy.pipelines.files.FilesPipeline": 1})
        settings.set("FILES_STORE", str(workdir / "files"))
        settings.set("HARVEST_STORE", False)
    elif kind == "images":
        settings.set("ITEM_PIPELINES", {"scrapy.pipelines.images.ImagesPipeline": 1})
        settings.set("IMAGES_STORE", str(workdir / "images"))
        settings.set("HARVEST_STORE", False)
    else:
        if kind == "harvest-nopolicy":
            settings.set("HARVEST_URL_POLICY", False)
        from storage.migrate import upgrade

        url = f"sqlite:///{workdir / 'harvest.db'}"
        upgrade(url)
        settings.set("HARVEST_DATABASE_URL", url)
        settings.set("HARVEST_DATA_DIR", str(workdir / "data"))

    class BenchSpider(scrapy.Spider):
        name = "bench"
        start_urls = [base]

        def parse(self, response):
            for src in response.css("img::attr(src)").getall():
                url = response.urljoin(src)
                yield {"url": url, "page_url": response.url, "file_urls": [url], "image_urls": [url]}

    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BenchSpider)
    process.crawl(crawler)
    import resource

    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # the crawler process under cProfile (its image workers are other processes)
        import cProfile

        from scrapers.pipelines import StorePipeline

        profiler = cProfile.Profile(time.process_time)  # CPU time: steadier than wall time on a busy machine
        flushes = cProfile.Profile(time.thread_time)  # the batch writes run in a worker thread
        flush = StorePipeline.flush

        def profiled_flush(self, batch):
            flushes.enable()
            try:
                return flush(self, batch)
            finally:
                flushes.disable()

        StorePipeline.flush = profiled_flush
        profiler.enable()
    start = time.perf_counter()
    process.start()
    seconds = time.perf_counter() - start
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
        flushes.dump_stats(profile + ".flush")
    after = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = [(a.ru_utime + a.ru_stime) - (b.ru_utime + b.ru_stime) for a, b in zip(after, before)]
    stats = crawler.stats.get_stats()
    stored = stats.get("file_status_count/downloaded", 0)
    print(json.dumps({"images": stored, "seconds": seconds, "items": stats.get("item_scraped_count", 0),
                      "cpu_main": cpu[0], "cpu_workers": cpu[1]}))


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores, from /proc/stat (0, 0 elsewhere)."""
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def run_child(kind: str, base: str, root: Path) -> dict:
    """One crawl in a child process, in a new folder under `root`; adds the CPU the bench's own process
    (the image server) spent meanwhile (`cpu_server`) and the whole machine's busy CPU seconds
    (`cpu_machine`, every process).

    The folders are removed when the bench ends, not after each crawl: on ext4 without a journal,
    creating a file skips every inode freed in the last minute (one lookup each), so deleting a
    crawl's files would slow the next crawl's file creation (harvest makes ~2.6 inodes per new
    image in a fresh store, a file and its ab/cd folders; FilesPipeline 1)."""
    tmp = tempfile.mkdtemp(prefix=f"bench-{kind}-", dir=root)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARVEST_CONFIG": str(Path(tmp) / "none.toml")}
    server_before, machine_before = time.process_time(), machine_cpu()
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--base", base, "--workdir", tmp],
                          capture_output=True, text=True, env=env, cwd=tmp, timeout=900)
    server, machine = time.process_time() - server_before, machine_cpu()
    if proc.returncode != 0:
        raise SystemExit(f"{kind} crawl failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu_server"] = server  # the server threads serve only this crawl while it runs
    result["cpu_machine"] = machine[0] - machine_before[0]  # the child's start-up and exit included
    result["machine_seconds"] = machine[1] - machine_before[1]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--url-policy-off", action="store_true", help="also measure harvest without the URL policy")
    parser.add_argument("--threaded-server", action="store_true", help="serve the site with http.server's "
                        "ThreadingHTTPServer (0.35-0.6 ms of CPU per image on the crawl's cores) instead of asyncio")
    parser.add_argument("--child")
    parser.add_argument("--base")
    parser.add_argument("--workdir")
    parser.add_argument("--profile", metavar="FILE", help="profile harvest's crawler process once (cProfile) "
                        "into FILE and print its top functions by own time")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.base, Path(args.workdir))
        return
    root = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        run_bench(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_bench(args: argparse.Namespace, root: Path) -> None:
    images = [photo_jpeg(i) for i in range(args.images)]
    server, base = serve(images, args.threaded_server)
    if args.profile:
        import pstats

        os.environ["BENCH_PROFILE"] = str(Path(args.profile).resolve())
        run_child("harvest", base, root)
        del os.environ["BENCH_PROFILE"]
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(r"scrapers|storage", 25)
        print("batch writes (worker thread):")
        pstats.Stats(args.profile + ".flush").sort_stats("cumulative").print_stats(20)
        server.shutdown()
        return
    print(f"{len(images)} JPEGs 1024x768 ({sum(map(len, images)) / 1e6:.1f} MB) served at {base}")
    # the same crawl of a 1-image site: the fixed (start-up) CPU
    one_server, one_base = serve(images[:1], args.threaded_server)
    kinds = ("files", "images", "harvest") + (("harvest-nopolicy",) if args.url_policy_off else ())
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
    fixed: dict[str, list[float]] = {"files": [], "harvest": []}
    for round_ in range(args.repeat):
        for kind in kinds:
            result = run_child(kind, base, root)
            assert result["images"] == len(images), (kind, result)
            runs[kind].append(result)
            n = result["images"]
            print(f"  round {round_ + 1} {kind:16s}: {n} images in {result['seconds']:.2f} s = "
                  f"{n / result['seconds']:7.1f} images/s   CPU ms/image: crawler {result['cpu_main'] / n * 1e3:.2f}, "
                  f"image workers {result['cpu_workers'] / n * 1e3:.2f}, server {result['cpu_server'] / n * 1e3:.2f}; "
                  f"{saturation(result)}")
        for kind in fixed:
            fixed[kind].append(run_child(kind, one_base, root)["cpu_main"])
    server.shutdown()
    one_server.shutdown()
    report(runs, fixed, len(images))


def saturation(result: dict) -> str:
    """How busy the cores were over the crawl: this crawl's processes (crawler, workers, server) and the whole
    machine (other processes included), as a share of wall time x cores. The crawl's own share is over its
    timed part; the machine's over the child process's whole life (start-up and exit too)."""
    cores = os.cpu_count() or 1
    own = (result["cpu_main"] + result["cpu_workers"] + result["cpu_server"]) / (result["seconds"] * cores)
    machine = result["cpu_machine"] / result["machine_seconds"] if result.get("machine_seconds") else 0.0
    return f"cores busy: this crawl {own:.0%}, machine {machine:.0%} of {cores}"


def report(runs: dict[str, list[dict]], fixed: dict[str, list[float]], n: int) -> None:
    """Ratios per round (harvest and FilesPipeline measured back to back), their best and median."""
    def ratios(key, kind="harvest", base="files"):
        return [h[key] / f[key] for h, f in zip(runs[kind], runs[base])]

    def line(name, values, goal, better_low):
        best = min(values) if better_low else max(values)
        ok = (statistics.median(values) <= goal) if better_low else (statistics.median(values) >= goal)
        sign = "<=" if better_low else ">="
        return (f"{name}: best {best:.2f}x, median {statistics.median(values):.2f}x of {len(values)} rounds "
                f"(goal {sign} {goal}x: {'OK' if ok else 'MISSED'})")

    wall = [f["seconds"] / h["seconds"] for h, f in zip(runs["harvest"], runs["files"])]
    print(line("harvest / FilesPipeline images/s", wall, 0.7, False))
    vs_images = [i["seconds"] / h["seconds"] for h, i in zip(runs["harvest"], runs["images"])]
    print(line("harvest / ImagesPipeline images/s", vs_images, 1.5, False))
    cpu = ratios("cpu_main")
    per = {k: [r["cpu_main"] / n * 1e3 for r in runs[k]] for k in ("files", "harvest")}
    print(f"crawler-process CPU per image, whole process (start-up included): harvest median "
          f"{statistics.median(per['harvest']):.2f} ms, FilesPipeline {statistics.median(per['files']):.2f} ms")
    print(line("  harvest / FilesPipeline crawler-process CPU", cpu, 1.2, True))
    start = {k: statistics.median(v) for k, v in fixed.items()}
    print(f"fixed CPU of a crawl (a 1-image site): harvest {start['harvest'] * 1e3:.0f} ms, FilesPipeline "
          f"{start['files'] * 1e3:.0f} ms (harvest's: store, run row, stale-run check, first SQL compiles, worker fork)")
    marginal = [(h["cpu_main"] - start["harvest"]) / (f["cpu_main"] - start["files"])
                for h, f in zip(runs["harvest"], runs["files"])]
    print(f"  without it, per image: harvest {(statistics.median(per['harvest']) - start['harvest'] / n * 1e3):.2f} ms, "
          f"FilesPipeline {(statistics.median(per['files']) - start['files'] / n * 1e3):.2f} ms; ratio best "
          f"{min(marginal):.2f}x, median {statistics.median(marginal):.2f}x (not the goal's figure)")
    print("(harvest's decoding, hashing and pHash run in its image workers, counted apart; figures from a shared "
          "machine: compare the ratios, measured back to back in each round)")
    if "harvest-nopolicy" in runs:
        policy = [p["seconds"] / h["seconds"] for h, p in zip(runs["harvest"], runs["harvest-nopolicy"])]
        cost = [h["cpu_main"] / p["cpu_main"] for h, p in zip(runs["harvest"], runs["harvest-nopolicy"])]
        print(f"harvest / harvest without the URL policy: images/s median {statistics.median(policy):.2f}x, "
              f"crawler CPU median {statistics.median(cost):.2f}x")


if __name__ == "__main__":
    main()
