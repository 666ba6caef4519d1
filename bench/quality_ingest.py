"""Image-quality measures at ingest: crawl images/s with and without them, in one run (goal >= 0.9x).

The same served JPEGs as bench/crawl.py go through harvest's full pipelines twice per round, once with
`HARVEST_QUALITY_AT_INGEST=false` (the baseline) and once with it on (the default); the best of
`--repeat` rounds counts (the median of the per-round ratios is printed too). The per-image cost of the
measures alone is printed beside it. Without the measures a JPEG's chroma planes are not decoded at all.

    .venv/bin/python bench/quality_ingest.py [--images 300] [--repeat 4]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.crawl import run_child  # noqa: E402
from bench.site import photo_jpeg, serve  # noqa: E402


def per_image_ms(images: list[bytes]) -> tuple[float, float]:
    """(ms per image of the ingest checks alone, ms per image with the measures), single thread, best of 3."""
    from scrapers.imaging import inspect_image

    def best(quality: bool) -> float:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            for b in images:
                inspect_image(b, quality=quality)
            times.append((time.perf_counter() - t) / len(images) * 1e3)
        return min(times)

    return best(False), best(True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=4)
    args = parser.parse_args()
    images = [photo_jpeg(i) for i in range(args.images)]
    checks, measured = per_image_ms(images[:100])
    print(f"single thread: ingest checks {checks:.2f} ms/image, with quality measures {measured:.2f} ms/image")
    server, base = serve(images)
    root = Path(tempfile.mkdtemp(prefix="bench-quality-"))  # the crawls' folders, removed at the end
    best = {"without": 0.0, "with": 0.0}
    ratios = []  # with / without, measured back to back in each round
    try:
        for round_ in range(args.repeat):
            rates = {}
            for kind, flag in (("without", "false"), ("with", "true")):
                os.environ["BENCH_SETTINGS"] = f"HARVEST_QUALITY_AT_INGEST={flag}"
                result = run_child("harvest", base, root)
                assert result["images"] == len(images), result
                rates[kind] = result["images"] / result["seconds"]
                best[kind] = max(best[kind], rates[kind])
                print(f"  round {round_ + 1} {kind:7s} quality: {result['images']} images in "
                      f"{result['seconds']:.2f} s = {rates[kind]:7.1f} images/s, image workers' CPU "
                      f"{result['cpu_workers'] / result['images'] * 1e3:.2f} ms/image")
            ratios.append(rates["with"] / rates["without"])
    finally:
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    ratio = best["with"] / best["without"]
    print(f"best images/s: without {best['without']:.1f}, with {best['with']:.1f}")
    print(f"with quality / without = {ratio:.2f}x of the best rounds, median of the rounds "
          f"{statistics.median(ratios):.2f}x (goal >= 0.9x: {'OK' if ratio >= 0.9 else 'MISSED'})")


if __name__ == "__main__":
    main()
