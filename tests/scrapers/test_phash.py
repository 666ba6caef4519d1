"""The fast pHash against imagehash itself: the same 64 bits on every image, on either path."""
from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from PIL import Image

from bench.site import photo
from scrapers import phash
from scrapers.imaging import Limits, inspect_image, phash_int, signed64


def imagehash_int(image: Image.Image) -> int:
    value = 0
    for bit in imagehash.phash(image).hash.flatten():
        value = (value << 1) | int(bit)
    return signed64(value)


def images(seed: int, count: int):
    """Noise, smooth waves and flat halves, 1..700 px a side, in the modes pages serve."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        w, h = int(rng.integers(1, 700)), int(rng.integers(1, 700))
        kind = i % 3
        if kind == 0:
            a = rng.integers(0, 256, (h, w), dtype=np.uint8)
        elif kind == 1:
            y, x = np.mgrid[0:h, 0:w]
            a = (128 + 100 * np.sin(x / rng.uniform(2, 60)) * np.cos(y / rng.uniform(2, 60))).astype(np.uint8)
        else:
            a = np.full((h, w), int(rng.integers(0, 256)), np.uint8)
            a[: h // 2] = int(rng.integers(0, 256))
        image = Image.fromarray(a, "L")
        yield image if i % 4 else Image.merge("RGB", (image, image.transpose(Image.FLIP_LEFT_RIGHT), image))


def test_the_fast_path_is_on_with_the_pinned_pillow_and_imagehash():
    assert phash.FAST, "the start-up check found the fast pHash disagreeing with imagehash"


def test_the_same_bits_as_imagehash_on_600_images_of_every_shape():
    wide = 0
    for image in images(7, 600):
        assert phash_int(image) == imagehash_int(image), image.size
        wide += phash.fast_applies(image)
    assert wide > 250  # about half the shapes took the fast path


def test_the_shrink_is_pillows_lanczos_resize_pixel_for_pixel():
    for image in images(11, 300):
        grey = image.convert("L")
        if phash.fast_applies(grey):
            assert np.array_equal(phash.shrink(grey), np.asarray(grey.resize((32, 32), Image.LANCZOS))), grey.size


@pytest.mark.parametrize("size", [(1024, 768), (640, 480), (512, 512), (300, 200)])
def test_the_crawls_jpeg_drafts_hash_as_imagehash_hashes_them(size):
    for seed in range(8):
        out = io.BytesIO()
        photo(*size, seed=seed).save(out, "JPEG", quality=88)
        facts = inspect_image(out.getvalue(), Limits())
        draft = Image.open(io.BytesIO(out.getvalue()))
        draft.draft("YCbCr", (256, 256))
        assert facts.phash == imagehash_int(draft)


def test_without_the_fast_path_imagehash_gives_the_same_hashes(monkeypatch):
    sample = list(images(3, 40))
    fast = [phash_int(image) for image in sample]
    monkeypatch.setattr(phash, "FAST", False)
    assert [phash_int(image) for image in sample] == fast


def test_a_ycbcr_arrays_luma_plane_hashes_as_the_image_does():
    """The crawl hashes the luma plane of the JPEG draft's array: the same bits as imagehash on the image."""
    rng = np.random.default_rng(5)
    for i in range(120):
        h, w = int(rng.integers(2, 400)), int(rng.integers(2, 400))
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB").convert("YCbCr")
        assert np.array_equal(phash.grey_phash_bits(np.asarray(image)[..., 0]), imagehash.phash(image).hash), (w, h)
