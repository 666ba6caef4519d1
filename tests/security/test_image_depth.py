"""High-bit-depth and unusual images are stored as right 8-bit pixels (scaled, not clipped).

Every file is generated here (numpy + Pillow / OpenCV); expected pixels are computed by hand from the
values written, and the stored bytes are decoded with OpenCV, a reader independent of Pillow.
"""
from __future__ import annotations

import io

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image

from scrapers.imaging import inspect_image, phash_int

W, H = 96, 64


def _gradient16() -> np.ndarray:
    """A 16-bit ramp with structure: x ramp times y ramp, using the full 0..65535 range."""
    y, x = np.mgrid[0:H, 0:W]
    return ((x / (W - 1)) * (0.25 + 0.75 * y / (H - 1)) * 65535).round().astype(np.uint16)


def _png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def _pil(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _cv(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert decoded is not None
    return decoded


def _hamming(a: int, b: int) -> int:
    return bin((a ^ b) & (2**64 - 1)).count("1")


def test_16bit_grey_png_is_scaled_not_clipped_and_hashes_like_its_8bit_self():
    values = _gradient16()
    facts = inspect_image(_png(values))
    expected = np.rint(values / 257).astype(np.uint8)  # 65535 -> 255, scaled
    stored = _cv(facts.data)
    assert facts.normalized and facts.source_mode == "I;16" and facts.mime == "image/png"
    assert stored.dtype == np.uint8 and stored.shape == (H, W)
    assert np.abs(stored.astype(int) - expected).max() <= 1
    assert stored.min() == 0 and stored.max() == 255 and len(np.unique(stored)) > 200  # not flat, not clipped
    reference = phash_int(Image.fromarray(expected))
    black = phash_int(Image.fromarray(np.zeros((H, W), np.uint8)))
    assert _hamming(facts.phash, reference) <= 2 and _hamming(facts.phash, black) > 16


def test_16bit_big_endian_and_32bit_integer_and_float_greys():
    values = _gradient16()
    expected = np.rint(values / 257).astype(np.uint8)
    big = Image.frombytes("I;16B", (W, H), values.astype(">u2").tobytes())
    cases = {
        "I;16B": _pil(big, "TIFF"),
        "I": _pil(Image.fromarray(values.astype(np.int32), "I"), "TIFF"),
        "F": _pil(Image.fromarray((values / 65535).astype(np.float32), "F"), "TIFF"),
    }
    for mode, data in cases.items():
        facts = inspect_image(data)
        assert facts.normalized, mode
        stored = _cv(facts.data)
        assert stored.dtype == np.uint8 and np.abs(stored.astype(int) - expected).max() <= 1, mode


def test_48bit_rgb_png_keeps_its_bytes_and_reads_as_the_high_bytes():
    values = _gradient16()
    bgr = np.dstack([values, 65535 - values, values // 2])  # OpenCV writes B, G, R
    data = _png(bgr)
    facts = inspect_image(data)
    assert facts.data == data and not facts.normalized
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)  # what later stages do
    expected = np.dstack([values // 2, 65535 - values, values]) / 257
    assert np.abs(rgb - expected).max() <= 1.01


def test_grey_with_alpha_and_palette_with_transparency_become_rgba():
    grey = np.tile(np.linspace(0, 255, W).astype(np.uint8), (H, 1))
    alpha = np.full((H, W), 255, np.uint8)
    alpha[:, : W // 2] = 0
    la = Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)])
    facts = inspect_image(_pil(la, "PNG"))
    bgra = _cv(facts.data)
    assert facts.normalized and bgra.shape == (H, W, 4)
    assert (bgra[..., 3] == alpha).all() and all((bgra[..., c] == grey).all() for c in range(3))

    pal = Image.new("P", (W, H), 0)
    pal.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    pal.paste(1, (W // 2, 0, W, H))
    facts = inspect_image(_pil(pal, "PNG", transparency=0))
    bgra = _cv(facts.data)
    assert facts.normalized and (bgra[:, : W // 2, 3] == 0).all()
    assert (bgra[:, W // 2 :] == [40, 30, 200, 255]).all()


@pytest.mark.parametrize("cmyk, rgb", [((0, 255, 255, 0), (255, 0, 0)), ((255, 0, 255, 0), (0, 255, 0)),
                                       ((0, 0, 0, 128), (127, 127, 127)), ((0, 0, 0, 0), (255, 255, 255))])
def test_cmyk_jpeg_adobe_inverted_becomes_rgb(cmyk, rgb):
    image = Image.new("CMYK", (W, H), cmyk)
    data = _pil(image, "JPEG", quality=95)
    assert b"Adobe" in data[:200]  # Pillow writes the Adobe APP14 marker (inverted CMYK, as Photoshop)
    facts = inspect_image(data)
    assert facts.normalized and facts.source_mode == "CMYK"
    bgr = _cv(facts.data, cv2.IMREAD_COLOR)
    assert np.abs(bgr[..., ::-1].astype(int) - rgb).max() <= 4


def test_webp_kept_and_animated_gif_stores_its_first_frame_flagged():
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (H, W, 3), np.uint8)
    data = _pil(Image.fromarray(pixels), "WEBP", lossless=True)
    facts = inspect_image(data)
    assert facts.data == data and facts.mime == "image/webp" and facts.frames == 1
    assert (np.asarray(Image.open(io.BytesIO(facts.data)).convert("RGB")) == pixels).all()

    colours = [(255, 0, 0), (0, 0, 255), (0, 255, 0)]
    frames = [Image.new("RGB", (W, H), c).quantize(2) for c in colours]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    facts = inspect_image(gif.getvalue())
    assert facts.frames == 3 and facts.normalized and facts.mime == "image/png"
    bgr = _cv(facts.data, cv2.IMREAD_COLOR)
    assert (bgr.reshape(-1, 3) == [0, 0, 255]).all()  # red, the first frame


def test_plain_8bit_images_keep_their_bytes():
    rgb = _pil(Image.fromarray(np.full((H, W, 3), 90, np.uint8)), "PNG")
    facts = inspect_image(rgb)
    assert facts.data == rgb and not facts.normalized and facts.frames == 1
    assert imagehash.phash(Image.open(io.BytesIO(rgb))) is not None
