"""pHash CPU per image: harvest's (scrapers/phash.py) against imagehash.phash, on the same images, in one run.

The images are what a crawl hashes: JPEG drafts (libjpeg's DCT scaling, YCbCr) of generated photos, in
landscape (the fast path) and portrait (imagehash's own shrink) shapes. Every hash is also checked equal.

    .venv/bin/python bench/phash.py [--images 60] [--rounds 7]
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def drafts(count: int, size: tuple[int, int]):
    from PIL import Image

    from bench.site import photo

    out = []
    for seed in range(count):
        buf = io.BytesIO()
        photo(*size, seed=seed).save(buf, "JPEG", quality=88)
        image = Image.open(io.BytesIO(buf.getvalue()))
        image.draft("YCbCr", (256, 256))
        image.load()
        out.append(image)
    return out


def cpu_per_image(fn, images) -> float:
    start = time.thread_time()
    for image in images:
        fn(image)
    return (time.thread_time() - start) / len(images)


def main() -> None:
    import imagehash

    from scrapers import phash

    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"fast path active: {phash.FAST}")
    for label, size in (("landscape 1024x768", (1024, 768)), ("portrait 768x1024", (768, 1024))):
        images = drafts(args.images, size)
        assert all((phash.phash_bits(i) == imagehash.phash(i).hash).all() for i in images), "hashes differ"
        ratios, ours, theirs = [], [], []
        for _ in range(args.rounds):
            a = cpu_per_image(phash.phash_bits, images)
            b = cpu_per_image(lambda i: imagehash.phash(i).hash, images)
            ours.append(a)
            theirs.append(b)
            ratios.append(a / b)
        draft = f"{images[0].size[0]}x{images[0].size[1]}"
        print(f"{label} (draft {draft}): harvest {statistics.median(ours) * 1e3:.3f} ms, "
              f"imagehash {statistics.median(theirs) * 1e3:.3f} ms per image; ratio median "
              f"{statistics.median(ratios):.2f}x, best {min(ratios):.2f}x; all {len(images)} hashes equal")


if __name__ == "__main__":
    main()
